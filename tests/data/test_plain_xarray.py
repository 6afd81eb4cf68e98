"""A run's stores read the plain xarray way: ``xr.open_zarr(url)`` with no options.

Consolidated metadata (no RuntimeWarning about them), the CRS a coordinate (rioxarray's
``spatial_ref``, named by each variable's CF ``grid_mapping`` and ``coordinates``), so that
``.veg.tile_metrics`` works on what any reader opens; a Scene in memory has a vegetation mask too.
"""

import warnings

import dask
import numpy as np
import pytest
import xarray as xr

from vegdask.compute import write_period
from vegdask.data import create_store, open_store, synthetic_scene
from vegdask.data.storage import write_dataset


@pytest.fixture(scope="module")
def scene():
    return synthetic_scene("2016-01-01", "2016-03-01", size=100, spinup_steps=50)[0]


def plain_open(url):
    """``xr.open_zarr(url)`` as a user types it; any warning fails."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return xr.open_zarr(url)


@pytest.mark.parametrize("how", ["create_store", "write_dataset"])
def test_a_store_opens_plainly_with_its_crs(tmp_path, scene, how):
    url = str(tmp_path / "scene.zarr")
    if how == "create_store":
        create_store(scene, url)
        dask.compute(*[write_period(scene.isel(time=[i]), url, i) for i in (0, 1)])
    else:
        write_dataset(scene.compute(), url)
    opened = plain_open(url)
    assert "spatial_ref" in opened.coords
    assert opened.rio.crs == scene.rio.crs
    assert opened["ndvi"].rio.crs == scene.rio.crs
    np.testing.assert_array_equal(opened["ndvi"].values, scene["ndvi"].values)
    assert set(opened.data_vars) == set(scene.data_vars)
    assert set(opened.coords) == set(scene.coords)
    assert set(open_store(url).coords) == set(scene.coords)  # vegdask's own reader: the same


def test_tile_metrics_after_a_plain_open_equal_open_stores(tmp_path, scene):
    url = str(tmp_path / "scene.zarr")
    write_dataset(scene.compute(), url)
    plain = plain_open(url).veg.tile_metrics(tile_size=50).compute()
    ours = open_store(url).veg.tile_metrics(tile_size=50).compute()
    xr.testing.assert_allclose(plain, ours)
    assert np.isfinite(plain["longitude"].values).all()


def test_without_a_crs_the_error_points_to_open_store(scene):
    bare = scene.drop_vars("spatial_ref")
    for name in bare.data_vars:
        bare[name].attrs.pop("grid_mapping", None)
        bare[name].encoding.pop("grid_mapping", None)
    with pytest.raises(ValueError, match=r"has no CRS.*vegdask\.data\.open_store"):
        bare.veg.tile_metrics()


def test_a_scene_in_memory_has_a_vegetation_mask(scene):
    in_memory = scene.compute()
    assert not dask.is_dask_collection(in_memory["ndvi"].data)
    mask = in_memory.veg.vegetation_mask()
    assert not dask.is_dask_collection(mask.data)
    np.testing.assert_array_equal(mask.values, scene.veg.vegetation_mask().values)
    assert mask.dims == ("time", "y", "x")
    assert 0.05 < float(mask.mean()) < 0.95
