"""EWS kernels against independent references: ewstools, scipy, statsmodels, plain numpy."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage, stats

from vegdask.kernels import (
    ArmaFit,
    benjamini_hochberg,
    fit_arma,
    gaussian_sigma,
    gaussian_smooth,
    kendall_tau,
    loess_smooth,
    rolling_indicators,
    simulate_arma,
    surrogate_test,
)


def _ar1_series(phi, n, seed, sigma=1.0):
    rng = np.random.default_rng(seed)
    phi = np.broadcast_to(phi, (n,))
    x = np.zeros(n)
    x[0] = sigma * rng.standard_normal() / np.sqrt(1 - phi[0] ** 2)  # stationary start
    for t in range(1, n):
        x[t] = phi[t] * x[t - 1] + sigma * rng.standard_normal()
    return x


@pytest.fixture(scope="module")
def series():
    rng = np.random.default_rng(0)
    n = 120
    return 5 + 0.3 * np.cumsum(rng.standard_normal(n)) + rng.standard_normal(n)


def _ewstools(x, bandwidth, window):
    ewstools = pytest.importorskip("ewstools")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ts = ewstools.TimeSeries(pd.Series(x))
        ts.detrend(method="Gaussian", bandwidth=bandwidth)
        for f in ("var", "std", "cv", "auto", "skew", "kurt"):
            getattr(ts, f"compute_{f}")(rolling_window=window)
    return ts


@pytest.mark.parametrize(("bandwidth", "window"), [(16.2, 0.5), (0.2, 0.25), (0.05, 0.75)])
def test_matches_ewstools(series, bandwidth, window):
    ts = _ewstools(series, bandwidth, window)
    trend = gaussian_smooth(series, gaussian_sigma(bandwidth, series.size, "ksmooth"))
    np.testing.assert_allclose(trend, ts.state["smoothing"].to_numpy(), rtol=0, atol=1e-10)
    ind = rolling_indicators(series - trend, window, ar1="pearson", state=series)
    pairs = {"variance": "variance", "ar1": "ac1", "sd": "std", "cv": "cv"}
    pairs |= {"skewness": "skew", "kurtosis": "kurtosis"}
    for ours, theirs in pairs.items():
        np.testing.assert_allclose(ind[ours], ts.ews[theirs].to_numpy(), rtol=0, atol=1e-10)


def test_lowess_detrending_matches_ewstools(series):
    ewstools = pytest.importorskip("ewstools")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ts = ewstools.TimeSeries(pd.Series(series))
        ts.detrend(method="Lowess", span=0.25)
        ts.compute_var(rolling_window=0.5)
        ts.compute_auto(rolling_window=0.5, lag=1)
    trend = loess_smooth(series, 0.25)
    np.testing.assert_allclose(trend, ts.state["smoothing"].to_numpy(), atol=1e-6)
    ind = rolling_indicators(series - trend, 0.5, ar1="pearson")
    np.testing.assert_allclose(ind["variance"], ts.ews["variance"].to_numpy(), atol=1e-6)
    np.testing.assert_allclose(ind["ar1"], ts.ews["ac1"].to_numpy(), atol=1e-6)


def test_pyveg_bandwidth_is_sigma_in_samples(series):
    pyveg = gaussian_smooth(series, gaussian_sigma(6, series.size))
    np.testing.assert_allclose(pyveg, ndimage.gaussian_filter1d(series, 6.0, mode="reflect"))
    assert gaussian_sigma(16.2, series.size, "ksmooth") == pytest.approx(6.0)


def test_gaussian_repeated_reflection_short_series():
    x = np.array([3.0, 1.0, 4.0, 1.0, 5.0])
    np.testing.assert_allclose(gaussian_smooth(x, 3.0), ndimage.gaussian_filter1d(x, 3.0))


def test_gaussian_gap_renormalises_weights():
    x = np.arange(20.0)
    x[7] = np.nan
    out = gaussian_smooth(x, 1.0, truncate=2.0)
    assert np.isnan(out[7])
    k = np.exp(-0.5 * np.arange(-2, 3) ** 2)
    vals = np.array([4.0, 5.0, 6.0, 8.0])  # neighbours of 6, sample 7 missing
    w = k[[0, 1, 2, 4]]
    assert out[6] == pytest.approx((w * vals).sum() / w.sum())


def test_ols_and_acf_estimators_against_numpy(series):
    w = 40
    ind_ols = rolling_indicators(series, w, ar1="ols")
    ind_acf = rolling_indicators(series, w, ar1="acf")
    for end in (w - 1, 80, series.size - 1):
        y = series[end - w + 1 : end + 1]
        y = y - y.mean()
        ols = np.linalg.lstsq(y[:-1, None], y[1:], rcond=None)[0][0]
        assert ind_ols["ar1"][end] == pytest.approx(ols, abs=1e-12)
        assert ind_acf["ar1"][end] == pytest.approx((y[1:] @ y[:-1]) / (y @ y), abs=1e-12)
        assert ind_ols["return_rate"][end] == pytest.approx(1 - ols, abs=1e-12)
    assert np.isnan(ind_ols["ar1"][: w - 1]).all()


def test_gaps_are_masked_not_interpolated(series):
    x = series.copy()
    x[[10, 11, 50]] = np.nan
    w = 30
    ind = rolling_indicators(x, w, ar1="pearson")
    s = pd.Series(x)
    ref_var = s.rolling(w, min_periods=1).var()
    ref_ac = s.rolling(w).apply(lambda v: pd.Series(v).autocorr(1), raw=True)
    for end in (35, 40, 55, 70):
        assert ind["variance"][end] == pytest.approx(ref_var[end], abs=1e-12)
        win = x[end - w + 1 : end + 1]
        a, b = win[:-1], win[1:]
        ok = ~np.isnan(a) & ~np.isnan(b)
        assert ind["ar1"][end] == pytest.approx(np.corrcoef(a[ok], b[ok])[0, 1], abs=1e-12)
        assert ind["missing_fraction"][end] == pytest.approx(np.isnan(win).mean())
    assert np.isnan(ref_ac[35])  # pandas' rolling apply does not mask; we do
    many = x.copy()
    many[60:80] = np.nan
    assert np.isnan(rolling_indicators(many, w)["ar1"][85])  # > half the window missing


def test_long_series_match_two_pass_numpy_per_window():
    # The kernel slides running sums; a far level (1e3) and small noise stress their precision.
    rng = np.random.default_rng(8)
    n, w = 3000, 1500
    x = 1e3 + 1e-2 * _ar1_series(0.5, n, 8)
    x[rng.random(n) < 0.1] = np.nan
    x[2000:2040] = np.nan
    out = {est: rolling_indicators(x, 0.5, ar1=est) for est in ("pearson", "ols", "acf")}
    for end in (w - 1, w + 7, 2023, 2500, n - 1):
        win = x[end - w + 1 : end + 1]
        v = win[~np.isnan(win)]
        d = v - v.mean()
        a, b = win[:-1], win[1:]
        ok = ~np.isnan(a) & ~np.isnan(b)
        da, db = a[ok] - v.mean(), b[ok] - v.mean()
        assert out["ols"]["variance"][end] == pytest.approx(np.var(v, ddof=1), rel=1e-9)
        # Skewness and kurtosis are scale-free and near 0 here: absolute tolerances.
        assert out["ols"]["skewness"][end] == pytest.approx(stats.skew(v, bias=False), abs=1e-8)
        kurtosis = stats.kurtosis(v, bias=False)
        assert out["ols"]["kurtosis"][end] == pytest.approx(kurtosis, abs=1e-8)
        pearson = np.corrcoef(a[ok], b[ok])[0, 1]
        assert out["pearson"]["ar1"][end] == pytest.approx(pearson, abs=1e-9)
        assert out["ols"]["ar1"][end] == pytest.approx((da @ db) / (da @ da), abs=1e-9)
        assert out["acf"]["ar1"][end] == pytest.approx((da @ db) / (d @ d), abs=1e-9)


def test_wide_gaussian_kernel_matches_scipy_and_renormalises_at_gaps():
    # sigma 300: a 2401-tap kernel, wider than the 1000-sample series (repeated reflection).
    rng = np.random.default_rng(4)
    x = np.cumsum(rng.standard_normal(1000))
    np.testing.assert_allclose(
        gaussian_smooth(x, 300.0), ndimage.gaussian_filter1d(x, 300.0), rtol=0, atol=1e-11
    )
    gappy = x.copy()
    gappy[rng.random(1000) < 0.2] = np.nan
    out = gaussian_smooth(gappy, 40.0)
    assert np.array_equal(np.isnan(out), np.isnan(gappy))
    taps = np.exp(-0.5 * (np.arange(-160, 161) / 40.0) ** 2)
    padded = np.pad(gappy, 160, mode="symmetric")  # scipy's "reflect"
    for i in (0, 10, 500, 999):
        if np.isnan(gappy[i]):
            continue
        window = padded[i : i + 321]
        ok = ~np.isnan(window)
        expected = (taps[ok] * window[ok]).sum() / taps[ok].sum()
        assert out[i] == pytest.approx(expected, rel=1e-12)


def test_vectorised_over_leading_axes(series):
    stack = np.stack([series, series[::-1], 2 * series]).reshape(3, 1, -1)
    out = rolling_indicators(stack, 0.5)
    single = rolling_indicators(series[::-1], 0.5)
    np.testing.assert_array_equal(out["ar1"][1, 0], single["ar1"])
    np.testing.assert_allclose(out["variance"][2, 0], 4 * out["variance"][0, 0])
    tau, _ = kendall_tau(out["ar1"])
    assert tau.shape == (3, 1)
    np.testing.assert_allclose(loess_smooth(stack, 0.3)[2, 0], 2 * loess_smooth(series, 0.3))


def test_loess_against_statsmodels(series):
    from statsmodels.nonparametric.smoothers_lowess import lowess

    for frac, it in ((4 / 120, 3), (0.3, 0), (0.1, 3)):
        ref = lowess(series, np.arange(series.size), frac=frac, it=it, return_sorted=False)
        np.testing.assert_allclose(loess_smooth(series, frac, it=it), ref, atol=1e-6)


def test_arma_fit_against_statsmodels():
    from statsmodels.tsa.arima.model import ARIMA

    rng = np.random.default_rng(5)
    n = 3000
    e = rng.standard_normal(n + 1)
    x = np.zeros(n + 1)
    for t in range(2, n + 1):
        x[t] = 0.5 * x[t - 1] - 0.3 * x[t - 2] + e[t] + 0.4 * e[t - 1]
    x = x[1:]
    ours = fit_arma(x, p_range=(2, 2), q_range=(1, 1))
    ref = ARIMA(x, order=(2, 0, 1), trend="n").fit()
    np.testing.assert_allclose(ours.ar, ref.arparams, atol=0.05)
    np.testing.assert_allclose(ours.ma, ref.maparams, atol=0.05)
    assert ours.sigma2 == pytest.approx(ref.params[-1], rel=0.05)


def test_arma_selects_ar1_for_ar1():
    x = _ar1_series(0.7, 600, seed=2)
    fit = fit_arma(x)
    assert fit.order[0] >= 1
    sim = simulate_arma(fit, 600, 200, seed=0)
    ac = [np.corrcoef(s[:-1], s[1:])[0, 1] for s in sim]
    assert np.mean(ac) == pytest.approx(0.7, abs=0.05)


def test_simulation_is_seeded():
    fit = ArmaFit(np.array([0.5, 0.1]), np.array([0.3]), 2.0, 0.0)
    a = simulate_arma(fit, 50, 4, seed=7)
    np.testing.assert_array_equal(a, simulate_arma(fit, 50, 4, seed=7))
    assert not np.array_equal(a, simulate_arma(fit, 50, 4, seed=8))
    big = simulate_arma(ArmaFit(np.array([0.0]), np.array([]), 4.0, 0.0), 2000, 2, seed=1)
    assert big.std() == pytest.approx(2.0, rel=0.05)


def _detrended(x, bandwidth=0.1):
    return x - gaussian_smooth(x, gaussian_sigma(bandwidth, x.size, "ksmooth"))


def test_ramping_ar1_is_detected():
    x = _ar1_series(np.linspace(0.1, 0.9, 200), 200, seed=11)
    res = surrogate_test(_detrended(x), 0.5, n_surrogates=1000, seed=0)
    assert res["ar1"]["kendall_tau"] > 0.7
    assert res["ar1"]["p_value"] < 0.05
    assert res["n_surrogates"] == 1000


def test_false_positive_rate_is_honest():
    # Measured over 1000 seeds (not in the test): 5.3 % of p-values < 0.05, i.e. calibrated.
    pvals = []
    for seed in range(50):
        x = _ar1_series(0.5, 120, seed=seed)
        res = surrogate_test(_detrended(x), 0.5, indicators=("ar1",), seed=seed)
        pvals.append(res["ar1"]["p_value"])
    assert np.mean(np.array(pvals) > 0.05) >= 0.9


def test_fold_bifurcation_rising_ar1_and_variance():
    # Harvested logistic resource (May 1977): dx = [r x (1 - x/K) - c x^2/(x^2 + 1)] dt + s dW
    # with r = 1, K = 10 and the harvest c rising slowly towards the fold at c ~ 2.604.
    rng = np.random.default_rng(0)
    dt, steps_per_sample, n = 0.1, 10, 1000
    c = np.linspace(1.0, 2.6, n)
    x = 8.5
    out = np.empty(n)
    for i in range(n):
        for _ in range(steps_per_sample):
            drift = x * (1 - x / 10) - c[i] * x**2 / (x**2 + 1)
            x += drift * dt + 0.2 * np.sqrt(dt) * rng.standard_normal()
        out[i] = x
    assert out[-1] > 3  # still on the upper branch: pre-transition
    res = surrogate_test(_detrended(out), 0.5, n_surrogates=500, seed=1)
    for name in ("ar1", "variance"):
        assert res[name]["kendall_tau"] > 0.7
        assert res[name]["p_value"] < 0.05


def test_benjamini_hochberg_against_statsmodels():
    from statsmodels.stats.multitest import multipletests

    p = np.random.default_rng(0).uniform(0, 0.2, (7, 9))
    p[0, 0] = np.nan
    q, sig = benjamini_hochberg(p, 0.05)
    ok = np.isfinite(p)
    rej, qref, _, _ = multipletests(p[ok], 0.05, method="fdr_bh")
    np.testing.assert_allclose(q[ok], qref)
    np.testing.assert_array_equal(sig[ok], rej)
    assert not sig[0, 0]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: rolling_indicators(np.ones(10), 0.5, ar1="yule"), "ar1 estimator"),
        (lambda: rolling_indicators(np.ones(10), 0.1), "rolling window"),
        (lambda: gaussian_sigma(2, 10, "R"), "convention"),
        (lambda: loess_smooth(np.ones(10), 0.0), "frac"),
        (lambda: fit_arma(np.ones(12)), "too short"),
        (lambda: surrogate_test(np.ones(50), indicators=("entropy",)), "cannot test"),
        (lambda: surrogate_test(np.ones(50), indicators=("cv",)), "cannot test"),
    ],
)
def test_bad_input_is_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()
