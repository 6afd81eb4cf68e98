"""Trend estimation of early-warning series: Gaussian kernel smoothing and LOWESS.

Gaussian bandwidth
    :func:`gaussian_sigma` converts a bandwidth to the kernel's standard deviation in samples.
    ``convention="sigma"`` (ewstools 1.0.0, pyveg's ``band_width=6``): the bandwidth is sigma,
    a fraction of the series length when in (0, 1] (sigma = bandwidth x n).
    ``convention="ksmooth"`` (R ``ksmooth``, earlywarnings-R, ewstools >= 1.0.1): the kernel's
    quartiles are at +/- 0.25 x bandwidth, so sigma = (0.25 / 0.675) x bandwidth; a bandwidth in
    (0, 1] is a fraction of the series length. pyveg's setting is ``sigma=6`` = ksmooth 16.2.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from vegdask.kernels._lastaxis import _as_2d

__all__ = ["gaussian_sigma", "gaussian_smooth", "loess_smooth"]

_GAUSS_CONVENTIONS = ("sigma", "ksmooth")
# Kernels wider than this are applied by FFT (equal up to rounding), narrower ones directly.
_FFT_MIN_TAPS = 128


def gaussian_sigma(bandwidth: float, n: int, convention: str = "sigma") -> float:
    """Return the Gaussian kernel's standard deviation, in samples, for a bandwidth.

    Parameters
    ----------
    bandwidth : float
        The bandwidth, > 0.
    n : int
        Length of the series (used when the bandwidth is a fraction, i.e. in (0, 1]).
    convention : {"sigma", "ksmooth"}
        ``"sigma"``: the bandwidth is sigma (ewstools 1.0.0, pyveg); ``"ksmooth"``: quartiles at
        +/- 0.25 x bandwidth (earlywarnings-R, ewstools >= 1.0.1). In both, a bandwidth in
        (0, 1] is a fraction of ``n`` and a larger one is in samples.

    Examples
    --------
    >>> gaussian_sigma(6, 120)
    6.0
    >>> gaussian_sigma(0.05, 120)
    6.0
    >>> round(gaussian_sigma(16.2, 120, "ksmooth"), 6)
    6.0
    >>> round(gaussian_sigma(0.2, 100, "ksmooth"), 4)
    7.4074
    """
    if convention not in _GAUSS_CONVENTIONS:
        raise ValueError(f"convention must be one of {_GAUSS_CONVENTIONS}, got {convention!r}")
    if not bandwidth > 0:
        raise ValueError(f"bandwidth must be > 0, got {bandwidth}")
    samples = bandwidth * n if bandwidth <= 1 else bandwidth
    return float(samples if convention == "sigma" else 0.25 / 0.675 * samples)


@numba.njit(cache=True)
def _reflect(i: int, n: int) -> int:
    # scipy.ndimage mode="reflect": (d c b a | a b c d | d c b a), repeated.
    period = 2 * n
    i = i % period
    if i < 0:
        i += period
    return period - 1 - i if i >= n else i


@numba.njit(cache=True)
def _gaussian_smooth(x, weights):
    m, n = x.shape
    radius = (weights.size - 1) // 2
    out = np.full((m, n), np.nan)
    for s in range(m):
        for i in range(n):
            acc = 0.0
            wsum = 0.0
            for k in range(-radius, radius + 1):
                v = x[s, _reflect(i + k, n)]
                if not np.isnan(v):
                    acc += weights[k + radius] * v
                    wsum += weights[k + radius]
            if wsum > 0.0 and not np.isnan(x[s, i]):
                out[s, i] = acc / wsum
    return out


def _gaussian_smooth_fft(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The same renormalised, reflect-padded filter by FFT: O(n log n) for wide kernels."""
    n = x.shape[1]
    radius = (weights.size - 1) // 2
    period = 2 * n  # scipy.ndimage mode="reflect", repeated, as _reflect
    index = np.arange(-radius, n + radius) % period
    index = np.where(index >= n, period - 1 - index, index)
    valid = ~np.isnan(x)
    size = n + 2 * radius + weights.size - 1  # linear, not circular, convolution
    kernel = np.fft.rfft(weights, size)
    acc = np.fft.irfft(np.fft.rfft(np.where(valid, x, 0.0)[:, index], size) * kernel, size)
    wsum = np.fft.irfft(np.fft.rfft(valid[:, index].astype(np.float64), size) * kernel, size)
    acc = acc[:, 2 * radius : 2 * radius + n]
    wsum = wsum[:, 2 * radius : 2 * radius + n]
    # Any valid sample in reach weighs at least weights.min(); FFT rounding is far below it.
    keep = valid & (wsum > 0.5 * weights.min())
    return np.where(keep, acc / np.where(keep, wsum, 1.0), np.nan)


