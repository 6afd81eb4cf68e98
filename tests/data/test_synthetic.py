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


def test_rainfall_seasonality_is_the_seasonal_cycle_amplitude():
    """Closed form: rain(s) - rain(0) = trend * s * cos(2 pi (month - 8) / 12), trend linear."""
    _, flat = small(rainfall=(1.2, 0.6), rainfall_seasonality=0.0)
    _, seasonal = small(rainfall=(1.2, 0.6), rainfall_seasonality=0.1)
    _, default = small(rainfall=(1.2, 0.6))
    days = (flat["time"].to_index().days_in_month).to_numpy()
    months = flat["time"].to_index().month.to_numpy()
    trend = np.linspace(1.2, 0.6, len(months))
    cycle = np.cos(2 * np.pi * (months - 8) / 12)
    difference = (seasonal["total_precipitation"] - flat["total_precipitation"]).values / days
    np.testing.assert_allclose(difference, trend * 0.1 * cycle, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        (default["total_precipitation"] - flat["total_precipitation"]).values / days,
        trend * 0.25 * cycle, rtol=1e-9, atol=1e-12,
    )  # fmt: skip


def test_patchy_rain_varies_between_places_and_keeps_the_site_rain():
    from vegdask.data._synthetic import _rain_field

    assert _rain_field(1.3, (60, 60), 0.0, 10.0, stream=(1, 4), t=0) == 1.3
    field = _rain_field(1.3, (60, 60), 0.05, 10.0, stream=(1, 4), t=0)
    assert field.shape == (60, 60)
    assert field.mean() == pytest.approx(1.3, rel=0.002)
    assert field.std() / field.mean() == pytest.approx(0.05, rel=0.1)  # lognormal: ~patchiness
    # smooth: neighbouring cells get nearly the same rain, cells 40 apart do not
    assert np.corrcoef(field[:, :-1].ravel(), field[:, 1:].ravel())[0, 1] > 0.9
    assert abs(np.corrcoef(field[:, :-40].ravel(), field[:, 40:].ravel())[0, 1]) < 0.5
    assert not np.array_equal(field, _rain_field(1.3, (60, 60), 0.05, 10.0, stream=(1, 4), t=1))
    plain, weather = small(seed=2)
    patchy, patchy_weather = small(seed=2, rainfall_patchiness=0.05)
    np.testing.assert_array_equal(
        weather["total_precipitation"], patchy_weather["total_precipitation"]
    )
    assert not np.array_equal(plain["ndvi"].values, patchy["ndvi"].values)
    np.testing.assert_array_equal(
        plain["ndvi"].values, small(seed=2, rainfall_patchiness=0.0)[0]["ndvi"].values
    )


def test_patchy_rain_slows_the_recovery_as_rainfall_nears_collapse():
    """Critical slowing down in the simulation itself: the monthly AR(1) of the tiles' cover.

    96 months at 1.3 mm/day, the rainfall lowered in steps of 0.05 mm/day (1,500 days each) to
    0.5 mm/day, 96 more months: each 500 m tile's cover anomaly from the site mean, Gaussian
    detrended (sigma 6 months), is far more autocorrelated near collapse (benchmarks/
    campaign_truth.py ``slowing`` gives the whole curve).
    """
    from dataclasses import replace

    from vegdask.analysis import detrend
    from vegdask.data._synthetic import _simulate_biomass
    from vegdask.kernels import PUBLISHED_PARAMETERS

    steps_down = np.round(np.arange(1.25, 0.49, -0.05), 2)
    rainfall = np.concatenate([np.full(96, 1.3), steps_down, np.full(96, 0.5)])
    days = np.concatenate([np.full(96, 30), np.full(steps_down.size, 1500), np.full(96, 30)])
    parameters = replace(PUBLISHED_PARAMETERS, dx=25.0)
    biomass = _simulate_biomass((60, 60), rainfall, days, 3000, parameters, 0, patchiness=0.05)

    def tiles_ar1(p):
        cover = p / (p + 10.0)
        tiles = cover.reshape(len(p), 3, 20, 3, 20).mean(axis=(2, 4)).reshape(len(p), 9).T
        anomalies = tiles - tiles.mean(axis=0)
        resid = anomalies - detrend(anomalies)
        return np.mean([np.corrcoef(r[1:], r[:-1])[0, 1] for r in resid])

    wet, dry = tiles_ar1(biomass[:96]), tiles_ar1(biomass[-96:])
    assert (biomass[-1] > 1).any()  # still alive: approaching collapse, not past it
    assert dry > wet + 0.3, (wet, dry)


