"""The centrality kernel against pyveg's dense method, on realistic patterned tiles.

Target: a 50x50 tile with ~1900 signal pixels (signal fraction 0.75) in <= 10 ms on one core. The
dense reference (pyveg's method: eigendecomposition, then the Euler characteristic of each cut) is
timed in the same run so the ratio is visible.
"""

import numpy as np
from scipy.ndimage import gaussian_filter

from vegdask.kernels import feature_vector, tile_feature_vectors

TILE_SIZES = [25, 50, 100]
SIGNAL_FRACTIONS = [0.25, 0.5, 0.75]


def patterned_tile(size, signal_fraction, seed=0):
    """A thresholded smoothed noise field, like a thresholded Sentinel-2 NDVI sub-image."""
    field = gaussian_filter(np.random.default_rng(seed).standard_normal((size, size)), 2.0)
    return field > np.quantile(field, 1 - signal_fraction)


def dense_feature_vector(mask, num_quantiles=20):
    """pyveg's method: dense adjacency, eigh, SC = sum phi^2 exp(lambda), V - E per cut."""
    coords = np.argwhere(mask)
    diff = np.abs(coords[:, None, :] - coords[None, :, :]).sum(axis=-1)
    adjacency = (diff == 1).astype(float)
    eigenvalues, eigenvectors = np.linalg.eigh(adjacency)
    order = np.argsort((eigenvectors**2) @ np.exp(eigenvalues))[::-1]
    fv = np.zeros(num_quantiles)
    for i in range(1, num_quantiles):
        top = order[: round(i * (100 / num_quantiles) * len(order) / 100)]
        fv[i] = len(top) - adjacency[np.ix_(top, top)].sum() / 2
    return fv


class FeatureVector:
    params = (TILE_SIZES, SIGNAL_FRACTIONS)
    param_names = ["tile_size", "signal_fraction"]

    def setup(self, tile_size, signal_fraction):
        self.mask = patterned_tile(tile_size, signal_fraction)
        feature_vector(self.mask)  # compile (or load the numba cache) outside the timing

    def time_feature_vector(self, tile_size, signal_fraction):
        feature_vector(self.mask)

    def time_feature_vector_diagonal(self, tile_size, signal_fraction):
        feature_vector(self.mask, diagonal=True)

    def peakmem_feature_vector(self, tile_size, signal_fraction):
        feature_vector(self.mask)

    def peakmem_reference(self, tile_size, signal_fraction):
        """Baseline: the memory of the process with the mask and nothing computed."""


class DenseReference:
    """pyveg's dense method, for the ratio (100x100 tiles are skipped: minutes each)."""

    params = (TILE_SIZES, SIGNAL_FRACTIONS)
    param_names = ["tile_size", "signal_fraction"]
    timeout = 120

    def setup(self, tile_size, signal_fraction):
        if tile_size > 50:
            raise NotImplementedError("the dense method takes minutes on tiles this large")
        self.mask = patterned_tile(tile_size, signal_fraction)

    def time_dense_feature_vector(self, tile_size, signal_fraction):
        dense_feature_vector(self.mask)

    def peakmem_dense_feature_vector(self, tile_size, signal_fraction):
        dense_feature_vector(self.mask)


class TileBlock:
    """One chunk task: a 500x500 block = 100 tiles of 50x50 in one call."""

    def setup(self):
        field = gaussian_filter(np.random.default_rng(1).standard_normal((500, 500)), 2.0)
        self.block = field > np.quantile(field, 0.25)
        tile_feature_vectors(self.block[:50, :50])

    def time_tile_feature_vectors_100_tiles(self):
        tile_feature_vectors(self.block)


def timeraw_import():
    return "import vegdask.kernels"
