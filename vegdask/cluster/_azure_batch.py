"""Dask workers as Azure Batch tasks: `AzureBatchCluster`, a `distributed.SpecCluster`.

Why `SpecCluster` and not dask-cloudprovider's ``VMCluster``: ``VMCluster`` manages one virtual
machine per worker (create, boot, delete), which on Batch is the service's job: Batch owns the
nodes of a pool, their images and their start task, and schedules tasks onto free task slots. A
worker here is therefore a *task* (cheap to start, requeued by Batch on preemption), not a VM, and
the cluster only has to create and terminate tasks and size the pool; `SpecCluster` gives exactly
that (a spec per worker, `scale`, `adapt`, replacement of closed workers) without the VM lifecycle.
For plain VMs, use dask-cloudprovider's ``AzureVMCluster``.

The scheduler runs in the client process; workers connect to ``contact_address`` (e.g. the private
address of a VM in the pool's virtual network), or the whole job runs in a Batch task
(`vegdask.cluster.submit_job`). No secret ever goes into a task's command line or environment
settings: the Batch API shows those to anyone with access to the account. What a task needs (the
wheel, TLS certificates and key) reaches it as ``resourceFiles`` behind short-lived read-only SAS
URLs (`vegdask.cluster.BlobDrop`).

A worker builds its own task from its arguments (`BatchWorker`, in ``_worker``); the client and
settings are in ``_client``, pools and the wheel in ``_pool``. Cleanup at interpreter exit is an
``atexit`` hook registered after distributed's (so it runs first, while threads can still start),
not ``weakref.finalize``, whose single exit hook runs after distributed has closed the loop.
This module is over 400 lines for one class whose numpydoc documents its 24 parameters.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import math
import os
import secrets
import weakref
from typing import Any, cast

from distributed import Security
from distributed.deploy.spec import SpecCluster
from distributed.scheduler import Scheduler
from tornado.ioloop import PeriodicCallback

from vegdask import config
from vegdask.cluster._blobs import BlobDrop
from vegdask.cluster._blobs import storage_connection_string as _storage_conn
from vegdask.cluster._client import batch_client, send
from vegdask.cluster._pool import (
    PoolClaim,
    PoolSettings,
    ensure_pool,
    resize_pool,
    restore_pool,
    running_from_node_site,
    worker_resources,
)
from vegdask.cluster._worker import BatchWorker, WorkerTls

__all__ = ["AzureBatchCluster"]

logger = logging.getLogger(__name__)


def _security(security: bool | Security | None) -> Security | None:
    """The cluster's TLS: as given, a temporary one for True; None means the azure.tls setting."""
    if security is None:  # e.g. for `vegdask run --cluster azure-batch`
        security = config.flag("azure.tls")
    if security is True:
        return Security.temporary()
    return security or None