def test_spinup_years_run_the_record_regime_before_start_unrecorded():
    """The warm-up: the record's rain regime (level, season, noise, patches) before ``start``.

    Reference: the warm-up and the record written out here, rietkerk_evolve period by period.
    """
    from dataclasses import replace

    import pandas as pd

    from vegdask.data._synthetic import (
        _RAIN_CORRELATION,
        _rain_field,
        _simulate_biomass,
        _warmup_rainfall,
    )
    from vegdask.kernels import PUBLISHED_PARAMETERS, rietkerk_evolve

    options = dict(seed=5, rainfall=(1.2, 1.2), rainfall_patchiness=0.05)
    plain, weather = small(**options)
    warmed, warmed_weather = small(spinup_years=1, **options)
    np.testing.assert_array_equal(  # the record's rain is unchanged
        weather["total_precipitation"], warmed_weather["total_precipitation"]
    )
    assert not np.array_equal(plain["ndvi"].values, warmed["ndvi"].values)
    np.testing.assert_array_equal(plain["ndvi"].values, small(spinup_years=0, **options)[0]["ndvi"])

    # 2015's months: 1.2 mm/day with the seasonal cycle (+-25 %) and noise of their own
    months = pd.date_range("2015-01-01", periods=12, freq="MS")
    days = months.days_in_month.to_numpy()
    season = 0.25 * np.cos(2 * np.pi * (months.month.to_numpy() - 8) / 12)
    noise = np.random.default_rng([5, 5]).normal(0.0, 0.1, 12)
    warm_rain = 1.2 * (1 + season + noise)
    warmup = _warmup_rainfall("2016-01-01", "1m", 1, 1.2, 5, 0.25)
    np.testing.assert_allclose(warmup[0], warm_rain, rtol=1e-12)
    np.testing.assert_array_equal(warmup[1], days)

    parameters = replace(PUBLISHED_PARAMETERS, dx=25.0)
    cells = _RAIN_CORRELATION / parameters.dx
    record_rain, record_days = np.array([1.1, 1.3, 1.2]), np.array([31, 29, 31])
    p = np.where(np.random.default_rng([5, 0]).random((40, 40)) > 0.9, 90.0, 0.0)
    w = np.full((40, 40), 1.1 / parameters.rw)
    o = np.full((40, 40), 1.1 / (parameters.alpha * parameters.w0))
    state = rietkerk_evolve(p, w, o, rainfall=1.1, steps=300, parameters=parameters)
    for t in range(12):
        rain = _rain_field(warm_rain[t], (40, 40), 0.05, cells, (5, 5), t)
        state = rietkerk_evolve(*state, rainfall=rain, steps=int(days[t]), parameters=parameters)
    expected = []
    for t in range(3):
        rain = _rain_field(record_rain[t], (40, 40), 0.05, cells, (5, 4), t)
        state = rietkerk_evolve(*state, rainfall=rain, steps=int(record_days[t]),
                                parameters=parameters)  # fmt: skip
        expected.append(state[0])
    biomass = _simulate_biomass(
        (40, 40), record_rain, record_days, 300, parameters, 5, 0.05, warmup=warmup
    )
    np.testing.assert_allclose(biomass, np.array(expected), rtol=1e-6, atol=1e-6)
