"""Hypothesis strategies for vegdask's data, for the project's tests and for users' own.

Requires ``hypothesis`` (installed with ``vegdask[test]``).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

__all__ = ["masks"]


def masks(
    *, min_side: int = 1, max_side: int = 24, min_fill: float = 0.0, max_fill: float = 1.0
) -> st.SearchStrategy[np.ndarray]:
    """Binary 2-D masks of varied shape and density.

    The density is drawn first, so sparse, dense and near-full masks are all common (a uniform draw
    per pixel would almost always give ~50 %).

    Examples
    --------
    >>> from hypothesis import given
    >>> @given(masks(max_side=8))
    ... def test_shape(mask):
    ...     assert mask.ndim == 2 and mask.dtype == bool
    >>> test_shape()
    """

    @st.composite
    def _mask(draw: st.DrawFn) -> np.ndarray:
        shape = draw(hnp.array_shapes(min_dims=2, max_dims=2, min_side=min_side, max_side=max_side))
        fill = draw(st.floats(min_value=min_fill, max_value=max_fill))
        seed = draw(st.integers(min_value=0, max_value=2**32 - 1))
        return np.random.default_rng(seed).random(shape) < fill

    return _mask()
