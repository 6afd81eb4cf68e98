"""pooled_early_warning against a plain numpy/scipy loop over tiles and surrogates, and ewstools."""

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import ndimage, stats

from vegdask.analysis import pooled_early_warning
from vegdask.testing import simulated_site

SIGMA = 6.0  # the default bandwidth: sigma = 6 samples


def _panel(n_tiles=6, n=40, seed=0, gaps=False):
    site = simulated_site(n_tiles, n, share=0.3, phi=(0.2, 0.8), seed=seed)
    site = site * 10 + 100 + np.linspace(0, 5, n)[:, None]  # a level and a trend to remove
    if gaps:
        rng = np.random.default_rng(seed + 1)
        site = site.mask(rng.random(site.shape) < 0.1)
    return site


def _trend(x):
    """Gaussian kernel (sigma 6, reflecting ends, 4 sigma), renormalised over valid samples."""
    valid = ~np.isnan(x)
    num = ndimage.gaussian_filter1d(np.where(valid, x, 0.0), SIGMA, mode="reflect", truncate=4)
    den = ndimage.gaussian_filter1d(valid.astype(float), SIGMA, mode="reflect", truncate=4)
    return num / den


def _rolling(x, w):
    """Rolling OLS AR(1) (window mean removed, valid lagged pairs) and variance, at window ends."""
    ar1 = np.full(x.size, np.nan)
    var = np.full(x.size, np.nan)
    for hi in range(w - 1, x.size):
        win = x[hi - w + 1 : hi + 1]
        ok = ~np.isnan(win)
        if ok.sum() < max(4, math.ceil(w / 2)):
            continue
        d = win - win[ok].mean()
        var[hi] = np.sum(d[ok] ** 2) / (ok.sum() - 1)
        pairs = ok[1:] & ok[:-1]
        ar1[hi] = np.sum(d[1:][pairs] * d[:-1][pairs]) / np.sum(d[:-1][pairs] ** 2)
    return {"ar1": ar1, "variance": var}


def _tile_taus(resid, w):
    """Per tile and indicator: (scipy's Kendall tau against time, number of valid values)."""
    out = {"ar1": [], "variance": []}
    for x in resid:
        for name, values in _rolling(x, w).items():
            ok = ~np.isnan(values)
            out[name].append((stats.kendalltau(np.flatnonzero(ok), values[ok])[0], ok.sum()))
    return {k: np.array(v) for k, v in out.items()}


def _pooled(taus):
    return np.sum(taus[:, 0] * taus[:, 1]) / np.sum(taus[:, 1])


