"""Compile the numba kernels of a job once per machine, before its workers need them.

numba caches compiled kernels on disk (``cache=True``, in ``__pycache__`` next to the source or in
``NUMBA_CACHE_DIR``). A process that finds the cache loads it in about a second; one that does not
compiles for tens of seconds. Calling :func:`compile_kernels` in the driver before local workers
start makes the machine compile once, and every worker load the cache.
"""

from __future__ import annotations

import numpy as np

from vegdask.kernels._feature_vector import tile_feature_vectors
from vegdask.kernels._preprocess import clahe
from vegdask.kernels._rietkerk import rietkerk_evolve

__all__ = ["compile_kernels"]


def compile_kernels() -> None:
    """Compile (or load from numba's cache) the kernels that a job's workers run.

    These are the tile feature vectors (either neighbourhood: one specialisation), CLAHE of the
    vegetation mask and the synthetic source's Rietkerk model, each called once on a tiny input.

    Examples
    --------
    >>> compile_kernels()
    """
    tile_feature_vectors(np.ones((2, 2), dtype=bool), tile_size=2)
    clahe(np.zeros((2, 2), dtype=np.uint8), tiles=(1, 1))
    grid = np.ones((2, 2))
    rietkerk_evolve(grid, grid, grid, rainfall=1.0, steps=1)
