"""The centrality kernel against pyveg's dense method, on realistic patterned tiles.

Targets: a 50x50 Sentinel-2 tile (~1900 signal pixels) in <= 8 ms on one core, measured on pyveg's
own reference tiles when they are present (``VEGDASK_PYVEG_REFERENCE``: the path of pyveg's
``pyveg_feature_vectors.json``; the benchmark checks the feature vectors against pyveg's first);
the numba kernels compiled once from an empty cache (``timeraw_compile_kernels_cold``). The dense
reference (pyveg's method: eigendecomposition, then the Euler characteristic of each cut) is timed
in the same run so the ratio is visible.
"""

import json
import os
import time
from pathlib import Path

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


def _reference_file():
    default = Path(__file__).resolve().parents[2] / "shared/reference/pyveg_feature_vectors.json"
    return Path(os.environ.get("VEGDASK_PYVEG_REFERENCE", default))


class PyvegReferenceTiles:
    """pyveg's 11 thresholded Sentinel-2 50x50 sub-images, 4- and 8-neighbour graphs."""

    params = [False, True]
    param_names = ["diagonal"]

    def setup(self, diagonal):
        path = _reference_file()
        if not path.exists():
            raise NotImplementedError(f"no pyveg reference tiles at {path}")
        cases = [
            c
            for c in json.loads(path.read_text())
            if c["diag"] == diagonal and c["name"].startswith("sentinel2")
        ]
        self.masks = [np.array([[ch == "1" for ch in row] for row in c["rows"]]) for c in cases]
        for case, mask in zip(cases, self.masks, strict=True):
            if not np.array_equal(feature_vector(mask, diagonal=diagonal), case["feature_vec"]):
                raise AssertionError(f"feature vector differs from pyveg's on {case['name']}")

    def time_sentinel2_tiles(self, diagonal):
        for mask in self.masks:
            feature_vector(mask, diagonal=diagonal)

    def track_ms_per_sentinel2_tile(self, diagonal):
        """Median over 20 passes of the mean time per tile (CPU time of this process, in ms)."""
        runs = []
        for _ in range(20):
            start = time.process_time()
            self.time_sentinel2_tiles(diagonal)
            runs.append((time.process_time() - start) / len(self.masks))
        return 1e3 * float(np.median(runs))

    track_ms_per_sentinel2_tile.unit = "ms"


def timeraw_import():
    return "import vegdask.kernels"


def timeraw_compile_kernels_cold():
    """A fresh interpreter compiles every kernel a job's workers run, from an empty numba cache."""
    return """
import os, tempfile
os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp()
from vegdask.kernels import compile_kernels
compile_kernels()
"""


def timeraw_load_kernels_warm():
    """A fresh interpreter loads them from numba's cache (as each local worker does)."""
    return """
from vegdask.kernels import compile_kernels
compile_kernels()
"""