def gaussian_smooth(x: Any, sigma: float, *, truncate: float = 4.0) -> np.ndarray:
    """Gaussian-kernel smoothing (the trend) along the last axis, NaN-aware.

    Identical to ``scipy.ndimage.gaussian_filter1d(x, sigma, mode="reflect", truncate=truncate)``
    on complete series; at a gap the kernel weights are renormalised over the valid samples and
    the output is NaN where the input is. Kernels wider than 128 samples are applied by FFT
    (the same filter, equal up to rounding: O(n log n) instead of O(n sigma)).

    Parameters
    ----------
    x : (..., n) array_like
        Series.
    sigma : float
        Kernel standard deviation in samples (see :func:`gaussian_sigma`).
    truncate : float
        The kernel is cut at ``truncate`` standard deviations (scipy's default 4).

    Returns
    -------
    (..., n) ndarray of float64

    Examples
    --------
    >>> gaussian_smooth([1.0, 1.0, np.nan, 1.0], 2.0)
    array([ 1.,  1., nan,  1.])
    """
    arr, shape = _as_2d(x)
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    radius = int(truncate * sigma + 0.5)
    k = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-0.5 * (k / sigma) ** 2)
    weights /= weights.sum()
    if weights.size > _FFT_MIN_TAPS:
        return _gaussian_smooth_fft(arr, weights).reshape(shape)
    return _gaussian_smooth(arr, weights).reshape(shape)


@numba.njit(cache=True)
def _local_fit(xs, ys, w, i):
    # Weighted linear fit at xs[i] (statsmodels' projection form); fewer than two positive
    # weights keep ys[i], as statsmodels does.
    total = 0.0
    positive = 0
    for j in range(w.size):
        total += w[j]
        positive += w[j] > 1e-12
    if positive < 2:
        return np.nan
    mx = 0.0
    for j in range(w.size):
        mx += w[j] / total * xs[j]
    sq = 0.0
    for j in range(w.size):
        sq += w[j] / total * (xs[j] - mx) ** 2
    sq = max(sq, 1e-12)
    acc = 0.0
    for j in range(w.size):
        acc += w[j] / total * (1.0 + (xs[i] - mx) * (xs[j] - mx) / sq) * ys[j]
    return acc


@numba.njit(cache=True)
def _lowess_one(xs, ys, k, it):
    # statsmodels.nonparametric.lowess with delta=0, step by step: the k nearest neighbours,
    # tricube weights (1 - d^3)^3, bisquare robustness weights of residuals / (6 median).
    n = xs.size
    fitted = np.empty(n)
    rw = np.ones(n)
    w = np.empty(k)
    for iteration in range(it + 1):
        left = 0
        for i in range(n):
            while left + k < n and xs[i] > 0.5 * (xs[left] + xs[left + k]):
                left += 1
            radius = max(xs[i] - xs[left], xs[left + k - 1] - xs[i])
            for j in range(k):
                d = abs(xs[left + j] - xs[i]) / radius if radius > 0 else 0.0
                w[j] = (1.0 - d**3) ** 3 * rw[left + j]
            fit = _local_fit(xs[left : left + k], ys[left : left + k], w, i - left)
            fitted[i] = ys[i] if np.isnan(fit) else fit
        if iteration == it:
            break
        resid = np.abs(ys - fitted)
        med = np.median(resid)
        for j in range(n):
            # After an exact fit (median 0) the points off it get no weight.
            u = min(resid[j] / (6.0 * med), 1.0) if med > 0.0 else (1.0 if resid[j] > 0.0 else 0.0)
            rw[j] = (1.0 - u * u) ** 2
    return fitted


@numba.njit(cache=True)
def _lowess(x, t, frac, it):
    m, n = x.shape
    out = np.full((m, n), np.nan)
    for s in range(m):
        idx = np.flatnonzero(~np.isnan(x[s]))
        nv = idx.size
        if nv < 2:
            continue
        k = min(nv, max(2, int(frac * nv + 1e-10)))
        fit = _lowess_one(t[idx], x[s, idx], k, it)
        for j in range(nv):
            out[s, idx[j]] = fit[j]
    return out


def loess_smooth(x: Any, frac: float, *, it: int = 3, t: Any = None) -> np.ndarray:
    """LOWESS (locally linear, tricube weights, bisquare robustness) along the last axis.

    The algorithm of Cleveland (1979) as in ``statsmodels.nonparametric.lowess`` with
    ``delta=0``, against the sample positions ``t`` (default the sample index). NaN samples are
    excluded and stay NaN.

    Parameters
    ----------
    x : (..., n) array_like
        Series.
    frac : float
        Share of the valid samples in each local fit, in (0, 1]. pyveg: ``min(4 / n, 1)`` to
        smooth, ``min(12 / n, 1)`` after deseasonalising.
    it : int
        Robustness iterations (pyveg and statsmodels: 3).
    t : (n,) array_like, optional
        Strictly increasing positions of the samples, e.g. dates as float nanoseconds (pyveg
        smooths against the dates); default ``0, 1, ..., n - 1``.

    Returns
    -------
    (..., n) ndarray of float64

    Examples
    --------
    >>> loess_smooth(np.arange(6.0), 0.5)
    array([0., 1., 2., 3., 4., 5.])
    >>> loess_smooth([2.0, 4.0, 6.0, 22.0], 1.0, t=[1.0, 2.0, 3.0, 11.0]).round(9)
    array([ 2.,  4.,  6., 22.])
    """
    if not 0 < frac <= 1:
        raise ValueError(f"frac must be in (0, 1], got {frac}")
    if it < 0:
        raise ValueError(f"it must be >= 0, got {it}")
    arr, shape = _as_2d(x)
    pos = np.arange(shape[-1], dtype=np.float64) if t is None else np.asarray(t, np.float64)
    if pos.shape != (shape[-1],) or not np.all(np.diff(pos) > 0):
        raise ValueError(
            f"t must be {shape[-1]} strictly increasing sample positions, got shape {pos.shape}"
        )
    return _lowess(arr, pos, float(frac), int(it)).reshape(shape)