def _reference(panel, n_surrogates, seed, w, remove_site_mean):
    """The whole test, tile by tile and surrogate by surrogate (module docstring's phases)."""
    x = panel.to_numpy().T
    if remove_site_mean:
        x = x - np.array([np.mean(col[~np.isnan(col)]) for col in x.T])
    resid = np.array([row - _trend(row) for row in x])
    gaps = np.isnan(resid)
    t = np.arange(resid.shape[1])
    filled = np.array([np.interp(t, t[~g], r[~g]) for r, g in zip(resid, gaps, strict=True)])
    n = resid.shape[1]
    phases = np.random.default_rng(seed).uniform(0, 2 * np.pi, (n_surrogates, n // 2 + 1))
    observed = {k: _pooled(v) for k, v in _tile_taus(resid, w).items()}
    null = {"ar1": [], "variance": []}
    for s in range(n_surrogates):
        ph = phases[s].copy()
        ph[0] = 0.0
        if n % 2 == 0:
            ph[-1] = 0.0
        sur = np.array([np.fft.irfft(np.fft.rfft(f) * np.exp(1j * ph), n) for f in filled])
        sur[gaps] = np.nan
        for name, taus in _tile_taus(sur, w).items():
            null[name].append(_pooled(taus))
    return observed, {k: np.array(v) for k, v in null.items()}, _tile_taus(resid, w)


@pytest.mark.parametrize(("gaps", "remove_site_mean"), [(False, True), (True, True), (True, False)])
def test_matches_a_plain_loop_over_tiles_and_surrogates(gaps, remove_site_mean):
    panel = _panel(gaps=gaps)
    observed, null, tile = _reference(panel, 30, seed=7, w=20, remove_site_mean=remove_site_mean)
    res = pooled_early_warning(
        panel,
        indicators=("ar1", "variance"),
        n_surrogates=30,
        seed=7,
        remove_site_mean=remove_site_mean,
    )
    for name in ("ar1", "variance"):
        assert res.stats[name]["kendall_tau"] == pytest.approx(observed[name], abs=1e-12)
        np.testing.assert_allclose(res.null_stats[name], null[name], rtol=0, atol=1e-12)
        np.testing.assert_allclose(res.tile_taus[name], tile[name][:, 0], rtol=0, atol=1e-12)
        p = (np.sum(null[name] >= observed[name] - 1e-12) + 1) / 31
        assert res.stats[name]["p_value"] == pytest.approx(p)
    assert res.params["tiles"] == 6
    assert res.params["site_mean_removed"] is remove_site_mean
    assert res.stats["ar1"]["window_samples"] == 20
    assert res.stats["ar1"]["max_missing_fraction"] == pytest.approx(
        max(pd.Series(col).isna().rolling(20).mean().max() for col in panel.to_numpy().T)
    )


def test_tile_taus_match_ewstools():
    ewstools = pytest.importorskip("ewstools")
    panel = _panel(n_tiles=4, n=60, seed=3)
    res = pooled_early_warning(
        panel,
        bandwidth=0.2,
        convention="ksmooth",
        ar1="pearson",
        indicators=("ar1", "variance", "sd", "skewness", "kurtosis", "cv"),
        n_surrogates=9,
        remove_site_mean=False,
    )
    names = {"ar1": "ac1", "variance": "variance", "sd": "std"}
    names |= {"skewness": "skew", "kurtosis": "kurtosis", "cv": "cv"}
    for tile in panel.columns:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ts = ewstools.TimeSeries(panel[tile].reset_index(drop=True))
            ts.detrend(method="Gaussian", bandwidth=0.2)
            for f in ("var", "std", "cv", "auto", "skew", "kurt"):
                getattr(ts, f"compute_{f}")(rolling_window=0.5)
            ts.compute_ktau()
        for ours, theirs in names.items():
            assert res.tile_taus.loc[tile, ours] == pytest.approx(ts.ktau[theirs], abs=1e-9)
    for ours in names:  # no gaps: the pooled statistic is the plain mean of the tiles' taus
        assert res.stats[ours]["kendall_tau"] == pytest.approx(res.tile_taus[ours].mean())


def test_return_rate_mirrors_ar1_and_cv_has_no_p_value():
    indicators = ("ar1", "variance", "sd", "return_rate", "cv")
    res = pooled_early_warning(_panel(), indicators=indicators, n_surrogates=19, seed=2)
    ar1, rr = res.stats["ar1"], res.stats["return_rate"]
    assert rr["kendall_tau"] == pytest.approx(-ar1["kendall_tau"])
    assert rr["p_value"] == ar1["p_value"]
    np.testing.assert_array_equal(res.null_stats["return_rate"], -res.null_stats["ar1"])
    np.testing.assert_array_equal(res.tile_taus["return_rate"], -res.tile_taus["ar1"])
    assert res.stats["sd"]["kendall_tau"] == res.stats["variance"]["kendall_tau"]
    assert res.stats["cv"]["p_value"] is None
    assert "cv" not in res.null_stats
    assert res.stats["ar1"]["kendall_p_value"] is None
    assert res.stats["ar1"]["arma_order"] is None


def test_deterministic_for_a_seed():
    panel = _panel(gaps=True)
    a = pooled_early_warning(panel, n_surrogates=49, seed=5)
    b = pooled_early_warning(panel, n_surrogates=49, seed=5)
    c = pooled_early_warning(panel, n_surrogates=49, seed=6)
    assert a.stats == b.stats
    np.testing.assert_array_equal(a.null_stats["ar1"], b.null_stats["ar1"])
    assert not np.array_equal(a.null_stats["ar1"], c.null_stats["ar1"])


def test_whole_nan_tiles_are_dropped_and_labels_kept():
    panel = _panel()
    wider = panel.assign(cloudy=np.nan)[["tile_0", "cloudy", *panel.columns[1:]]]
    a = pooled_early_warning(panel, n_surrogates=19, seed=1)
    b = pooled_early_warning(wider, n_surrogates=19, seed=1)
    assert b.params["tiles"] == 6
    assert list(b.tile_taus.index) == list(panel.columns)
    assert a.stats == b.stats


def test_dataframe_and_dataarray_agree():
    panel = _panel(gaps=True)
    da = xr.DataArray(
        panel.to_numpy().T,
        dims=("tile", "time"),
        coords={"tile": list(panel.columns), "time": panel.index},
        name="offset50_mean",
    )
    a = pooled_early_warning(panel, n_surrogates=19, seed=1)
    b = pooled_early_warning(da, n_surrogates=19, seed=1)
    assert a.stats == b.stats
    pd.testing.assert_frame_equal(a.tile_taus, b.tile_taus, check_names=False)
    assert b.name == "offset50_mean"


@pytest.mark.parametrize(
    ("panel", "message"),
    [
        (np.zeros((10, 3)), "pandas DataFrame"),
        (xr.DataArray(np.zeros((10, 3)), dims=("time", "pixel")), "dims ('time', 'tile')"),
        (pd.DataFrame({"a": [np.nan] * 30}), "no tile with a valid sample"),
        (pd.DataFrame({"a": np.arange(30.0)}), "needs at least 2 tiles"),
    ],
)
def test_bad_panels_are_refused_with_one_line(panel, message):
    with pytest.raises(
        (TypeError, ValueError), match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        pooled_early_warning(panel, n_surrogates=9)
