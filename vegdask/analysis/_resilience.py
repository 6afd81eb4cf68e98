"""Early-warning indicators of one series and their sensitivity (per-tile maps: ``_tile_maps``).

Wraps the kernels of :mod:`vegdask.kernels` (detrending, rolling indicators, Kendall tau,
ARMA surrogates) for pandas series and xarray/dask tile cubes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import xarray as xr

from vegdask import config
from vegdask._options import DETREND_METHODS
from vegdask.kernels import (
    gaussian_sigma,
    gaussian_smooth,
    kendall_tau,
    loess_smooth,
    rolling_indicators,
    surrogate_test,
    window_length,
)

__all__ = [
    "GRIDS",
    "TESTED_INDICATORS",
    "EarlyWarning",
    "EwsOptions",
    "SensitivityGrid",
    "detrend",
    "early_warning",
    "sensitivity",
]

#: Indicators tested by default (trend and surrogate p-value).
TESTED_INDICATORS: tuple[str, ...] = (
    "ar1",
    "variance",
    "sd",
    "skewness",
    "kurtosis",
    "return_rate",
)


class SensitivityGrid(NamedTuple):
    """Rolling windows (fractions of n) x Gaussian bandwidths, and the bandwidths' convention."""

    windows: tuple[float, ...]
    bandwidths: tuple[float, ...]
    convention: str


#: Sensitivity grids (bandwidths as :func:`vegdask.kernels.gaussian_sigma` reads them).
GRIDS: dict[str, SensitivityGrid] = {
    # pyveg: np.arange(0.10, 0.81, 0.10) x np.arange(0.05, 1.01, 0.2) under ewstools 1.0.0,
    # where a bandwidth in (0, 1] is sigma as a fraction of n: sigma = bw * n.
    "pyveg": SensitivityGrid(
        (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8),
        (0.05, 0.25, 0.45, 0.65, 0.85),
        "sigma",
    ),
    # earlywarnings-R sensitivity_ews: windows 25..75 %, bandwidths 5..100 % (coarser steps here).
    "earlywarnings": SensitivityGrid(
        (0.25, 0.35, 0.45, 0.55, 0.65, 0.75),
        (0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0),
        "ksmooth",
    ),
}


def detrend(
    values: Any,
    *,
    method: str | None = None,
    bandwidth: float | None = None,
    convention: str | None = None,
    span: float | None = None,
) -> np.ndarray:
    """Return the trend of a series (last axis) to subtract: Gaussian kernel, LOESS or none.

    ``method`` is ``"gaussian"``, ``"loess"`` or ``"none"`` (the mean only);
    ``bandwidth``/``convention`` as :func:`vegdask.kernels.gaussian_sigma` (pyveg's sigma = 6
    samples); ``span`` is the LOESS fraction. Each left as None takes its ``vegdask.analysis``
    setting (``detrend``, ``bandwidth``, ``bandwidth-convention``, ``loess-span``).

    Examples
    --------
    >>> detrend(np.arange(5.0), method="none")
    array([2., 2., 2., 2., 2.])
    """
    method = config.get("analysis.detrend", method)
    arr = np.asarray(values, dtype=np.float64)
    if method == "gaussian":
        bandwidth = config.get("analysis.bandwidth", bandwidth)
        convention = config.get("analysis.bandwidth-convention", convention)
        return gaussian_smooth(arr, gaussian_sigma(bandwidth, arr.shape[-1], convention))
    if method == "loess":
        return loess_smooth(arr, config.get("analysis.loess-span", span))
    if method == "none":
        return np.broadcast_to(_nanmean_last(arr), arr.shape).copy()
    raise ValueError(f"detrend method must be one of {DETREND_METHODS}, got {method!r}")


# EwsOptions' fields that are settings: field -> vegdask.analysis.<key>.
_EWS_SETTINGS = {
    "window": "window",
    "detrend_method": "detrend",
    "bandwidth": "bandwidth",
    "convention": "bandwidth-convention",
    "span": "loess-span",
    "ar1": "ar1",
    "n_surrogates": "n-surrogates",
    "seed": "seed",
    "interpolate_gaps": "interpolate-gaps",
}


