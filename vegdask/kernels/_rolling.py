"""Rolling early-warning indicators (AR(1), variance, skewness, ...) along the last axis.

Rolling window
    A fraction in (0, 1] of the series length (``int(window * n)`` samples, as ewstools) or a number
    of samples > 1; the value is stamped at the window's right end, earlier values are NaN.
AR(1) estimators
    ``"ols"``: least squares of ``y[t]`` on ``y[t-1]`` without intercept after removing the window
    mean (earlywarnings-R ``ar.ols`` with ``demean=TRUE``); ``"pearson"``: Pearson correlation of
    the lagged pairs (ewstools, pandas ``autocorr``); ``"acf"``: the standard sample
    autocorrelation ``sum(y[t] y[t-1]) / sum(y[t]^2)`` (R ``acf``).
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np

from vegdask.kernels._lastaxis import _as_2d

__all__ = ["AR1_ESTIMATORS", "INDICATORS", "rolling_indicators", "window_length"]

#: Rolling indicators computed by :func:`rolling_indicators`, in output order.
INDICATORS: tuple[str, ...] = (
    "ar1",
    "variance",
    "sd",
    "cv",
    "skewness",
    "kurtosis",
    "return_rate",
    "missing_fraction",
)
#: Names of the AR(1) estimators (see the module docstring).
AR1_ESTIMATORS: tuple[str, ...] = ("ols", "pearson", "acf")


def window_length(n: int, window: float) -> int:
    """Rolling-window length in samples: ``int(window * n)`` for a fraction, else ``int(window)``.

    Examples
    --------
    >>> window_length(120, 0.5), window_length(25, 0.5), window_length(120, 30)
    (60, 12, 30)
    """
    if not window > 0:
        raise ValueError(f"window must be > 0 (a fraction of the series or samples), got {window}")
    w = int(window * n) if window <= 1 else int(window)
    if w < 3 or w > n:
        raise ValueError(
            f"rolling window of {w} samples for a series of {n}: need 3 <= window <= length"
        )
    return w


@numba.njit(cache=True)
def _window(v, st, valid, lo, hi, estimator, min_count, w, out, s):
    # Two passes over v[lo..hi]: sums, then central moments and lagged-pair products.
    c = 0
    total = 0.0
    st_sum = 0.0
    st_count = 0
    na = 0
    sa = 0.0
    sb = 0.0
    for t in range(lo, hi + 1):
        if valid[t]:
            c += 1
            total += v[t]
            if t > lo and valid[t - 1]:
                na += 1
                sa += v[t - 1]
                sb += v[t]
        if not np.isnan(st[t]):
            st_sum += st[t]
            st_count += 1
    out[7, s, hi] = 1.0 - c / w
    if c < min_count or c < 4:
        return
    mean = total / c
    ma = sa / na if na else 0.0
    mb = sb / na if na else 0.0
    s2 = 0.0
    s3 = 0.0
    s4 = 0.0
    sxy = 0.0
    sxx = 0.0
    syy = 0.0
    for t in range(lo, hi + 1):
        if valid[t]:
            d = v[t] - mean
            s2 += d * d
            s3 += d * d * d
            s4 += d * d * d * d
            if t > lo and valid[t - 1]:
                if estimator == 1:  # pearson: each side about its own mean
                    a = v[t - 1] - ma
                    b = v[t] - mb
                    sxy += a * b
                    sxx += a * a
                    syy += b * b
                else:  # ols / acf: about the window mean
                    a = v[t - 1] - mean
                    sxy += d * a
                    sxx += a * a
    var = s2 / (c - 1)
    out[1, s, hi] = var
    out[2, s, hi] = math.sqrt(var)
    m2 = s2 / c
    if m2 > 0.0:
        out[4, s, hi] = math.sqrt(c * (c - 1.0)) / (c - 2.0) * (s3 / c) / m2**1.5
        out[5, s, hi] = ((c * c - 1.0) * (s4 / c) / (m2 * m2) - 3.0 * (c - 1.0) ** 2) / (
            (c - 2.0) * (c - 3.0)
        )
    ar = np.nan
    if na >= 2:
        if estimator == 1:
            if sxx > 0.0 and syy > 0.0:
                ar = sxy / math.sqrt(sxx * syy)
        elif estimator == 2:  # acf: denominator over every valid sample
            if s2 > 0.0:
                ar = sxy / s2
        elif sxx > 0.0:
            ar = sxy / sxx
    out[0, s, hi] = ar
    out[6, s, hi] = 1.0 - ar
    # CV: SD of the residuals over the mean of the state variable in the same window.
    if st_count > 0 and st_sum != 0.0:
        out[3, s, hi] = math.sqrt(var) / (st_sum / st_count)


@numba.njit(cache=True)
def _rolling(x, state, w, estimator, min_count):
    m, n = x.shape
    out = np.full((8, m, n), np.nan)
    for s in range(m):
        v = x[s]
        st = state[s]
        valid = ~np.isnan(v)
        for e in range(w - 1, n):
            _window(v, st, valid, e - w + 1, e, estimator, min_count, w, out, s)
    return out


def rolling_indicators(
    x: Any,
    window: float = 0.5,
    *,
    ar1: str = "ols",
    state: Any = None,
    min_valid: float = 0.5,
) -> dict[str, np.ndarray]:
    """Compute rolling early-warning indicators along the last axis (value at the window's end).

    Parameters
    ----------
    x : (..., n) array_like
        Residuals (detrended series), NaN where missing.
    window : float
        Window as a fraction of ``n`` in (0, 1] (default 0.5) or a number of samples.
    ar1 : {"ols", "pearson", "acf"}
        AR(1) estimator (module docstring).
    state : (..., n) array_like, optional
        The undetrended series, whose rolling mean is the denominator of ``cv`` (as ewstools);
        default ``x``.
    min_valid : float
        Minimum share of valid samples in a window (and at least 4) for a value; else NaN.

    Returns
    -------
    dict of str to (..., n) ndarray
        One array per name in :data:`INDICATORS`: ``ar1``, ``variance`` and ``sd`` (ddof 1),
        ``cv``, ``skewness`` and ``kurtosis`` (bias-corrected, excess; as pandas), ``return_rate``
        (1 - ar1), and ``missing_fraction`` (share of NaN samples in the window).

    Examples
    --------
    >>> out = rolling_indicators(np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0]), 4)
    >>> out["ar1"][-1], out["variance"][-1], out["missing_fraction"][-1]
    (np.float64(-1.0), np.float64(1.3333333333333333), np.float64(0.0))
    """
    if ar1 not in AR1_ESTIMATORS:
        raise ValueError(f"ar1 estimator must be one of {AR1_ESTIMATORS}, got {ar1!r}")
    if not 0 <= min_valid <= 1:
        raise ValueError(f"min_valid must be in [0, 1], got {min_valid}")
    arr, shape = _as_2d(x)
    st = arr if state is None else _as_2d(np.broadcast_to(state, shape))[0]
    w = window_length(shape[-1], window)
    out = _rolling(arr, st, w, AR1_ESTIMATORS.index(ar1), math.ceil(min_valid * w))
    return {name: out[i].reshape(shape) for i, name in enumerate(INDICATORS)}
