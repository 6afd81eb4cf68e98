"""False-discovery-rate control over many tests (tiles, indicators)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["benjamini_hochberg"]


def benjamini_hochberg(p_values: Any, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Benjamini-Hochberg false-discovery-rate control over all finite p-values (any shape).

    Returns
    -------
    q_values, significant : ndarray
        Adjusted p-values (NaN where the input is) and the rejections at level ``alpha``.

    Examples
    --------
    >>> q, sig = benjamini_hochberg([0.01, 0.04, 0.03, np.nan])
    >>> q.round(3).tolist(), sig.tolist()
    ([0.03, 0.04, 0.04, nan], [True, True, True, False])
    """
    p = np.asarray(p_values, dtype=np.float64)
    q = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    m = int(ok.sum())
    if m:
        flat = p[ok]
        order = np.argsort(flat)
        ranked = flat[order] * m / np.arange(1, m + 1)
        adj = np.minimum(np.minimum.accumulate(ranked[::-1])[::-1], 1.0)
        vals = np.empty(m)
        vals[order] = adj
        q[ok] = vals
    return q, np.where(ok, q <= alpha, False)
