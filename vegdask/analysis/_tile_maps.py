"""Early-warning indicator maps: rolling indicators, trends and FDR significance per tile.

Each tile's (or pixel's) series is deseasonalised, detrended as :func:`vegdask.analysis.detrend`
does, and tested with the kernels of :mod:`vegdask.kernels`, in parallel over dask chunks.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import xarray as xr

from vegdask import config
from vegdask.analysis._resilience import _nanmean_last, detrend
from vegdask.kernels import (
    benjamini_hochberg,
    kendall_tau,
    rolling_indicators,
    surrogate_test,
)

__all__ = ["tile_indicator_maps"]


def _climatology_anomaly(values: np.ndarray, period: int | None) -> np.ndarray:
    if not period:
        return values
    out = values.copy()
    for phase in range(period):
        out[..., phase::period] -= _nanmean_last(values[..., phase::period])
    return out


def _tile_block(
    values: np.ndarray,
    tile_index: np.ndarray,
    *,
    period: int | None,
    window: float,
    bandwidth: float,
    convention: str,
    ar1: str,
    indicators: tuple[str, ...],
    n_surrogates: int,
    seed: int,
) -> np.ndarray:
    shape = values.shape
    seeds = seed + np.broadcast_to(tile_index, shape[:-1]).ravel()
    flat = _climatology_anomaly(values.reshape(-1, shape[-1]).astype(np.float64), period)
    resid = flat - detrend(flat, method="gaussian", bandwidth=bandwidth, convention=convention)
    rolled = rolling_indicators(resid, window, ar1=ar1)
    n_ind = len(indicators)
    out = np.full((flat.shape[0], shape[-1], n_ind + 2 * n_ind), np.nan)
    for i, name in enumerate(indicators):
        out[:, :, i] = rolled[name]
        out[:, -1, n_ind + i] = kendall_tau(rolled[name])[0]
    for s in range(flat.shape[0] if n_surrogates else 0):
        try:
            res = surrogate_test(
                resid[s],
                window,
                ar1=ar1,
                indicators=indicators,
                n_surrogates=n_surrogates,
                seed=int(seeds[s]),
            )
        except ValueError:  # too few valid samples for the ARMA fit: p stays NaN
            continue
        for i, name in enumerate(indicators):
            out[s, -1, 2 * n_ind + i] = res[name]["p_value"]
    return out.reshape(*shape, 3 * n_ind)


def tile_indicator_maps(
    da: xr.DataArray,
    *,
    window: float | None = None,
    bandwidth: float | None = None,
    convention: str | None = None,
    ar1: str | None = None,
    indicators: tuple[str, ...] = ("ar1", "variance"),
    n_surrogates: int | None = None,
    seed: int | None = None,
    deseasonalise: bool = True,
    alpha: float | None = None,
) -> xr.Dataset:
    """Map rolling indicators, their trends and FDR-controlled significance per tile (or pixel).

    Each series along ``time`` is deseasonalised by its monthly climatology (the mean of each
    calendar phase, NaN-aware; STL is per-series only), Gaussian-detrended, and gets rolling
    indicators, Kendall tau and an ARMA-surrogate p-value (seeded ``seed + flat tile index``, so
    results do not depend on chunking; ``n_surrogates=0`` skips the test, e.g. for per-pixel
    maps of a Scene). q-values are Benjamini-Hochberg over all tiles. Runs in
    parallel with ``xarray.apply_ufunc(dask="parallelized")`` when ``da`` is dask-backed.
    ``window``, ``bandwidth``, ``convention``, ``ar1``, ``n_surrogates``, ``seed`` and ``alpha``
    left as None take the ``vegdask.analysis`` settings ``window``, ``bandwidth``,
    ``bandwidth-convention``, ``ar1``, ``tile-surrogates``, ``seed`` and ``alpha``.

    Returns
    -------
    xarray.Dataset
        ``<indicator>`` (time, ...), ``<indicator>_tau``, ``<indicator>_p_value`` and
        ``<indicator>_q_value``, ``<indicator>_significant`` (q <= alpha) (...), computed. With
        surrogates, ``_significant`` has attrs ``min_p_value`` (``1 / (n_surrogates + 1)``),
        ``min_significant_tiles`` (BH flags no tile unless at least this many reach that
        p-value) and ``surrogates_for_one_tile`` (``ceil(n_tiles / alpha) - 1``, enough for a
        single tile to be significant).

    Examples
    --------
    >>> cube = xr.DataArray(
    ...     np.random.default_rng(0).standard_normal((40, 2, 3)),
    ...     dims=("time", "tile_y", "tile_x"),
    ...     coords={"time": pd.date_range("2016-01-16", periods=40, freq="30D")},
    ... )
    >>> maps = tile_indicator_maps(cube, n_surrogates=0)
    >>> maps.ar1.dims, maps.ar1_tau.shape
    (('time', 'tile_y', 'tile_x'), (2, 3))
    """
    from vegdask.analysis._series import season_period

    window = config.get("analysis.window", window)
    bandwidth = config.get("analysis.bandwidth", bandwidth)
    convention = config.get("analysis.bandwidth-convention", convention)
    ar1 = config.get("analysis.ar1", ar1)
    n_surrogates = config.get("analysis.tile-surrogates", n_surrogates)
    seed = config.get("analysis.seed", seed)
    alpha = config.get("analysis.alpha", alpha)
    period = season_period(pd.DatetimeIndex(da["time"].values)) if deseasonalise else None
    if period is not None and da.sizes["time"] < 2 * period:
        period = None
    da = da.transpose(..., "time")
    if da.chunks is not None:
        da = da.chunk({"time": -1})
    n_ind = len(indicators)
    other = [d for d in da.dims if d != "time"]
    tile_index = xr.DataArray(
        np.arange(int(np.prod([da.sizes[d] for d in other]))).reshape([da.sizes[d] for d in other]),
        dims=other,
    )
    if da.chunks is not None:
        tile_index = tile_index.chunk({d: da.chunksizes[d] for d in other})
    stacked = xr.apply_ufunc(
        _tile_block,
        da,
        tile_index,
        input_core_dims=[["time"], []],
        output_core_dims=[["time", "stat"]],
        dask="parallelized",
        output_dtypes=[np.float64],
        dask_gufunc_kwargs={"output_sizes": {"stat": 3 * n_ind}},
        kwargs={
            "period": period,
            "window": window,
            "bandwidth": bandwidth,
            "convention": convention,
            "ar1": ar1,
            "indicators": tuple(indicators),
            "n_surrogates": n_surrogates,
            "seed": seed,
        },
    ).compute()
    out = xr.Dataset(
        attrs={
            "window": window,
            "bandwidth": bandwidth,
            "bandwidth_convention": convention,
            "ar1_estimator": ar1,
            "n_surrogates": n_surrogates,
            "seed": seed,
            "alpha": alpha,
            "season_period": period or 0,
        }
    )
    last = stacked.isel(time=-1)
    for i, name in enumerate(indicators):
        out[name] = stacked.isel(stat=i).transpose("time", ...)
        out[f"{name}_tau"] = last.isel(stat=n_ind + i)
        p = last.isel(stat=2 * n_ind + i)
        q, sig = benjamini_hochberg(p.values, alpha)
        out[f"{name}_p_value"] = p
        out[f"{name}_q_value"] = p.copy(data=q)
        out[f"{name}_significant"] = p.copy(data=sig)
    if n_surrogates:
        attainable = _attainable_significance(last.isel(stat=2 * n_ind).values, n_surrogates, alpha)
        for name in indicators:
            out[f"{name}_significant"].attrs.update(attainable)
    return out.drop_vars("stat", errors="ignore")


def _attainable_significance(p_values: np.ndarray, n_surrogates: int, alpha: float) -> dict:
    """What Benjamini-Hochberg over these tiles can reject with this many surrogates.

    A surrogate p-value is at least ``1 / (n_surrogates + 1)``, and BH rejects the k smallest
    only if ``p_(k) <= k alpha / m``: no tile is significant unless at least
    ``ceil(m / (alpha (n_surrogates + 1)))`` tiles reach that floor; one tile alone needs
    ``n_surrogates >= ceil(m / alpha) - 1``.
    """
    m = int(np.isfinite(p_values).sum())
    return {
        "min_p_value": 1.0 / (n_surrogates + 1),
        "min_significant_tiles": math.ceil(m / (alpha * (n_surrogates + 1))) if m else 0,
        "surrogates_for_one_tile": max(math.ceil(m / alpha) - 1, 0),
    }
