"""Time series, tile maps and the analyse_results outputs on small run fixtures."""

import json

import dask
import dask.config
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from statsmodels.tsa.seasonal import STL

from vegdask import config
from vegdask.analysis import (
    aggregate_series,
    analyse_results,
    deseasonalise,
    early_warning,
    lagged_correlation,
    load_results,
    pooled_early_warning,
    remove_outliers,
    sensitivity,
    smooth,
    tile_indicator_maps,
)
from vegdask.cli import main
from vegdask.data import tiles_from_results_summary
from vegdask.kernels import surrogate_test


def test_aggregate_series_against_pandas(tiles, make_weather):
    weather = make_weather(tiles.time.values)
    tiles = tiles.copy()
    tiles["offset50"][3, 1, 1] = 5000.0  # an outlier of one tile
    frame = aggregate_series(tiles, weather)
    flat = tiles.offset50.where(tiles.valid).values.reshape(tiles.sizes["time"], -1)
    mean, std = np.nanmean(flat, axis=0), np.nanstd(flat, axis=0)
    clean = np.where(np.abs(flat - mean) <= 3 * std, flat, np.nan)
    ref = pd.DataFrame(clean)
    np.testing.assert_allclose(frame["offset50_mean"], ref.mean(axis=1), equal_nan=True)
    np.testing.assert_allclose(frame["offset50_std"], ref.std(axis=1), equal_nan=True)
    np.testing.assert_array_equal(frame["offset50_count"], ref.count(axis=1))
    assert frame["offset50_count"].iloc[3] == 19  # the outlier is gone
    assert frame["offset50_count"].iloc[5] == 15  # a cloudy row of 5 tiles
    assert np.isnan(frame["offset50_mean"].iloc[17])  # a fully cloudy period: a gap
    np.testing.assert_allclose(frame["total_precipitation"], weather.total_precipitation)


def test_aggregate_is_one_dask_computation(tiles, make_weather):
    calls = []

    def counting_get(dsk, keys, **kwargs):
        calls.append(keys)
        return dask.get(dsk, keys, **kwargs)

    lazy = tiles.chunk({"time": 12, "tile_y": 2})
    weather = make_weather(tiles.time.values).chunk({"time": 12})
    with dask.config.set(scheduler=counting_get):
        frame = aggregate_series(lazy, weather)
    assert len(calls) == 1
    pd.testing.assert_frame_equal(frame, aggregate_series(tiles, weather.compute()))


def test_remove_outliers_per_tile():
    da = xr.DataArray(
        np.r_[np.zeros(20), 50.0, np.zeros(20) + 100, 150.0].reshape(2, 21), dims=("tile", "time")
    )
    out = remove_outliers(da)
    assert out.isnull().sum("time").values.tolist() == [1, 1]


def test_remove_outliers_uses_the_sample_sd_as_pyveg():
    # ddof=1: 3.37 is 3.3 population SDs but 2.97 sample SDs from the mean, so pyveg keeps it.
    x = np.r_[np.tile([-1.0, 1.0], 24), 3.37]
    assert remove_outliers(xr.DataArray(x, dims="time")).notnull().all()


def test_remove_outliers_against_pandas():
    rng = np.random.default_rng(5)
    values = rng.standard_t(2, size=(6, 40))
    values[1, 3] = np.nan
    out = remove_outliers(xr.DataArray(values, dims=("tile", "time"))).values
    for row, got in zip(values, out, strict=True):
        s = pd.Series(row)
        expected = s.where(~((s - s.mean()).abs() > 3 * s.std()))  # pandas: ddof=1, skips NaN
        np.testing.assert_array_equal(got, expected.to_numpy())
    assert np.isnan(out).sum() > 1  # heavy tails: some values are dropped


