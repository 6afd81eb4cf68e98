"""Compile the numba kernels of a job once per machine, before its workers need them.

numba caches compiled kernels on disk (``cache=True``, in ``__pycache__`` next to the source or in
``NUMBA_CACHE_DIR``). A process that finds the cache loads it in about a second; one that does not
compiles for tens of seconds. Calling :func:`compile_kernels` before local workers start makes the
machine compile once, and every worker load the cache. The kernels come in two groups that can be
compiled at the same time by two processes: those of the tiles (fetch and process stages) and
those of the analysis.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from vegdask.kernels._feature_vector import tile_feature_vectors
from vegdask.kernels._kendall import kendall_tau
from vegdask.kernels._pooled import pooled_surrogate_test
from vegdask.kernels._preprocess import clahe
from vegdask.kernels._rietkerk import rietkerk_evolve
from vegdask.kernels._rolling import rolling_indicators
from vegdask.kernels._smoothing import gaussian_smooth, loess_smooth
from vegdask.kernels._surrogates import surrogate_test

__all__ = ["KERNEL_GROUPS", "compile_kernels"]


def _tile_kernels() -> None:
    tile_feature_vectors(np.ones((2, 2), dtype=bool), tile_size=2, with_tie_sensitivity=True)
    clahe(np.zeros((2, 2), dtype=np.uint8), tiles=(1, 1))
    grid = np.ones((2, 2))
    rietkerk_evolve(grid, grid, grid, rainfall=1.0, steps=1)


def _analysis_kernels() -> None:
    # One specialisation each: the series kernels take every input as writable float64 rows.
    series = np.sin(np.arange(40.0)) + np.linspace(0.0, 1.0, 40)
    series[5] = np.nan
    gaussian_smooth(series, 3.0)
    loess_smooth(series, 0.5)
    rolling_indicators(series, 0.5, state=series)
    kendall_tau(series)
    surrogate_test(series, 0.5, n_surrogates=2)
    pooled_surrogate_test(np.stack([series, series[::-1]]), 0.5, n_surrogates=2)


#: The groups of kernels :func:`compile_kernels` compiles, by name.
KERNEL_GROUPS: dict[str, Callable[[], None]] = {
    "tiles": _tile_kernels,
    "analysis": _analysis_kernels,
}


def compile_kernels(groups: tuple[str, ...] = tuple(KERNEL_GROUPS)) -> None:
    """Compile (or load from numba's cache) the kernels that a job's workers run.

    Each kernel is called once on a tiny input, with the argument types the job passes.

    Parameters
    ----------
    groups : tuple of str, default every group
        ``"tiles"``: the tile feature vectors (either neighbourhood: one specialisation), CLAHE
        of the vegetation mask and the synthetic source's Rietkerk model. ``"analysis"``: the
        early-warning kernels (smoothing, rolling indicators, Kendall tau, ARMA surrogates).

    Examples
    --------
    >>> compile_kernels(("tiles",))
    """
    unknown = sorted(set(groups) - set(KERNEL_GROUPS))
    if unknown:
        raise ValueError(f"unknown kernel groups {unknown}; expected some of {list(KERNEL_GROUPS)}")
    for name in groups:
        KERNEL_GROUPS[name]()
