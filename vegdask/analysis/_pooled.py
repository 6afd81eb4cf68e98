"""A location's early-warning verdict from all of its tiles: the pooled test.

Each tile is detrended and gets its rolling indicators and their Kendall taus as
:func:`vegdask.analysis.early_warning` computes them; the pooled statistic and its
phase-randomised panel surrogates are :func:`vegdask.kernels.pooled_surrogate_test`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from vegdask.analysis._resilience import (
    EwsOptions,
    _nanmean_last,
    indicator_stats,
    surrogate_indicators,
)
from vegdask.kernels import (
    kendall_tau,
    pooled_surrogate_test,
    pooled_tau,
    rolling_indicators,
    window_length,
)

__all__ = ["POOLED_METHOD", "PooledEarlyWarning", "pooled_early_warning"]

#: ``params["method"]`` of a pooled test.
POOLED_METHOD = "pooled tile taus, multivariate phase-randomised surrogates"


@dataclass
class PooledEarlyWarning:
    """A panel's pooled early-warning test (:func:`pooled_early_warning`).

    ``stats[indicator]`` holds ``kendall_tau`` (the pooled statistic), ``p_value`` and the
    method's parameters; ``null_stats[indicator]`` the pooled statistic of each surrogate;
    ``tile_taus`` each tile's tau (rows: the tiles used, by label; columns: the indicators).
    """

    name: str
    stats: dict[str, dict[str, Any]]
    null_stats: dict[str, np.ndarray]
    tile_taus: pd.DataFrame
    params: dict[str, Any]


def pooled_early_warning(
    panel: pd.DataFrame | xr.DataArray,
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
    remove_site_mean: bool = True,
) -> PooledEarlyWarning:
    """Test whether early-warning indicators rise across a location's tiles, all tiles at once.

    By default the site's mean over tiles is subtracted from every tile first (each period's
    mean of the valid tiles): what the tiles share (weather, season, site-wide trends; the
    mean series has its own test) goes, and the test asks whether the tiles' *own* dynamics
    slow down, with each tile's evidence nearly independent of the others' (on simulated sites
    whose tiles share half their variance this raised the power from 43 % to 100 %, the
    false-positive rate unchanged: docs/analysis.md). Each tile's series is then detrended and
    gets its rolling indicators and their Kendall taus exactly as :func:`early_warning`
    computes them (same options and defaults). The pooled
    statistic of an indicator is the mean of the tiles' taus weighted by their numbers of valid
    rolling values (the plain mean without gaps). Its p-value comes from ``n_surrogates``
    multivariate phase-randomised surrogates of the panel's residuals (the same random phases
    for every tile, so each tile keeps its autocorrelation and the tiles their
    cross-correlation; gaps filled linearly for the Fourier transform only, then put back):
    ``p = (#{surrogate >= observed} + 1) / (n_surrogates + 1)``, one-sided for a rise (a fall
    for ``return_rate``). ``cv`` gets a pooled tau and no p-value, as in
    :func:`early_warning`.

    Parameters
    ----------
    panel : pandas.DataFrame or xarray.DataArray
        Rows periods (a DatetimeIndex), columns tiles; or a DataArray with dims
        ``("time", "tile")``. NaN gaps are allowed; tiles without a valid sample are dropped.
    window, detrend_method, bandwidth, convention, span, ar1, indicators, n_surrogates, seed, \
