"""Shared helper of the series kernels: every one works on the last axis of any-shaped input.

A call handles one series ``(n,)``, a stack of surrogates ``(m, n)`` or every tile of a map
``(ty, tx, n)`` the same way: the leading axes are flattened into rows and restored afterwards.
NaN marks a missing observation; gaps are masked, never interpolated.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _as_2d(x: Any) -> tuple[np.ndarray, tuple[int, ...]]:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 0:
        raise ValueError("expected a series (at least 1-d array), got a scalar")
    rows = np.ascontiguousarray(arr.reshape(-1, arr.shape[-1]))
    # numba compiles (and caches) a kernel again for read-only arrays (pandas and xarray hand
    # those out): a writable copy keeps one specialisation per kernel.
    return (rows if rows.flags.writeable else rows.copy()), arr.shape
