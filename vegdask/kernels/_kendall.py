"""Kendall's tau of series against time (the trend statistic of early-warning indicators)."""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np

from vegdask.kernels._lastaxis import _as_2d

__all__ = ["kendall_tau"]


@numba.njit(cache=True)
def _kendall(y):
    m = y.shape[0]
    tau = np.full(m, np.nan)
    pval = np.full(m, np.nan)
    for s in range(m):
        idx = np.flatnonzero(~np.isnan(y[s]))
        nv = idx.size
        if nv < 3:
            continue
        v = y[s, idx]
        score = 0.0
        for i in range(nv):
            for j in range(i + 1, nv):
                d = v[j] - v[i]
                if d > 0:
                    score += 1.0
                elif d < 0:
                    score -= 1.0
        # Ties in y (x = time has none).
        srt = np.sort(v)
        ties_pairs = 0.0
        ties_var = 0.0
        run = 1
        for i in range(1, nv + 1):
            if i < nv and srt[i] == srt[i - 1]:
                run += 1
            else:
                ties_pairs += run * (run - 1) / 2.0
                ties_var += run * (run - 1.0) * (2.0 * run + 5.0)
                run = 1
        n0 = nv * (nv - 1) / 2.0
        denom = math.sqrt(n0 * (n0 - ties_pairs))
        if denom == 0.0:
            continue
        tau[s] = score / denom
        var = (nv * (nv - 1.0) * (2.0 * nv + 5.0) - ties_var) / 18.0
        pval[s] = math.erfc(abs(score) / math.sqrt(var) / math.sqrt(2.0))
    return tau, pval


def kendall_tau(y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Kendall's tau-b of each series against time, with its two-sided asymptotic p-value.

    NaN samples are dropped (pairwise complete against time). The p-value is the normal
    approximation with the tie correction (``scipy.stats.kendalltau(method="asymptotic")``); it
    treats samples as independent, which rolling-window indicators are not: use
    :func:`surrogate_test` for the significance of an indicator's trend.

    Parameters
    ----------
    y : (..., n) array_like

    Returns
    -------
    tau, p_value : (...) ndarray of float64
        NaN where fewer than 3 valid samples or a constant series.

    Examples
    --------
    >>> tau, p = kendall_tau([1.0, 2.0, np.nan, 4.0, 3.0])
    >>> float(tau)
    0.6666666666666666
    """
    arr, shape = _as_2d(y)
    tau, p = _kendall(arr)
    return tau.reshape(shape[:-1]), p.reshape(shape[:-1])
