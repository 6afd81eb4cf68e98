"""Period writes (one task a period, the in-task executor) against xarray's own Zarr writer."""

from pathlib import Path

import dask
import dask.array as da
import numpy as np
import pytest
import xarray as xr
import zarr

from vegdask.compute import (
    dataset_from_periods,
    grouped_period_writes,
    grouped_task_count,
    period_writes,
    store_templates,
    tile_metrics,
    write_period,
)
from vegdask.data import create_store, load_store, open_store, synthetic_scene


@pytest.fixture(scope="module")
def scene():
    return synthetic_scene("2016-01-01", "2016-05-01", size=100, spinup_steps=50)[0]


def test_period_writes_give_what_xarray_writes_in_one_task_a_period(tmp_path, scene):
    url = str(tmp_path / "scene.zarr")
    create_store(scene, url)
    writes = period_writes({url: scene}, [3, 1])
    for write in writes:  # the period's own part of the graph runs inside one task
        names = [str(key) for key in dict(write.dask) if str(key).startswith("_compute_and_write")]
        assert len(names) == 1
    dask.compute(*writes)
    reference = str(tmp_path / "reference.zarr")  # xarray's own writer, the whole Scene at once
    scene.to_zarr(reference, consolidated=False)
    written, expected = open_store(url), open_store(reference)
    for i in (1, 3):
        xr.testing.assert_identical(written.isel(time=i), expected.isel(time=i))
    assert np.isnan(written["ndvi"][0].values).all()  # not written: the fill value
    xr.testing.assert_identical(written["period_end"], expected["period_end"])


@pytest.mark.parametrize("chunk", [50, 100])  # four blocks a period, then one
def test_returned_periods_make_the_dataset_the_store_holds(tmp_path, scene, chunk):
    scene = scene.chunk({"time": 1, "y": chunk, "x": chunk})
    tiles = tile_metrics(scene, tile_size=25)  # floats, booleans and a 4-D feature vector
    url, mask_url = str(tmp_path / "tiles.zarr"), str(tmp_path / "mask.zarr")
    mask = (scene["ndvi"] > 0.3).to_dataset(name="vegetation")
    stores = {url: tiles, mask_url: mask}
    for name, template in stores.items():
        create_store(template, name)
    returned = dask.compute(*period_writes(stores, returning=url))
    assert all(set(blocks) == set(tiles.data_vars) for blocks in returned)  # not the mask's
    assembled = dataset_from_periods(tiles, dict(enumerate(returned)))
    xr.testing.assert_identical(assembled, load_store(url))
    with pytest.raises(ValueError, match=r"every period; periods \[1\] are missing"):
        dataset_from_periods(tiles, {i: r for i, r in enumerate(returned) if i != 1})
    with pytest.raises(ValueError, match="not one of the stores"):
        period_writes(stores, returning=str(tmp_path / "other.zarr"))


def test_grouped_periods_write_what_one_task_a_period_writes(tmp_path, scene):
    # 4 periods of 100x100 px, 3 of them pending: 2 runs of consecutive periods, at most 2 a task
    tiles = tile_metrics(scene, tile_size=25)
    mask = (scene["ndvi"] > 0.3).to_dataset(name="vegetation")
    urls = {}
    for way in ("one", "grouped"):
        urls[way] = {str(tmp_path / f"{way}-{n}.zarr"): d for n, d in (("t", tiles), ("m", mask))}
        for url, template in urls[way].items():
            create_store(template, url)
    one = dict(zip([0, 1, 3], dask.compute(*period_writes(urls["one"], [0, 1, 3])), strict=True))
    tasks = grouped_period_writes(urls["grouped"], [3, 0, 1], elements_per_task=2 * 100 * 100)
    assert [periods for periods, _ in tasks] == [[0, 1], [3]]
    for write in (task for _, task in tasks):  # the group's periods run inside one task
        names = [str(key) for key in dict(write.dask) if str(key).startswith("_compute_and_write")]
        assert len(names) == 1
    dask.compute(*(task for _, task in tasks))
    for (a, _), (b, _) in zip(urls["one"].items(), urls["grouped"].items(), strict=True):
        xr.testing.assert_identical(load_store(a), load_store(b))
    # what each period's task returns, and per period in a group's task
    url = next(iter(urls["grouped"]))
    tasks = grouped_period_writes(urls["grouped"], returning=url, elements_per_task=30000)
    assert [periods for periods, _ in tasks] == [[0, 1], [2, 3]]  # at most 3: 2 and 2, not 3 and 1
    assert grouped_task_count(4, 100 * 100, elements_per_task=30000) == len(tasks)  # a plan's count
    grouped = dask.compute(*(task for _, task in tasks))
    returned = dict(enumerate(r for results in grouped for r in results))
    xr.testing.assert_identical(dataset_from_periods(tiles, returned), load_store(url))
    assert all(set(blocks) == set(tiles.data_vars) for blocks in returned.values())  # no mask's
    assert set(one.values()) == {None}  # nothing returned without ``returning``


