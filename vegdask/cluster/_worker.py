"""`BatchWorker`: one Dask worker as a Batch task, building its own task from its arguments.

As a dask-jobqueue ``Job`` builds its job script from its keyword arguments, a `BatchWorker`
builds its Batch task JSON (`task_body`) from its own: no secret in the command line or the
environment settings; TLS files arrive as resource files behind read-only SAS URLs.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distributed import Security
from distributed.deploy.spec import ProcessInterface

from vegdask.cluster._blobs import BlobDrop
from vegdask.cluster._pool import NODE_SITE, checked_python, shell_join

__all__ = ["BatchWorker", "WorkerTls"]

_TLS_DIR = "vegdask-tls"


@dataclass
class WorkerTls:
    """The workers' TLS files (PEM texts by name), served from ``drop`` once uploaded."""

    pems: dict[str, str] = field(default_factory=dict)
    sas_hours: float = 2.0
    drop: BlobDrop | None = None

    @classmethod
    def of(cls, security: Security | None, sas_hours: float) -> WorkerTls:
        """The worker role's CA, certificate and key of ``security`` (read from files if paths)."""
        if not security:
            return cls(sas_hours=sas_hours)
        tls = security.get_tls_config_for_role("worker")
        files = {}
        for name, key in (("ca", "ca_file"), ("cert", "cert"), ("key", "key")):
            value = tls.get(key)
            if value:
                files[name] = value if "-----BEGIN" in value else Path(value).read_text()
        if "cert" not in files:
            raise ValueError("security has no worker certificate (tls_worker_cert) for TLS")
        return cls(files, sas_hours)

    def upload(self, drop: BlobDrop) -> None:
        """Put the PEM files into ``drop`` (then serve them from there)."""
        for name, pem in self.pems.items():
            drop.put(f"{name}.pem", pem.encode())
        self.drop = drop

    def flags(self) -> list[str]:
        """The worker's ``--tls-*`` arguments, pointing into its working directory."""
        argv = []
        for flag, name in (("--tls-ca-file", "ca"), ("--tls-cert", "cert"), ("--tls-key", "key")):
            if name in self.pems:
                argv += [flag, f"$AZ_BATCH_TASK_WORKING_DIR/{_TLS_DIR}/{name}.pem"]
        return argv

    def resource_files(self) -> list[dict[str, str]] | None:
        """Resource files with fresh SAS URLs (None before the upload)."""
        if self.drop is None:
            return None
        # re-signed per launch: a worker adapt() starts hours later still gets its files
        paths = {f"{name}.pem": f"{_TLS_DIR}/{name}.pem" for name in self.pems}
        return self.drop.resource_files(paths, self.sas_hours)


class BatchWorker(ProcessInterface):
    """One Dask worker (a nanny) running as an Azure Batch task.

    Every launch gets a new task id, ``{prefix}-{name}-{random}``, so a task Batch requeued after a
    preemption and a replacement launched by the cluster never collide.

    Parameters
    ----------
    scheduler, name
        The scheduler's address and the worker's name (given by `distributed.SpecCluster`).
    client, job_id, prefix
        The Batch client, the job the task goes into and the prefix of its task id.
    python, nthreads, memory_limit, death_timeout
        The worker's interpreter on the node and its ``dask worker`` options.
    node_site
        Put the wheel a pool start task installed first on ``PYTHONPATH``.
    tls
        The TLS files the task receives (none: plain TCP).
    modules
        What ``python`` must import; checked before the worker starts, so that a task of a node
        lacking one ends with one line naming it (in its ``stderr.txt``).
    """

    def __init__(
        self,
        scheduler: str,
        name: str,
        *,
        client: Any,
        job_id: str,
        prefix: str,
        python: str,
        nthreads: int,
        memory_limit: str,
        death_timeout: float,
        node_site: bool = False,
        tls: WorkerTls | None = None,
        modules: tuple[str, ...] = ("distributed",),
    ) -> None:
        super().__init__()
        self.scheduler = scheduler
        self.name = name
        self.client, self.job_id = client, job_id
        self.python, self.nthreads, self.memory_limit = python, nthreads, memory_limit
        self.death_timeout, self.node_site = death_timeout, node_site
        self.tls = tls or WorkerTls()
        self.modules = tuple(modules)
        self.task_id = f"{prefix}-{name}-{secrets.token_hex(3)}"

    def task_body(self) -> dict[str, Any]:
        """The Batch task JSON of this launch."""
        argv = [
            self.python,
            "-m",
            "distributed.cli.dask_worker",
            self.scheduler,
            "--name",
            str(self.name),
            "--nthreads",
            str(self.nthreads),
            "--memory-limit",
            str(self.memory_limit),
            "--nanny",
            "--death-timeout",
            str(self.death_timeout),
            "--no-dashboard",
            "--local-directory",
            "$AZ_BATCH_TASK_WORKING_DIR",
            *self.tls.flags(),
        ]
        script = checked_python(self.python, self.modules, "exec " + shell_join(argv))
        if self.node_site:
            script = f'export PYTHONPATH="{NODE_SITE}${{PYTHONPATH:+:$PYTHONPATH}}"; {script}'
        body: dict[str, Any] = {
            "id": self.task_id,
            "commandLine": f"/bin/bash -c {shlex.quote(script)}",
            "constraints": {"maxTaskRetryCount": 0},
            "environmentSettings": [{"name": "PYTHONUNBUFFERED", "value": "1"}],
        }
        files = self.tls.resource_files()
        if files is not None:
            body["resourceFiles"] = files
        return body

    async def start(self) -> None:
        """Add the task to the job."""
        from azure.batch.models import BatchTaskCreateOptions

        body = self.task_body()
        await asyncio.to_thread(self.client.create_task, self.job_id, BatchTaskCreateOptions(body))
        await super().start()

    async def close(self) -> None:
        """Terminate the task."""
        from azure.core.exceptions import HttpResponseError

        with contextlib.suppress(HttpResponseError):
            await asyncio.to_thread(self.client.terminate_task, self.job_id, self.task_id)
        await super().close()
