"""The in-task executor: a share of a dask graph computed inside one task, in-process (internal).

Scheduled as their own tasks, the small pieces of a period's work (reads, the mask, the tile
metrics, a slice per variable) cost Dask more than the work. So a task is handed its share of
the graph and computes it there, in a plain loop over its tasks in dependency order (dask's
synchronous scheduler, its ordering and state, cost ~30 us more a task, more than most of these
tasks' work): the period writes
(:func:`~vegdask.compute.period_writes`) and the spatial indicators' groups of periods
(:func:`~vegdask.analysis.spatial_indicators_through_time`). A share is not a graph
dependency: the task does not wait for separate read tasks and the data never travels between
processes. What several shares need is computed once, as its own task, and handed to each.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from operator import getitem
from typing import Any

import dask
from dask._task_spec import convert_legacy_graph
from dask.array.core import getter
from dask.base import is_dask_collection
from dask.delayed import Delayed
from dask.highlevelgraph import HighLevelGraph
from dask.task_spec import DataNode, GraphNode, Task, TaskRef
from dask.typing import Key

__all__ = ["GraphShare", "InTask", "graph_of", "graph_shares"]


class InTask:
    """A value computed inside the task that receives it (lazy parts in-process, synchronously).

    Dask does not look inside (it is not a graph dependency of the task).

    Examples
    --------
    >>> import dask.array as da
    >>> InTask(da.arange(4, chunks=2) * 2).get()
    array([0, 2, 4, 6])
    >>> InTask([None, 1]).get()
    [None, 1]
    """

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def get(self) -> Any:
        """The value with its lazy parts computed here, as :func:`dask.compute` gives them."""
        return dask.compute(self.value, scheduler="sync")[0]


class GraphShare:
    """A task's own part of a graph and the keys it computes, carried into the task as is.

    ``graph`` maps keys to task nodes (:class:`dask.task_spec.GraphNode`), as
    :func:`graph_shares` makes it. Dask does not look inside: as task arguments, its keys were
    traversed (2 ms a period of the demo).
    """

    __slots__ = ("graph", "keys")

    def __init__(self, graph: dict[Key, GraphNode], keys: list[Key]) -> None:
        self.graph = graph
        self.keys = keys

    def run(self, inputs: Mapping[Key, Any]) -> dict[Key, Any]:
        """Each of the share's keys -> its value, computed here from the share and ``inputs``.

        ``inputs`` holds the values of the keys outside the share that it reads (those of
        :func:`graph_shares`, computed by then). Tasks run depth first from each key in turn
        (a period's chain, then the next period's), and a value is dropped once every task
        reading it has run.
        """
        graph, values, wanted = self.graph, dict(inputs), set(self.keys)
        order = _depth_first(graph, self.keys)
        readers = Counter(dep for key in order for dep in graph[key].dependencies)
        for key in order:
            node = graph[key]
            values[key] = node({dep: values[dep] for dep in node.dependencies})
            for dep in node.dependencies:
                readers[dep] -= 1
                if not readers[dep] and dep not in wanted:
                    del values[dep]
        return {key: values[key] for key in self.keys}


def _depth_first(graph: Mapping[Key, GraphNode], keys: Iterable[Key]) -> list[Key]:
    """The tasks of ``graph`` that ``keys`` need, each after its dependencies (post-order)."""
    order: list[Key] = []
    seen: set[Key] = set()
    for root in keys:
        if root in seen or root not in graph:
            continue
        seen.add(root)
        stack = [(root, iter(graph[root].dependencies))]
        while stack:
            key, deps = stack[-1]
            for dep in deps:
                if dep not in seen and dep in graph:
                    seen.add(dep)
                    stack.append((dep, iter(graph[dep].dependencies)))
                    break
            else:
                stack.pop()
                order.append(key)
    return order


def graph_of(collections: Iterable[Any]) -> dict:
    """The merged low-level graph of the dask collections among ``collections`` (others skipped)."""
    graphs = [data.__dask_graph__() for data in collections if is_dask_collection(data)]
    # to_dict merges the layers' mappings; dict() of the graph looked every key up in its layers
    return HighLevelGraph.merge(*graphs).to_dict() if graphs else {}


def graph_shares(
    graph: Mapping[Key, Any], groups: Sequence[Sequence[Key]]
) -> list[tuple[GraphShare, dict[Key, Delayed]]]:
    """Split ``graph`` into one share per group of keys, each run by :meth:`GraphShare.run`.

    Parameters
    ----------
    graph : mapping
        A low-level dask graph (:func:`graph_of`), holding every key of ``groups``.
    groups : sequence of sequences of keys
        The keys each task computes.

    Returns
    -------
    list of (GraphShare, dict of key to dask.delayed.Delayed)
        Per group: the part of ``graph`` only it needs, and its inputs: the keys it reads that
        other groups need too, each a task of its own (computed once, whoever needs it).
        Pass the inputs to a task as an argument (dask computes them first) and call
        ``share.run(inputs)`` there.

    Examples
    --------
    >>> import dask.array as da
    >>> x = da.arange(4, chunks=2) + da.ones(4, chunks=4).sum()  # the sum shared by both
    >>> (a, shared_a), (b, shared_b) = graph_shares(graph_of([x]), [[(x.name, 0)], [(x.name, 1)]])
    >>> list(shared_a) == list(shared_b), len(shared_a)
    (True, 1)
    >>> inputs = dict(zip(shared_a, dask.compute(*shared_a.values())))
    >>> a.run(inputs)[x.name, 0], b.run(inputs)[x.name, 1]
    (array([4., 5.]), array([6., 7.]))
    """
    graph = convert_legacy_graph(graph)  # task nodes, as GraphShare.run takes them
    own = [_needed(graph, keys) for keys in groups]
    counts = Counter(key for part in own for key in part)
    shared = {key: Delayed(key, _needed(graph, [key])) for key, n in counts.items() if n > 1}
    shares = []
    for keys, part in zip(groups, own, strict=True):
        mine = {k: v for k, v in part.items() if k not in shared}
        outside = _reads(mine) | {key for key in keys if key not in mine}
        inputs = {key: shared[key] for key in outside}
        shares.append((GraphShare(_read_together(mine), list(keys)), inputs))
    return shares


def _read_together(part: dict[Key, GraphNode]) -> dict[Key, GraphNode]:
    """``part`` with its reads of consecutive blocks along an array's first axis made one read.

    A share's reads of a stored array (``getter`` tasks, one a chunk: a Zarr call each) that
    differ only in their first axis' slices, end to end (a scene's periods in one task), become
    one read of them all, each block a slice of it: one Zarr call (a tiny scene's 24 periods of
    two bands took ~30 ms less). Reads of other shapes are left as they are.
    """
    runs: dict[tuple, list[tuple[slice, Key]]] = defaultdict(list)
    for key, node in part.items():
        read = _read(node)
        if read is not None:
            source, index = read
            rest = tuple((s.start, s.stop) for s in index[1:])  # slices hash from Python 3.12
            runs[source, rest].append((index[0], key))
    together = dict(part)
    for (source, rest), blocks in runs.items():
        blocks.sort(key=lambda block: block[0].start)
        for run in _end_to_end(blocks):
            first, last = run[0][0], run[-1][0]
            name = ("read-together", run[0][1])
            merged = (slice(first.start, last.stop), *(slice(*bounds) for bounds in rest))
            together[name] = Task(name, getter, TaskRef(source), merged)
            for where, key in run:
                shift = slice(where.start - first.start, where.stop - first.start)
                together[key] = Task(
                    key, getitem, TaskRef(name), (shift, *[slice(None)] * len(rest))
                )
    return together


def _read(node: GraphNode) -> tuple[Key, tuple[slice, ...]] | None:
    """The array's key and the slices a plain ``getter(array, slices)`` task reads, else None."""
    if not (
        isinstance(node, Task)
        and node.func is getter
        and not node.kwargs
        and len(node.args) == 2
        and isinstance(node.args[0], TaskRef)
        and isinstance(node.args[1], DataNode)
    ):
        return None
    index = node.args[1].value
    plain = (
        isinstance(index, tuple)
        and index
        and all(
            isinstance(s, slice)
            and s.step in (None, 1)
            and s.start is not None
            and s.stop is not None
            for s in index
        )
    )
    return (node.args[0].key, index) if plain else None


def _end_to_end(blocks: list[tuple[slice, Key]]) -> list[list[tuple[slice, Key]]]:
    """``blocks`` (sorted by start) in runs that follow one another, of two blocks or more."""
    runs: list[list[tuple[slice, Key]]] = []
    for block in blocks:
        if runs and runs[-1][-1][0].stop == block[0].start:
            runs[-1].append(block)
        else:
            runs.append([block])
    return [run for run in runs if len(run) > 1]


def _needed(graph: Mapping[Key, GraphNode], keys: Iterable[Key]) -> dict[Key, GraphNode]:
    """The part of ``graph`` that computing ``keys`` runs."""
    return {key: graph[key] for key in _depth_first(graph, keys)}


def _reads(part: Mapping[Key, GraphNode]) -> set:
    """Keys outside ``part`` that its tasks read."""
    return {dep for node in part.values() for dep in node.dependencies} - part.keys()
