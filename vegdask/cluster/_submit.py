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
    PoolSettings,
    checked_python,
    ensure_pool,
    restore_pool,
    shell_join,
)
from vegdask.cluster._pool import NODE_SITE as _SITE
from vegdask.data.storage import blob_service, storage_options

__all__ = ["SUBMIT_CONTAINER", "SubmittedJob", "batch_credentials", "driver_script", "submit_job"]

#: Container of the submitted jobs' input files, secrets (deleted at the end) and logs.
SUBMIT_CONTAINER = "vegdask-submit"
_SECRETS = "vegdask-secrets.env"
_TASK = "driver"
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

    def wait(self, timeout: float | None = None, poll: float = 2.0, *, restore: bool = True) -> Any:
        """Wait until the driver task completes; terminate the job; return the task.

        With ``restore``, then give the pool back its size if the task could not
        (`restore_pool`); without, call that yourself once done with the task's files (its node
        may leave the pool at once, and Batch deletes them with it).

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
        if restore:
            self.restore_pool()
        return task

    def restore_pool(self) -> None:
        """Give the pool back its size, if the task could not (its node lacked the SDK).

        Only while the pool still has the one node the submission gave it; as the task's own
        last step does, with ``nodeDeallocationOption=taskcompletion``.
        """
        from azure.core.exceptions import HttpResponseError

        if self.restore is None:
            return
        with contextlib.suppress(HttpResponseError):
            pool = self.client.get_pool(self.pool_id)
            low_priority = self.target == "targetLowPriorityNodes"
            now = pool.target_low_priority_nodes if low_priority else pool.target_dedicated_nodes
            if (now or 0) == 1:
                restore_pool(self.client, self.pool_id, self.restore)


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
    vm_size: str | None = None,
    slots_per_node: int = 1,
    low_priority: bool | None = None,
    scheduler_host: str | None = None,
    sas_hours: float | None = None,
    max_hours: float | None = None,
    metadata: Mapping[str, str] | None = None,
    modules: Sequence[str] = NODE_MODULES,
) -> SubmittedJob:
    """Run ``python ARGUMENTS...`` as the one task of a new Batch job on ``pool_id``.

    The pool is created when missing (`PoolSettings`), grown to one node if empty, and given
    back its previous size when the task ends; a pool is never deleted. The task runs
    `driver_script`.

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
    pool_id, python, wheel, install_dependencies, storage_connection_string, vm_size, \
    slots_per_node, low_priority, sas_hours
        The pool and its nodes, as `PoolSettings` documents them; ``low_priority`` also for the
        node added to an empty pool, ``storage_connection_string`` also for the input files and
        ``sas_hours`` for their SAS URLs.
    scheduler_host, modules
        As `driver_script` documents them.
    max_hours
        Wall-clock limit of the task (none by default).
    metadata
        Extra job metadata (name -> value), shown by ``vegdask batch status``.

    Returns
    -------
    SubmittedJob
    """
    from azure.batch import models

    _check_inputs(files or {}, secrets or {}, environment or {})
    pool = PoolSettings(
        pool_id=pool_id,
        vm_size=vm_size,
        python=python,
        slots_per_node=slots_per_node,
        low_priority=low_priority,
        wheel=wheel,
        install_dependencies=install_dependencies,
        storage_connection_string=storage_connection_string,
        sas_hours=sas_hours,
    )
    client = batch_client(batch_url, account_name, account_key)
    job_id = f"vegdask-{_secrets.token_hex(4)}-submit"
    # inputs first: nothing is started on Batch when the upload fails
    drop = _upload_inputs(storage_connection_string, job_id, files or {}, secrets or {})
    claim = ensure_pool(client, pool, nodes=1)
    restore = claim.previous if claim.changed else None
    script = driver_script(
        arguments,
        python=str(pool.python),
        job_id=job_id,
        node_site=pool.wheel is not None,
        secrets=bool(secrets),
        scheduler_host=scheduler_host,
        modules=modules,
        pool_id=claim.pool_id,
        restore=restore,
    )
    inputs = drop.resource_files({name: name for name in drop.names}, pool.sas_hours)
    task = _driver_task(script, inputs, environment or {}, max_hours)
    client.create_job(models.BatchJobCreateOptions(_job(job_id, claim.pool_id, metadata or {})))
    client.create_task(job_id, models.BatchTaskCreateOptions(task))
    return SubmittedJob(job_id, _TASK, claim.pool_id, client, drop, restore, pool.target)


def driver_script(
    arguments: Sequence[str],
    *,
    python: str,
    job_id: str,
    node_site: bool = False,
    secrets: bool = False,
    scheduler_host: str | None = None,
    modules: Sequence[str] = NODE_MODULES,
    pool_id: str | None = None,
    restore: tuple[int, int] | None = None,
) -> str:
    """The bash script a submitted driver task runs (its command line is ``bash -c SCRIPT``).

    It imports vegdask from the pool's wheel (``node_site``), sources and deletes the secrets
    file, sets the Dask scheduler's address, checks ``python`` imports ``modules``, runs
    ``python ARGUMENTS...``, then (where the Azure SDK imports) keeps the task's logs, deletes
    its secrets blob and gives pool ``pool_id`` back its ``restore`` targets; it exits with the
    command's status. Pure: it builds text only (as dask-jobqueue's ``job_script``).

    Parameters
    ----------
    arguments : sequence of str
        The command after the interpreter.
    python : str
        Interpreter on the node.
    job_id : str
        The job; its input blobs are under ``vegdask-submit/<job_id>/``.
    node_site : bool
        Put the wheel a pool's start task installed first on ``PYTHONPATH``.
    secrets : bool
        Whether a secrets file (``vegdask-secrets.env``) comes with the inputs.
    scheduler_host : str, optional
        Address the command's Dask scheduler listens on, set as
        ``vegdask.azure.scheduler-host``; default the node's first IP address, reachable from the
        other nodes of the pool.
    modules : sequence of str
        What ``python`` must import: checked before the command runs (the task then ends with
        one line naming what is missing, in its ``stderr.txt``).
    pool_id : str, optional
        The pool the task runs on.
    restore : tuple of int, optional
        The (dedicated, low-priority) targets to give ``pool_id`` back at the end
        (`restore_pool`); None leaves the pool as it is.

    Examples
    --------
    >>> print(driver_script(["-m", "vegdask.cli", "run"], python="python3", job_id="j", modules=()))
    set -e
    h="$(hostname -I | cut -d" " -f1)" || true; export DASK_VEGDASK__AZURE__SCHEDULER_HOST=${h:-127.0.0.1}
    set +e
    python3 -m vegdask.cli run
    status=$?
    python3 -c 'import azure.batch, azure.storage.blob' 2>/dev/null && python3 -m vegdask.cluster._submit finish --drop j || true
    exit $status
    """  # noqa: E501
    script = ["set -e"]
    if node_site:
        script.append(f'export PYTHONPATH="{_SITE}${{PYTHONPATH:+:$PYTHONPATH}}"')
    if secrets:
        script.append(f'f="$AZ_BATCH_TASK_WORKING_DIR/{_SECRETS}"; . "$f"; rm -f "$f"')
    host = shlex.quote(scheduler_host) if scheduler_host else '"$(hostname -I | cut -d" " -f1)"'
    script.append(f"h={host} || true; export DASK_VEGDASK__AZURE__SCHEDULER_HOST=${{h:-127.0.0.1}}")
    command = checked_python(python, tuple(modules), shell_join([python, *arguments]))
    script += ["set +e", command, "status=$?"]
    finish = [python, "-m", "vegdask.cluster._submit", "finish", "--drop", job_id]
    if pool_id is not None and restore is not None:
        finish += ["--pool", pool_id, "--restore", str(restore[0]), str(restore[1])]
    # only where it can run: a Python without the Azure SDK (its one line is above) stays quiet
    sdk = shell_join([python, "-c", "import azure.batch, azure.storage.blob"])
    script += [f"{sdk} 2>/dev/null && {shell_join(finish)} || true", "exit $status"]
    return "\n".join(script)


def _check_inputs(
    files: Mapping[str, bytes], secrets: Mapping[str, str], environment: Mapping[str, str]
) -> None:
    """Refuse input file names that are not plain and variable names that are not names."""
    bad = [name for name in {**secrets, **environment} if not _NAME.match(name)]
    if bad:
        raise ValueError(f"not environment variable names: {bad}")
    for name in files:
        if os.path.basename(name) != name or name == _SECRETS:
            raise ValueError(f"input file names must be plain file names, got {name!r}")


def _upload_inputs(
    storage: str | None, job_id: str, files: Mapping[str, bytes], secrets: Mapping[str, str]
) -> BlobDrop:
    """Upload the input files, and the secrets as a shell file the task sources."""
    drop = BlobDrop(_storage_conn(storage), SUBMIT_CONTAINER, job_id)
    for name, data in files.items():
        drop.put(name, data)
    if secrets:
        lines = [f"export {name}={shlex.quote(str(value))}" for name, value in secrets.items()]
        drop.put(_SECRETS, ("\n".join(lines) + "\n").encode())
    return drop


def _driver_task(
    script: str,
    inputs: list[dict[str, str]],
    environment: Mapping[str, str],
    max_hours: float | None,
) -> dict[str, Any]:
    """Batch JSON of the driver task: the script, its input files and its settings."""
    settings = {"PYTHONUNBUFFERED": "1", **environment}
    task: dict[str, Any] = {
        "id": _TASK,
        "commandLine": f"/bin/bash -c {shlex.quote(script)}",
        "resourceFiles": inputs,
        "environmentSettings": [{"name": k, "value": str(v)} for k, v in settings.items()],
        "constraints": {"maxTaskRetryCount": 0},
    }
    if max_hours is not None:
        task["constraints"]["maxWallClockTime"] = f"PT{int(max_hours * 3600)}S"
    return task


def _job(job_id: str, pool_id: str, metadata: Mapping[str, str]) -> dict[str, Any]:
    """Batch JSON of the job: it ends with its task; its metadata marks it as submitted."""
    return {
        "id": job_id,
        "poolInfo": {"poolId": pool_id},
        "onAllTasksComplete": "terminatejob",
        "metadata": [
            {"name": "vegdask-submit", "value": _TASK},
            *({"name": k, "value": str(v)} for k, v in metadata.items()),
        ],
    }


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
    ``vegdask-submit/<job>/`` when it ends. None when neither is available. That copy is read
    with ``storage_connection_string`` (None: the setting
    ``vegdask.azure.storage-connection-string``, else ``AZURE_STORAGE_CONNECTION_STRING``).
    """
    from azure.core.exceptions import HttpResponseError

    with contextlib.suppress(HttpResponseError):
        return b"".join(client.download_task_file(job_id, task_id, name)).decode(errors="replace")
    url = f"abfs://{SUBMIT_CONTAINER}"
    try:
        options = storage_options(url, connection_string=storage_connection_string)
        blob = blob_service(url, options).get_blob_client(
            SUBMIT_CONTAINER, f"{job_id}/{task_id}/{name}"
        )
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
    parser = argparse.ArgumentParser(prog="python -m vegdask.cluster._submit finish")
    parser.add_argument("--drop", required=True, help="job id: the blob folder of its inputs")
    parser.add_argument("--pool", default=None)
    parser.add_argument("--restore", nargs=2, type=int, default=None)
    args = parser.parse_args(argv)
    task_dir = os.environ.get("AZ_BATCH_TASK_DIR", ".")
    task_id = os.environ.get("AZ_BATCH_TASK_ID", "driver")
    with contextlib.suppress(Exception):  # the task's SAS connection string: no signing here
        service = blob_service(f"abfs://{SUBMIT_CONTAINER}")
        container = service.get_container_client(SUBMIT_CONTAINER)
        with contextlib.suppress(Exception):
            container.delete_blob(f"{args.drop}/{_SECRETS}")
        for name in ("stdout.txt", "stderr.txt"):
            with open(os.path.join(task_dir, name), "rb") as fh:
                container.upload_blob(f"{args.drop}/{task_id}/{name}", fh, overwrite=True)
    if args.pool and args.restore:  # this node leaves once this task ends
        restore_pool(batch_client(), args.pool, tuple(args.restore))
    return 0


if __name__ == "__main__":  # pragma: no cover - run on the node by submitted tasks
    import sys

    if sys.argv[1:2] != ["finish"]:
        sys.exit("usage: python -m vegdask.cluster._submit finish --drop JOB [...]")
    sys.exit(_finish(sys.argv[2:]))