@dataclass(frozen=True)
class EwsOptions:
    """The method of :func:`early_warning` and :func:`pooled_early_warning`, every field set.

    Built by :meth:`resolve`, where a keyword left as None takes its ``vegdask.analysis``
    setting (``vegdask.yaml``; ``dask.config.set`` changes it).

    Parameters
    ----------
    window : float
        Rolling window: a fraction of the series (0.5) or a number of samples.
    detrend_method : {"gaussian", "loess", "none"}
        Detrending before the indicators (:func:`detrend`).
    bandwidth, convention
        Gaussian bandwidth and its convention (:func:`vegdask.kernels.gaussian_sigma`; pyveg's
        sigma = 6 samples).
    span : float
        LOESS fraction (``detrend_method="loess"``).
    ar1 : {"ols", "pearson", "acf"}
        AR(1) estimator (:data:`vegdask.kernels.AR1_ESTIMATORS`).
    indicators : tuple of str
        Indicators computed and tested (default :data:`TESTED_INDICATORS`).
    n_surrogates, seed
        Surrogates of the significance test and their seed.
    interpolate_gaps : bool
        Fill interior gaps linearly first (inflates AR(1)); otherwise gaps are masked.
    """

    window: float
    detrend_method: str
    bandwidth: float
    convention: str
    span: float
    ar1: str
    indicators: tuple[str, ...]
    n_surrogates: int
    seed: int
    interpolate_gaps: bool

    @classmethod
    def resolve(cls, indicators: tuple[str, ...] | None = None, **options: Any) -> EwsOptions:
        """The options given, the others from the settings (unknown names: TypeError).

        Examples
        --------
        >>> EwsOptions.resolve(window=0.25).window, EwsOptions.resolve().detrend_method
        (0.25, 'gaussian')
        >>> EwsOptions.resolve(windw=0.25)
        Traceback (most recent call last):
        ...
        TypeError: unknown early-warning option 'windw'; allowed: ['ar1', 'bandwidth', \
'convention', 'detrend_method', 'indicators', 'interpolate_gaps', 'n_surrogates', 'seed', \
'span', 'window']
        """
        unknown = sorted(set(options) - set(_EWS_SETTINGS))
        if unknown:
            allowed = sorted([*_EWS_SETTINGS, "indicators"])
            raise TypeError(f"unknown early-warning option {unknown[0]!r}; allowed: {allowed}")
        resolved = {
            name: config.get(f"analysis.{key}", options.get(name))
            for name, key in _EWS_SETTINGS.items()
        }
        return cls(indicators=tuple(indicators or TESTED_INDICATORS), **resolved)

    def trend(self, values: np.ndarray) -> np.ndarray:
        """The trend of ``values`` (last axis: time) that the indicators' residuals leave out."""
        return detrend(
            values,
            method=self.detrend_method,
            bandwidth=self.bandwidth,
            convention=self.convention,
            span=self.span,
        )

    def params(
        self, n: int, *, gaps: int, arma_order: list[int] | None, max_missing_fraction: float
    ) -> dict[str, Any]:
        """The parameters every indicator's stats carry (a series of ``n`` samples)."""
        return {
            "window": self.window,
            "window_samples": window_length(n, self.window),
            "interpolated_gaps": gaps if self.interpolate_gaps else 0,
            "detrend": self.detrend_method,
            "bandwidth": self.bandwidth,
            "bandwidth_convention": self.convention,
            "ar1_estimator": self.ar1,
            "n_surrogates": self.n_surrogates,
            "seed": self.seed,
            "arma_order": arma_order,
            "max_missing_fraction": max_missing_fraction,
        }

    def asdict(self) -> dict[str, Any]:
        """The fields as a dict."""
        return asdict(self)


@dataclass
class EarlyWarning:
    """Indicators of one series and the significance of their trends."""

    name: str
    frame: pd.DataFrame
    stats: dict[str, dict[str, Any]]
    surrogate_taus: dict[str, np.ndarray]
    params: dict[str, Any]


