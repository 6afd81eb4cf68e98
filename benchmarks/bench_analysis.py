"""Early-warning analysis: rolling indicators, Kendall tau, surrogate tests and per-tile maps.

Targets (issue 10): the whole EWS (Gaussian detrending, five rolling indicators, their Kendall taus)
of one 10,000-point series >= 20x faster than ewstools 2.x, of 100 series of 500 points >= 100x;
``kendall_tau`` within 3x of scipy at n = 50,000; 1000 ARMA surrogates for a 120-point series in
well under a second; per-tile maps of 400 tiles x 48 periods in seconds. The ``track_*`` ratios time
both sides in the same process, one after the other (best of a few repeats each).
"""

import time
import warnings

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from vegdask.analysis import pooled_early_warning, tile_indicator_maps
from vegdask.kernels import (
    gaussian_sigma,
    gaussian_smooth,
    kendall_tau,
    rolling_indicators,
    surrogate_test,
)
from vegdask.testing import SITE_CONDITIONS, pooled_rejection_rate, simulated_site

_FIVE = ("variance", "sd", "ar1", "skewness", "kurtosis")


def ar1_ramp(n, seed=0, phi0=0.1, phi1=0.9):
    rng = np.random.default_rng(seed)
    phi = np.linspace(phi0, phi1, n)
    x = np.zeros(n)
    for t in range(1, n):
        x[t] = phi[t] * x[t - 1] + rng.standard_normal()
    return x


def _ews(x):
    """Gaussian detrending (ksmooth 0.2) + var, sd, AR1, skew, kurt over half the series."""
    resid = x - gaussian_smooth(x, gaussian_sigma(0.2, x.shape[-1], "ksmooth"))
    return rolling_indicators(resid, 0.5, ar1="pearson", state=x)


def _ews_with_taus(x):
    """The whole EWS of every row of ``x``: :func:`_ews` and the five indicators' Kendall taus."""
    ind = _ews(x)
    return kendall_tau(np.stack([ind[k] for k in _FIVE]))


def _ewstools_ews(x):
    """The same with ewstools (test-only dependency) for one series."""
    import ewstools

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ts = ewstools.TimeSeries(pd.Series(x))
        ts.detrend(method="Gaussian", bandwidth=0.2)
        ts.compute_var(rolling_window=0.5)
        ts.compute_std(rolling_window=0.5)
        ts.compute_auto(rolling_window=0.5, lag=1)
        ts.compute_skew(rolling_window=0.5)
        ts.compute_kurt(rolling_window=0.5)
        ts.compute_ktau()
    return ts


def _require_ewstools():
    try:
        import ewstools  # noqa: F401
    except ImportError as err:  # pragma: no cover
        raise NotImplementedError("ewstools not installed (pip install -e '.[test]')") from err


def _best_of(func, repeat):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


class RollingIndicators:
    params = [120, 480]
    param_names = ["n"]

    def setup(self, n):
        self.x = ar1_ramp(n)
        _ews(self.x)  # compile outside the timing

    def time_detrend_and_indicators(self, n):
        _ews(self.x)


class EwstoolsReference:
    """The same computation with ewstools 2.1 (test-only dependency), for the ratio."""

    params = [120, 480]
    param_names = ["n"]

    def setup(self, n):
        _require_ewstools()
        self.x = ar1_ramp(n)

    def time_ewstools(self, n):
        _ewstools_ews(self.x)


class WholeEwsVsEwstools:
    """Detrending, five indicators and their taus: vegdask (all rows in one call) vs ewstools.

    Cases: one 10,000-point series (target >= 20x), 100 series of 500 points (target >= 100x).
    """

    params = ["1x10000", "100x500"]
    param_names = ["series"]
    timeout = 600

    def setup(self, case):
        _require_ewstools()
        count, n = (int(v) for v in case.split("x"))
        self.x = np.stack([ar1_ramp(n, seed=s) for s in range(count)])
        _ews_with_taus(self.x)  # compile outside the timing

    def time_vegdask(self, case):
        _ews_with_taus(self.x)

    def time_ewstools(self, case):
        for row in self.x:
            _ewstools_ews(row)

    def track_speedup_over_ewstools(self, case):
        ours = _best_of(lambda: _ews_with_taus(self.x), 20)
        theirs = _best_of(lambda: [_ewstools_ews(row) for row in self.x], 3)
        return theirs / ours

    track_speedup_over_ewstools.unit = "x"


