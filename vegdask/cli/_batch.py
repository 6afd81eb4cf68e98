"""``vegdask batch status|logs``: the Batch pools, jobs and tasks of vegdask."""

from __future__ import annotations

import argparse
from collections import Counter

from vegdask._options import AZURE_OPTIONS
from vegdask.cli._common import CLIError
from vegdask.cli._settings import add_setting_option


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``batch`` subcommand with ``status`` and ``logs``."""
    parser = subparsers.add_parser(
        "batch",
        help="Azure Batch: status and logs of vegdask pools, jobs and tasks",
        description=(
            "Account from --batch-url/--account-name or vegdask.azure.* in dask config or "
            "AZURE_BATCH_URL, AZURE_BATCH_ACCOUNT, AZURE_BATCH_KEY (the key is never a flag)."
        ),
    )
    add_setting_option(parser, "batch_url", AZURE_OPTIONS["batch_url"])
    add_setting_option(parser, "account_name", AZURE_OPTIONS["account_name"])
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    status = actions.add_parser("status", help="pools, and task counts of vegdask jobs")
    status.add_argument("--job", default=None, help="only this job, with its tasks")
    status.set_defaults(func=run_status)
    logs = actions.add_parser(
        "logs", help="stdout/stderr of a job's tasks (a submitted job's driver by default)"
    )
    logs.add_argument("job", help="job id")
    logs.add_argument("--task", default=None, help="only this task")
    logs.add_argument(
        "--file", choices=("stdout.txt", "stderr.txt"), default=None, help="only this file"
    )
    logs.set_defaults(func=run_logs)


def _text(value: object) -> str:
    """An enum's value (``running``), anything else as is."""
    return str(getattr(value, "value", value))


def batch_client_for(args: argparse.Namespace):
    """A Batch client for ``--batch-url``/``--account-name`` or the configured account."""
    from vegdask.cluster import batch_client

    try:
        return batch_client(args.batch_url, args.account_name)
    except ValueError as err:
        raise CLIError(str(err)) from err


_EMPTY = "no pools and no vegdask jobs in this Batch account"


def run_status(args: argparse.Namespace) -> int:
    """Print pools (sizes, states) and the task counts of vegdask jobs."""
    from azure.core.exceptions import HttpResponseError

    client = batch_client_for(args)
    try:
        pools = list(client.list_pools())
        for pool in pools:
            print(
                f"pool {pool.id}: {_text(pool.state)}/{_text(pool.allocation_state)}, dedicated "
                f"{pool.current_dedicated_nodes}/{pool.target_dedicated_nodes}, low-priority "
                f"{pool.current_low_priority_nodes}/{pool.target_low_priority_nodes}"
            )
        jobs = [
            j
            for j in client.list_jobs()
            if j.id.startswith("vegdask-") and (not args.job or j.id == args.job)
        ]
        if args.job and not jobs:
            raise CLIError(
                f"no vegdask job {args.job} in this Batch account; vegdask batch status lists them"
            )
        if not jobs:
            print("no vegdask jobs in this Batch account" if pools else _EMPTY)
        for job in jobs:
            tasks = list(client.list_tasks(job.id))
            n = Counter(_outcome(task) for task in tasks)
            print(
                f"job {job.id} ({_text(job.state)}) on {job.pool_info.pool_id}: active "
                f"{n['active']}, running {n['running']}, succeeded {n['succeeded']}, stopped "
                f"{n['stopped']}, failed {n['failed']}"
            )
            _print_submitted(client, job)
            if args.job:
                for task in tasks:
                    node = task.node_info.node_id if task.node_info else "-"
                    requeues = task.execution_info.requeue_count if task.execution_info else 0
                    print(f"  task {task.id}: {_outcome(task)} on {node}, requeued {requeues}")
    except HttpResponseError as err:
        raise CLIError(f"Batch refused the request: {err.reason} ({err.status_code})") from err
    return 0


def _outcome(task) -> str:
    """active, running, succeeded, stopped (ended on request, e.g. by a closing cluster) or failed.

    Batch reports a task that was terminated as failed (``TaskEnded``): every worker of a
    successful run ends so, when its cluster closes.
    """
    state = _text(task.state)
    if state in ("active", "preparing"):
        return "active"
    if state != "completed":
        return state
    info = task.execution_info
    if info is None or _text(info.result) == "success":
        return "succeeded"
    failure = getattr(info, "failure_info", None)
    return "stopped" if failure is not None and failure.code == "TaskEnded" else "failed"


def _print_submitted(client, job) -> None:
    """For a `vegdask submit` job: its driver task, output, dashboard and where its logs are."""
    from vegdask.cluster import dashboard_link, submitted_task, task_log

    task_id = submitted_task(client, job)
    if task_id is None:
        return
    task = client.get_task(job.id, task_id)
    info = task.execution_info
    state = _text(task.state)
    if state == "completed" and info is not None:
        state += f" ({_text(info.result)}, exit code {info.exit_code})"
    node = task.node_info.node_id if task.node_info else "-"
    output = next((m.value for m in job.metadata or [] if m.name == "output"), "-")
    print(f"  submitted: task {task_id} {state} on node {node}; output {output}")
    link = dashboard_link(task_log(client, job.id, task_id))
    if task.state == "running":
        print(f"  dashboard: {link or 'not up yet'} (reachable inside the pool's network)")
    print(f"  logs: vegdask batch logs {job.id} (Batch files: {task.url}/files)")


def run_logs(args: argparse.Namespace) -> int:
    """Print tasks' stdout/stderr: from Batch, else the copy a submitted task left in storage."""
    from azure.core.exceptions import HttpResponseError

    from vegdask.cluster import submitted_task, task_log

    client = batch_client_for(args)
    try:
        job = client.get_job(args.job)
        driver = submitted_task(client, job)
        if args.task:
            task_ids = [args.task]
        elif driver:
            task_ids = [driver]
        else:
            task_ids = [t.id for t in client.list_tasks(args.job)]
    except HttpResponseError as err:
        raise CLIError(f"Batch refused the request: {err.reason} ({err.status_code})") from err
    names = [args.file] if args.file else ["stdout.txt", "stderr.txt"]
    for task_id in task_ids:
        for name in names:
            text = task_log(client, args.job, task_id, name)
            print(f"==> {task_id}/{name} <==")
            print(text.rstrip("\n") if text is not None else "(not available)")
    return 0
