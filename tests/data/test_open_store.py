"""open_store and load_store give what xarray's own ``xr.open_zarr`` gives.

open_store reads a store's consolidated metadata and its coordinates in one batch; golden:
``xr.open_zarr(url, consolidated=False, decode_coords="all")``, each array's metadata and
coordinate read by zarr one call at a time, with (open_store) ``chunks={}`` and its coordinates
loaded, or (load_store) everything loaded. Compared: values, dtypes, attributes, every variable's
encoding, which variables are coordinates and indexes, and which are lazy (their dask chunks).
Stores: a scene as a run writes it (consolidated, its CRS a coordinate, datetime coordinates,
two periods written), and xarray's own stores without consolidated metadata, in Zarr format 2
and 3, with string, datetime and duration coordinates.
"""

import dask
import numpy as np
import pytest
import xarray as xr

from vegdask.compute import period_writes
from vegdask.data import create_store, load_store, open_store, synthetic_scene


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stores")
    scene = synthetic_scene("2016-01-01", "2016-04-01", size=50, spinup_steps=20)[0]
    create_store(scene, str(folder / "scene.zarr"))
    dask.compute(*period_writes({str(folder / "scene.zarr"): scene}, [0, 2]))
    dates = np.array(["2020-01-01", "2020-03-01"], dtype="datetime64[ns]")
    plain = xr.Dataset(
        {"v": (("t", "x"), np.arange(6.0).reshape(2, 3), {"units": "m"})},
        coords={
            "t": dates,
            "x": [10, 20, 30],
            "label": ("x", np.array(["a", "bc", "d"], dtype=object)),
            "lag": ("t", np.array([1, 2], dtype="m8[s]")),
        },
        attrs={"site": "demo"},
    )
    plain["v"].encoding["chunks"] = (1, 3)
    plain.to_zarr(folder / "v3.zarr", consolidated=False, zarr_format=3)
    plain.to_zarr(folder / "v2.zarr", consolidated=False, zarr_format=2)
    return {name: str(folder / name) for name in ("scene.zarr", "v3.zarr", "v2.zarr")}


def xarray_open(url, chunks):
    with dask.config.set(scheduler="sync"):
        return xr.open_zarr(url, consolidated=False, decode_coords="all", chunks=chunks)


def assert_same(opened, expected):
    assert set(opened.coords) == set(expected.coords)
    assert set(opened.xindexes) == set(expected.xindexes)
    xr.testing.assert_identical(opened, expected)  # values (computed), dtypes, attributes
    for name, var in expected.variables.items():
        got = opened.variables[name]
        np.testing.assert_equal(got.encoding, var.encoding, err_msg=name)  # nan == nan here
        assert got.dtype == var.dtype, name
        assert type(got.data) is type(var.data), name
        assert got.chunks == var.chunks, name


@pytest.mark.parametrize("name", ["scene.zarr", "v3.zarr", "v2.zarr"])
def test_open_store_is_xarrays_lazy_open_its_coordinates_loaded(stores, name):
    expected = xarray_open(stores[name], {})
    lazy = [n for n, var in expected.data_vars.items() if var.chunks]
    assert lazy == list(expected.data_vars)  # the golden's data variables are dask arrays
    loaded = {n: expected[n].variable.load() for n in expected.coords if n not in expected.dims}
    expected = expected.assign_coords(loaded)
    assert all(isinstance(expected[n].data, np.ndarray) for n in expected.coords)
    assert_same(open_store(stores[name]), expected)


@pytest.mark.parametrize("name", ["scene.zarr", "v3.zarr", "v2.zarr"])
def test_load_store_is_xarrays_open_loaded(stores, name):
    assert_same(load_store(stores[name]), xarray_open(stores[name], None).load())


def test_a_store_without_consolidated_metadata_opens_without_a_warning(stores, recwarn):
    open_store(stores["v3.zarr"])
    assert not [w for w in recwarn if "consolidated" in str(w.message)]


def test_open_store_names_its_dask_arrays_by_store_and_variable(stores):
    """The same names each open (a graph's keys are stable); other variables, other names."""
    first, again = open_store(stores["scene.zarr"]), open_store(stores["scene.zarr"])
    names = {name: var.data.name for name, var in first.data_vars.items()}
    assert names == {name: var.data.name for name, var in again.data_vars.items()}
    assert len(set(names.values())) == len(names)
    other = open_store(f"file://{stores['scene.zarr']}")  # another URL of the same store
    assert not set(names.values()) & {var.data.name for var in other.data_vars.values()}
    xr.testing.assert_identical(other, first)
