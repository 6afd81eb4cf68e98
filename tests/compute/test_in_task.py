"""The in-task executor against a plain ``dask.compute`` of the same collections.

Each graph is split into shares (one a group of output blocks), each share run inside one real
task, and every block compared with what ``dask.compute`` gives for the whole collection.
"""

import weakref

import dask
import dask.array as da
import numpy as np
import pytest
import xarray as xr
from distributed import Client

from vegdask.compute.in_task import InTask, graph_of, graph_shares


def _run_share(share, inputs):
    return share.run(inputs)


def run_in_tasks(graph, groups, scheduler):
    """Every group's keys computed by its own task (one task a share), as the callers do."""
    tasks = [
        dask.delayed(_run_share)(share, inputs) for share, inputs in graph_shares(graph, groups)
    ]
    values = {}
    for result in dask.compute(*tasks, scheduler=scheduler):
        values.update(result)
    return values


def blocks_of(array, values):
    """The whole array from its blocks' values (keys as ``array.__dask_keys__()``)."""

    def nest(keys):
        return [nest(k) for k in keys] if isinstance(keys, list) else values[keys]

    return np.block(nest(array.__dask_keys__()))


def key_rows(array):
    """The keys of ``array``'s blocks, one list per block along the first axis."""

    def flat(keys):
        return [k for sub in keys for k in flat(sub)] if isinstance(keys, list) else [keys]

    return [flat(row) for row in array.__dask_keys__()]


def overlap_graph():
    """A halo (map_overlap) on odd chunks (5, 7), then elementwise: blocks read neighbours."""
    x = da.from_array(np.random.default_rng(0).standard_normal((17, 23)), chunks=(5, 7))
    return x.map_overlap(lambda b: b - np.roll(b, 1, axis=0), depth=1, boundary="reflect") * 2


def shared_source_graph():
    """One delayed simulation read by every period (the synthetic source's shape), then a fit."""
    calls = []

    def simulate():
        calls.append(1)
        return np.arange(60.0).reshape(3, 4, 5)

    field = da.from_delayed(dask.delayed(simulate)(), (3, 4, 5), float).rechunk((1, 2, 5))
    return (field - field.mean(axis=(1, 2), keepdims=True)) ** 2, calls


@pytest.mark.parametrize("scheduler", ["sync", "threads"])
def test_shares_of_an_overlap_graph_equal_dask_compute(scheduler):
    y = overlap_graph()
    groups = key_rows(y)  # one task a row of blocks
    values = run_in_tasks(graph_of([y]), groups, scheduler)
    (expected,) = dask.compute(y)
    np.testing.assert_allclose(blocks_of(y, values), expected, rtol=1e-12)


def test_what_shares_have_in_common_is_computed_once_and_the_result_is_dask_computes():
    y, calls = shared_source_graph()
    groups = key_rows(y)  # one task a period
    shares = graph_shares(graph_of([y]), groups)
    assert all(len(inputs) >= 1 for _, inputs in shares)  # the simulation, at least
    values = run_in_tasks(graph_of([y]), groups, "threads")
    assert len(calls) == 1
    (expected,) = dask.compute(y)
    np.testing.assert_allclose(blocks_of(y, values), expected, rtol=1e-12)


def test_a_reduction_over_every_block_in_one_share_equals_dask_compute():
    x = overlap_graph()
    total = (x**2).sum()
    (key,) = total.__dask_keys__()  # a 0-d array: one block
    values = run_in_tasks(graph_of([total]), [[key]], "sync")
    np.testing.assert_allclose(values[key], dask.compute(total)[0], rtol=1e-12)


def test_a_key_that_two_groups_ask_for_is_an_input_of_both():
    y, _ = shared_source_graph()
    first, second = key_rows(y)[0]  # period 0's two blocks along y
    values = run_in_tasks(graph_of([y]), [[first, second], [second]], "threads")
    expected = dask.compute(y)[0][0:1, 0:4]
    np.testing.assert_allclose(np.concatenate([values[first], values[second]], axis=1), expected)


def test_shares_run_as_tasks_of_a_distributed_cluster_equal_dask_compute():
    y = overlap_graph()
    groups = key_rows(y)
    with Client(processes=False, n_workers=2, threads_per_worker=1, dashboard_address=None):
        values = run_in_tasks(graph_of([y]), groups, None)
    np.testing.assert_allclose(blocks_of(y, values), dask.compute(y, scheduler="sync")[0])


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(lambda: overlap_graph(), id="array"),
        pytest.param(lambda: [None, overlap_graph()[:3], 2.0], id="list-with-lazy-parts"),
        pytest.param(lambda: xr.DataArray(overlap_graph(), dims=("y", "x")).mean("x"), id="xarray"),
        pytest.param(lambda: np.arange(3.0), id="numpy"),
    ],
)
def test_in_task_gives_what_dask_compute_gives(value):
    got, (expected,) = InTask(value()).get(), dask.compute(value())
    if isinstance(expected, list):
        assert got[0] is None
        assert got[2] == expected[2]
        np.testing.assert_allclose(got[1], expected[1])
    elif isinstance(expected, xr.DataArray):
        xr.testing.assert_allclose(got, expected)
    else:
        np.testing.assert_allclose(got, expected)


def test_in_task_is_not_a_dependency_of_the_task_that_receives_it():
    lazy = overlap_graph()
    task = dask.delayed(lambda wrapped: wrapped.get().shape)(InTask(lazy))
    assert not set(lazy.__dask_graph__()) & set(task.dask)  # the reads run inside the task
    assert task.compute() == lazy.shape


def test_a_share_drops_a_value_once_every_task_reading_it_has_run():
    live = weakref.WeakSet()

    class Block:
        pass

    def make():
        block = Block()
        live.add(block)
        return block

    def read(block):
        return 1

    def still_held(*_):
        return len(live)

    graph = {
        "a": (make,),
        "b": (read, "a"),
        "c": (make,),
        "d": (read, "c"),
        "n": (still_held, "b", "d"),
    }
    ((share, inputs),) = graph_shares(graph, [["n", "c"]])
    values = share.run(inputs)
    assert values["n"] == 1  # "a" was dropped; "c" is asked for, so kept
    assert isinstance(values["c"], Block)


class CountingStore:
    """An array-like store (as xarray's lazily indexed Zarr arrays): counts the reads of it."""

    def __init__(self, values):
        self.values, self.reads = values, []
        self.shape, self.dtype, self.ndim = values.shape, values.dtype, values.ndim

    def __getitem__(self, index):
        self.reads.append(index)
        return self.values[index]


def test_a_shares_reads_of_consecutive_blocks_along_the_first_axis_are_one_read():
    store = CountingStore(np.arange(6 * 4 * 5.0).reshape(6, 4, 5))
    y = da.from_array(store, chunks=(1, 2, 5)) * 2  # 6 periods of 2 blocks
    store.reads.clear()  # from_array's empty read of its meta
    rows = key_rows(y)
    groups = [rows[0] + rows[1] + rows[2], rows[4] + rows[5]]  # period 3 asked by no one
    values = run_in_tasks(graph_of([y]), groups, "sync")
    expected = store.values * 2
    for key in [k for group in groups for k in group]:
        _, t, b, _ = key
        np.testing.assert_array_equal(values[key], expected[t : t + 1, 2 * b : 2 * b + 2])
    # one read a share and block along y, of its consecutive periods: not 5 periods x 2 blocks
    assert sorted((s[0].start, s[0].stop, s[1].start) for s in store.reads) == [
        (0, 3, 0), (0, 3, 2), (4, 6, 0), (4, 6, 2)
    ]  # fmt: skip
