"""Kernels: pure functions on numpy arrays, numba where hot; no xarray, dask, storage or Azure.

The public names are re-exported here; the implementations live in private modules.
"""

from vegdask.kernels._centrality import (
    feature_vector,
    feature_vector_metrics,
    subgraph_centrality,
    tile_feature_vectors,
)

__all__ = [
    "feature_vector",
    "feature_vector_metrics",
    "subgraph_centrality",
    "tile_feature_vectors",
]
