"""Where a job runs: a local Dask cluster by default, or an existing scheduler."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

from vegdask import config as settings
from vegdask.data.storage import is_remote

__all__ = ["WORKER_MODULES", "job_client"]

#: What a Batch worker's Python must import for a run (checked on the node before it starts).
WORKER_MODULES = ("distributed", "vegdask", "adlfs")


@contextlib.contextmanager
def job_client(
    kind: str, workers: int, output: str, *, adapt_to: int | None = None
) -> Iterator[Any]:
    """A ``distributed.Client`` for the job, closed (with its cluster) on exit.

    ``kind`` is ``"local"`` (a LocalCluster of ``workers`` single-threaded processes),
    ``"azure-batch"`` (an :class:`~vegdask.cluster.AzureBatchCluster` of ``workers`` Batch tasks,
    configured by ``vegdask.azure.*`` and ``AZURE_BATCH_*``; its pool grows to at most
    ``vegdask.azure.max-nodes`` nodes) or the address of a running scheduler
    (``tcp://host:8786``). Remote workers must reach ``output``, so it must be an abfs:// URL.
    With ``adapt_to``, Batch workers adapt (``cluster.adapt``) between one and ``adapt_to`` with
    the work queued, instead of ``workers`` of them: the pool grows and shrinks with them.
    The pool (created: deleted; found: its targets restored) is released on exit, however the
    block ends.
    With a cluster of its own, the block raises :class:`~vegdask.cluster.WorkersLostError` when no
    worker is alive, or workers keep dying (:func:`~vegdask.cluster.watch_workers`).
    """
    from distributed import Client

    from vegdask.cluster import watch_workers
    from vegdask.pipeline._quiet import QuietTaskFailures, quiet_dashboard, quiet_teardown

    if kind == "local":
        cluster = _local_cluster(workers)
        with (
            quiet_dashboard(),
            cluster,
            Client(cluster) as client,
            quiet_teardown(),
            watch_workers(cluster),
        ):
            client.register_plugin(QuietTaskFailures())
            # Each worker loads the tile kernels from numba's cache now, beside the first stage's
            # tasks, not in its first period of tile metrics (about 0.4 s a worker).
            client.run(_load_tile_kernels, wait=False)
            yield client
        return
    if kind != "azure-batch" and "://" not in kind:
        raise ValueError(
            f"cluster {kind!r} is not 'local', 'azure-batch' or a scheduler address like "
            "tcp://host:8786"
        )
    if not is_remote(output):
        raise ValueError(
            f"a remote cluster ({kind}) cannot write to the local path {output!r}: its workers do "
            "not share this machine's disk; use an abfs:// output URL"
        )
    if kind == "azure-batch":
        from vegdask.cluster import AzureBatchCluster

        # Account, pool and worker settings: vegdask.azure.* in dask config, then AZURE_BATCH_*.
        with (
            quiet_dashboard(),
            # as a LocalCluster: the scheduler here logs warnings, not every worker's arrival
            AzureBatchCluster(
                max_nodes=settings.get("azure.max-nodes"),
                worker_modules=WORKER_MODULES,
                silence_logs=logging.WARNING,
            ) as cluster,
            Client(cluster) as client,
            quiet_teardown(),
            watch_workers(cluster),
        ):
            client.register_plugin(QuietTaskFailures())
            if adapt_to is None:
                cluster.scale(workers)
            else:
                cluster.adapt(minimum=1, maximum=max(adapt_to, 1))
            yield client
        return
    with Client(kind) as client:
        yield client


async def _load_tile_kernels() -> None:
    """Load the tile kernels in a worker, in a thread: its event loop goes on meanwhile."""
    import asyncio

    from vegdask.kernels import compile_kernels

    await asyncio.to_thread(compile_kernels, ("tiles",))


_LOCAL_WORKERS = {
    "distributed.worker.multiprocessing-method": "forkserver",
    # Dask sets MALLOC_TRIM_THRESHOLD_=65536 for its workers. A fixed threshold also fixes
    # glibc's mmap threshold at 128 KiB, so every period's image-sized numpy array is mapped,
    # page-faulted and unmapped again: the demo's process stage took 10 % longer with it.
    # glibc's own (adaptive) thresholds still return freed memory to the system.
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
}


def _local_cluster(workers: int) -> Any:
    """A LocalCluster of single-threaded worker processes that load the kernels numba compiled once.

    While the workers start, the driver compiles (or loads) the tile kernels and one more process
    the analysis kernels, so a first run on a machine compiles each kernel once, on both cores at
    the same time, and every worker loads numba's cache. Workers are forked from a forkserver
    (which imports the common packages once) and end without the interpreter's slow teardown, so
    closing the cluster does not have to kill them.
    """
    import multiprocessing

    import dask
    from distributed import LocalCluster

    from vegdask.kernels import compile_kernels
    from vegdask.pipeline._quiet import workers_ignore_sigint

    # Ctrl-C goes to the driver, not to every worker or compiling process.
    with (
        workers_ignore_sigint(),
        ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as other,
        ThreadPoolExecutor(1) as here,
    ):
        compiled = [other.submit(compile_kernels, ("analysis",))]
        compiled.append(here.submit(compile_kernels, ("tiles",)))
        with dask.config.set(_LOCAL_WORKERS):
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                memory_limit="2GiB",
                # the address the printed link names (":0" would listen on every interface)
                dashboard_address="127.0.0.1:0",
            )
        for future in compiled:
            future.result()
    return cluster