def early_warning(
    series: pd.Series,
    *,
    window: float | None = None,
    detrend_method: str | None = None,
    bandwidth: float | None = None,
    convention: str | None = None,
    span: float | None = None,
    ar1: str | None = None,
    indicators: tuple[str, ...] | None = None,
    n_surrogates: int | None = None,
    seed: int | None = None,
    interpolate_gaps: bool | None = None,
) -> EarlyWarning:
    """Detrend, compute rolling indicators, Kendall tau trends and ARMA-surrogate p-values.

    Gaps (NaN) are masked: every indicator uses the valid samples of its window. With
    ``interpolate_gaps=True`` interior gaps are filled linearly first (as pyveg did, with monthly
    means); this inflates AR(1) and is recorded as ``interpolated_gaps`` in the stats.

    Parameters
    ----------
    series : pandas.Series
        The series (NaN where missing).
    window, detrend_method, bandwidth, convention, span, ar1, indicators, n_surrogates, seed, \
interpolate_gaps
        The method, as :class:`EwsOptions`' fields; each left as None takes its
        ``vegdask.analysis`` setting (``indicators``: :data:`TESTED_INDICATORS`).

    Returns
    -------
    EarlyWarning
        ``frame`` has columns ``state``, ``trend``, ``residuals`` and one per indicator (plus
        ``missing_fraction``); ``stats[indicator]`` holds ``kendall_tau``, ``p_value`` (surrogate
        test, one-sided for a rise), ``kendall_p_value`` (scipy's default: exact for short
        untied series, else asymptotic; for reference only: it ignores the autocorrelation of
        rolling values), ``window``, ``bandwidth`` ...

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> series = pd.Series(rng.standard_normal(120).cumsum(), name="offset50_mean")
    >>> ews = early_warning(series, n_surrogates=99, seed=1)
    >>> sorted(ews.stats["ar1"])[:4], ews.params["window_samples"]
    (['ar1_estimator', 'arma_order', 'bandwidth', 'bandwidth_convention'], 60)
    """
    opts = EwsOptions.resolve(
        window=window,
        detrend_method=detrend_method,
        bandwidth=bandwidth,
        convention=convention,
        span=span,
        ar1=ar1,
        indicators=indicators,
        n_surrogates=n_surrogates,
        seed=seed,
        interpolate_gaps=interpolate_gaps,
    )
    gaps = int(series.isna().sum())
    if opts.interpolate_gaps:
        series = series.interpolate(limit_area="inside")
    values = series.to_numpy(dtype=np.float64)
    trend = opts.trend(values)
    resid = values - trend
    test = surrogate_test(
        resid,
        opts.window,
        ar1=opts.ar1,
        indicators=surrogate_indicators(opts.indicators),
        n_surrogates=opts.n_surrogates,
        seed=opts.seed,
    )
    rolled = rolling_indicators(resid, opts.window, ar1=opts.ar1, state=values)
    frame = pd.DataFrame({"state": values, "trend": trend, "residuals": resid}, index=series.index)
    for name in (*opts.indicators, "missing_fraction"):
        frame[name] = rolled[name]
    params = opts.params(
        values.size,
        gaps=gaps,
        arma_order=list(test["arma_order"]),
        max_missing_fraction=float(np.nanmax(rolled["missing_fraction"])),
    )
    trends = {name: kendall_tau(rolled[name]) for name in opts.indicators}
    stats, taus = indicator_stats(
        opts.indicators,
        test,
        {name: (float(tau), float(kp)) for name, (tau, kp) in trends.items()},
        params,
    )
    return EarlyWarning(str(series.name), frame, stats, taus, params)


def indicator_trends(series: pd.Series, **options: Any) -> dict[str, float]:
    """Each indicator's Kendall tau as :func:`early_warning` computes it, without its test.

    For series too short for the surrogates' ARMA model (e.g. 24 monthly periods): the trends
    can still be given; empty when the series is too short for the rolling window too.

    Examples
    --------
    >>> series = pd.Series(np.random.default_rng(0).standard_normal(60))
    >>> round(indicator_trends(series)["ar1"], 3) == round(
    ...     early_warning(series, n_surrogates=9).stats["ar1"]["kendall_tau"], 3
    ... )
    True
    """
    opts = EwsOptions.resolve(**options)
    if opts.interpolate_gaps:
        series = series.interpolate(limit_area="inside")
    values = series.to_numpy(dtype=np.float64)
    try:
        resid = values - opts.trend(values)
        rolled = rolling_indicators(resid, opts.window, ar1=opts.ar1, state=values)
    except ValueError:
        return {}
    return {name: float(kendall_tau(rolled[name])[0]) for name in opts.indicators}


def surrogate_indicators(indicators: tuple[str, ...]) -> tuple[str, ...]:
    """The indicators a surrogate test computes for ``indicators``.

    ``return_rate`` is 1 - AR(1): its test is AR(1)'s, mirrored; ``cv`` has no surrogate test
    (it needs the undetrended level, which residual surrogates lack).

    Examples
    --------
    >>> surrogate_indicators(("return_rate", "cv", "variance"))
    ('ar1', 'variance')
    """
    wanted = ("ar1",) * ("return_rate" in indicators) + tuple(indicators)
    return tuple(i for i in dict.fromkeys(wanted) if i not in ("return_rate", "cv"))