class AzureBatchCluster(SpecCluster):
    """A Dask cluster whose workers are tasks on an Azure Batch pool.

    Parameters
    ----------
    batch_url, account_name, account_key
        The Batch account. Unset: ``vegdask.azure.batch-url|account-name|account-key`` from
        dask.config, then ``AZURE_BATCH_URL``, ``AZURE_BATCH_ACCOUNT``, ``AZURE_BATCH_KEY``. With no
        key, an Entra ID credential (``azure.identity.DefaultAzureCredential``) is used.
    pool_id, vm_size, worker_python, slots_per_node, low_priority, start_task, \
    auto_scale_formula, wheel, install_dependencies, storage_connection_string, sas_hours
        The pool and its nodes, as `PoolSettings` documents them (``worker_python`` is its
        ``python``: it must have vegdask and distributed). ``vm_size`` also sets the workers'
        threads and memory limit (see `worker_resources`).
    create_pool
        Create the pool when it does not exist (then delete it on close). A pool this cluster
        did not create is never deleted; its targets are restored on close.
    min_nodes, max_nodes
        Bounds of the pool size this cluster asks for. When the cluster itself runs in a Batch
        task on the same pool (`vegdask.cluster.submit_job`), that task's slot is counted too.
    contact_address
        Address workers use to reach the scheduler (e.g. ``tcp://10.0.0.4:8786``).
    scheduler_options
        Extra keyword arguments of `distributed.Scheduler` (e.g. ``host``, ``port``). The host
        defaults to ``vegdask.azure.scheduler-host`` from dask config, else ``127.0.0.1``.
    security
        TLS between scheduler, workers and client: ``True`` creates a temporary self-signed
        `distributed.Security` (`Security.temporary`), or pass your own. The workers' CA,
        certificate and key reach each task as resource files behind read-only SAS URLs (valid
        ``sas_hours``, re-signed per launch; the blobs are deleted on close), never in its
        command line or environment. Needs blob storage as ``wheel`` does. Unset:
        ``vegdask.azure.tls`` from dask config (``True`` for a temporary one).
    worker_nthreads, worker_memory
        Override the threads and memory limit derived from ``vm_size`` and ``slots_per_node``.
    death_timeout
        Seconds a worker waits for an unreachable scheduler before its task exits.
    worker_modules
        What ``worker_python`` must import (checked on the node before each worker starts; a
        task lacking one ends at once with one line naming it). ``distributed`` always.
    **kwargs
        Passed to `distributed.SpecCluster` (``asynchronous``, ``name``, ...).

    Examples
    --------
    >>> from vegdask.testing import BatchEmulator
    >>> with BatchEmulator() as emu:  # doctest: +SKIP
    ...     with AzureBatchCluster(emu.url, emu.account_name, emu.account_key, "p") as cluster:
    ...         cluster.scale(2)
    """

    def __init__(
        self,
        batch_url: str | None = None,
        account_name: str | None = None,
        account_key: str | None = None,
        pool_id: str | None = None,
        *,
        vm_size: str | None = None,
        worker_python: str | None = None,
        create_pool: bool = True,
        slots_per_node: int = 1,
        min_nodes: int = 0,
        max_nodes: int | None = None,
        low_priority: bool | None = None,
        contact_address: str | None = None,
        scheduler_options: dict[str, Any] | None = None,
        start_task: dict[str, Any] | None = None,
        auto_scale_formula: str | None = None,
        wheel: str | os.PathLike | None = None,
        storage_connection_string: str | None = None,
        install_dependencies: bool = True,
        sas_hours: float | None = None,
        worker_nthreads: int | None = None,
        worker_memory: str | None = None,
        death_timeout: float = 60.0,
        security: bool | Security | None = None,
        worker_modules: tuple[str, ...] = ("distributed", "vegdask"),
        **kwargs: Any,
    ) -> None:
        self.batch_client = batch_client(batch_url, account_name, account_key)
        #: the pool and its nodes (`PoolSettings`)
        self.pool = PoolSettings(
            pool_id=pool_id,
            vm_size=vm_size,
            python=worker_python,
            slots_per_node=slots_per_node,
            low_priority=low_priority,
            start_task=start_task,
            auto_scale_formula=auto_scale_formula,
            wheel=wheel,
            install_dependencies=install_dependencies,
            storage_connection_string=storage_connection_string,
            sas_hours=sas_hours,
        )
        self.pool_id = str(self.pool.pool_id)
        self.create_pool = create_pool
        self.min_nodes, self.max_nodes = int(min_nodes), max_nodes
        if self.min_nodes < 0:
            raise ValueError(f"min_nodes must be 0 or more, got {min_nodes!r}")
        threads, memory = (
            (worker_nthreads, worker_memory)
            if worker_nthreads and worker_memory
            else worker_resources(str(self.pool.vm_size), self.pool.slots_per_node)
        )
        self.worker_nthreads, self.worker_memory = threads, memory
        self.death_timeout = death_timeout
        self.worker_modules = tuple(dict.fromkeys(("distributed", *worker_modules)))
        #: (worker name, why its task ended) of every worker whose Batch task ended while wanted
        self.worker_failures: list[tuple[str, str]] = []
        self._failed_nodes: set[str] = set()
        self.prefix = f"vegdask-{secrets.token_hex(4)}"
        self.job_id = f"{self.prefix}-job"
        # a driver running in a Batch task on this pool (vegdask submit) holds one of its slots
        inside = os.environ.get("AZ_BATCH_TASK_ID") and os.environ.get("AZ_BATCH_POOL_ID")
        self.reserved_slots = 1 if inside and os.environ["AZ_BATCH_POOL_ID"] == self.pool_id else 0
        self._claim: PoolClaim | None = None  # what ensure_pool found and did
        self._watcher: PeriodicCallback | None = None
        security = _security(security)
        self._tls = WorkerTls.of(security, cast(float, self.pool.sas_hours))  # resolved
        if self._tls.pems:  # fail now, not when the first worker starts
            _storage_conn(storage_connection_string)
        host = config.get("azure.scheduler-host") or "127.0.0.1"
        options = {"host": host, **(scheduler_options or {})}
        # on the scheduler's host only, as its link says (":0" would listen on every interface)
        options.setdefault("dashboard_address", f"{options['host']}:0")
        if contact_address:
            options["contact_address"] = contact_address
        if security:
            options.update(security=security, protocol="tls://")
        scheduler = {"cls": Scheduler, "options": options}
        worker = {"cls": BatchWorker, "options": self._worker_options()}
        super().__init__(scheduler=scheduler, worker=worker, security=security, **kwargs)

    # -- what a worker gets -------------------------------------------------------------
    def _worker_options(self) -> dict[str, Any]:
        """The keyword arguments every `BatchWorker` of this cluster builds its task from."""
        return {
            "client": self.batch_client,
            "job_id": self.job_id,
            "prefix": self.prefix,
            "python": self.pool.python,
            "nthreads": self.worker_nthreads,
            "memory_limit": self.worker_memory,
            "death_timeout": self.death_timeout,
            "node_site": self.pool.wheel is not None or running_from_node_site(),
            "tls": self._tls,
            "modules": self.worker_modules,
        }

    def task_spec(self, name: str = "0") -> dict[str, Any]:
        """The exact Batch task JSON a worker called ``name`` gets (as dask-jobqueue's job_script).

        Print it with ``print(json.dumps(cluster.task_spec(), indent=2))``.
        """
        address = getattr(self.scheduler, "contact_address", None) or self.scheduler_address
        worker = BatchWorker(address, name, **self._worker_options())
        worker.task_id = f"{self.prefix}-{name}-<launch>"
        body = worker.task_body()
        for item in body.get("resourceFiles", []):  # the SAS grants access: not for printing
            url, _, query = item["httpUrl"].partition("?")
            kept = [p for p in query.split("&") if not p.startswith("sig=")]
            item["httpUrl"] = f"{url}?{'&'.join([*kept, 'sig=<redacted>'])}"
        return body

    def logs(self) -> dict[str, str]:
        """Worker stdout and stderr fetched from Batch, keyed ``"{task id}/stdout.txt"`` etc."""
        out = {}
        for task in self.batch_client.list_tasks(self.job_id):
            for name in ("stdout.txt", "stderr.txt"):
                with contextlib.suppress(Exception):
                    data = self.batch_client.download_task_file(self.job_id, task.id, name)
                    out[f"{task.id}/{name}"] = b"".join(data).decode(errors="replace")
        return out

    # -- lifecycle -----------------------------------------------------------------------
    async def _start(self) -> None:
        _clean_up_at_exit(self)
        await asyncio.to_thread(self._prepare_batch)
        await super()._start()
        self._watcher = PeriodicCallback(self._replace_lost_workers, 1000)
        self._watcher.start()

    def _prepare_batch(self) -> None:
        from azure.batch import models

        self._claim = ensure_pool(self.batch_client, self.pool, create=self.create_pool)
        job = {"id": self.job_id, "poolInfo": {"poolId": self.pool_id}}
        self.batch_client.create_job(models.BatchJobCreateOptions(job))
        if self._tls.pems:
            connection = _storage_conn(self.pool.storage_connection_string)
            self._tls.upload(BlobDrop(connection, "vegdask-secrets", self.prefix))

    def nodes_for(self, n_workers: int) -> int:
        """Nodes needed for ``n_workers`` workers, within ``min_nodes`` and ``max_nodes``.

        A slot held by this cluster's own driver task (``reserved_slots``) counts as a worker.

        Examples
        --------
        >>> c = AzureBatchCluster.__new__(AzureBatchCluster)
        >>> c.pool, c.min_nodes, c.max_nodes = PoolSettings(slots_per_node=2), 1, 3
        >>> [c.nodes_for(n) for n in (0, 3, 10)]
        [1, 2, 3]
        """
        needed = n_workers + getattr(self, "reserved_slots", 0)
        nodes = max(math.ceil(needed / self.pool.slots_per_node), self.min_nodes)
        return nodes if self.max_nodes is None else min(nodes, self.max_nodes)

    def _resize(self, nodes: int, *, grow_only: bool = False) -> None:
        if self._claim is None or self._claim.previous is None or self.pool.auto_scale_formula:
            return  # not started, or the pool autoscales
        pool = self.batch_client.get_pool(self.pool_id)
        low = self.pool.low_priority
        current = (pool.target_low_priority_nodes if low else pool.target_dedicated_nodes) or 0
        if nodes == current or (grow_only and nodes < current):
            return
        resize_pool(self.batch_client, self.pool_id, {self.pool.target: nodes})

    async def _correct_state_internal(self) -> None:
        wanted = self.nodes_for(len(self.worker_spec))
        await asyncio.to_thread(self._resize, wanted, grow_only=True)
        await super()._correct_state_internal()
        # workers leaving were retired and their tasks terminated: now the pool may shrink
        await asyncio.to_thread(self._resize, self.nodes_for(len(self.worker_spec)))

    async def _replace_lost_workers(self) -> None:
        """Relaunch (with a new task id) workers whose Batch task ended while still wanted."""
        if self.status.name != "running":
            return
        ended = await asyncio.to_thread(
            lambda: {
                t.id
                for t in self.batch_client.list_tasks(self.job_id, filter="state eq 'completed'")
            }
        )
        lost = {
            name: worker.task_id
            for name, worker in list(self.workers.items())
            if name in self.worker_spec and getattr(worker, "task_id", None) in ended
        }
        for name, task_id in lost.items():
            cause = await asyncio.to_thread(self._why_ended, task_id)
            logger.info("worker %s: %s; launching a replacement", name, cause)
            self.worker_failures.append((str(name), cause))
            del self.workers[name]
        if lost:
            await self._correct_state()

    def _why_ended(self, task_id: str) -> str:
        """One line: the task's exit code and the last line of its stderr.txt (or stdout.txt)."""
        from azure.core.exceptions import HttpResponseError

        info = self.batch_client.get_task(self.job_id, task_id).execution_info
        code = getattr(info, "exit_code", None)
        last = ""
        for name in ("stderr.txt", "stdout.txt"):
            with contextlib.suppress(HttpResponseError):
                data = b"".join(self.batch_client.download_task_file(self.job_id, task_id, name))
                lines = [line.strip() for line in data.decode(errors="replace").splitlines()]
                last = next((line for line in reversed(lines) if line), "")
            if last:
                break
        return f"Batch task {task_id} ended with exit code {code}" + (f": {last}" if last else "")

    def workers_starting(self) -> bool:
        """Whether the pool's nodes are still being allocated or started (workers on the way).

        A node whose start task failed is reported once in ``worker_failures``.
        """
        from azure.core.exceptions import HttpResponseError

        starting = ("creating", "starting", "waitingforstarttask", "rebooting", "reimaging")
        try:
            if self.batch_client.get_pool(self.pool_id).allocation_state == "resizing":
                return True
            nodes = list(self.batch_client.list_nodes(self.pool_id))
        except HttpResponseError:
            return False
        for node in nodes:
            if node.state == "starttaskfailed" and node.id not in self._failed_nodes:
                self._failed_nodes.add(node.id)
                code = getattr(node.start_task_info, "exit_code", None)
                cause = f"the pool's start task failed on node {node.id} (exit code {code})"
                self.worker_failures.append((f"node {node.id}", cause))
        return any(node.state in starting for node in nodes)

    async def _close(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
        try:
            await super()._close()
        finally:
            try:
                await asyncio.to_thread(self._cleanup_batch)
            except RuntimeError:  # interpreter shutdown: no new threads; clean up from here
                self._cleanup_batch()

    def _cleanup_batch(self) -> None:
        """Terminate every task and the job; delete the pool only if this cluster created it.

        Runs once, whichever comes first: ``close()``, an exception in a ``with`` block, or
        interpreter exit.
        """
        if getattr(self, "_batch_cleaned", False):
            return
        self._batch_cleaned = True
        from azure.core.exceptions import HttpResponseError

        with contextlib.suppress(HttpResponseError):
            for task in self.batch_client.list_tasks(self.job_id):
                if task.state != "completed":
                    self.batch_client.terminate_task(self.job_id, task.id)
            reason = {"terminateReason": "vegdask cluster closed"}  # BatchJobTerminateOptions
            send(self.batch_client.begin_terminate_job, self.job_id, reason)
        with contextlib.suppress(HttpResponseError):
            if self._claim is not None and self._claim.created:
                send(self.batch_client.begin_delete_pool, self.pool_id)
            elif self._claim is not None and self._claim.previous is not None:
                restore_pool(self.batch_client, self.pool_id, self._claim.previous)
        if self._tls.drop is not None:  # the workers' key is not left in storage
            with contextlib.suppress(Exception):
                self._tls.drop.delete()


_OPEN_CLUSTERS: weakref.WeakSet[AzureBatchCluster] = weakref.WeakSet()


def _clean_up_at_exit(cluster: AzureBatchCluster) -> None:
    """Clean up ``cluster``'s Batch job and pool at interpreter exit if it is still open.

    distributed's own exit hook closes clusters too late for this: by then no thread can be
    started, and Batch calls run in threads. This hook, registered after distributed's, runs
    first and calls Batch directly.
    """
    if not _OPEN_CLUSTERS:
        atexit.unregister(_clean_up_open_clusters)
        atexit.register(_clean_up_open_clusters)
    _OPEN_CLUSTERS.add(cluster)


def _clean_up_open_clusters() -> None:
    for cluster in list(_OPEN_CLUSTERS):
        with contextlib.suppress(Exception):  # one failing cleanup must not stop the others
            cluster._cleanup_batch()
