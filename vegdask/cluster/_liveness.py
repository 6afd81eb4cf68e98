"""A job's watchdog: stop, with one line naming the cause, when its Dask workers are gone for good.

Two ways a run can wait for ever: no worker is alive (killed, never started) and none comes back,
or workers keep dying and being replaced without finishing a single task (a worker interpreter
without ``distributed``, a task that kills its worker). `watch_workers` watches the scheduler of
an in-process cluster (``LocalCluster``, `AzureBatchCluster`) from a daemon thread and, when one of
the limits ``vegdask.cluster.no-worker-timeout`` or ``vegdask.cluster.max-worker-losses`` is
reached, interrupts the main thread as Ctrl-C would; the block then raises `WorkersLostError`.

A cluster can say why a worker went: `AzureBatchCluster` appends ``(name, cause)`` to its
``worker_failures`` when a worker's Batch task ends (its exit code and last log line), and its
``workers_starting()`` is true while the pool's nodes are still being allocated (minutes on Azure:
no worker yet, but none lost).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from distributed.diagnostics.plugin import SchedulerPlugin

from vegdask import config

__all__ = ["Liveness", "WorkersLostError", "watch_workers"]


class WorkersLostError(RuntimeError):
    """The job's workers are gone and do not come back: the message says why, in one line."""


class Liveness(SchedulerPlugin):
    """Counts workers lost since a task last finished, and how long no worker has been alive.

    Parameters
    ----------
    no_worker_timeout : float
        Seconds without any live worker after which `verdict` gives a cause.
    max_losses : int
        Workers lost (removed by the scheduler, or whose task ended before they joined) in a row,
        with no task finished in between, after which `verdict` gives a cause.
    wanted : callable, optional
        ``wanted(name)`` is false for a worker the cluster no longer wants (``scale`` shrinking
        it: no longer in its ``worker_spec``), which is not lost; nor is a worker the scheduler
        retired (``adapt`` shrinking the cluster).

    Examples
    --------
    >>> watch = Liveness(no_worker_timeout=60, max_losses=2)
    >>> watch.worker_lost("0", "Batch task w-0 exited with code 1: No module named 'distributed'")
    >>> watch.verdict(workers=1) is None
    True
    >>> watch.worker_lost("0", "Batch task w-0 exited with code 1: No module named 'distributed'")
    >>> print(watch.verdict(workers=1))
    2 Dask workers were lost in a row without finishing a task (last: Batch task w-0 exited with code 1: No module named 'distributed')
    >>> watch.transition("k", "processing", "memory")  # a task finished: the count starts again
    >>> watch.verdict(workers=1) is None
    True
    """  # noqa: E501

    name = "vegdask-liveness"

    def __init__(
        self,
        *,
        no_worker_timeout: float,
        max_losses: int,
        wanted: Callable[[str], bool] | None = None,
    ) -> None:
        self.no_worker_timeout = float(no_worker_timeout)
        self.max_losses = int(max_losses)
        self._wanted = wanted
        self.losses = 0
        self.last_cause: str | None = None
        self._names: dict[str, str] = {}
        self._removed: set[str] = set()  # names the scheduler removed: their task may end next
        self._alone_since: float | None = None
        self._lock = threading.Lock()

    # -- scheduler plugin hooks (on the scheduler's event loop) --------------------------
    def add_worker(self, scheduler: Any, worker: str) -> None:
        """Remember the worker's name (a cluster reports losses by name)."""
        self._names[worker] = str(scheduler.workers[worker].name)

    def remove_worker(self, scheduler: Any, worker: str, **kwargs: Any) -> None:
        """A worker left while the scheduler runs: one more loss, unless the cluster retired it."""
        if getattr(scheduler.status, "name", "") != "running":
            return
        name = self._names.pop(worker, worker)
        retired = str(kwargs.get("stimulus_id", "")).startswith("retire-workers")  # adapt
        if retired or (self._wanted is not None and not self._wanted(name)):  # or scale
            return
        with self._lock:
            self._removed.add(name)
            self.losses += 1
            self.last_cause = self.last_cause or f"worker {name} ({worker}) disappeared"

    def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
        """A task finished: the workers do work, the count of losses starts again."""
        if finish == "memory" and self.losses:
            with self._lock:
                self.losses, self.last_cause = 0, None
                self._removed.clear()

    # -- what a cluster reports, and the verdict -----------------------------------------
    def worker_lost(self, name: str, cause: str | None) -> None:
        """The cluster saw worker ``name`` go (e.g. its Batch task ended), for ``cause``."""
        with self._lock:
            if cause:
                self.last_cause = cause
            if name in self._removed:  # counted when the scheduler removed it
                self._removed.discard(name)
            else:
                self.losses += 1

    def verdict(self, workers: int, now: float | None = None) -> str | None:
        """Why the job cannot go on (one line), or None while it can."""
        now = time.monotonic() if now is None else now
        cause = f" (last: {self.last_cause})" if self.last_cause else ""
        if self.max_losses > 0 and self.losses >= self.max_losses:
            return f"{self.losses} Dask workers were lost in a row without finishing a task{cause}"
        if workers:
            self._alone_since = None
            return None
        if self._alone_since is None:
            self._alone_since = now
        if self.no_worker_timeout > 0 and now - self._alone_since >= self.no_worker_timeout:
            return f"no Dask worker was alive for {self.no_worker_timeout:g} s{cause}"
        return None


@contextlib.contextmanager
def watch_workers(
    cluster: Any,
    *,
    no_worker_timeout: float | None = None,
    max_losses: int | None = None,
    every: float = 1.0,
) -> Iterator[Liveness]:
    """Raise `WorkersLostError` from the block when ``cluster``'s workers are gone for good.

    ``cluster`` has an in-process ``scheduler`` (``LocalCluster``, `AzureBatchCluster`); its
    ``worker_failures`` list, if any, tells why workers went. Limits default to
    ``vegdask.cluster.no-worker-timeout`` and ``vegdask.cluster.max-worker-losses`` (0 turns a
    limit off). The block is interrupted as by Ctrl-C (SIGINT to this process), so it stops
    wherever it waits; a real Ctrl-C is still an ordinary ``KeyboardInterrupt``.
    """
    spec = getattr(cluster, "worker_spec", None)  # a SpecCluster's workers, by name
    watch = Liveness(
        no_worker_timeout=config.get("cluster.no-worker-timeout", no_worker_timeout),
        max_losses=config.get("cluster.max-worker-losses", max_losses),
        wanted=None if spec is None else (lambda name: name in {str(n) for n in spec}),
    )
    scheduler = cluster.scheduler
    scheduler.add_plugin(watch)
    for address in list(scheduler.workers):  # those that joined before the watch
        watch.add_worker(scheduler, address)
    stop = threading.Event()
    stopped: list[str] = []
    failures = getattr(cluster, "worker_failures", [])
    starting = getattr(cluster, "workers_starting", lambda: False)
    seen = len(failures)

    def run() -> None:
        nonlocal seen
        while not stop.wait(every):
            for name, cause in failures[seen:]:
                watch.worker_lost(name, cause)
            seen = len(failures)
            alive = len(scheduler.workers) or int(starting())
            message = watch.verdict(alive)
            if message:
                stopped.append(message)
                os.kill(os.getpid(), signal.SIGINT)
                return

    thread = threading.Thread(target=run, name="vegdask-liveness", daemon=True)
    thread.start()
    try:
        yield watch
    except KeyboardInterrupt:
        if stopped:
            raise WorkersLostError(stopped[0]) from None
        raise
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            scheduler.remove_plugin(watch.name)
