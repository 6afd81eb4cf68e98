"""The vegetation mask of a Scene, lazily, period by period, exactly as pyveg made it.

NDVI -> 8 bits -> CLAHE over the whole period (its tile grid is relative to the scene, so each
period is one block) -> mean adaptive threshold (halo 25) and 3x3 median (halo 1), chunked with
``map_overlap`` and replicated borders, which reproduces the unchunked result exactly.
"""

from __future__ import annotations

import dask.array as da
import numpy as np
import xarray as xr

from vegdask.kernels import adaptive_threshold, clahe, median3, ndvi_to_uint8

__all__ = ["binary_image", "vegetation_mask"]

THRESHOLD_BLOCK = 51


def _equalised(ndvi_block: np.ndarray) -> np.ndarray:
    return np.stack([clahe(ndvi_to_uint8(period)) for period in ndvi_block])


def _threshold_block(block: np.ndarray) -> np.ndarray:
    return np.stack([adaptive_threshold(period, block_size=THRESHOLD_BLOCK) for period in block])


def _median_block(block: np.ndarray) -> np.ndarray:
    return np.stack([median3(period) for period in block])


def binary_image(scene: xr.Dataset) -> xr.DataArray:
    """Pyveg's black-and-white image of each period: 255 = bare soil, 0 = vegetation (uint8).

    Parameters
    ----------
    scene : xarray.Dataset
        A Scene (needs ``ndvi``, chunked ``time=1``).

    Returns
    -------
    xarray.DataArray
        Lazy uint8, dims (time, y, x), chunked like the Scene's ``ndvi``.
    """
    ndvi = scene["ndvi"].data
    whole = ndvi.rechunk({0: 1, 1: -1, 2: -1})
    equalised = whole.map_blocks(_equalised, dtype=np.uint8)
    equalised = equalised.rechunk(ndvi.chunks)
    depth = {0: 0, 1: THRESHOLD_BLOCK // 2, 2: THRESHOLD_BLOCK // 2}
    thresholded = da.map_overlap(
        _threshold_block, equalised, depth=depth, boundary="nearest", dtype=np.uint8
    )
    smoothed = da.map_overlap(
        _median_block, thresholded, depth={0: 0, 1: 1, 2: 1}, boundary="nearest", dtype=np.uint8
    )
    return xr.DataArray(
        smoothed, dims=("time", "y", "x"), coords=scene["ndvi"].coords, name="binary_image"
    )


def vegetation_mask(scene: xr.Dataset) -> xr.DataArray:
    """True where pyveg's processing classes a pixel as vegetation (its black, 0, pixels).

    Examples
    --------
    >>> from vegdask.data import synthetic_scene
    >>> scene, _ = synthetic_scene("2016-01-01", "2016-02-01", size=100, spinup_steps=500)
    >>> mask = vegetation_mask(scene)
    >>> mask.dtype, 0.1 < float(mask.mean()) < 0.9
    (dtype('bool'), True)
    """
    return (binary_image(scene) == 0).rename("vegetation_mask")