interpolate_gaps
        As :func:`early_warning`'s (each left as None takes its ``vegdask.analysis`` setting).
    remove_site_mean : bool
        Subtract the per-period mean over tiles first (default; needs two tiles or more);
        False tests the tiles as they are.

    Returns
    -------
    PooledEarlyWarning
        ``stats[indicator]``: ``kendall_tau`` (pooled), ``p_value``, ``tiles``, ``method``
        and :func:`early_warning`'s parameter fields (``kendall_p_value`` and ``arma_order``
        are None: no textbook p-value or ARMA model applies); ``params`` those fields with
        ``tiles``, ``n_surrogates``, ``seed``, ``method``; ``tile_taus`` and ``null_stats``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> panel = pd.DataFrame(
    ...     rng.standard_normal((48, 5)),
    ...     index=pd.date_range("2016-01-16", periods=48, freq="MS"),
    ...     columns=["a", "b", "c", "d", "e"],
    ... )
    >>> panel["e"] = np.nan
    >>> pooled = pooled_early_warning(panel, n_surrogates=99, seed=1)
    >>> pooled.params["tiles"], list(pooled.tile_taus.index), pooled.null_stats["ar1"].shape
    (4, ['a', 'b', 'c', 'd'], (99,))
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
    frame = _as_frame(panel)
    frame = frame.loc[:, frame.notna().any(axis=0)]
    if frame.shape[1] == 0:
        raise ValueError("the panel has no tile with a valid sample")
    if remove_site_mean and frame.shape[1] < 2:
        raise ValueError("removing the site mean needs at least 2 tiles with valid samples")
    gaps = int(frame.isna().to_numpy().sum())
    if opts.interpolate_gaps:
        frame = frame.interpolate(limit_area="inside")
    level = np.ascontiguousarray(frame.to_numpy(dtype=np.float64).T)  # (tile, time)
    values = level - _nanmean_last(level.T).T if remove_site_mean else level
    resid = values - opts.trend(values)
    test = pooled_surrogate_test(
        resid,
        opts.window,
        ar1=opts.ar1,
        indicators=surrogate_indicators(opts.indicators),
        n_surrogates=opts.n_surrogates,
        seed=opts.seed,
    )
    w = window_length(values.shape[1], opts.window)
    missing = np.lib.stride_tricks.sliding_window_view(np.isnan(values), w, axis=1).mean(-1)
    params = opts.params(
        values.shape[1], gaps=gaps, arma_order=None, max_missing_fraction=float(missing.max())
    )
    params.update(
        tiles=int(values.shape[0]), method=POOLED_METHOD, site_mean_removed=remove_site_mean
    )
    tile_taus, weights = _tile_taus(test, opts.indicators, resid, level, opts.window, opts.ar1)
    trends: dict[str, tuple[float, float | None]] = {
        name: (float(pooled_tau(tile_taus[name].to_numpy(), weights[name])), None)
        for name in opts.indicators
    }
    stats, null_stats = indicator_stats(opts.indicators, test, trends, params)
    tile_taus.index = frame.columns
    name = panel.name if isinstance(panel, xr.DataArray) else None
    return PooledEarlyWarning(str(name or ""), stats, null_stats, tile_taus, params)


def _tile_taus(
    test: dict[str, dict[str, Any]],
    indicators: tuple[str, ...],
    resid: np.ndarray,
    level: np.ndarray,
    window: float,
    ar1: str,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Each tile's tau (tiles x indicators) and weight per indicator.

    ``cv`` (no surrogate test) divides the residuals' SD by the tile's own level, as
    :func:`early_warning`, not by its anomaly from the site mean.
    """
    taus: dict[str, np.ndarray] = {}
    weights: dict[str, np.ndarray] = {}
    for name in indicators:
        source = "ar1" if name == "return_rate" else name
        if source in test:
            sign = -1.0 if name == "return_rate" else 1.0
            taus[name] = sign * test[source]["tile_taus"]
            weights[name] = test[source]["tile_weights"]
        else:  # cv: the level of the undetrended series, as early_warning
            rolled = rolling_indicators(resid, window, ar1=ar1, state=level)[name]
            taus[name] = kendall_tau(rolled)[0]
            weights[name] = np.count_nonzero(np.isfinite(rolled), axis=-1).astype(np.float64)
    return pd.DataFrame(taus), weights


def _as_frame(panel: Any) -> pd.DataFrame:
    """The panel as a (time, tile) DataFrame."""
    if isinstance(panel, xr.DataArray):
        if set(panel.dims) != {"time", "tile"}:
            raise ValueError(
                f"a DataArray panel must have dims ('time', 'tile'), got {tuple(panel.dims)}"
            )
        return panel.transpose("time", "tile").to_pandas()
    if isinstance(panel, pd.DataFrame):
        return panel
    raise TypeError(
        f"panel must be a pandas DataFrame (time x tile) or an xarray DataArray (time, tile), "
        f"got {type(panel).__name__}"
    )
