"""Kernels: pure functions on numpy arrays, numba where hot; no xarray, dask, storage or Azure.

The public names are re-exported here; the implementations live in private modules.
"""

from vegdask.kernels._centrality import (
    feature_vector,
    feature_vector_metrics,
    subgraph_centrality,
    tile_feature_vectors,
)
from vegdask.kernels._ews import (
    AR1_ESTIMATORS,
    INDICATORS,
    ArmaFit,
    benjamini_hochberg,
    fit_arma,
    gaussian_sigma,
    gaussian_smooth,
    kendall_tau,
    loess_smooth,
    rolling_indicators,
    simulate_arma,
    surrogate_test,
    window_length,
)

__all__ = [
    "AR1_ESTIMATORS",
    "INDICATORS",
    "ArmaFit",
    "benjamini_hochberg",
    "feature_vector",
    "feature_vector_metrics",
    "fit_arma",
    "gaussian_sigma",
    "gaussian_smooth",
    "kendall_tau",
    "loess_smooth",
    "rolling_indicators",
    "simulate_arma",
    "subgraph_centrality",
    "surrogate_test",
    "tile_feature_vectors",
    "window_length",
]
