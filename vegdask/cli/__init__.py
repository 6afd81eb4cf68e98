"""The ``vegdask`` command line.

Each subcommand lives in its own module ``vegdask.cli._<name>`` exposing ``register(subparsers)``,
which adds a parser whose ``func`` default takes the parsed arguments and returns an exit status.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from vegdask import __version__
from vegdask.cli._common import CLIError, Terminated, configure_logging, describe_error, interrupts

# Order here is the order in ``vegdask --help``.
COMMAND_MODULES: tuple[str, ...] = (
    "run",
    "submit",
    "plan",
    "config",
    "centrality",
    "simulate",
    "analyse",
    "summary",
    "batch",
    "batch-emulator",
    "download",
)

__all__ = ["COMMAND_MODULES", "INTERRUPTED", "build_parser", "main"]

#: What Ctrl-C prints (exit status 130): every stage resumes where it stopped.
INTERRUPTED = "interrupted; rerun the same command to resume"


def build_parser() -> argparse.ArgumentParser:
    """Build the ``vegdask`` argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="vegdask",
        description="Early warnings of collapse for patterned dryland vegetation, on Dask.",
    )
    parser.add_argument("--version", action="version", version=f"vegdask {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"vegdask.cli._{name.replace('-', '_')}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``vegdask`` command line and return its exit status.

    Errors a user can act on are printed as one line on standard error with exit status 2; Ctrl-C
    prints one line and exits with status 130, SIGTERM likewise with status 143.
    """
    args = build_parser().parse_args(argv)
    configure_logging()
    try:
        with interrupts(exiting=True):
            return int(args.func(args) or 0)
    except CLIError as err:
        print(f"vegdask {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        terminated = isinstance(err, Terminated)
        what = INTERRUPTED.replace("interrupted", "terminated") if terminated else INTERRUPTED
        print(f"vegdask {args.command}: {what}", file=sys.stderr)
        return 143 if terminated else 130
    except Exception as err:
        message = describe_error(err)
        if message is None:
            raise
        print(f"vegdask {args.command}: error: {message}", file=sys.stderr)
        return 2
