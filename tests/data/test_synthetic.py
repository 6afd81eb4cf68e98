import dask
import numpy as np
import pytest

from vegdask.data import SCENE_VARIABLES, synthetic_scene, validate_scene
from vegdask.testing import CountingScheduler


def small(**kwargs):
    return synthetic_scene("2016-01-01", "2016-07-01", size=100, spinup_steps=300, **kwargs)


def test_building_the_scene_computes_nothing():
    counter = CountingScheduler()
    with dask.config.set(scheduler=counter):
        scene, _ = small()
        validate_scene(scene)
    assert counter.calls == 0
    assert all(scene[v].chunks is not None for v in SCENE_VARIABLES)


def test_deterministic_for_a_seed_and_different_across_seeds():
    a = small(seed=3)[0]["ndvi"].values
    b = small(seed=3)[0]["ndvi"].values
    c = small(seed=4)[0]["ndvi"].values
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_reflectances_and_ndvi_are_physical():
    scene, weather = small(cloud_chance=0.0)
    ndvi = scene["ndvi"].values
    nir, red = scene["nir"].values, scene["red"].values
    np.testing.assert_allclose(ndvi, (nir - red) / (nir + red), rtol=1e-5)
    assert ndvi.min() > 0  # bare soil ~0.12 with noise
    assert ndvi.max() < 0.85  # dense vegetation ~0.77
    assert 0.08 < np.median(ndvi) < 0.6
    assert not scene["cloud_mask"].values.any()
    assert scene.rio.crs.to_epsg() == 32635  # UTM zone of the demo location
    assert list(weather["time"].values) == list(scene["time"].values)
    days = (scene["period_end"] - scene["period_start"]).dt.days.values
    rain = weather["total_precipitation"].values / days
    assert 0.5 < rain.mean() < 2.0  # mm/day, the schedule's scale


def test_vegetation_declines_with_rainfall():
    scene, _ = synthetic_scene("2016-01-01", "2018-01-01", size=100, cloud_chance=0.0)
    ndvi = scene["ndvi"].mean(("y", "x")).values
    assert ndvi[-6:].mean() < ndvi[:6].mean() - 0.03


def test_clouds_are_masked_bright_pixels():
    scene, _ = small(cloud_chance=1.0)
    cloud = scene["cloud_mask"].values
    assert cloud.any(axis=(1, 2)).all()
    assert np.all(scene["red"].values[cloud] > 0.5)


def test_chunks_follow_the_tile_grid():
    scene, _ = synthetic_scene(
        "2016-01-01", "2016-03-01", size=300, spinup_steps=10,
        chunks={"time": 1, "y": 100, "x": 150},
    )  # fmt: skip
    assert scene.chunks["y"] == (100, 100, 100)
    assert scene.chunks["x"] == (150, 150)
    with pytest.raises(ValueError, match="multiples"):
        validate_scene(scene, tile_size=40)
