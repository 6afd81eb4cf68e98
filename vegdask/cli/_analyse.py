"""``vegdask analyse RESULTS [--output DIR]``: resilience analysis and report of a run."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import vegdask
from vegdask.cli._common import CLIError, check_writable


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
    parser.add_argument("--window", type=float, help="rolling window fraction (0.5)")
    parser.add_argument("--bandwidth", type=float, help="Gaussian detrending bandwidth (6)")
    parser.add_argument(
        "--bandwidth-convention",
        choices=("sigma", "ksmooth"),
        help="sigma: bandwidth = kernel sd in samples (pyveg); ksmooth: earlywarnings-R/ewstools",
    )
    parser.add_argument("--ar1", choices=("ols", "pearson", "acf"), help="AR(1) estimator (ols)")
    parser.add_argument("--deseasonalise", choices=("stl", "diff", "none"), help="(stl)")
    parser.add_argument("--surrogates", type=int, help="ARMA surrogates (1000)")
    parser.add_argument("--seed", type=int, help="surrogate seed (0)")
    parser.add_argument(
        "--interpolate-gaps",
        action="store_true",
        default=None,
        help="fill gaps linearly before the indicators (default: masked; filling inflates AR1)",
    )
    parser.add_argument(
        "--preset",
        choices=("pyveg",),
        help="pyveg: pyveg v1.1.0's analysis of results_summary.json (its numbers in "
        "resilience.json, its CSV files in analysis/pyveg/; the method options above do not apply)",
    )
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


def run(args: argparse.Namespace) -> int:
    """Run :func:`vegdask.analysis.analyse_results`; print the trends, the verdict, the outputs."""
    from vegdask.analysis import analyse_results, output_location

    if args.output:  # a file, a path under a file, a folder it cannot write in: before any work
        check_writable(args.output, folder=True)
    report = not args.no_report and args.preset is None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            result = analyse_results(
                args.results,
                args.output,
                window=args.window,
                bandwidth=args.bandwidth,
                bandwidth_convention=args.bandwidth_convention,
                ar1=args.ar1,
                deseasonalise_method=args.deseasonalise,
                n_surrogates=args.surrogates,
                seed=args.seed,
                interpolate_gaps=args.interpolate_gaps,
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
