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

__all__ = ["AR1_ESTIMATORS", "ROLLING_INDICATORS", "rolling_indicators", "window_length"]

#: Rolling indicators computed by :func:`rolling_indicators`, in output order.
ROLLING_INDICATORS: tuple[str, ...] = (
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


# Running sums over the window: count and power sums of d = v - anchor (singles), the lagged pairs
# (a = d[t-1], b = d[t]) whose both samples are valid and inside the window, and the state's sum.
_C, _S1, _S2, _S3, _S4, _NA, _PA, _PB, _PAA, _PBB, _PAB, _ST, _STN = range(13)
# A centred sum this small against its raw sum is rounding noise: the window is constant.
_CONSTANT = 1e-12


@numba.njit(cache=True, nogil=True)
def _single(sums, v, st, valid, t, anchor, sign):
    """Add (sign 1) or remove (sign -1) sample t."""
    if valid[t]:
        d = v[t] - anchor
        sums[_C] += sign
        sums[_S1] += sign * d
        sums[_S2] += sign * d * d
        sums[_S3] += sign * d * d * d
        sums[_S4] += sign * d * d * d * d
    if not np.isnan(st[t]):
        sums[_ST] += sign * st[t]
        sums[_STN] += sign


@numba.njit(cache=True, nogil=True)
def _pair(sums, v, valid, t, anchor, sign):
    """Add or remove the lagged pair (t - 1, t) if both samples are valid."""
    if valid[t] and valid[t - 1]:
        a = v[t - 1] - anchor
        b = v[t] - anchor
        sums[_NA] += sign
        sums[_PA] += sign * a
        sums[_PB] += sign * b
        sums[_PAA] += sign * a * a
        sums[_PBB] += sign * b * b
        sums[_PAB] += sign * a * b


@numba.njit(cache=True, nogil=True)
def _indicators(sums, estimator, min_count, w, out, s, hi):
    """Write the indicators of the window ending at ``hi`` from its running sums."""
    c = sums[_C]
    out[7, s, hi] = 1.0 - c / w
    if c < min_count or c < 4:
        return
    mean = sums[_S1] / c
    s2 = sums[_S2] - mean * sums[_S1]
    if s2 <= _CONSTANT * sums[_S2]:
        s2 = 0.0
    s3 = sums[_S3] - 3.0 * mean * sums[_S2] + 2.0 * c * mean**3
    s4 = sums[_S4] - 4.0 * mean * sums[_S3] + 6.0 * mean**2 * sums[_S2] - 3.0 * c * mean**4
    var = s2 / (c - 1)
    out[1, s, hi] = var
    out[2, s, hi] = math.sqrt(var)
    m2 = s2 / c
    if m2 > 0.0:
        out[4, s, hi] = math.sqrt(c * (c - 1.0)) / (c - 2.0) * (s3 / c) / m2**1.5
        out[5, s, hi] = ((c * c - 1.0) * (s4 / c) / (m2 * m2) - 3.0 * (c - 1.0) ** 2) / (
            (c - 2.0) * (c - 3.0)
        )
    na = sums[_NA]
    ar = np.nan
    if na >= 2:
        if estimator == 1:  # pearson: each side about its own mean
            sxx = sums[_PAA] - sums[_PA] ** 2 / na
            syy = sums[_PBB] - sums[_PB] ** 2 / na
            sxy = sums[_PAB] - sums[_PA] * sums[_PB] / na
            if sxx > _CONSTANT * sums[_PAA] and syy > _CONSTANT * sums[_PBB]:
                ar = sxy / math.sqrt(sxx * syy)
        else:  # ols / acf: about the window mean
            sxy = sums[_PAB] - mean * (sums[_PA] + sums[_PB]) + na * mean * mean
            sxx = sums[_PAA] - 2.0 * mean * sums[_PA] + na * mean * mean
            if estimator == 2:  # acf: denominator over every valid sample
                if s2 > 0.0:
                    ar = sxy / s2
            elif sxx > _CONSTANT * sums[_PAA]:
                ar = sxy / sxx
    out[0, s, hi] = ar
    out[6, s, hi] = 1.0 - ar
    # CV: SD of the residuals over the mean of the state variable in the same window.
    if sums[_STN] > 0 and sums[_ST] != 0.0:
        out[3, s, hi] = math.sqrt(var) / (sums[_ST] / sums[_STN])


@numba.njit(cache=True, nogil=True)
def _rolling_row(v, st, w, estimator, min_count, block, sums, out, s):
    """The indicators of series ``v`` into ``out[:, s]``, rebuilding the sums every ``block``.

    The window's sums are updated as it slides and rebuilt from scratch about the window's own
    mean every ``block`` steps, so rounding never accumulates over more than ``block`` steps and
    the centred sums keep their precision (no cancellation against a far anchor).
    """
    n = v.shape[0]
    valid = ~np.isnan(v)
    for start in range(w - 1, n, block):
        lo = start - w + 1
        total = 0.0
        count = 0
        for t in range(lo, start + 1):
            if valid[t]:
                total += v[t]
                count += 1
        anchor = total / count if count else 0.0
        sums[:] = 0.0
        for t in range(lo, start + 1):
            _single(sums, v, st, valid, t, anchor, 1.0)
            if t > lo:
                _pair(sums, v, valid, t, anchor, 1.0)
        _indicators(sums, estimator, min_count, w, out, s, start)
        for hi in range(start + 1, min(start + block, n)):
            # Slide by one: sample hi - w leaves with its pair to the right, hi enters with
            # its pair to the left.
            _single(sums, v, st, valid, hi - w, anchor, -1.0)
            _pair(sums, v, valid, hi - w + 1, anchor, -1.0)
            _single(sums, v, st, valid, hi, anchor, 1.0)
            _pair(sums, v, valid, hi, anchor, 1.0)
            _indicators(sums, estimator, min_count, w, out, s, hi)


@numba.njit(cache=True, nogil=True)
def _rolling(x, state, w, estimator, min_count):
    """Rolling indicators of every row in O(n) per row, sums rebuilt every quarter window."""
    m, n = x.shape
    out = np.full((8, m, n), np.nan)
    sums = np.zeros(13)
    block = max(1, w // 4)
    for s in range(m):
        _rolling_row(x[s], state[s], w, estimator, min_count, block, sums, out, s)
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
        One array per name in :data:`ROLLING_INDICATORS`: ``ar1``, ``variance`` and ``sd`` (ddof 1),
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
    return {name: out[i].reshape(shape) for i, name in enumerate(ROLLING_INDICATORS)}
