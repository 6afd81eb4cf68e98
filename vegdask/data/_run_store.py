"""A run's outputs at a local path or fsspec URL: strict JSON."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["to_strict_json"]


def to_strict_json(obj: Any) -> Any:
    """Convert numpy scalars/arrays to Python and NaN/inf to None (strict JSON).

    Examples
    --------
    >>> to_strict_json({"a": np.float64("nan"), "b": np.arange(2), "c": (1.5, np.int64(2))})
    {'a': None, 'b': [0, 1], 'c': [1.5, 2]}
    """
    if isinstance(obj, dict):
        return {str(k): to_strict_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | np.ndarray):
        return [to_strict_json(v) for v in list(obj)]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