class KendallVsScipy:
    """``kendall_tau`` against ``scipy.stats.kendalltau`` at n = 50,000 (target: within 3x)."""

    def setup(self):
        self.y = np.random.default_rng(0).standard_normal(50_000)
        self.t = np.arange(self.y.size)
        kendall_tau(self.y[:100])  # compile outside the timing

    def time_vegdask(self):
        kendall_tau(self.y)

    def time_scipy(self):
        stats.kendalltau(self.t, self.y)

    def track_time_over_scipy(self):
        ours = _best_of(lambda: kendall_tau(self.y), 10)
        return ours / _best_of(lambda: stats.kendalltau(self.t, self.y), 10)

    track_time_over_scipy.unit = "x"


class SurrogateTest:
    params = [100, 1000]
    param_names = ["n_surrogates"]

    def setup(self, n_surrogates):
        x = ar1_ramp(120)
        self.resid = x - gaussian_smooth(x, 6.0)
        surrogate_test(self.resid, n_surrogates=10)  # compile

    def time_surrogate_test_120(self, n_surrogates):
        surrogate_test(self.resid, 0.5, n_surrogates=n_surrogates, seed=1)


class TileMaps:
    """Per-tile indicators, taus, 200-surrogate p-values and BH FDR: 20x20 tiles x 48 periods."""

    timeout = 300

    def setup(self):
        rng = np.random.default_rng(0)
        n_time, ny, nx = 48, 20, 20
        noise = np.zeros((ny, nx, n_time))
        for t in range(1, n_time):
            noise[..., t] = 0.5 * noise[..., t - 1] + rng.standard_normal((ny, nx))
        self.da = xr.DataArray(
            np.moveaxis(noise, -1, 0),
            dims=("time", "tile_y", "tile_x"),
            coords={"time": pd.date_range("2016-01-16", periods=n_time, freq="30D")},
        ).chunk({"tile_y": 10, "tile_x": 10})
        tile_indicator_maps(self.da.isel(tile_y=slice(0, 1), tile_x=slice(0, 2)), n_surrogates=5)

    def time_tile_maps_400x48(self):
        tile_indicator_maps(self.da, n_surrogates=200)

    def time_tile_rolling_only_400x48(self):
        resid = self.da.values - gaussian_smooth(np.moveaxis(self.da.values, 0, -1), 6.0).transpose(
            2, 0, 1
        )
        rolling_indicators(np.moveaxis(resid, 0, -1), 0.5)


class PixelMaps:
    """Per-pixel indicators and taus (no surrogates) of a 200x200-pixel, 120-period cube."""

    timeout = 300

    def setup(self):
        rng = np.random.default_rng(1)
        self.da = xr.DataArray(
            rng.standard_normal((120, 200, 200)),
            dims=("time", "y", "x"),
            coords={"time": pd.date_range("2010-01-16", periods=120, freq="30D")},
        ).chunk({"y": 100, "x": 100})
        tile_indicator_maps(self.da.isel(y=slice(0, 2), x=slice(0, 2)), n_surrogates=0)

    def time_pixel_maps_200x200x120(self):
        tile_indicator_maps(self.da, n_surrogates=0)


class PooledEarlyWarning:
    """The pooled test of a 300-tile x 120-period site with 1000 surrogates (target <= 10 s on
    one core: run with OMP_NUM_THREADS=1)."""

    timeout = 300

    def setup(self):
        self.site = simulated_site(300, 120, share=0.3, phi=(0.2, 0.8), missing=0.1, seed=0)
        pooled_early_warning(self.site.iloc[:, :3], n_surrogates=2)  # compiled (or cached)

    def time_pooled_300x120_1000_surrogates(self):
        pooled_early_warning(self.site, n_surrogates=1000)


class PooledValidity:
    """False-positive rate (target <= 0.07 at alpha 0.05) and power (targets >= 0.9 at share 0.2,
    >= 0.5 at share 0.5) of the pooled AR(1) test at its defaults (1000 surrogates), 100
    simulated sites per rate (vegdask.testing.SITE_CONDITIONS; benchmarks/pooled_power.py prints
    the same rates as a table)."""

    params = list(SITE_CONDITIONS)
    param_names = ["site"]
    timeout = 3600

    def track_false_positive_rate(self, site):
        return pooled_rejection_rate(100, ramp=False, **SITE_CONDITIONS[site])

    def track_power(self, site):
        return pooled_rejection_rate(100, ramp=True, **SITE_CONDITIONS[site])

    track_false_positive_rate.unit = "share of sites"
    track_power.unit = "share of sites"