def test_what_periods_share_is_computed_once_and_each_period_once(tmp_path):
    calls = []

    def simulate():  # shared by every period, like the synthetic source's simulation
        calls.append("simulate")
        return np.arange(12.0).reshape(3, 2, 2)

    def square(block):
        calls.append("square")
        return block**2

    field = da.from_delayed(dask.delayed(simulate)(), (3, 2, 2), float).rechunk((1, 2, 2))
    dataset = xr.Dataset(
        {
            "a": (("time", "y", "x"), field),
            "b": (("time", "y", "x"), field.map_blocks(square, meta=np.array((), float))),
        },
        coords={"time": [0, 1, 2]},
    )
    url = str(tmp_path / "shared.zarr")
    create_store(dataset, url)
    dask.compute(*period_writes({url: dataset}), scheduler="threads")
    assert sorted(calls) == ["simulate"] + ["square"] * 3
    expected = np.arange(12.0).reshape(3, 2, 2)
    written = open_store(url)
    np.testing.assert_array_equal(written["a"].values, expected)
    np.testing.assert_array_equal(written["b"].values, expected**2)


def test_a_period_with_another_dtype_than_its_store_is_refused(tmp_path, scene):
    url = str(tmp_path / "scene.zarr")
    create_store(scene, url)
    with pytest.raises(TypeError, match=r"ndvi is float64 but the store .* holds float32"):
        period_writes({url: scene.assign(ndvi=scene["ndvi"].astype("float64"))}, [0])


def chunk_files(url):
    """Every chunk file of a Zarr store's data variables: (variable, chunk key after c/)."""
    data = open_store(url)
    root = Path(url)
    return sorted(
        (name, path.relative_to(root / name / "c").as_posix())
        for name in data.data_vars
        for path in (root / name / "c").rglob("*")
        if path.is_file()
    )


def test_a_small_scenes_stores_hold_a_tasks_periods_a_chunk(tmp_path, scene):
    # 4 periods of 100x100 px are one task: one chunk file a block of a variable, not 4
    tiles = tile_metrics(scene, tile_size=25)  # 4x4 tiles, one block a period
    mask = (scene["ndvi"] > 0.3).to_dataset(name="vegetation")
    urls = {"tiles": str(tmp_path / "tiles.zarr"), "mask": str(tmp_path / "mask.zarr")}
    stores = store_templates({urls["tiles"]: tiles, urls["mask"]: mask})
    assert tiles["offset50"].encoding.get("chunks") is None  # the datasets are left as they were
    for url, template in stores.items():
        create_store(template, url)
    tasks = grouped_period_writes(stores)
    assert [periods for periods, _ in tasks] == [[0, 1, 2, 3]]
    dask.compute(*(task for _, task in tasks))
    for name, dataset in (("tiles", tiles), ("mask", mask)):
        computed = dataset.compute()
        # xarray's own writer: one period a chunk, and the chunks of 4 periods written here
        one, four = str(tmp_path / f"{name}-one.zarr"), str(tmp_path / f"{name}-four.zarr")
        computed.to_zarr(one, consolidated=False, encoding={
            v: {"chunks": (1, *computed[v].shape[1:])} for v in computed.data_vars})  # fmt: skip
        computed.to_zarr(four, consolidated=False, encoding={
            v: {"chunks": computed[v].shape} for v in computed.data_vars})  # fmt: skip
        xr.testing.assert_identical(load_store(urls[name]), load_store(one))
        written = chunk_files(urls[name])
        assert written == chunk_files(four)
        assert {key.split("/")[0] for _, key in written} == {"0"}  # one chunk along time
        assert len(written) == len({v for v, _ in written}) <= len(dataset.data_vars)
        # the one-period-a-chunk store: as many files a variable as periods it holds data in
        assert len(chunk_files(one)) > len(written)