def test_stl_matches_statsmodels_and_masks_gaps():
    idx = pd.date_range("2016-01-16", periods=48, freq="30D")
    rng = np.random.default_rng(0)
    y = pd.Series(np.sin(np.arange(48) * 2 * np.pi / 12) + 0.1 * rng.standard_normal(48), idx)
    dec = deseasonalise(y)
    ref = STL(y.to_numpy(), period=12, seasonal_deg=0, robust=True).fit()
    np.testing.assert_allclose(dec["seasonal"], ref.seasonal)
    np.testing.assert_allclose(dec["deseasonalised"], y - ref.seasonal)
    y.iloc[10] = np.nan
    assert np.isnan(deseasonalise(y)["deseasonalised"].iloc[10])
    diff = deseasonalise(y, "diff")["deseasonalised"]
    assert diff.iloc[30] == pytest.approx(y.iloc[30] - y.iloc[18])
    with pytest.raises(ValueError, match="two years"):
        deseasonalise(y.iloc[:20])
    with pytest.raises(ValueError, match="method"):
        deseasonalise(y, "x11")


def test_stl_recovers_a_closed_form_season_to_the_ends():
    # A fixed annual cycle on a linear trend: the seasonal component is the cycle itself, in
    # the first and last year as in the middle ones.
    t = np.arange(48)
    cycle = 3 * np.sin(2 * np.pi * t / 12) + np.cos(4 * np.pi * t / 12)
    y = pd.Series(5 + 0.1 * t + cycle, pd.date_range("2016-01-16", periods=48, freq="30D"))
    dec = deseasonalise(y)
    np.testing.assert_allclose(dec["seasonal"], cycle, atol=1e-8)
    np.testing.assert_allclose(dec["deseasonalised"], 5 + 0.1 * t, atol=1e-8)


@pytest.mark.parametrize("phi", [0.0, 0.5])
def test_stl_residuals_spread_evenly_over_the_years(phi):
    # Stationary noise (white or AR(1)) on a fixed annual cycle, four years: the residuals'
    # spread in the first and last year is that of the middle years (statsmodels' default local
    # lines in the cycle-subseries gave 0.09 at the ends against 1.1 in the middle).
    rng = np.random.default_rng(3)
    t = np.arange(48)
    index = pd.date_range("2016-01-16", periods=48, freq="30D")
    by_year = []
    for _ in range(100):
        noise = np.zeros(48)
        for i, e in enumerate(rng.standard_normal(48)):
            noise[i] = phi * noise[i - 1] * (i > 0) + e
        y = pd.Series(10 + 3 * np.sin(2 * np.pi * t / 12) + noise, index)
        by_year.append(deseasonalise(y)["resid"].to_numpy().reshape(4, 12).std(axis=1, ddof=1))
    sd = np.mean(by_year, axis=0)
    assert sd.min() > 0.85 * sd.max()
    assert sd[[0, 3]].min() > 0.7  # near the noise's own SD (1 white, 1.15 AR(1)): not damped


def test_smooth_uses_pyveg_frac():
    from statsmodels.nonparametric.smoothers_lowess import lowess

    y = pd.Series(np.random.default_rng(1).standard_normal(40))
    ref = lowess(y, np.arange(40), frac=4 / 40, it=3, return_sorted=False)
    np.testing.assert_allclose(smooth(y, 4), ref, atol=1e-6)


def test_lagged_correlation_best_lag():
    rng = np.random.default_rng(2)
    p = pd.Series(rng.standard_normal(80))
    veg = p.shift(3) + 0.1 * rng.standard_normal(80)
    corr, best = lagged_correlation(veg, p)
    assert best == 3
    assert corr[3] == pytest.approx(np.corrcoef(veg[3:], p[:-3])[0, 1])
    assert list(corr.index) == list(range(9))


