"""``vegdask submit CONFIG --output abfs://...``: the whole job as one Azure Batch task."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from vegdask.cli._common import CLIError


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
    parser.add_argument(
        "--cluster",
        default="azure-batch",
        choices=("azure-batch", "local"),
        help="azure-batch: workers as Batch tasks on the pool; local: on the driver's node "
        "(default: %(default)s)",
    )
    parser.add_argument("--workers", type=int, help="workers (default: the config's)")
    parser.add_argument("--force", action="store_true", help="recompute every stage")
    parser.add_argument("--pool", default=None, help="pool id (default vegdask.azure.pool-id)")
    parser.add_argument("--python", default=None, help="interpreter on the nodes")
    parser.add_argument(
        "--wheel", default=None, help="this vegdask's wheel, installed by a created pool"
    )
    parser.add_argument(
        "--no-deps", action="store_true", help="the node image has the dependencies"
    )
    parser.add_argument(
        "--vm-size", default=None, help="VM size of a created pool (default vegdask.azure.vm-size)"
    )
    parser.add_argument(
        "--low-priority",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="Spot nodes, or dedicated ones (default vegdask.azure.low-priority)",
    )
    parser.add_argument(
        "--hours",
        type=float,
        default=24.0,
        help="the task's wall-clock limit and the lifetime of its storage SAS, in hours "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--sas-hours",
        type=float,
        default=2.0,
        help="lifetime of the SAS URLs of the config and credentials files, in hours "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--scheduler-host", default=None, help="scheduler address (default: the node's IP)"
    )
    parser.add_argument("--batch-url", default=None, help="Batch account URL")
    parser.add_argument("--account-name", default=None, help="Batch account name")
    parser.add_argument("--wait", action="store_true", help="wait for the job to end")
    parser.set_defaults(func=run)


def _job_config(args: argparse.Namespace) -> tuple[str, int]:
    """Validate the job locally (fail fast); return its output URL and worker count."""
    from vegdask.data.storage import is_azure
    from vegdask.pipeline import ConfigError, load_config

    overrides = {
        "output": {"url": args.output} if args.output else {},
        "cluster": {"workers": args.workers} if args.workers is not None else {},
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

    output, workers = _job_config(args)
    try:
        job = submit_run(
            output,
            config=Path(args.config).read_bytes() if args.config else None,
            workers=workers,
            cluster=args.cluster,
            force=args.force,
            pool_id=args.pool,
            python=args.python,
            hours=args.hours,
            batch_url=args.batch_url,
            account_name=args.account_name,
            wheel=args.wheel,
            install_dependencies=not args.no_deps,
            vm_size=args.vm_size,
            low_priority=args.low_priority,
            scheduler_host=args.scheduler_host,
            sas_hours=args.sas_hours,
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
