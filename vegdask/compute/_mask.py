"""The vegetation mask of a Scene, lazily, period by period, exactly as pyveg made it.

NDVI -> 8 bits -> CLAHE over the whole period (its tile grid is relative to the scene, so each
period is one block) -> mean adaptive threshold (51 x 51, replicated borders) -> 3x3 median, all in
one task per period, then split into the Scene's chunks.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from dask.base import is_dask_collection

from vegdask.kernels import adaptive_threshold, clahe, median3, ndvi_to_uint8

__all__ = ["binary_image", "vegetation_mask"]

THRESHOLD_BLOCK = 51


def _binary_periods(ndvi_block: np.ndarray) -> np.ndarray:
    """The black-and-white image of each whole period of the block (one task per period)."""
    return np.stack(
        [
            median3(adaptive_threshold(clahe(ndvi_to_uint8(period)), block_size=THRESHOLD_BLOCK))
            for period in ndvi_block
        ]
    )


def binary_image(scene: xr.Dataset) -> xr.DataArray:
    """Pyveg's black-and-white image of each period: 255 = bare soil, 0 = vegetation (uint8).

    Parameters
    ----------
    scene : xarray.Dataset
        A Scene (needs ``ndvi``, chunked ``time=1``).

    Returns
    -------
    xarray.DataArray
        uint8, dims (time, y, x): lazy and chunked like the Scene's ``ndvi``, or computed now for a
        Scene in memory (numpy).
    """
    return xr.DataArray(
        _binary_data(scene["ndvi"].data),
        dims=("time", "y", "x"),
        coords=scene["ndvi"].coords,
        name="binary_image",
    )


def _binary_data(ndvi: Any) -> Any:
    """:func:`binary_image`'s array, of the (time, y, x) ``ndvi``: dask, chunked alike, or numpy.

    For what needs only the array (:func:`~vegdask.compute.tile_metrics`): the DataArray's
    copies of the Scene's coordinates took twice as long as the dask graph.
    """
    if is_dask_collection(ndvi):
        # One task per period: CLAHE needs the whole period, and the threshold and median filters
        # on it cost less than the halo exchange that chunked filters would need.
        whole = ndvi.rechunk({0: 1, 1: -1, 2: -1})
        return whole.map_blocks(_binary_periods, dtype=np.uint8).rechunk(ndvi.chunks)
    return _binary_periods(np.asarray(ndvi))  # a Scene in memory


def vegetation_mask(scene: xr.Dataset) -> xr.DataArray:
    """True where pyveg's processing classes a pixel as vegetation (its black, 0, pixels).

    Examples
    --------
    >>> from vegdask.data import synthetic_scene
    >>> scene, _ = synthetic_scene("2016-01-01", "2016-02-01", size=100, spinup_steps=500)
    >>> mask = vegetation_mask(scene)
    >>> mask.dtype, 0.1 < float(mask.mean()) < 0.9
    (dtype('bool'), True)
    >>> bool((vegetation_mask(scene.load()) == mask).all())  # a Scene in memory too
    True
    """
    return (binary_image(scene) == 0).rename("vegetation_mask")