def test_early_warning_matches_kernels():
    rng = np.random.default_rng(3)
    s = pd.Series(rng.standard_normal(100).cumsum(), name="offset50_mean")
    ews = early_warning(s, n_surrogates=100, seed=4)
    direct = surrogate_test(
        ews.frame["residuals"].to_numpy(),
        0.5,
        n_surrogates=100,
        seed=4,
        indicators=("ar1", "variance", "sd", "skewness", "kurtosis"),
    )
    assert ews.stats["ar1"]["p_value"] == direct["ar1"]["p_value"]
    assert ews.stats["return_rate"]["kendall_tau"] == -ews.stats["ar1"]["kendall_tau"]
    assert ews.stats["ar1"]["window_samples"] == 50
    assert ews.stats["ar1"]["seed"] == 4
    gappy = s.copy()
    gappy.iloc[[30, 31, 60]] = np.nan
    masked = early_warning(gappy, n_surrogates=20)
    filled = early_warning(gappy, n_surrogates=20, interpolate_gaps=True)
    assert masked.stats["ar1"]["max_missing_fraction"] == pytest.approx(3 / 50)
    assert filled.stats["ar1"]["max_missing_fraction"] == 0
    assert filled.stats["ar1"]["interpolated_gaps"] == 3
    assert masked.frame["residuals"].isna().sum() == 3
    cv = early_warning(s, indicators=("cv", "return_rate"), n_surrogates=20)
    assert cv.stats["cv"]["p_value"] is None  # no surrogate test for cv
    assert np.isfinite(cv.stats["cv"]["kendall_tau"])
    assert np.isfinite(cv.stats["return_rate"]["p_value"])


def test_sensitivity_grid_shape_and_share():
    s = pd.Series(np.random.default_rng(5).standard_normal(80))
    sens = sensitivity(s, grid="earlywarnings", n_surrogates=50)
    assert sens.kendall_tau.shape == (2, 7, 6)
    share = float((sens.p_value.sel(indicator="ar1") < 0.05).mean())
    assert sens.attrs["share_significant_ar1"] == pytest.approx(share)
    with pytest.raises(ValueError, match="grid"):
        sensitivity(s, grid="mine")


def test_tile_maps_are_chunk_independent_and_fdr(tiles):
    da = tiles.offset50.where(tiles.valid)
    eager = tile_indicator_maps(da, n_surrogates=50)
    lazy = tile_indicator_maps(da.chunk({"tile_y": 1, "tile_x": 3}), n_surrogates=50)
    xr.testing.assert_allclose(eager, lazy)
    from statsmodels.stats.multitest import multipletests

    p = eager.ar1_p_value.values.ravel()
    np.testing.assert_allclose(
        eager.ar1_q_value.values.ravel(), multipletests(p, method="fdr_bh")[1]
    )
    # The per-tile rolling AR(1) equals the kernels applied to that tile by hand.
    from vegdask.analysis import detrend
    from vegdask.kernels import rolling_indicators

    series = da.isel(tile_y=2, tile_x=1).values
    anomaly = series.copy()
    for k in range(12):
        anomaly[k::12] -= np.nanmean(series[k::12])
    resid = anomaly - detrend(anomaly)
    np.testing.assert_allclose(eager.ar1.isel(tile_y=2, tile_x=1), rolling_indicators(resid)["ar1"])
    quick = tile_indicator_maps(da, n_surrogates=0)  # per-pixel use: indicators and taus only
    xr.testing.assert_allclose(quick.ar1_tau, eager.ar1_tau)
    assert quick.ar1_p_value.isnull().all()
    # What BH can reject with 50 surrogates over these 20 tiles, checked against statsmodels.
    m = int(np.isfinite(p).sum())
    assert eager.ar1_significant.attrs["min_p_value"] == 1 / 51
    k = eager.ar1_significant.attrs["min_significant_tiles"]
    floor = np.full(m, 1 / 51)
    assert multipletests(floor[:k].tolist() + [1.0] * (m - k), method="fdr_bh")[0].any()
    assert not multipletests(floor[: k - 1].tolist() + [1.0] * (m - k + 1), method="fdr_bh")[
        0
    ].any()
    one = eager.ar1_significant.attrs["surrogates_for_one_tile"]
    assert multipletests([1 / (one + 1)] + [1.0] * (m - 1), method="fdr_bh")[0][0]
    assert not multipletests([1 / one] + [1.0] * (m - 1), method="fdr_bh")[0][0]


