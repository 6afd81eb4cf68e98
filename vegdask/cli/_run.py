"""``vegdask run`` and ``vegdask fetch``: the main job, or only its acquisition stage."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

from vegdask._options import CLUSTER_OPTIONS
from vegdask.cli._common import CLIError
from vegdask.cli._settings import add_setting_option


def _add_job_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?", help="TOML job config (default: the offline demo)")
    parser.add_argument("--output", help="output folder or abfs:// URL (overrides the config)")
    add_setting_option(parser, "cluster", CLUSTER_OPTIONS["kind"])
    add_setting_option(parser, "workers", CLUSTER_OPTIONS["workers"])
    parser.add_argument(
        "--force",
        action="store_true",
        help="recompute every stage, and replace what OUTPUT holds that its run.json does not "
        "account for (another job's outputs, files vegdask did not write, an unreadable run.json)",
    )
    parser.add_argument(
        "--verify",
        action="store_true",
        help="check the recorded outputs fully (decode every chunk, compare checksums) instead of "
        "by their sizes; whatever is missing or changed is recomputed",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``run`` and ``fetch`` subcommands."""
    run = subparsers.add_parser(
        "run",
        help="run the whole job (the offline demo without CONFIG)",
        description="Location + dates -> imagery -> vegetation mask -> per-tile centrality and "
        "NDVI -> time series -> early-warning indicators -> report. Resumable: a rerun computes "
        "only what is missing.",
    )
    _add_job_arguments(run)
    run.set_defaults(func=lambda args: _run(args, "analyse"))
    fetch = subparsers.add_parser(
        "fetch", help="acquire imagery and weather only (scene.zarr, weather.zarr)"
    )
    _add_job_arguments(fetch)
    fetch.set_defaults(func=lambda args: _run(args, "fetch"))


def _run(args: argparse.Namespace, until: str) -> int:
    from vegdask.cluster import WorkersLostError
    from vegdask.data import EarthEngineAuthError, RunStore
    from vegdask.data.storage import is_remote
    from vegdask.pipeline import (
        Campaign,
        ConfigError,
        OutputInUseError,
        config_warnings,
        job_client,
        load_job,
        output_lock,
        prepare_job,
        run_job,
    )

    overrides = {
        "output": {"url": args.output} if args.output else {},
        "cluster": {
            **({"kind": args.cluster} if args.cluster else {}),
            **({"workers": args.workers} if args.workers is not None else {}),
        },
    }
    try:
        config = load_job(args.config, overrides=overrides)
    except ConfigError as err:
        raise CLIError(str(err)) from err
    if isinstance(config, Campaign):
        from vegdask.cli._run_campaign import run_campaign_command

        return run_campaign_command(args, config, until)
    for warning in config_warnings(config):
        print(f"vegdask {args.command}: warning: {warning}", file=sys.stderr)
    output = config["output"]["url"]
    started = time.perf_counter()
    cluster = config["cluster"]
    try:
        store = RunStore(output)
        store.ensure_container()  # storage that refuses or does not answer: before the cluster
        # run.json read and every check done once, before anything is written: a file, another
        # job's outputs or files of others refused, the source signed in to. A finished job reruns
        # without a cluster: every stage is complete and unchanged. (run_job refuses the job if
        # another run wrote run.json since.)
        job = prepare_job(config, until=until, force=args.force, verify=args.verify, store=store)
        dask_client = (
            job_client(cluster["kind"], cluster["workers"], output) if job.to_compute else None
        )
        with output_lock(output), dask_client or contextlib.nullcontext() as client:
            where_runs = (
                "nothing to compute" if client is None else f"dashboard {client.dashboard_link}"
            )
            print(f"vegdask {args.command}: output {output}; {where_runs}")
            manifest = run_job(
                config,
                client=client,
                force=args.force,
                verify=args.verify,
                progress=not args.no_progress,
                until=until,
                prepared=job,
            )
    except WorkersLostError as err:
        raise CLIError(f"{err}; stopped (rerun the same command to resume)") from err
    except (ValueError, OSError, OutputInUseError, EarthEngineAuthError) as err:
        raise CLIError(str(err)) from err
    elapsed = time.perf_counter() - started
    where = output if is_remote(output) else str(Path(output).resolve())
    print(f"done in {elapsed:.0f} s; results in {where}", file=sys.stdout)
    analysed = manifest["stages"].get("analyse")
    wrote_report = analysed and "skipped" not in analysed and analysed.get("report", True)
    if until == "analyse" and analysed and analysed["complete"] and wrote_report:
        print(f"report: {where}/report.html")
    return 0