def indicator_stats(
    indicators: tuple[str, ...],
    test: dict[str, dict[str, Any]],
    trends: dict[str, tuple[float, float | None]],
    params: dict[str, Any],
) -> tuple[dict[str, dict[str, Any]], dict[str, np.ndarray]]:
    """Each indicator's stats and surrogate statistics from a surrogate ``test``.

    ``trends[name]`` is the indicator's (tau, textbook Kendall p-value), used for the tau of
    indicators without a surrogate test. ``return_rate`` mirrors AR(1)'s test: its tau is minus
    AR(1)'s and a *fall* signals critical slowing down.
    """
    stats: dict[str, dict[str, Any]] = {}
    taus: dict[str, np.ndarray] = {}
    for name in indicators:
        tau, kp = trends[name]
        if name == "return_rate":
            src = test["ar1"]
            entry = {"kendall_tau": -src["kendall_tau"], "p_value": src["p_value"]}
            taus[name] = -src["surrogate_taus"]
        elif name in test:
            entry = {k: test[name][k] for k in ("kendall_tau", "p_value")}
            taus[name] = test[name]["surrogate_taus"]
        else:
            entry = {"kendall_tau": tau, "p_value": None}
        stats[name] = {**entry, "kendall_p_value": kp, **params}
    return stats, taus


def sensitivity(
    series: pd.Series,
    *,
    grid: str | None = None,
    indicators: tuple[str, ...] = ("ar1", "variance"),
    ar1: str | None = None,
    n_surrogates: int | None = None,
    seed: int | None = None,
    alpha: float | None = None,
) -> xr.Dataset:
    """Kendall tau and surrogate p-value over a grid of windows x Gaussian bandwidths.

    Bandwidths are fractions of the series length in the grid's convention: ``"pyveg"`` as
    ewstools 1.0.0 (sigma = bandwidth x n), ``"earlywarnings"`` as R ``ksmooth`` (ewstools >=
    1.0.1). Returns a Dataset with ``kendall_tau`` and ``p_value`` (indicator, bandwidth,
    window) and attrs ``share_significant_<indicator>`` (share of cells with p < alpha).
    ``grid``, ``ar1``, ``n_surrogates``, ``seed`` and ``alpha`` left as None take the
    ``vegdask.analysis`` settings ``sensitivity-grid``, ``ar1``, ``sensitivity-surrogates``,
    ``seed`` and ``alpha``.

    Examples
    --------
    >>> series = pd.Series(np.random.default_rng(0).standard_normal(80))
    >>> sens = sensitivity(series, grid="earlywarnings", n_surrogates=9)
    >>> dict(sens.kendall_tau.sizes)
    {'indicator': 2, 'bandwidth': 7, 'window': 6}
    """
    grid = config.get("analysis.sensitivity-grid", grid)
    ar1 = config.get("analysis.ar1", ar1)
    n_surrogates = config.get("analysis.sensitivity-surrogates", n_surrogates)
    seed = config.get("analysis.seed", seed)
    alpha = config.get("analysis.alpha", alpha)
    if grid not in GRIDS:
        raise ValueError(f"grid must be one of {sorted(GRIDS)}, got {grid!r}")
    windows, bandwidths, convention = GRIDS[grid]
    values = series.to_numpy(dtype=np.float64)
    n = values.size
    tau = np.full((len(indicators), len(bandwidths), len(windows)), np.nan)
    pval = np.full_like(tau, np.nan)
    for b, bw in enumerate(bandwidths):
        resid = values - detrend(values, method="gaussian", bandwidth=bw, convention=convention)
        for w, win in enumerate(windows):
            if int(win * n) < 8:
                continue
            res = surrogate_test(
                resid, win, ar1=ar1, indicators=indicators, n_surrogates=n_surrogates, seed=seed
            )
            for i, name in enumerate(indicators):
                tau[i, b, w] = res[name]["kendall_tau"]
                pval[i, b, w] = res[name]["p_value"]
    dims = ("indicator", "bandwidth", "window")
    ds = xr.Dataset(
        {"kendall_tau": (dims, tau), "p_value": (dims, pval)},
        coords={
            "indicator": list(indicators),
            "bandwidth": list(bandwidths),
            "window": list(windows),
        },
        attrs={
            "grid": grid,
            "bandwidth_convention": convention,
            "n_surrogates": n_surrogates,
            "seed": seed,
            "alpha": alpha,
        },
    )
    for i, name in enumerate(indicators):
        ok = np.isfinite(pval[i])
        ds.attrs[f"share_significant_{name}"] = (
            float((pval[i][ok] < alpha).mean()) if ok.any() else None
        )
    return ds


def _nanmean_last(values: np.ndarray) -> np.ndarray:
    """Mean over the last axis ignoring NaN; NaN (without a warning) where all are NaN."""
    count = np.sum(~np.isnan(values), axis=-1, keepdims=True)
    total = np.nansum(values, axis=-1, keepdims=True)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)
