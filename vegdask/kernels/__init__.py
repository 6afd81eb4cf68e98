"""Kernels: pure functions on numpy arrays, numba where hot; no xarray, dask, storage or Azure.

The public names are re-exported here; the implementations live in private modules, one per
concern: ``_centrality`` (subgraph centrality), ``_feature_vector`` (feature vectors, ties),
``_preprocess``, ``_rietkerk``, and the early-warning kernels ``_smoothing`` (trend), ``_rolling``
(indicators), ``_kendall`` (trend statistic), ``_arma`` and ``_surrogates`` (significance),
``_pooled`` (a site's tiles pooled against phase-randomised surrogates), ``_fdr`` (many tests);
``_warmup`` compiles the numba kernels of a job once, before its workers start.
"""

from vegdask.kernels._arma import ArmaFit, fit_arma, simulate_arma
from vegdask.kernels._centrality import subgraph_centrality
from vegdask.kernels._fdr import benjamini_hochberg
from vegdask.kernels._feature_vector import (
    feature_vector,
    feature_vector_metrics,
    tie_sensitivity,
    tile_feature_vectors,
)
from vegdask.kernels._kendall import kendall_tau
from vegdask.kernels._pooled import (
    fill_gaps_linear,
    pooled_surrogate_test,
    pooled_tau,
    random_phases,
)
from vegdask.kernels._preprocess import adaptive_threshold, clahe, median3, ndvi_to_uint8
from vegdask.kernels._rietkerk import (
    PUBLISHED_PARAMETERS,
    PYVEG_PARAMETERS,
    RietkerkParameters,
    rietkerk_evolve,
)
from vegdask.kernels._rolling import (
    AR1_ESTIMATORS,
    ROLLING_INDICATORS,
    rolling_indicators,
    window_length,
)
from vegdask.kernels._smoothing import gaussian_sigma, gaussian_smooth, loess_smooth
from vegdask.kernels._surrogates import surrogate_test
from vegdask.kernels._warmup import KERNEL_GROUPS, compile_kernels

__all__ = [
    "AR1_ESTIMATORS",
    "KERNEL_GROUPS",
    "PUBLISHED_PARAMETERS",
    "PYVEG_PARAMETERS",
    "ROLLING_INDICATORS",
    "ArmaFit",
    "RietkerkParameters",
    "adaptive_threshold",
    "benjamini_hochberg",
    "clahe",
    "compile_kernels",
    "feature_vector",
    "feature_vector_metrics",
    "fill_gaps_linear",
    "fit_arma",
    "gaussian_sigma",
    "gaussian_smooth",
    "kendall_tau",
    "loess_smooth",
    "median3",
    "ndvi_to_uint8",
    "pooled_surrogate_test",
    "pooled_tau",
    "random_phases",
    "rietkerk_evolve",
    "rolling_indicators",
    "simulate_arma",
    "subgraph_centrality",
    "surrogate_test",
    "tie_sensitivity",
    "tile_feature_vectors",
    "window_length",
]
