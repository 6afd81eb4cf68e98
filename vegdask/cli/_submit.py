"""``vegdask submit CONFIG --output abfs://...``: the whole job as one Azure Batch task."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from vegdask._options import AZURE_OPTIONS, CLUSTER_OPTIONS
from vegdask.cli._common import CLIError
from vegdask.cli._settings import add_setting_option, value

# flag (its dest) -> the AZURE_OPTIONS key and submit_run's keyword: the options it adds and reads
_AZURE_FLAGS = {
    "cluster": "cluster",
    "pool": "pool_id",
    "python": "python",
    "vm_size": "vm_size",
    "low_priority": "low_priority",
    "hours": "hours",
    "sas_hours": "sas_hours",
    "scheduler_host": "scheduler_host",
    "batch_url": "batch_url",
    "account_name": "account_name",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``submit`` subcommand."""
    parser = subparsers.add_parser(
        "submit",
        help="run the whole job inside Azure Batch (this machine may disconnect)",
        description=(
            "Run `vegdask run CONFIG` as one Azure Batch task on the pool: driver, Dask scheduler "
            "and workers (Batch tasks on the same pool, or local to the task) all inside Azure. "
            "Outputs must go to abfs://. Batch account from --batch-url/--account-name or "
            "vegdask.azure.* in dask config or AZURE_BATCH_URL, AZURE_BATCH_ACCOUNT, "
            "AZURE_BATCH_KEY; storage from vegdask.azure.storage-connection-string or "
            "AZURE_STORAGE_CONNECTION_STRING. Credentials reach the task as a resource file "
            "behind a short-lived SAS (docs/azure.md), never in its command line or environment."
        ),
    )
    parser.add_argument("config", nargs="?", help="TOML job config (default: the offline demo)")
    parser.add_argument("--output", help="abfs://container/prefix (overrides the config)")
    add_setting_option(parser, "workers", CLUSTER_OPTIONS["workers"])
    parser.add_argument("--force", action="store_true", help="recompute every stage")
    for flag, key in _AZURE_FLAGS.items():
        add_setting_option(parser, flag, AZURE_OPTIONS[key])
    parser.add_argument(
        "--wheel", default=None, help="this vegdask's wheel, installed by a created pool"
    )
    parser.add_argument(
        "--no-deps", action="store_true", help="the node image has the dependencies"
    )
    parser.add_argument("--wait", action="store_true", help="wait for the job to end")
    parser.set_defaults(func=run)


def _job_config(args: argparse.Namespace) -> tuple[str, int]:
    """Validate the job locally (fail fast); return its output URL and worker count."""
    from vegdask.data.storage import is_azure
    from vegdask.pipeline import ConfigError, load_config

    overrides = {
        "output": {"url": args.output} if args.output else {},
        "cluster": {"workers": args.workers} if args.workers is not None else {},  # checked there
    }
    try:
        config = load_config(args.config, overrides=overrides)
    except ConfigError as err:
        raise CLIError(str(err)) from err
    output = str(config["output"]["url"])
    if not is_azure(output):
        raise CLIError(
            f"the job runs inside Azure, where this machine's disk is out of reach: give an "
            f"abfs:// output (--output abfs://container/prefix), not the local path {output!r}"
        )
    return output, int(config["cluster"]["workers"])


def run(args: argparse.Namespace) -> int:
    """Upload the config, start the driver task, print how to follow it."""
    from azure.core.exceptions import HttpResponseError

    from vegdask.cluster import submit_run

    azure = {
        key: value(args, flag, AZURE_OPTIONS[key]) for flag, key in _AZURE_FLAGS.items()
    }  # a wrong value: one line, before anything is submitted
    output, workers = _job_config(args)
    try:
        job = submit_run(
            output,
            config=Path(args.config).read_bytes() if args.config else None,
            workers=workers,
            force=args.force,
            wheel=args.wheel,
            install_dependencies=not args.no_deps,
            **azure,
        )
    except ValueError as err:
        raise CLIError(str(err)) from err
    except HttpResponseError as err:
        raise CLIError(f"Batch or storage refused the request: {err.reason}") from err
    print(f"submitted job {job.job_id} (task {job.task_id}) on pool {job.pool_id}; output {output}")
    print(f"follow it: vegdask batch status --job {job.job_id}; vegdask batch logs {job.job_id}")
    if not args.wait:
        return 0
    task = job.wait(restore=False)  # the driver's files go with its node: read them first
    info = task.execution_info
    code = info.exit_code if info else None
    print(f"task {job.task_id}: {getattr(info.result, 'value', info.result)}, exit code {code}")
    if code != 0:  # why, in its last line (e.g. the node's Python lacking a module)
        _print_last_line(job)
    job.restore_pool()
    return 0 if code == 0 else 1


def _print_last_line(job: Any) -> None:
    """The driver's last line of ``stderr.txt``, on stderr."""
    from vegdask.cluster import task_log

    lines = (task_log(job.client, job.job_id, job.task_id, "stderr.txt") or "").splitlines()
    last = next((line.strip() for line in reversed(lines) if line.strip()), None)
    if last:
        print(f"vegdask submit: the driver's last line: {last}", file=sys.stderr)