@pytest.mark.slow
def test_analyse_through_fsspec_url(make_tiles, make_weather):
    import fsspec

    tiles = make_tiles(36, 2, 2)
    tiles.to_zarr("memory://runs/a/tiles.zarr", mode="w")  # consolidated: read both kinds
    make_weather(tiles.time.values).to_zarr(
        "memory://runs/a/weather.zarr", mode="w", consolidated=False
    )
    res = analyse_results(
        "memory://runs/a", n_surrogates=20, sensitivity_surrogates=5, tile_surrogates=5, pdf=True
    )
    fs = fsspec.filesystem("memory")
    assert fs.cat("/runs/a/report.pdf").startswith(b"%PDF")
    from PIL import ImageFile

    assert not ImageFile.LOAD_TRUNCATED_IMAGES  # weasyprint's global side effect undone
    assert json.loads(fs.cat("/runs/a/analysis/resilience.json")) == res
    assert fs.cat("/runs/a/report.html").startswith(b"<!DOCTYPE html>")
    assert (
        xr.open_zarr("memory://runs/a/analysis/indicators.zarr", consolidated=False).ar1.shape[0]
        == 4
    )


def test_results_summary_json_units_and_grid():
    summary = {
        "ECMWF/ERA5/MONTHLY": {
            "type": "weather",
            "time-series-data": {
                "2016-01-16": {"total_precipitation": 3.0, "mean_2m_air_temperature": 296.8},
                "2016-02-15": None,
            },
        },
        "COPERNICUS/S2": {
            "type": "vegetation",
            "time-series-data": {
                "2016-01-16": [
                    {
                        "offset50": -826.0,
                        "latitude": 11.6,
                        "longitude": 27.9,
                        "ndvi": 255.0,
                        "ndvi_veg": float("nan"),
                    },
                    {"offset50": -700.0, "latitude": 11.5, "longitude": 27.9, "ndvi": 0.0},
                ],
                "2016-02-15": None,
            },
        },
        "metadata": {
            "coords_id": "00",
            "pattern_type": "spots",
            "longitude": 27.9,
            "latitude": 11.6,
        },
    }
    tiles, weather, meta = tiles_from_results_summary(summary)
    assert tiles.offset50.shape == (2, 2, 1)
    assert tiles.offset50.values[0, :, 0].tolist() == [-826.0, -700.0]  # north first
    assert tiles.ndvi_mean.values[0, :, 0].tolist() == [1.0, -1.0]  # 0-255 -> NDVI
    assert np.isnan(tiles.ndvi_veg_mean.values[0]).all()
    assert np.isnan(tiles.offset50.values[1]).all()
    assert weather.total_precipitation.values[0] == 3.0
    assert np.isnan(weather.total_precipitation.values[1])
    assert meta["pattern_type"] == "spots"


