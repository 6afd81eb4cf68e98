"""A pooled trend test over many series (a site's tiles) against phase-randomised surrogates.

Method
------
Each tile's residual series gets its rolling indicators (:func:`rolling_indicators`) and their
Kendall taus against time (:func:`kendall_tau`); the pooled statistic of an indicator is the mean
of the tiles' taus weighted by each tile's number of valid indicator values (the plain mean when
no tile has gaps; a tau from more samples is less noisy). Its null distribution comes from
multivariate phase-randomised surrogates of the whole panel (Prichard & Theiler 1994): every
tile's Fourier transform is rotated by the *same* random phases, which keeps each tile's power
spectrum (so its autocorrelation) and every cross-spectrum (so the tiles' correlation), and
makes the surrogates stationary: no indicator trends but by chance. Gaps are filled linearly in
the residuals for the transform only (constant beyond the ends), and each surrogate gets its
tile's gaps back before its indicators are computed.

Phases of surrogate ``s``: ``numpy.random.default_rng(seed).uniform(0, 2 pi, (n_surrogates,
n // 2 + 1))[s]``, with the mean's (and for even ``n`` the Nyquist frequency's) phase set to 0,
applied as ``irfft(rfft(x) * exp(1j * phases), n)``.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np

from vegdask.kernels._kendall import _tau_b
from vegdask.kernels._lastaxis import _as_2d
from vegdask.kernels._rolling import (
    AR1_ESTIMATORS,
    ROLLING_INDICATORS,
    _rolling_row,
    window_length,
)

__all__ = ["fill_gaps_linear", "pooled_surrogate_test", "pooled_tau", "random_phases"]

# Series per block of surrogates: bounds the memory of the rolling indicators (8 x rows x n).
_BLOCK_ROWS = 8192
# Kendall's tau is invariant under monotone maps: sd's taus are variance's.
_SAME_TAUS = {"sd": "variance"}


def random_phases(n_surrogates: int, n: int, seed: int) -> np.ndarray:
    """The phases (radians) of the surrogates of :func:`pooled_surrogate_test`, one row each.

    Examples
    --------
    >>> p = random_phases(3, 6, seed=0)
    >>> p.shape, float(p[0, 0]), float(p[1, 3])  # the mean and the Nyquist frequency keep theirs
    ((3, 4), 0.0, 0.0)
    """
    phases = np.random.default_rng(seed).uniform(0.0, 2.0 * np.pi, (n_surrogates, n // 2 + 1))
    phases[:, 0] = 0.0
    if n % 2 == 0:
        phases[:, -1] = 0.0
    return phases


@numba.njit(cache=True, nogil=True)
def _fill_linear(x):
    out = x.copy()
    m, n = x.shape
    for s in range(m):
        last = -1
        for t in range(n):
            if np.isnan(x[s, t]):
                continue
            if last == -1:
                out[s, :t] = x[s, t]
            elif t - last > 1:
                step = (x[s, t] - x[s, last]) / (t - last)
                for u in range(last + 1, t):
                    out[s, u] = x[s, last] + step * (u - last)
            last = t
        if last >= 0:
            out[s, last + 1 :] = x[s, last]
    return out


def fill_gaps_linear(x: Any) -> np.ndarray:
    """Fill NaN along the last axis linearly between valid samples, constant beyond the ends.

    Rows without a valid sample stay NaN.

    Examples
    --------
    >>> fill_gaps_linear([np.nan, 1.0, np.nan, 3.0, np.nan])
    array([1., 1., 2., 3., 3.])
    """
    arr, shape = _as_2d(x)
    return _fill_linear(arr).reshape(shape)


@numba.njit(cache=True, nogil=True)
def _row_taus(x, w, estimator, min_count, block, which, taus, counts):
    """Per row of ``x``: the Kendall tau of each rolling indicator ``which`` and its valid count.

    The indicators are :func:`rolling_indicators`' (the same running sums, rebuilt every
    ``block`` steps) and the taus :func:`kendall_tau`'s, one row at a time.
    """
    m, n = x.shape
    buf = np.empty((8, 1, n))
    sums = np.zeros(13)
    values = np.empty(n)
    work = np.empty(n)
    for r in range(m):
        buf[:] = np.nan
        _rolling_row(x[r], x[r], w, estimator, min_count, block, sums, buf, 0)
        for j in range(which.shape[0]):
            k = 0
            for t in range(n):
                if not np.isnan(buf[which[j], 0, t]):
                    values[k] = buf[which[j], 0, t]
                    k += 1
            counts[r, j] = k
            taus[r, j] = _tau_b(values[:k], work[:k])[0] if k >= 2 else np.nan


def _taus(
    x: np.ndarray, window: float, ar1: str, names: tuple[str, ...], exact: bool
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per row, each indicator's Kendall tau and its number of valid rolling values.

    ``exact``: rebuild the running sums every quarter window as :func:`rolling_indicators`
    does (the observed panel); else once a row (stationary surrogates: 3x faster).
    """
    n = x.shape[-1]
    w = window_length(n, window)
    distinct = tuple(dict.fromkeys(_SAME_TAUS.get(name, name) for name in names))
    which = np.array([ROLLING_INDICATORS.index(name) for name in distinct], dtype=np.int64)
    taus = np.empty((x.shape[0], which.size))
    counts = np.empty((x.shape[0], which.size))
    block = max(1, w // 4) if exact else n
    rows = np.ascontiguousarray(x)
    _row_taus(rows, w, AR1_ESTIMATORS.index(ar1), math.ceil(0.5 * w), block, which, taus, counts)
    return {
        name: (taus[:, j], counts[:, j])
        for name in names
        for j in [distinct.index(_SAME_TAUS.get(name, name))]
    }


def pooled_tau(taus: Any, weights: Any) -> np.ndarray:
    """Weighted mean over the last axis (tiles) of the finite taus; NaN where there is none.

    Examples
    --------
    >>> float(pooled_tau([0.2, np.nan, 0.5], [10.0, 10.0, 20.0]))
    0.4
    """
    t = np.asarray(taus, dtype=np.float64)
    ok = np.isfinite(t)
    w = np.where(ok, np.asarray(weights, dtype=np.float64), 0.0)
    total = w.sum(axis=-1)
    weighted = (np.where(ok, t, 0.0) * w).sum(axis=-1)
    return np.where(total > 0, weighted / np.where(total > 0, total, 1.0), np.nan)


def pooled_surrogate_test(
    residuals: Any,
    window: float = 0.5,
    *,
    ar1: str = "ols",
    indicators: tuple[str, ...] = ("ar1", "variance", "sd", "skewness", "kurtosis"),
    n_surrogates: int = 1000,
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """Pooled Kendall-tau trend of rolling indicators over tiles, against panel surrogates.

    Parameters
    ----------
    residuals : (tiles, n) array_like
        Each tile's detrended series, NaN where missing (module docstring for the method).
    window, ar1
        As :func:`rolling_indicators`.
    indicators : tuple of str
        Names as :func:`surrogate_test` takes.
    n_surrogates, seed
        Number of surrogates and the seed of their phases (:func:`random_phases`).

    Returns
    -------
    dict
        Per indicator: ``kendall_tau`` (the pooled statistic), ``p_value``
        (``(#{surrogate >= observed} + 1) / (n_surrogates + 1)``, one-sided for a rise),
        ``surrogate_taus`` (the pooled statistic of each surrogate), ``tile_taus`` (each tile's
        tau) and ``tile_weights`` (its valid indicator values).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> panel = rng.standard_normal((5, 60))
    >>> res = pooled_surrogate_test(panel, n_surrogates=99, indicators=("ar1",))
    >>> 0 < res["ar1"]["p_value"] <= 1, res["ar1"]["surrogate_taus"].shape
    (True, (99,))
    """
    x = np.asarray(residuals, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"pooled_surrogate_test takes a (tiles, time) panel, got shape {x.shape}")
    if n_surrogates < 1:
        raise ValueError(f"n_surrogates must be >= 1, got {n_surrogates}")
    k, n = x.shape
    observed = _taus(x, window, ar1, indicators, exact=True)
    gaps = np.isnan(x)
    spectra = np.fft.rfft(fill_gaps_linear(x), axis=-1)
    phases = random_phases(n_surrogates, n, seed)
    null = {name: np.empty(n_surrogates) for name in indicators}
    block = max(1, _BLOCK_ROWS // max(k, 1))
    for lo in range(0, n_surrogates, block):
        rot = np.exp(1j * phases[lo : lo + block])[:, None, :]
        sur = np.fft.irfft(spectra[None] * rot, n=n, axis=-1)
        sur[:, gaps] = np.nan
        taus = _taus(sur.reshape(-1, n), window, ar1, indicators, exact=False)
        for name in indicators:
            tau, count = taus[name]
            null[name][lo : lo + block] = pooled_tau(tau.reshape(-1, k), count.reshape(-1, k))
    out: dict[str, dict[str, Any]] = {}
    for name in indicators:
        tau, count = observed[name]
        stat = float(pooled_tau(tau, count))
        exceed = int(np.count_nonzero(null[name] >= stat))
        out[name] = {
            "kendall_tau": stat,
            "p_value": (exceed + 1) / (n_surrogates + 1) if math.isfinite(stat) else math.nan,
            "surrogate_taus": null[name],
            "tile_taus": tau,
            "tile_weights": count,
        }
    return out