def test_resumed_writes_redo_whole_chunks_and_leave_the_others(tmp_path, scene):
    # 2 periods of the 100x100-px mask a task and a chunk: chunks of periods 0-1 and 2-3
    tiles = tile_metrics(scene, tile_size=25)
    mask = (scene["ndvi"] > 0.3).to_dataset(name="vegetation")
    url = str(tmp_path / "tiles.zarr")
    stores = store_templates({url: tiles, str(tmp_path / "mask.zarr"): mask}, 2 * 100 * 100)
    for name, template in stores.items():
        create_store(template, name)
    assert zarr.open_array(f"{url}/offset50").chunks == (2, 4, 4)
    tasks = grouped_period_writes(stores, [0, 1], elements_per_task=2 * 100 * 100)
    assert [periods for periods, _ in tasks] == [[0, 1]]
    dask.compute(*(task for _, task in tasks))  # periods 0 and 1 done, then interrupted
    first = {p: p.stat().st_mtime_ns for p in tmp_path.glob("*/*/c/0/**/*") if p.is_file()}
    assert {p.relative_to(tmp_path).parts[0] for p in first} == {"tiles.zarr", "mask.zarr"}
    assert not list(tmp_path.glob("*/*/c/1/**/*"))
    # period 2 was done too (its chunk written whole) but is to be redone, as is period 3
    tasks = grouped_period_writes(stores, [3], returning=url, elements_per_task=2 * 100 * 100)
    assert [periods for periods, _ in tasks] == [[2, 3]]  # the chunk's periods, both
    (results,) = dask.compute(tasks[0][1])
    assert {p: p.stat().st_mtime_ns for p in first} == first  # periods 0-1 not rewritten
    reference = str(tmp_path / "reference.zarr")  # xarray's own writer, the whole dataset
    tiles.compute().to_zarr(reference, consolidated=False)
    xr.testing.assert_identical(load_store(url), load_store(reference))
    assembled = dataset_from_periods(tiles.isel(time=[2, 3]), dict(enumerate(results)))
    xr.testing.assert_identical(assembled, load_store(reference).isel(time=[2, 3]))


def test_periods_alone_are_refused_on_stores_of_several_periods_a_chunk(tmp_path, scene):
    url, other = str(tmp_path / "a.zarr"), str(tmp_path / "b.zarr")
    create_store(store_templates({url: scene})[url], url)  # 4 periods a chunk
    create_store(scene, other)  # one period a chunk
    refused = "the stores hold 4 periods a chunk: a task writes whole chunks, not periods"
    with pytest.raises(ValueError, match=f"{refused} 1 to 1 \\(write them with grouped_period"):
        period_writes({url: scene}, [1])
    with pytest.raises(ValueError, match=f"{refused} 2 to 2"):
        write_period(scene.isel(time=[2]), url, 2)
    with pytest.raises(ValueError, match=r"same chunks and length along time, got \(chunk, "):
        grouped_period_writes({url: scene, other: scene})
    assert chunk_files(url) == []  # nothing written
