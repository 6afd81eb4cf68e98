"""Kendall's tau of series against time (the trend statistic of early-warning indicators).

Method
------
Time has no ties, so with the samples in time order the discordant pairs are the inversions of the
series (``i < j`` with ``y[i] > y[j]``) and Knight's (1966) algorithm counts them in O(n log n) with
a merge sort; the sorted series then gives the tie groups. The statistic and p-value follow
``scipy.stats.kendalltau``'s default (``method="auto"``, tau-b, two-sided): the exact null
distribution (Kendall 1970's recursion) when there are no ties and ``n <= 33`` (or at most one
pair is concordant or discordant), else the normal approximation with the tie-corrected variance.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np

from vegdask.kernels._lastaxis import _as_2d

__all__ = ["kendall_tau"]

# scipy's rule for method="auto": the exact distribution up to this many samples (without ties).
_EXACT_MAX_N = 33
# n! as a double, as scipy divides by math.factorial(n) (exact integer, correctly rounded).
_FACTORIALS = np.array([float(math.factorial(k)) for k in range(171)], dtype=np.float64)


@numba.njit(cache=True, nogil=True)
def _sort_counting_inversions(v, work):
    """Sort ``v`` in place (bottom-up merge sort) and return its number of strict inversions."""
    n = v.shape[0]
    src = v
    dst = work
    inversions = 0
    width = 1
    while width < n:
        for lo in range(0, n, 2 * width):
            mid = min(lo + width, n)
            hi = min(lo + 2 * width, n)
            i = lo
            j = mid
            k = lo
            while i < mid and j < hi:
                if src[j] < src[i]:  # src[j] precedes every remaining left element: inversions
                    dst[k] = src[j]
                    inversions += mid - i
                    j += 1
                else:  # equal values are not discordant
                    dst[k] = src[i]
                    i += 1
                k += 1
            while i < mid:
                dst[k] = src[i]
                i += 1
                k += 1
            while j < hi:
                dst[k] = src[j]
                j += 1
                k += 1
        src, dst = dst, src
        width *= 2
    if src is not v:
        v[:] = src
    return inversions


@numba.njit(cache=True, nogil=True)
def _exact_p(n, c, factorials):
    """Two-sided p-value of ``c`` concordant pairs among n untied samples (scipy's recursion)."""
    total = n * (n - 1) // 2
    c = min(c, total - c)
    if n <= 2:
        return 1.0
    if c == 0:
        return 2.0 / factorials[n] if n < 171 else 0.0
    if c == 1:
        return 2.0 / factorials[n - 1] if n < 172 else 0.0
    if 4 * c == n * (n - 1):
        return 1.0
    # counts[k]: permutations of j elements with k inversions, k <= c (Kendall 1970). Reached only
    # for n <= 33 (above, scipy's rule takes the exact path only for c <= 1), so n! is finite.
    counts = np.zeros(c + 1)
    counts[0] = 1.0
    counts[1] = 1.0
    for j in range(3, n + 1):
        acc = 0.0
        for k in range(c + 1):
            acc += counts[k]
            counts[k] = acc
        if j <= c:
            for k in range(c, j - 1, -1):
                counts[k] -= counts[k - j]
    return min(max(2.0 * counts.sum() / factorials[n], 0.0), 1.0)


@numba.njit(cache=True, nogil=True)
def _tau_b(v, work):
    """Tau-b of the valid samples ``v`` (sorted in place) against time, and its pair counts.

    Returns ``(tau, discordant, ties, ties_var)``; tau is NaN for a constant series.
    """
    n = v.shape[0]
    discordant = _sort_counting_inversions(v, work)
    # Tie groups of the sorted values: pairs, and scipy's variance terms.
    ties = 0
    ties_var = 0.0
    run = 1
    for i in range(1, n + 1):
        if i < n and v[i] == v[i - 1]:
            run += 1
        else:
            ties += run * (run - 1) // 2
            ties_var += run * (run - 1.0) * (2.0 * run + 5.0)
            run = 1
    total = n * (n - 1) // 2
    if ties == total:  # a constant series
        return np.nan, discordant, ties, ties_var
    score = total - ties - 2 * discordant  # concordant - discordant
    tau = score / math.sqrt(total) / math.sqrt(total - ties)
    return min(1.0, max(-1.0, tau)), discordant, ties, ties_var


@numba.njit(cache=True, nogil=True)
def _kendall(y, factorials):
    m = y.shape[0]
    tau = np.full(m, np.nan)
    pval = np.full(m, np.nan)
    values = np.empty(y.shape[1])
    work = np.empty(y.shape[1])
    for s in range(m):
        n = 0
        for t in range(y.shape[1]):
            if not np.isnan(y[s, t]):
                values[n] = y[s, t]
                n += 1
        if n < 2:
            continue
        t, discordant, ties, ties_var = _tau_b(values[:n], work[:n])
        if np.isnan(t):
            continue
        tau[s] = t
        total = n * (n - 1) // 2
        if ties == 0 and (n <= _EXACT_MAX_N or min(discordant, total - discordant) <= 1):
            pval[s] = _exact_p(n, total - discordant, factorials)
        else:
            score = total - ties - 2 * discordant
            var = (n * (n - 1.0) * (2.0 * n + 5.0) - ties_var) / 18.0
            pval[s] = math.erfc(abs(score) / math.sqrt(var) / math.sqrt(2.0))
    return tau, pval


def kendall_tau(y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Kendall's tau-b of each series against time, with scipy's default two-sided p-value.

    The same numbers as ``scipy.stats.kendalltau(t, y)`` with its defaults (``method="auto"``):
    for a series without ties and at most 33 valid samples (or at most one concordant or
    discordant pair) the p-value comes from the exact null distribution, otherwise from the
    normal approximation with the tie-corrected variance. NaN samples are dropped (pairwise
    complete against time). O(n log n) per series (Knight's merge-sort count), vectorised over the
    leading axes. The p-value treats samples as independent, which rolling-window indicators are
    not: use :func:`surrogate_test` for the significance of an indicator's trend.

    Parameters
    ----------
    y : (..., n) array_like

    Returns
    -------
    tau, p_value : (...) ndarray of float64
        NaN where fewer than 2 valid samples or a constant series.

    Examples
    --------
    >>> tau, p = kendall_tau([1.0, 2.0, np.nan, 4.0, 3.0])
    >>> round(float(tau), 12), round(float(p), 12)  # 5 of 6 pairs concordant; p = 2 * 4 / 4!
    (0.666666666667, 0.333333333333)
    """
    arr, shape = _as_2d(y)
    tau, p = _kendall(arr, _FACTORIALS)
    return tau.reshape(shape[:-1]), p.reshape(shape[:-1])
