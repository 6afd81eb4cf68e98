"""``vegdask analyse RESULTS [--output DIR]``: resilience analysis and report of a run."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Any

import vegdask
from vegdask._options import ANALYSIS_OPTIONS, ANALYSIS_PARAMETERS
from vegdask.cli._common import CLIError, check_writable
from vegdask.cli._settings import add_setting_option, value

# Options' other names: --surrogates, as vegdask analyse first called --n-surrogates.
_ALIASES: dict[str, tuple[str, ...]] = {"n_surrogates": ("--surrogates",)}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``analyse`` subcommand."""
    parser = subparsers.add_parser(
        "analyse",
        help="early-warning analysis and HTML report of a run's outputs",
        description=(
            "Build the time series of a run (tiles.zarr, weather.zarr, run.json) or of a pyveg "
            "results_summary.json, test rolling early-warning indicators against ARMA "
            "surrogates, and write analysis/ (timeseries.csv, indicators.zarr, resilience.json, "
            "figures) and report.html."
        ),
    )
    parser.add_argument("results", help="a run's output directory/URL or a results_summary.json")
    parser.add_argument("--output", help="where to write (default: the run's directory)")
    _add_method_options(parser)
    preset = ANALYSIS_OPTIONS["preset"]
    parser.add_argument("--preset", choices=preset.choices, help=preset.help)
    parser.add_argument(
        "--use-summary",
        action="store_true",
        help="analyse the run's results_summary.json instead of its tiles.zarr (which must "
        "otherwise be complete and as the run's run.json recorded it)",
    )
    parser.add_argument("--pdf", action="store_true", help="also write report.pdf (weasyprint)")
    parser.add_argument("--svg", action="store_true", help="also write the figures as SVG")
    parser.add_argument("--no-report", action="store_true", help="skip figures and report.html")
    parser.set_defaults(func=run)


def _method_options() -> dict[str, str]:
    """The analysis' method options, ``[analysis]`` key -> ``analyse_results`` parameter."""
    return {
        key: ANALYSIS_PARAMETERS.get(key, key)
        for key, option in ANALYSIS_OPTIONS.items()
        if option.setting is not None
    }


def _add_method_options(parser: argparse.ArgumentParser) -> None:
    """One option per declared method option: its name, type, choices, help and default."""
    group = parser.add_argument_group(
        "method", "the analysis' method; each default is its vegdask.analysis setting"
    )
    for key, dest in _method_options().items():
        add_setting_option(group, key, ANALYSIS_OPTIONS[key], *_ALIASES.get(key, ()), dest=dest)


def _method_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """``analyse_results``' method keywords from the options (None: the setting), checked."""
    return {
        dest: value(args, key, ANALYSIS_OPTIONS[key], dest)
        for key, dest in _method_options().items()
    }


def run(args: argparse.Namespace) -> int:
    """Run :func:`vegdask.analysis.analyse_results`; print the trends, the verdict, the outputs."""
    from vegdask.analysis import analyse_results, output_location

    method = _method_arguments(args)  # a wrong value: one line, before any work
    if args.output:  # a file, a path under a file, a folder it cannot write in: before any work
        check_writable(args.output, folder=True)
    report = not args.no_report and args.preset is None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            result = analyse_results(
                args.results,
                args.output,
                **method,
                report=not args.no_report,
                pdf=args.pdf,
                figure_formats=["png", "svg"] if args.svg else None,
                preset=args.preset,
                use_summary=args.use_summary,
            )
    except (FileNotFoundError, ValueError, ImportError) as err:
        raise CLIError(str(err)) from err
    package = str(Path(vegdask.__file__).parent)
    for warning in caught:  # vegdask's own (e.g. NaN values ignored), one line each
        if warning.filename.startswith(package):
            print(f"vegdask analyse: warning: {warning.message}", file=sys.stderr)
    _print_results(result, output_location(args.results, args.output), report)
    return 0


def _print_results(result: dict, written: str, report: bool) -> None:
    """The AR(1) and variance trends, labelled, each test's; the verdict; where they went."""
    from vegdask import config
    from vegdask.analysis import location_verdict, verdict_tests

    rows = [("test", "series", "indicator", "tau", "p")]
    for test in ("pooled", "mean-series"):
        for (series, indicator), found in verdict_tests(result, test).items():
            if indicator in ("ar1", "variance"):
                rows.append((test, series, indicator, _num(found.kendall_tau), _num(found.p_value)))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    if len(rows) > 1:
        print(f"verdict: {location_verdict(result, config.get('analysis.alpha')).sentence}")
    where = written.rstrip("/")
    print(f"wrote {where}/analysis/" + (f" and {where}/report.html" if report else ""))


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
