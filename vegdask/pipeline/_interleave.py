"""A campaign's locations interleaved on one cluster: a few at once, ranked by Dask priority.

Each location's job runs in a thread of the driver of its own (its stages mostly wait on the
cluster; a local campaign's thread hands the job to a worker as one task:
:mod:`vegdask.pipeline._on_worker`), at most ``in_flight`` at once, the next one starting as one
ends. Every task a
location's job submits carries the Dask priority of the location's rank (:func:`ranked`): the
scheduler runs the earliest location's ready tasks first and gives the later ones' the slots it
leaves idle, so locations finish one after another, each one's analysis starting as soon as its
tiles are written, and the workers hold the tasks of at most ``in_flight`` locations whatever
the campaign's size.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import dask

__all__ = ["RANK_STEP", "SILENCED", "interleave", "ranked"]

T = TypeVar("T")
R = TypeVar("R")

#: Location k's tasks have priority ``-k * RANK_STEP``: above every task of location k + 1,
#: with room for the priorities a job gives its own tasks (the analysis' statistics: +1).
RANK_STEP = 10

# The warnings a job silences in the driver with warnings.catch_warnings(): zarr's note on
# consolidated metadata (vegdask.data.storage) and numpy's on all-NaN periods (the analysis'
# series). Warning filters are the process's, not a thread's: one location leaving its
# catch_warnings block drops the filter another location's block set, so while locations run in
# threads these stay filtered for all of them.
SILENCED = (
    (r"Consolidated metadata is currently not part", UserWarning),
    (r"", RuntimeWarning),
)


@contextlib.contextmanager
def ranked(client: Any, rank: int) -> Iterator[None]:
    """Submit the graphs built inside at the priority of ``rank`` (0 first), to ``client``.

    Annotations are context variables: a thread's own, so locations running at once in
    threads of their own keep their ranks apart. The analysis adds to the priority it finds
    (:func:`vegdask.analysis.analyse_results`).
    """
    with _current(client), dask.annotate(priority=-RANK_STEP * rank):
        yield


@contextlib.contextmanager
def _current(client: Any) -> Iterator[None]:
    """``client`` the thread's current client, as ``Client.as_current`` makes it, but only that.

    ``as_current`` also sets the process-wide ``scheduler`` setting, which each thread's exit
    restores: a location's thread still ending after a stopped campaign closed its client set
    it back to "dask.distributed", and every later ``dask.compute`` in the process asked for a
    client that was gone. The client (a default one) keeps that setting while it is open.
    """
    if client is None:
        yield
        return
    from distributed.client import _current_client

    token = _current_client.set(client)
    try:
        yield
    finally:
        _current_client.reset(token)


def interleave(
    items: Iterable[T],
    run: Callable[[T, int, threading.Event], R],
    in_flight: int,
) -> Iterator[tuple[T, R]]:
    """``run(item, rank, stopped)`` for each item, ``in_flight`` at once; each outcome as it ends.

    An exception that escapes ``run`` (the cluster lost, not the location) is raised here; so
    is Ctrl-C, and ``stopped`` then tells the threads still running that their outcome no
    longer counts (they are daemon threads: they do not keep the process alive).

    Examples
    --------
    >>> def run(word, rank, stopped):  # stopped: a threading.Event
    ...     return f"{rank}:{word.upper()}"
    >>> sorted(outcome for _, outcome in interleave(["a", "b", "c"], run, in_flight=2))
    ['0:A', '1:B', '2:C']
    """
    finished: queue.Queue = queue.Queue()
    stopped = threading.Event()

    def work(item: T, rank: int) -> None:
        try:
            finished.put((item, run(item, rank, stopped)))
        except BaseException as err:  # handed to the driver's thread, raised there
            finished.put((item, err))

    waiting = list(enumerate(items))[::-1]
    with warnings.catch_warnings():
        for message, category in SILENCED:
            warnings.filterwarnings("ignore", message, category)
        yield from _collect(waiting, finished, work, in_flight, stopped)


def _collect(
    waiting: list[tuple[int, Any]],
    finished: queue.Queue,
    work: Callable[[Any, int], None],
    in_flight: int,
    stopped: threading.Event,
) -> Iterator[tuple[Any, Any]]:
    """Start ``work`` threads, ``in_flight`` at once, from ``waiting``; yield what finishes."""
    running = 0
    try:
        while waiting or running:
            while waiting and running < max(1, in_flight):
                rank, item = waiting.pop()
                name = f"vegdask-interleave-{rank}"
                threading.Thread(target=work, args=(item, rank), name=name, daemon=True).start()
                running += 1
            item, outcome = _next(finished)
            running -= 1
            if isinstance(outcome, BaseException):
                raise outcome
            yield item, outcome
    finally:
        stopped.set()


def _next(finished: queue.Queue) -> Any:
    """The next item of ``finished``; Ctrl-C interrupts the wait (a timed wait, in slices)."""
    while True:
        try:
            return finished.get(timeout=1.0)
        except queue.Empty:
            continue
