"""Writing stores period by period: one dask task a period (or a few) computes them and writes.

A period's chunks of the demo take a few hundred milliseconds of work between them; scheduled as
their own tasks (reads, the mask, the tile metrics, a slice per variable: ~26 a period), Dask's
per-task cost came to half the kernels' time. So each period's part of the graph runs inside
one task (the in-task executor, :mod:`vegdask.compute.in_task`), and its results go straight
into the stores' chunk files, all of a task's together (:func:`~vegdask.data.storage.write_regions`,
the arrays' metadata read once, in the driver). What several periods share (the synthetic
source's simulation) is computed once, as its own task, and handed to each period's task.

A period of a small scene is too little work for a task of its own: 4 tiles of a 100x100-px
scene took 10 ms a tile against 4 ms in a 256-tile period, the task's and the writes' fixed costs
spread over 4 tiles. :func:`grouped_period_writes` puts consecutive periods in one task until its
largest variable holds about :data:`ELEMENTS_PER_TASK` values (a 500x500-px period: a few hundred
ms of work), and writes each variable's blocks of those periods in one region write.

The stores such tasks write hold as many periods a Zarr chunk (:func:`store_templates`): a task
then writes one chunk file a block of its periods, not one a block and period (a tiny location's
tiles.zarr and mask.zarr: 14 chunk files, not 312, each zstd-encoded). A task writes whole chunks;
a store of one period a chunk (a large scene's, or an older vegdask's) is grouped as before.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import dask
import numpy as np
import xarray as xr
from dask.base import is_dask_collection

from vegdask.compute.in_task import GraphShare, graph_of, graph_shares
from vegdask.data.storage import loaded_coords, open_zarr_group, storage_options, write_regions

__all__ = [
    "dataset_from_periods",
    "grouped_period_writes",
    "period_writes",
    "store_templates",
    "write_period",
]

#: A task of :func:`grouped_period_writes` holds consecutive periods up to about this many values
#: of its largest variable (pixels of a Scene's band): 25 periods of a 100x100-px scene, 1 of a
#: 500x500-px one (100 tiles of 50 px, ~0.4 s of work).
ELEMENTS_PER_TASK = 250_000

Region = tuple[slice, ...]
# (store URL, variable) -> that variable's store array's metadata and the axis of time in it.
Targets = dict[tuple[str, str], tuple[Any, int]]
# What the tasks carry: the targets, and each store URL's storage options.
Stores = tuple[Targets, dict[str, dict[str, Any]]]


class _Periods:
    """Consecutive periods' share of the graph and where their blocks go, carried into the task.

    ``parts`` holds, per period of the group (in order), each target's blocks: where each goes
    (time left as ``:``) and its key.
    """

    __slots__ = ("parts", "returning", "share")

    def __init__(
        self,
        share: GraphShare,
        parts: list[dict[tuple[str, str], list[tuple[Region, Any]]]],
        returning: str | None,
    ) -> None:
        self.share = share
        self.parts = parts
        self.returning = returning


def period_writes(
    stores: Mapping[str, xr.Dataset],
    periods: Sequence[int] | None = None,
    *,
    options: dict[str, Any] | None = None,
    returning: str | None = None,
) -> list[Any]:
    """Lazy writes of periods ``periods`` (default all) of each store's dataset, one task a period.

    Parameters
    ----------
    stores : mapping of str to xarray.Dataset
        Store URL -> the dataset the store was created from (:func:`create_store`), chunked one
        period a chunk, as the stores (:func:`grouped_period_writes` writes stores of several
        periods a chunk). Every data variable with a time dimension is written; its dtype must be
        the store's (values are written as they are, not encoded).
    periods : sequence of int, optional
        Which periods (indices along ``time``).
    options : dict, optional
        Storage options (:func:`vegdask.data.storage.storage_options`).
    returning : str, optional
        The URL of one of ``stores`` (a small one) whose written blocks each task also returns,
        for :func:`dataset_from_periods`: the caller need not read the store back.

    Returns
    -------
    list of dask.delayed.Delayed
        One task a period that computes the period in-process and writes every store's share;
        its result is None, or the blocks of ``returning``.

    Raises
    ------
    ValueError
        If a store holds several periods a chunk (a task writes whole chunks).
    """
    periods = _periods(stores, periods, returning)
    targets = _targets(stores, options)
    return _period_tasks(
        stores, targets, [[(i, i)] for i in periods], options, returning, _compute_and_write_one
    )


def grouped_period_writes(
    stores: Mapping[str, xr.Dataset],
    periods: Sequence[int] | None = None,
    *,
    options: dict[str, Any] | None = None,
    returning: str | None = None,
    elements_per_task: int = ELEMENTS_PER_TASK,
) -> list[tuple[list[int], Any]]:
    """:func:`period_writes` with consecutive periods grouped, a few hundred ms of work a task.

    A task writes whole Zarr chunks of the stores (which must have the same chunks along time):
    the chunks holding ``periods``, all their periods (a chunk's periods already written are
    written again, the same values). Consecutive chunks are grouped while a task's largest
    variable holds at most ``elements_per_task`` values (one chunk at least), in groups of nearly
    equal size; each variable's blocks of a group's periods are written in one region write. What
    is written is what :func:`period_writes` writes.

    Returns
    -------
    list of (list of int, dask.delayed.Delayed)
        Per task, its periods and the task; its result is a list holding, per period in that
        order, what :func:`period_writes`' task of the period returns.

    Raises
    ------
    ValueError
        If the stores' chunks along time differ.

    Examples
    --------
    >>> import tempfile
    >>> from vegdask.data import create_store
    >>> data = xr.Dataset({"v": (("time", "x"), dask.array.ones((5, 4), chunks=(1, 2)))})
    >>> url = f"{tempfile.mkdtemp()}/v.zarr"
    >>> create_store(data, url)
    >>> tasks = grouped_period_writes({url: data}, [0, 1, 3, 4], elements_per_task=8)
    >>> [periods for periods, _ in tasks]  # 4 values a period: 2 periods a task, 2 runs
    [[0, 1], [3, 4]]
    >>> templates = store_templates({url: data}, elements_per_task=8)  # 2 periods a chunk
    >>> create_store(templates[url], url)
    >>> [periods for periods, _ in grouped_period_writes(templates, [3], elements_per_task=8)]
    [[2, 3]]
    """
    periods = _periods(stores, periods, returning)
    targets = _targets(stores, options)
    chunk, length = _time_chunks(targets)
    size = _periods_per_task(_elements_per_period(stores), elements_per_task)
    chunks = [
        group
        for run in _runs(sorted({i // chunk for i in periods}))
        for group in _split(run, max(1, size // chunk))
    ]
    groups = [list(range(g[0] * chunk, min((g[-1] + 1) * chunk, length))) for g in chunks]
    pairs = [[(i, i) for i in group] for group in groups]
    tasks = _period_tasks(stores, targets, pairs, options, returning, _compute_and_write)
    return list(zip(groups, tasks, strict=True))


def store_templates(
    datasets: Mapping[str, xr.Dataset], elements_per_task: int = ELEMENTS_PER_TASK
) -> dict[str, xr.Dataset]:
    """The datasets to create the stores from that :func:`grouped_period_writes` writes together.

    Each lazy variable with a time dimension gets Zarr chunks (its encoding's ``chunks``, see
    :func:`~vegdask.data.create_store`) of as many periods as a task of
    :func:`grouped_period_writes` takes of ``datasets`` (its periods in the fewest chunks, of
    sizes as even as can be: its tasks' groups), its dask chunks along the other dimensions; the
    dask chunks stay one period a chunk. A large scene's stores (one period a task) stay one
    period a chunk.

    Parameters
    ----------
    datasets : mapping of str to xarray.Dataset
        Store name or URL -> the lazy dataset written to it, one period a chunk.
    elements_per_task : int
        As :func:`grouped_period_writes`'.

    Returns
    -------
    dict of str to xarray.Dataset
        ``datasets``, shallow copies with those encodings set (``datasets`` are left as they were).

    Examples
    --------
    >>> data = xr.Dataset({"v": (("time", "x"), dask.array.ones((5, 4), chunks=(1, 2)))})
    >>> store_templates({"v.zarr": data}, elements_per_task=8)["v.zarr"]["v"].encoding["chunks"]
    (2, 2)
    >>> store_templates({"v.zarr": data}, elements_per_task=16)["v.zarr"]["v"].encoding["chunks"]
    (3, 2)
    >>> store_templates({"v.zarr": data})["v.zarr"]["v"].encoding["chunks"]  # all 5 periods
    (5, 2)
    """
    size = _periods_per_task(_elements_per_period(datasets), elements_per_task)
    templates = {}
    for name, dataset in datasets.items():
        template = dataset.copy(deep=False)  # new variables, their encodings copies
        for var in template.data_vars.variables.values():
            if "time" in var.dims and is_dask_collection(var.data):
                var.encoding["chunks"] = tuple(
                    _balanced(size, length) if dim == "time" else sizes[0]
                    for dim, length, sizes in zip(var.dims, var.shape, var.data.chunks, strict=True)
                )
        templates[name] = template
    return templates


def _balanced(size: int, length: int) -> int:
    """Periods a chunk: ``length`` periods in the fewest chunks of ``size`` at most, evenly.

    12 periods, 11 a task: 6 a chunk.
    """
    return -(-length // -(-length // size)) if length else 1


def grouped_task_count(
    periods: int, elements_per_period: int, elements_per_task: int = ELEMENTS_PER_TASK
) -> int:
    """How many tasks :func:`grouped_period_writes` makes of ``periods`` consecutive periods.

    ``elements_per_period`` is the most values a variable holds in one period (a Scene band's or
    mask's ``y * x``); a plan counts a stage's tasks with it before any store exists.

    Examples
    --------
    >>> grouped_task_count(24, 100 * 100), grouped_task_count(24, 500 * 500)
    (1, 24)
    >>> grouped_task_count(48, 200 * 200)  # 6 periods a task
    8
    """
    return -(-periods // _periods_per_task(elements_per_period, elements_per_task))


def _periods_per_task(elements_per_period: int, elements_per_task: int) -> int:
    """The most consecutive periods one task takes (one at least)."""
    return max(1, elements_per_task // max(1, elements_per_period))


def _periods(
    stores: Mapping[str, xr.Dataset], periods: Sequence[int] | None, returning: str | None
) -> Sequence[int]:
    """``periods``, default all of the stores' datasets; ``returning`` checked to be a store."""
    if returning is not None and returning not in stores:
        raise ValueError(f"returning={returning!r} is not one of the stores {list(stores)}")
    return range(next(iter(stores.values())).sizes["time"]) if periods is None else periods


def _elements_per_period(stores: Mapping[str, xr.Dataset]) -> int:
    """The most values a variable of ``stores`` with a time dimension has in one period."""
    sizes = [1]
    for dataset in stores.values():
        for var in dataset.data_vars.values():
            if "time" in var.dims:
                sizes.append(var.size // max(1, var.sizes["time"]))
    return max(sizes)


def _runs(periods: Sequence[int]) -> list[list[int]]:
    """``periods`` sorted, in runs of consecutive ones."""
    runs: list[list[int]] = []
    for index in sorted(periods):
        if runs and runs[-1][-1] == index - 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    return runs


def _split(run: list[int], size: int) -> list[list[int]]:
    """``run`` in the fewest groups of at most ``size``, their sizes differing by one at most."""
    count = -(-len(run) // size)
    bounds = [round(i * len(run) / count) for i in range(count + 1)]
    return [run[a:b] for a, b in itertools.pairwise(bounds)]


def dataset_from_periods(
    template: xr.Dataset, periods: Mapping[int, Mapping[str, list[tuple[Region, Any]]]]
) -> xr.Dataset:
    """The Dataset that the store made from ``template`` holds, from every period's returned blocks.

    Parameters
    ----------
    template : xarray.Dataset
        The (lazy) dataset given to :func:`period_writes` for the store named by ``returning``.
    periods : mapping of int to the results of the tasks
        Period index -> what its task returned; every period of ``template``.

    Returns
    -------
    xarray.Dataset
        In memory, identical to reading the written store whole (:func:`load_store`).
    """
    missing = sorted(set(range(template.sizes["time"])) - set(periods))
    if missing:
        raise ValueError(f"dataset_from_periods needs every period; periods {missing} are missing")
    data = {}
    # Variables, not DataArrays: each DataArray would carry the template's (lazy) coordinates
    # for the Dataset to merge again (two thirds of this function's time).
    for name, var in template.data_vars.variables.items():
        if "time" not in var.dims:
            raise ValueError(f"{name} has no time dimension: period writes never write it")
        values = np.empty(var.shape, dtype=var.dtype)
        axis = var.dims.index("time")
        for index, blocks in periods.items():
            for region, block in blocks[str(name)]:
                values[_in_period(region, axis, index)] = block
        data[name] = var.copy(data=values)
    return xr.Dataset(data, coords=loaded_coords(template), attrs=template.attrs)


def write_period(
    dataset: xr.Dataset, url: str, index: int, *, options: dict[str, Any] | None = None
) -> Any:
    """Write one period (``dataset`` with a single time step) into the store at region ``index``.

    Returns the dask delayed write when ``dataset`` is lazy, so several periods can be written in
    one compute; writes at once otherwise.

    Raises
    ------
    ValueError
        If the store holds several periods a chunk (:func:`period_writes`).
    """
    stores = {url: dataset}
    (task,) = _period_tasks(
        stores, _targets(stores, options), [[(0, index)]], options, None, _compute_and_write_one
    )
    return task


def _targets(stores: Mapping[str, xr.Dataset], options: dict[str, Any] | None) -> Targets:
    """Every store's arrays' metadata (:func:`_store_targets`), by (store URL, variable)."""
    return {
        (url, name): target
        for url, dataset in stores.items()
        for name, target in _store_targets(dataset, url, options).items()
    }


def _time_chunks(targets: Targets) -> tuple[int, int]:
    """The stores' chunk along time and their number of periods (1 and 0 without ``targets``)."""
    found = {(m.chunks[axis], m.shape[axis]) for m, axis in targets.values()} or {(1, 0)}
    if len(found) > 1:
        raise ValueError(
            "stores written together need the same chunks and length along time, got (chunk, "
            f"periods) {sorted(found)}"
        )
    (chunk_length,) = found
    return chunk_length


def _period_tasks(
    stores: Mapping[str, xr.Dataset],
    targets: Targets,
    groups: Sequence[Sequence[tuple[int, int]]],
    options: dict[str, Any] | None,
    returning: str | None,
    write: Callable[..., Any],
) -> list[Any]:
    """A task ``write`` per group of (period in the datasets, period in the stores).

    ``targets`` are the stores' (:func:`_targets`). The periods of a group are consecutive in the
    stores, whole chunks of them. Done now if nothing is lazy.
    """
    _check_whole_chunks(groups, *_time_chunks(targets))
    sources = {(url, name): stores[url][name].data for url, name in targets}
    graph = graph_of(sources.values())
    lazy = bool(graph)
    layouts = {target: _layout(data, targets[target][1]) for target, data in sources.items()}
    blocks = [
        [
            {
                target: _blocks(data, targets[target][1], source, layouts[target], graph, target)
                for target, data in sources.items()
            }
            for source, _ in group
        ]
        for group in groups
    ]
    keys = [[key for parts in b for p in parts.values() for _, key in p] for b in blocks]
    shares = graph_shares(graph, keys)
    firsts = [group[0][1] for group in groups]
    # the stores' options, resolved here (the workers' settings may differ)
    resolved = {url: storage_options(url) if options is None else options for url in stores}
    if not lazy:  # numpy only: nothing to schedule
        return [
            write((targets, resolved), first, _Periods(share, parts, returning), inputs)
            for first, parts, (share, inputs) in zip(firsts, blocks, shares, strict=True)
        ]
    arrays = dask.delayed((targets, resolved), traverse=False)  # one key: each worker gets it once
    return [
        dask.delayed(write, pure=False)(arrays, first, _Periods(share, parts, returning), inputs)
        for first, parts, (share, inputs) in zip(firsts, blocks, shares, strict=True)
    ]


def _check_whole_chunks(
    groups: Sequence[Sequence[tuple[int, int]]], chunk: int, length: int
) -> None:
    """Raise ValueError unless each group's periods in the stores are whole chunks of them."""
    for group in groups:
        first, stop = group[0][1], group[-1][1] + 1
        if first % chunk or (stop % chunk and stop != length):
            raise ValueError(
                f"the stores hold {chunk} periods a chunk: a task writes whole chunks, not periods "
                f"{first} to {stop - 1} (write them with grouped_period_writes)"
            )


def _store_targets(
    dataset: xr.Dataset, url: str, options: dict[str, Any] | None
) -> dict[str, tuple[Any, int]]:
    """The store's arrays' metadata of the data variables with a time dimension, and time's axis."""
    # All at once, from the store's consolidated metadata: a lookup a name took 3 times as long.
    arrays = dict(open_zarr_group(url, options).arrays())
    targets = {}
    for name, var in dataset.data_vars.items():
        if "time" not in var.dims:
            continue
        array = arrays[name]
        if array.dtype != var.dtype:
            raise TypeError(
                f"{name} is {var.dtype} but the store at {url} holds {array.dtype}; write it "
                "with the dtype of the template the store was created from"
            )
        targets[str(name)] = (array.metadata, var.dims.index("time"))
    return targets


def _layout(data: Any, axis: int) -> list[tuple[Region, tuple[int, ...]]]:
    """Where each block of a period of ``data`` goes (time left as ``:``), and its index.

    Both are the same every period (the index without the time axis); a numpy array is one block.
    """
    if not is_dask_collection(data):
        return [(tuple(slice(None) for _ in range(data.ndim)), ())]
    if any(size != 1 for size in data.chunks[axis]):
        raise ValueError(f"writes by period need one period a chunk, got {data.chunks[axis]}")
    others = [sizes for dim, sizes in enumerate(data.chunks) if dim != axis]
    bounds = [
        [slice(int(a), int(b)) for a, b in itertools.pairwise(np.cumsum((0, *sizes)))]
        for sizes in others
    ]
    indices = itertools.product(*(range(len(sizes)) for sizes in others))
    return [
        ((*where[:axis], slice(None), *where[axis:]), rest)
        for where, rest in zip(itertools.product(*bounds), indices, strict=True)
    ]


def _blocks(
    data: Any,
    axis: int,
    period: int,
    layout: list[tuple[Region, tuple[int, ...]]],
    graph: dict,
    target: tuple[str, str],
) -> list[tuple[Region, Any]]:
    """The keys of ``data``'s blocks at ``period`` and where each goes (``layout``).

    A numpy array's period is put into ``graph`` as one block under a key made from ``target``.
    """
    if not is_dask_collection(data):
        ((whole, _),) = layout
        name = (*target, period)
        graph[name] = data[(*whole[:axis], slice(period, period + 1))]
        return [(whole, name)]
    return [(region, (data.name, *rest[:axis], period, *rest[axis:])) for region, rest in layout]


def _in_period(region: Region, axis: int, index: int) -> Region:
    """``region`` (time left as ``:``) at period ``index`` of the store."""
    return (*region[:axis], slice(index, index + 1), *region[axis + 1 :])


def _compute_and_write(
    stores: Stores,
    first: int,
    periods: _Periods,
    inputs: dict[Any, Any],
) -> list[dict[str, list[tuple[Region, Any]]] | None]:
    """Compute the group's periods (stores' periods ``first`` on) and write them.

    ``stores`` holds the targets and each store's storage options. A block's region is written
    once for all the group's periods, a store's regions together. Returns, per period, its
    blocks of the store ``returning`` (None without it).
    """
    targets, options = stores
    values = periods.share.run(inputs)
    count = len(periods.parts)
    writes: dict[str, list[Any]] = {url: [] for url in options}
    for (url, name), blocks in periods.parts[0].items():
        metadata, axis = targets[url, name]
        for i, (region, _) in enumerate(blocks):
            stacked = [values[parts[url, name][i][1]] for parts in periods.parts]
            where = (*region[:axis], slice(first, first + count), *region[axis + 1 :])
            data = stacked[0] if count == 1 else np.concatenate(stacked, axis=axis)
            writes[url].append((name, metadata, where, data))
    for url, regions in writes.items():
        write_regions(url, regions, options=options[url])
    if periods.returning is None:
        return [None] * count
    return [
        {
            name: [(region, values[key]) for region, key in blocks]
            for (url, name), blocks in parts.items()
            if url == periods.returning
        }
        for parts in periods.parts
    ]


def _compute_and_write_one(
    stores: Stores,
    index: int,
    period: _Periods,
    inputs: dict[Any, Any],
) -> dict[str, list[tuple[Region, Any]]] | None:
    """:func:`_compute_and_write` of a single period: its result alone."""
    return _compute_and_write(stores, index, period, inputs)[0]
