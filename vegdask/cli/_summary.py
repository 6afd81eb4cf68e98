"""``vegdask summary DIR_OR_URLS... [--output DIR]``: cross-location summary of analysed runs."""

from __future__ import annotations

import argparse
import sys

from vegdask.cli._common import CLIError, check_writable


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``summary`` subcommand."""
    parser = subparsers.add_parser(
        "summary",
        help="table, scatter plots and correlations of indicators across analysed runs",
        description=(
            "Collect run.json, analysis/resilience.json and analysis/summary_stats.json of each "
            "analysed run into one table (summary.csv), Pearson correlation matrices with "
            "p-values, scatter plots and summary.html."
        ),
    )
    parser.add_argument("runs", nargs="+", help="analysed run directories or URLs")
    parser.add_argument(
        "--output", default="summary", help="output directory (default: ./%(default)s)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run :func:`vegdask.analysis.summarise_runs` and print where the results went."""
    from vegdask.analysis import summarise_runs

    if args.output:  # a file, a path under a file, a folder it cannot write in: before any work
        check_writable(args.output, folder=True)
    try:
        table = summarise_runs(args.runs, args.output)
    except (FileNotFoundError, ValueError) as err:
        raise CLIError(str(err)) from err
    print(f"{len(table)} runs summarised in {args.output}/summary.csv and summary.html")
    for warning in table.attrs["warnings"]:
        print(f"vegdask summary: warning: {warning}", file=sys.stderr)
    if "note" in table:
        for run, note in table[["run", "note"]].dropna().itertuples(index=False):
            print(f"note: {run}: {note}")
    return 0