def _summary_json(path, tiles, weather):
    veg = {}
    for t, time in enumerate(pd.DatetimeIndex(tiles.time.values)):
        recs = []
        for iy in range(tiles.sizes["tile_y"]):
            for ix in range(tiles.sizes["tile_x"]):
                v = float(tiles.offset50.values[t, iy, ix])
                if np.isfinite(v):
                    recs.append(
                        {
                            "offset50": v,
                            "latitude": float(tiles.latitude.values[iy, ix]),
                            "longitude": float(tiles.longitude.values[iy, ix]),
                            "ndvi": (float(tiles.ndvi_mean.values[t, iy, ix]) + 1) * 255 / 2,
                        }
                    )
        veg[str(time.date())] = recs or None
    wx = {
        str(pd.Timestamp(t).date()): {"total_precipitation": float(p)}
        for t, p in zip(weather.time.values, weather.total_precipitation.values, strict=True)
    }
    doc = {
        "ERA5": {"type": "weather", "time-series-data": wx},
        "COPERNICUS/S2": {"type": "vegetation", "time-series-data": veg},
        "metadata": {"coords_id": "07", "collection": "COPERNICUS/S2"},
    }
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.slow
def test_analyse_results_outputs(run_dir):
    # pyveg's black-and-white image (0 = vegetation): the patch statistics' vegetation mask.
    scene = xr.open_zarr(run_dir / "scene.zarr", consolidated=False)
    bw = np.where(np.random.default_rng(7).random((60, 40, 50)) < 0.3, 0, 255).astype(np.uint8)
    bw[1] = 0  # all vegetation in the second period
    masks = xr.Dataset({"binary_image": (("time", "y", "x"), bw)}, coords=scene.coords)
    masks.to_zarr(run_dir / "mask.zarr", mode="w", consolidated=False)
    result = analyse_results(
        str(run_dir),
        n_surrogates=200,
        sensitivity_surrogates=20,
        tile_surrogates=20,
        figure_formats=["svg"],
    )
    adir = run_dir / "analysis"
    text = (adir / "resilience.json").read_text()
    assert "NaN" not in text
    stored = json.loads(text)
    assert stored == result
    series = {"offset50_mean", "ndvi_mean", "ndvi_veg_mean", "total_precipitation"}
    assert set(stored) == {*series, "location"}
    assert set(stored["location"]) == {"offset50_mean", "ndvi_mean"}
    entry = stored["offset50_mean"]["ar1"]
    pooled = stored["location"]["offset50_mean"]["ar1"]
    assert set(entry) <= set(pooled)
    assert pooled["tiles"] == 20
    assert pooled["p_value"] < 0.05  # every tile's AR(1) ramps from 0.1 to 0.9
    for key in ("kendall_tau", "p_value", "window", "bandwidth", "n_surrogates", "seed"):
        assert key in entry
    assert entry["n_surrogates"] == 200
    assert 1 / 201 <= entry["p_value"] <= 1
    csv = pd.read_csv(adir / "timeseries.csv", index_col=0, parse_dates=True)
    assert {"offset50_mean", "offset50_std", "offset50_count", "total_precipitation"} <= set(csv)
    ind = xr.open_zarr(adir / "indicators.zarr", consolidated=False)
    assert set(ind.series.values) == series
    assert ind.ar1.dims == ("series", "time")
    assert ind.tile_offset50_ar1.dims == ("tile_time", "tile_y", "tile_x")
    assert (adir / "ews_offset50_mean.png").read_bytes()[:4] == b"\x89PNG"
    assert (adir / "tile_maps.svg").exists()
    html = (run_dir / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 10
    assert 'src="http' not in html  # self-contained
    assert "RGB quicklooks through time" in html  # scene.zarr present
    assert "params_hash" in html  # provenance
    assert "Spatial indicators" in html
    spatial = pd.read_csv(adir / "spatial.csv", index_col=0)
    assert len(spatial) == 60
    assert spatial["morans_i_p_value"].between(0.01, 1).all()
    np.testing.assert_allclose(spatial["patch_cover"], (bw == 0).mean(axis=(1, 2)))
    assert spatial["patch_n_patches"].iloc[1] == 1
    stats = json.loads((adir / "summary_stats.json").read_text())
    assert stats["offset50_mean"]["max"] == pytest.approx(csv["offset50_mean"].max())
    assert "CB_fit_alpha" in stats["offset50_mean"]
    resid = xr.open_zarr(adir / "indicators.zarr", consolidated=False).residuals
    r = resid.sel(series="offset50_mean").values
    d = r - np.nanmean(r)
    pairs = np.isfinite(d[1:]) & np.isfinite(d[:-1])  # the gap (period 17) breaks two pairs
    ols = (d[1:][pairs] @ d[:-1][pairs]) / (d[:-1][pairs] @ d[:-1][pairs])
    assert stats["offset50_mean"]["variance_whole_series"] == pytest.approx(np.nanvar(r, ddof=1))
    assert stats["offset50_mean"]["ar1_whole_series"] == pytest.approx(ols)


@pytest.mark.slow
def test_analyse_cli_and_results_summary(tmp_path, capsys, make_tiles, make_weather):
    tiles = make_tiles(48, 2, 3)
    path = _summary_json(tmp_path / "results_summary.json", tiles, make_weather(tiles.time.values))
    out = tmp_path / "out"
    assert (
        main(["analyse", str(path), "--output", str(out), "--surrogates", "99", "--no-report"]) == 0
    )
    lines = capsys.readouterr().out.splitlines()
    res = json.loads((out / "analysis" / "resilience.json").read_text())
    assert lines[0].split() == ["test", "series", "indicator", "tau", "p"]
    rows = {tuple(line.split()[:3]): line.split()[3:] for line in lines[1:-2]}
    series = [s for s in res if s != "location"]
    expected = {("mean-series", s, i) for s in series for i in ("ar1", "variance")}
    expected |= {("pooled", s, i) for s in res["location"] for i in ("ar1", "variance")}
    assert set(rows) == expected
    pooled = res["location"]["offset50_mean"]["ar1"]
    assert rows[("pooled", "offset50_mean", "ar1")] == [
        f"{pooled['kendall_tau']:.3f}",
        f"{pooled['p_value']:.3f}",
    ]
    ar1 = res["offset50_mean"]["ar1"]
    assert rows[("mean-series", "offset50_mean", "ar1")] == [
        f"{ar1['kendall_tau']:.3f}",
        f"{ar1['p_value']:.3f}",
    ]
    assert lines[-2].startswith("verdict: ")
    assert lines[-1] == f"wrote {out}/analysis/"  # --no-report: no report.html
    assert res["offset50_mean"]["ar1"]["n_surrogates"] == 99
    direct = aggregate_series(load_results(str(path)).tiles)
    np.testing.assert_allclose(direct["offset50_mean"], aggregate_series(tiles)["offset50_mean"])
    assert main(["analyse", str(tmp_path / "nowhere")]) == 2
    assert "neither tiles.zarr nor results_summary.json" in capsys.readouterr().err


def test_short_series_reports_reason(tmp_path, write_run):
    run = write_run(tmp_path / "short", n_time=12, with_scene=False)
    # Register the packaged defaults first: vegdask.config registers them once, and registering
    # inside a dask.config.set block loses them when the block exits (reported to the lead).
    config.get("analysis.window")
    with dask.config.set({"vegdask.analysis.n-surrogates": 7}):  # config below explicit args
        res = analyse_results(str(run), report=False, seed=3)
    assert res["offset50_mean"]["ar1"]["p_value"] is None
    assert "need 20" in res["offset50_mean"]["ar1"]["error"]
    assert res["offset50_mean"]["ar1"]["n_surrogates"] == 7
    assert res["offset50_mean"]["ar1"]["seed"] == 3
    assert res["offset50_mean"]["ar1"]["bandwidth_convention"] == "sigma"
    # Long enough for the window but not for the ARMA(4, 4) fit: the taus, and why no p-value.
    run = write_run(tmp_path / "medium", n_time=24, with_scene=False)
    res = analyse_results(str(run), n_surrogates=10, tile_surrogates=9)
    assert "no surrogate p-value" in res["offset50_mean"]["ar1"]["error"]
    page = (run / "report.html").read_text()
    # The pooled test needs no ARMA model: 24 periods give the verdict a p-value.
    pooled = res["location"]["offset50_mean"]["ar1"]
    assert pooled["p_value"] is not None
    assert f"{pooled['tiles']} tiles has pooled tau {pooled['kendall_tau']:.2f}, p = " in page
    assert "ar1: no tile has a p-value" in page
    assert "too short for ARMA" in res["offset50_mean"]["ar1"]["error"]
    assert res["offset50_mean"]["ar1"]["p_value"] is None
    series = pd.read_csv(run / "analysis" / "timeseries.csv", index_col=0)["offset50_mean"]
    for indicator, tau in _pandas_taus(series.to_numpy(), window=12).items():
        assert res["offset50_mean"][indicator]["kendall_tau"] == pytest.approx(tau, abs=1e-9)


def _pandas_taus(values, window):
    """AR(1) (OLS about the window mean) and variance trends, step by step with scipy and pandas.

    Gaps are masked: the Gaussian trend is renormalised over valid samples, a window needs half
    its samples, AR(1) uses the valid lagged pairs.
    """
    from scipy.ndimage import gaussian_filter1d
    from scipy.stats import kendalltau

    valid = np.isfinite(values)
    smooth = [
        gaussian_filter1d(v, 6.0, mode="reflect", truncate=4.0)
        for v in (np.where(valid, values, 0.0), valid * 1.0)
    ]
    resid = pd.Series(values - smooth[0] / smooth[1])

    def ols_ar1(w):
        d = w - np.nanmean(w)
        pairs = np.isfinite(d[1:]) & np.isfinite(d[:-1])
        return (d[1:] * d[:-1])[pairs].sum() / (d[:-1] ** 2)[pairs].sum()

    rolled = {
        "ar1": resid.rolling(window, min_periods=window // 2).apply(ols_ar1, raw=True),
        "variance": resid.rolling(window, min_periods=window // 2).var(),
    }
    rolled = {k: v.iloc[window - 1 :] for k, v in rolled.items()}  # whole windows only
    return {
        k: kendalltau(np.arange(len(v))[v.notna()], v.dropna()).statistic for k, v in rolled.items()
    }


def test_location_entry_is_the_pooled_test_of_the_valid_tiles(tmp_path, write_run):
    run = write_run(tmp_path / "run", n_time=48, with_scene=False)
    res = analyse_results(
        str(run),
        report=False,
        deseasonalise_method="none",
        n_surrogates=99,
        sensitivity_surrogates=5,
        tile_surrogates=0,
        seed=4,
    )
    # The panel by hand: invalid tiles masked, then each tile's values beyond 3 sample SDs of
    # its own mean dropped (pandas' std, ddof 1).
    tiles = xr.open_zarr(run / "tiles.zarr", consolidated=False).load()
    values = tiles["offset50"].where(tiles["valid"]).values.reshape(48, -1)
    panel = pd.DataFrame(values, index=pd.DatetimeIndex(tiles.time.values))
    panel = panel.where((panel - panel.mean()).abs() <= 3 * panel.std())
    direct = pooled_early_warning(panel, n_surrogates=99, seed=4)
    entry = res["location"]["offset50_mean"]
    for ind in ("ar1", "variance", "return_rate"):
        assert entry[ind]["kendall_tau"] == pytest.approx(direct.stats[ind]["kendall_tau"])
        assert entry[ind]["p_value"] == pytest.approx(direct.stats[ind]["p_value"])
        assert entry[ind]["tiles"] == 20
        assert entry[ind]["deseasonalise"] is None
        assert set(res["offset50_mean"][ind]) <= set(entry[ind])


@pytest.mark.parametrize("method", ["none", "stl"])
def test_tile_maps_deseasonalise_unless_the_method_is_none(tmp_path, write_run, method):
    run = write_run(tmp_path / "run", n_time=48, with_scene=False)
    analyse_results(str(run), report=False, deseasonalise_method=method, tile_surrogates=0)
    stored = xr.open_zarr(run / "analysis" / "indicators.zarr", consolidated=False).load()
    tiles = xr.open_zarr(run / "tiles.zarr", consolidated=False).load()
    offset50 = tiles["offset50"].where(tiles["valid"])
    # A month's climatology removed or not: the two maps differ, and the stored one is the
    # one the method asks for.
    kept, removed = (
        tile_indicator_maps(offset50, n_surrogates=0, deseasonalise=flag) for flag in (False, True)
    )
    expected, other = (kept, removed) if method == "none" else (removed, kept)
    written = stored["tile_offset50_ar1"].rename(tile_time="time")
    np.testing.assert_allclose(written, expected["ar1"].transpose(*written.dims), equal_nan=True)
    assert not np.allclose(written, other["ar1"].transpose(*written.dims), equal_nan=True)


def test_never_valid_tile_gives_nan_not_warnings(tiles):
    tiles = tiles.copy(deep=True)
    tiles["valid"][:, 0, 0] = False
    tiles["offset50"][:, 0, 0] = np.nan
    frame = aggregate_series(tiles)
    assert frame["offset50_count"].max() == 19
    maps = tile_indicator_maps(tiles.offset50.where(tiles.valid), n_surrogates=10)
    assert np.isnan(maps.ar1_tau.values[0, 0])
    assert np.isnan(maps.ar1_q_value.values[0, 0])
    assert np.isfinite(maps.ar1_q_value.values[1, 1])
