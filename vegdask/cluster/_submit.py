"""A whole job as one Azure Batch task: driver, scheduler and workers all inside Azure.

`submit_job` runs a Python command (``python ARGS...``) as the single task of a new Batch job on
a pool, so the submitting machine can disconnect. The task uses the same software as the
`AzureBatchCluster` workers (the pool's start task installs the client's wheel, `wheel_start_task`);
its input files and its credentials reach it as ``resourceFiles`` behind read-only SAS URLs that
expire (`BlobDrop`):

- ``files`` (e.g. a job config) are fetched into the task's working directory;
- ``secrets`` (environment variables such as ``AZURE_BATCH_KEY`` or a storage connection string)
  are fetched as a shell file the task sources and deletes before running the command.

So no credential appears in the task's command line or environment settings, which the Batch API
shows to anyone with access to the account. What it does show is the SAS URL of the secrets
file, usable until it expires (``sas_hours``); the task deletes that blob when it ends.

When the command ends, the task copies its ``stdout.txt`` and ``stderr.txt`` next to its input
blobs (they outlive the node) and gives the pool back the size it had before the submission
(``nodeDeallocationOption=taskcompletion``, so its own node leaves once the task is done).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets as _secrets
import shlex
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vegdask import config
from vegdask.cluster._blobs import BlobDrop
from vegdask.cluster._blobs import storage_connection_string as _storage_conn
from vegdask.cluster._client import batch_client
from vegdask.cluster._pool import (
    NODE_MODULES,
    check_wheel,
    checked_python,
    pool_body,
    shell_join,
    wheel_start_task,
)
from vegdask.cluster._pool import NODE_SITE as _SITE

__all__ = ["SUBMIT_CONTAINER", "SubmittedJob", "batch_credentials", "submit_job"]

#: Container of the submitted jobs' input files, secrets (deleted at the end) and logs.
SUBMIT_CONTAINER = "vegdask-submit"
_SECRETS = "vegdask-secrets.env"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DASHBOARD = re.compile(r"dashboard (https?://\S+)")


def batch_credentials(
    batch_url: str | None = None, account_name: str | None = None, account_key: str | None = None
) -> dict[str, str]:
    """``AZURE_BATCH_URL``, ``AZURE_BATCH_ACCOUNT`` and ``AZURE_BATCH_KEY`` as this client has them.

    Resolved as `batch_client` does (arguments, ``vegdask.azure.*``, environment); the key only
    with shared-key authentication (without it, a task uses the node's managed identity).
    """
    found = {
        "AZURE_BATCH_URL": config.get("azure.batch-url", batch_url),
        "AZURE_BATCH_ACCOUNT": config.get("azure.account-name", account_name),
        "AZURE_BATCH_KEY": config.get("azure.account-key", account_key),
    }
    return {name: str(value) for name, value in found.items() if value}


@dataclass
class SubmittedJob:
    """A job started by `submit_job`: its ids, and how to follow it."""

    job_id: str
    task_id: str
    pool_id: str
    client: Any = field(repr=False)
    drop: BlobDrop | None = field(default=None, repr=False)
    #: the pool's (dedicated, low-priority) targets before the submission, when it changed them
    restore: tuple[int, int] | None = None
    target: str = "targetDedicatedNodes"

    def task(self) -> Any:
        """The driver task as Batch reports it."""
        return self.client.get_task(self.job_id, self.task_id)

    def wait(self, timeout: float | None = None, poll: float = 2.0) -> Any:
        """Wait until the driver task completes; terminate the job; return the task.

        Raises
        ------
        TimeoutError
            If the task is still running after ``timeout`` seconds (it keeps running).
        """
        from azure.core.exceptions import HttpResponseError

        deadline = None if timeout is None else time.monotonic() + timeout
        while (task := self.task()).state != "completed":
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"task {self.task_id} of {self.job_id} is still {task.state}")
            time.sleep(poll)
        with contextlib.suppress(HttpResponseError):  # already done by onAllTasksComplete
            options = {"terminateReason": "vegdask job done"}  # BatchJobTerminateOptions
            self.client.begin_terminate_job(self.job_id, options)
        self.restore_pool()
        return task

    def restore_pool(self) -> None:
        """Give the pool back its size, if the task could not (its node lacked the SDK).

        Only while the pool still has the one node the submission gave it; as the task's own
        last step does, with ``nodeDeallocationOption=taskcompletion``.
        """
        from azure.batch import models
        from azure.core.exceptions import HttpResponseError

        if self.restore is None:
            return
        with contextlib.suppress(HttpResponseError):
            pool = self.client.get_pool(self.pool_id)
            low_priority = self.target == "targetLowPriorityNodes"
            now = pool.target_low_priority_nodes if low_priority else pool.target_dedicated_nodes
            if (now or 0) == 1:
                dedicated, low = self.restore
                options = {
                    "targetDedicatedNodes": dedicated,
                    "targetLowPriorityNodes": low,
                    "nodeDeallocationOption": "taskcompletion",
                }
                self.client.begin_resize_pool(self.pool_id, models.BatchPoolResizeOptions(options))


def submit_job(
    arguments: Sequence[str],
    *,
    files: Mapping[str, bytes] | None = None,
    secrets: Mapping[str, str] | None = None,
    environment: Mapping[str, str] | None = None,
    batch_url: str | None = None,
    account_name: str | None = None,
    account_key: str | None = None,
    pool_id: str | None = None,
    python: str | None = None,
    wheel: str | os.PathLike | None = None,
    install_dependencies: bool = True,
    storage_connection_string: str | None = None,
    vm_size: str = "Standard_A1_v2",
    slots_per_node: int = 1,
    low_priority: bool = False,
    scheduler_host: str | None = None,
    sas_hours: float = 2.0,
    max_hours: float | None = None,
    metadata: Mapping[str, str] | None = None,
    modules: Sequence[str] = NODE_MODULES,
) -> SubmittedJob:
    """Run ``python ARGUMENTS...`` as the one task of a new Batch job on ``pool_id``.

    Parameters
    ----------
    arguments
        The command after the interpreter, e.g. ``["-m", "vegdask.cli", "run", "job.toml"]``;
        it runs in the task's working directory.
    files
        Input files (name -> content) fetched into the working directory. Not for secrets.
    secrets
        Environment variables of the command delivered through a sourced file, never through the
        task's command line or environment settings.
    environment
        Environment settings that are not secret (shown by the Batch API).
    batch_url, account_name, account_key
        The Batch account, as for `batch_client`.
    pool_id
        The pool (default ``vegdask.azure.pool-id``); created when missing, with a start task
        installing ``wheel``. It is grown to one node if empty, and given back its previous size
        when the task ends; a pool is never deleted.
    python
        Interpreter on the nodes (default ``vegdask.azure.worker-python``).
    wheel
        This client's vegdask wheel for the start task of a created pool (`AzureBatchCluster`'s
        ``wheel``); the task then runs it from the node's shared site directory.
    install_dependencies, vm_size, slots_per_node, low_priority
        Pool settings as in `AzureBatchCluster` (for a created pool; ``low_priority`` also for
        the node added to an empty one).
    storage_connection_string
        Storage with the account key, for the blobs and their SAS URLs (default
        ``vegdask.azure.storage-connection-string`` or ``AZURE_STORAGE_CONNECTION_STRING``).
    scheduler_host
        Address the command's Dask scheduler listens on, set as ``vegdask.azure.scheduler-host``
        (default: the node's first IP address, reachable from the other nodes of the pool).
    sas_hours
        Lifetime of the SAS URLs of the files: the task must start within it.
    max_hours
        Wall-clock limit of the task (none by default).
    metadata
        Extra job metadata (name -> value), shown by ``vegdask batch status``.
    modules
        What the node's Python must import: checked before the command runs (the task then
        ends with one line naming what is missing, in its ``stderr.txt``).

    Returns
    -------
    SubmittedJob
    """
    from azure.batch import models
    from azure.core.exceptions import ResourceNotFoundError

    client = batch_client(batch_url, account_name, account_key)
    pool_id = config.get("azure.pool-id", pool_id)
    python = python or config.get("azure.worker-python")
    job_id = f"vegdask-{_secrets.token_hex(4)}-submit"
    task_id = "driver"
    bad = [name for name in {**(secrets or {}), **(environment or {})} if not _NAME.match(name)]
    if bad:
        raise ValueError(f"not environment variable names: {bad}")

    # inputs first: nothing is started on Batch when the upload fails
    drop = BlobDrop(_storage_conn(storage_connection_string), SUBMIT_CONTAINER, job_id)
    paths = {}
    for name, data in (files or {}).items():
        if os.path.basename(name) != name or name == _SECRETS:
            raise ValueError(f"input file names must be plain file names, got {name!r}")
        drop.put(name, data)
        paths[name] = name
    if secrets:
        lines = [f"export {name}={shlex.quote(str(value))}" for name, value in secrets.items()]
        drop.put(_SECRETS, ("\n".join(lines) + "\n").encode())
        paths[_SECRETS] = _SECRETS

    restore = None
    key = "targetLowPriorityNodes" if low_priority else "targetDedicatedNodes"
    try:
        pool = client.get_pool(pool_id)
    except ResourceNotFoundError:
        start = None
        if wheel is not None:
            start = wheel_start_task(
                check_wheel(wheel),
                python,
                storage_connection_string,
                install_dependencies=install_dependencies,
                sas_hours=sas_hours,
            )
        body = pool_body(pool_id, vm_size, slots_per_node, start_task=start)
        body[key] = 1
        client.create_pool(models.BatchPoolCreateOptions(body))
        restore = (0, 0)
    else:
        targets = (pool.target_dedicated_nodes or 0, pool.target_low_priority_nodes or 0)
        if not pool.enable_auto_scale and sum(targets) == 0:
            client.begin_resize_pool(pool_id, models.BatchPoolResizeOptions({key: 1}))
            restore = targets

    script = ["set -e"]
    if wheel is not None:
        script.append(f'export PYTHONPATH="{_SITE}${{PYTHONPATH:+:$PYTHONPATH}}"')
    if secrets:
        script.append(f'f="$AZ_BATCH_TASK_WORKING_DIR/{_SECRETS}"; . "$f"; rm -f "$f"')
    host = shlex.quote(scheduler_host) if scheduler_host else '"$(hostname -I | cut -d" " -f1)"'
    script.append(f"h={host} || true; export DASK_VEGDASK__AZURE__SCHEDULER_HOST=${{h:-127.0.0.1}}")
    command = checked_python(python, tuple(modules), shell_join([python, *arguments]))
    script += ["set +e", command, "status=$?"]
    finish = [python, "-m", "vegdask.cluster._submit", "finish", "--drop", f"{job_id}"]
    if restore is not None:
        finish += ["--pool", pool_id, "--restore", str(restore[0]), str(restore[1])]
    # only where it can run: a Python without the Azure SDK (its one line is above) stays quiet
    sdk = shell_join([python, "-c", "import azure.batch, azure.storage.blob"])
    script += [f"{sdk} 2>/dev/null && {shell_join(finish)} || true", "exit $status"]

    settings = {"PYTHONUNBUFFERED": "1", **(environment or {})}
    task: dict[str, Any] = {
        "id": task_id,
        "commandLine": f"/bin/bash -c {shlex.quote('; '.join(script))}",
        "resourceFiles": drop.resource_files(paths, sas_hours),
        "environmentSettings": [{"name": k, "value": str(v)} for k, v in settings.items()],
        "constraints": {"maxTaskRetryCount": 0},
    }
    if max_hours is not None:
        task["constraints"]["maxWallClockTime"] = f"PT{int(max_hours * 3600)}S"
    job = {
        "id": job_id,
        "poolInfo": {"poolId": pool_id},
        "onAllTasksComplete": "terminatejob",
        "metadata": [
            {"name": "vegdask-submit", "value": task_id},
            *({"name": k, "value": str(v)} for k, v in (metadata or {}).items()),
        ],
    }
    client.create_job(models.BatchJobCreateOptions(job))
    client.create_task(job_id, models.BatchTaskCreateOptions(task))
    return SubmittedJob(job_id, task_id, pool_id, client, drop, restore, key)


def submitted_task(client: Any, job: Any) -> str | None:
    """The driver task id of a job `submit_job` created, else None."""
    for item in job.metadata or []:
        if item.name == "vegdask-submit":
            return item.value
    return None


def task_log(
    client: Any,
    job_id: str,
    task_id: str,
    name: str = "stdout.txt",
    storage_connection_string: str | None = None,
) -> str | None:
    """A task's ``stdout.txt``/``stderr.txt``: from Batch, else the copy a submitted task left.

    Batch keeps task files only while the node exists; a submitted task copies its own to
    ``vegdask-submit/<job>/`` when it ends. None when neither is available.
    """
    from azure.core.exceptions import HttpResponseError

    with contextlib.suppress(HttpResponseError):
        return b"".join(client.download_task_file(job_id, task_id, name)).decode(errors="replace")
    try:
        from azure.storage.blob import BlobServiceClient

        service = BlobServiceClient.from_connection_string(_storage_conn(storage_connection_string))
        blob = service.get_blob_client(SUBMIT_CONTAINER, f"{job_id}/{task_id}/{name}")
        return blob.download_blob().readall().decode(errors="replace")
    except (ValueError, HttpResponseError):
        return None


def dashboard_link(log: str | None) -> str | None:
    """The last ``dashboard URL`` a command printed (``vegdask run`` does), else None.

    Examples
    --------
    >>> dashboard_link("vegdask run: output abfs://r/s; dashboard http://10.0.0.4:8787/status")
    'http://10.0.0.4:8787/status'
    """
    found = _DASHBOARD.findall(log or "")
    return found[-1] if found else None


def _finish(argv: Sequence[str] | None = None) -> int:
    """End of a submitted task: keep its logs, delete its secrets, give the pool back its size."""
    from azure.batch import models
    from azure.storage.blob import BlobServiceClient

    parser = argparse.ArgumentParser(prog="python -m vegdask.cluster._submit finish")
    parser.add_argument("--drop", required=True, help="job id: the blob folder of its inputs")
    parser.add_argument("--pool", default=None)
    parser.add_argument("--restore", nargs=2, type=int, default=None)
    args = parser.parse_args(argv)
    task_dir = os.environ.get("AZ_BATCH_TASK_DIR", ".")
    task_id = os.environ.get("AZ_BATCH_TASK_ID", "driver")
    conn = os.environ.get("AZURE_STORAGE_CONNECTION_STRING")
    if conn:  # a SAS connection string is enough: no signing here
        with contextlib.suppress(Exception):
            container = BlobServiceClient.from_connection_string(conn).get_container_client(
                SUBMIT_CONTAINER
            )
            with contextlib.suppress(Exception):
                container.delete_blob(f"{args.drop}/{_SECRETS}")
            for name in ("stdout.txt", "stderr.txt"):
                with open(os.path.join(task_dir, name), "rb") as fh:
                    container.upload_blob(f"{args.drop}/{task_id}/{name}", fh, overwrite=True)
    if args.pool and args.restore:
        dedicated, low = args.restore
        options = {
            "targetDedicatedNodes": dedicated,
            "targetLowPriorityNodes": low,
            "nodeDeallocationOption": "taskcompletion",  # this node leaves once this task ends
        }
        batch_client().begin_resize_pool(args.pool, models.BatchPoolResizeOptions(options))
    return 0


if __name__ == "__main__":  # pragma: no cover - run on the node by submitted tasks
    import sys

    if sys.argv[1:2] != ["finish"]:
        sys.exit("usage: python -m vegdask.cluster._submit finish --drop JOB [...]")
    sys.exit(_finish(sys.argv[2:]))
