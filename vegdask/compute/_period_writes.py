"""Writing stores period by period: one dask task a period computes that period and writes it.

A period's chunks of the demo take a few hundred milliseconds of work between them; scheduled as
their own tasks (reads, the mask, the tile metrics, a slice per variable: ~26 a period), Dask's
per-task cost came to half the kernels' time. So each period's part of the graph runs inside
one task (the in-task executor, :mod:`vegdask.compute.in_task`), and its results go straight
into the stores' arrays (opened once, in the driver). What several periods share (the synthetic
source's simulation) is computed once, as its own task, and handed to each period's task.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dask
import numpy as np
import xarray as xr
from dask.base import is_dask_collection

from vegdask.compute.in_task import GraphShare, graph_of, graph_shares
from vegdask.data.storage import loaded_coords, open_zarr_group

__all__ = ["dataset_from_periods", "period_writes", "write_period"]

Region = tuple[slice, ...]
# (store URL, variable) -> that variable's store array and the axis of time in it.
Targets = dict[tuple[str, str], tuple[Any, int]]


class _Period:
    """A period's share of the graph and where its blocks go, carried into its task as is."""

    __slots__ = ("parts", "returning", "share")

    def __init__(
        self,
        share: GraphShare,
        parts: dict[tuple[str, str], list[tuple[Region, Any]]],
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
        period a chunk. Every data variable with a time dimension is written; its dtype must be
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
    """
    first = next(iter(stores.values()))
    periods = range(first.sizes["time"]) if periods is None else periods
    if returning is not None and returning not in stores:
        raise ValueError(f"returning={returning!r} is not one of the stores {list(stores)}")
    return _period_tasks(stores, [(i, i) for i in periods], options, returning)


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
    for name, var in template.data_vars.items():
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
    """
    (task,) = _period_tasks({url: dataset}, [(0, index)], options, None)
    return task


def _period_tasks(
    stores: Mapping[str, xr.Dataset],
    periods: Sequence[tuple[int, int]],
    options: dict[str, Any] | None,
    returning: str | None,
) -> list[Any]:
    """One write task per (period in the datasets, period in the stores); done now if not lazy."""
    targets: Targets = {}
    sources: dict[tuple[str, str], Any] = {}
    for url, dataset in stores.items():
        for name, array in _store_targets(dataset, url, options).items():
            targets[url, name] = array
            sources[url, name] = dataset[name].data
    graph = graph_of(sources.values())
    lazy = bool(graph)
    blocks = []
    for source, _ in periods:
        parts = {}
        for target, data in sources.items():
            parts[target] = _blocks(data, targets[target][1], source, graph, (*target, source))
        blocks.append(parts)
    keys = [[key for parts in b.values() for _, key in parts] for b in blocks]
    shares = graph_shares(graph, keys)
    if not lazy:  # numpy only: nothing to schedule
        return [
            _compute_and_write(targets, index, _Period(share, parts, returning), inputs)
            for (_, index), parts, (share, inputs) in zip(periods, blocks, shares, strict=True)
        ]
    arrays = dask.delayed(targets, traverse=False)  # one key: each worker gets them once
    return [
        dask.delayed(_compute_and_write, pure=False)(
            arrays, index, _Period(share, parts, returning), inputs
        )
        for (_, index), parts, (share, inputs) in zip(periods, blocks, shares, strict=True)
    ]


def _store_targets(
    dataset: xr.Dataset, url: str, options: dict[str, Any] | None
) -> dict[str, tuple[Any, int]]:
    """The store's arrays of the data variables with a time dimension, and their time axis."""
    group = open_zarr_group(url, options)
    targets = {}
    for name, var in dataset.data_vars.items():
        if "time" not in var.dims:
            continue
        array = group[name]
        if array.dtype != var.dtype:
            raise TypeError(
                f"{name} is {var.dtype} but the store at {url} holds {array.dtype}; write it "
                "with the dtype of the template the store was created from"
            )
        targets[str(name)] = (array, var.dims.index("time"))
    return targets


def _blocks(
    data: Any, axis: int, period: int, graph: dict, name: tuple
) -> list[tuple[Region, Any]]:
    """The keys of ``data``'s blocks at ``period`` and where each goes (time left as ``:``).

    A numpy array is put into ``graph`` as one block under a key made from ``name``.
    """
    if not is_dask_collection(data):
        whole = tuple(slice(None) for _ in range(data.ndim))
        graph[name] = data[(*whole[:axis], slice(period, period + 1))]
        return [(whole, name)]
    if any(size != 1 for size in data.chunks[axis]):
        raise ValueError(f"writes by period need one period a chunk, got {data.chunks[axis]}")
    starts = [np.cumsum((0, *sizes)) for sizes in data.chunks]
    others = [len(sizes) for dim, sizes in enumerate(data.chunks) if dim != axis]
    parts = []
    for rest in np.ndindex(*others):
        index = (*rest[:axis], period, *rest[axis:])
        region = tuple(
            slice(None) if dim == axis else slice(int(starts[dim][i]), int(starts[dim][i + 1]))
            for dim, i in enumerate(index)
        )
        parts.append((region, (data.name, *index)))
    return parts


def _in_period(region: Region, axis: int, index: int) -> Region:
    """``region`` (time left as ``:``) at period ``index`` of the store."""
    return (*region[:axis], slice(index, index + 1), *region[axis + 1 :])


def _compute_and_write(
    targets: Targets,
    index: int,
    period: _Period,
    inputs: dict[Any, Any],
) -> dict[str, list[tuple[Region, Any]]] | None:
    values = period.share.run(inputs)
    for target, blocks in period.parts.items():
        array, axis = targets[target]
        for region, key in blocks:
            array[_in_period(region, axis, index)] = values[key]
    if period.returning is None:
        return None
    return {
        name: [(region, values[key]) for region, key in blocks]
        for (url, name), blocks in period.parts.items()
        if url == period.returning
    }
