"""``vegdask plan [CONFIG]``: the work, CPU time, wall time and cost of a job or campaign."""

from __future__ import annotations

import argparse
import json

from vegdask._options import AZURE_OPTIONS, CLUSTER_OPTIONS
from vegdask.cli._common import CLIError
from vegdask.cli._settings import add_setting_option, value


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``plan`` subcommand."""
    parser = subparsers.add_parser(
        "plan",
        help="the plan and cost estimate of a job or campaign, before it runs",
        description="Per location and in total: periods, tiles, tasks, bytes to fetch, CPU-hours "
        "per stage, wall time on N workers and the cost on a Batch VM size (dedicated and Spot).",
    )
    parser.add_argument("config", nargs="?", help="TOML job or campaign config (default: the demo)")
    add_setting_option(parser, "workers", CLUSTER_OPTIONS["workers"])
    add_setting_option(parser, "vm_size", AZURE_OPTIONS["vm_size"])
    parser.add_argument("--json", action="store_true", help="the plan as JSON")
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="first measure this machine's per-tile and per-period costs (a few small synthetic "
        "runs) and cache them",
    )
    parser.set_defaults(func=_plan)


def _plan(args: argparse.Namespace) -> int:
    from vegdask.pipeline import ConfigError, calibrate, format_plan, load_job, plan_job, vm_price

    workers = value(args, "workers", CLUSTER_OPTIONS["workers"])
    try:
        vm_price(args.vm_size)  # a bad size before anything is measured
        job = load_job(args.config) if args.config or not args.calibrate else None
    except (ConfigError, ValueError) as err:
        raise CLIError(str(err)) from err
    if args.calibrate:
        calibration, path = calibrate()
        print(f"calibration of {calibration.machine} ({calibration.date}) cached in {path}")
        if job is None:
            return 0
    try:
        plan = plan_job(job, workers=workers, vm_size=args.vm_size)
    except ValueError as err:
        raise CLIError(str(err)) from err
    print(json.dumps(plan, indent=2) if args.json else "\n".join(format_plan(plan)))
    return 0
