"""``scene.veg``: the computation layer's functions as an xarray accessor on Scenes."""

from __future__ import annotations

from typing import Any

import xarray as xr

from vegdask.compute._mask import binary_image, vegetation_mask
from vegdask.compute._tiles import tile_metrics

__all__ = ["VegAccessor"]


@xr.register_dataset_accessor("veg")
class VegAccessor:
    """Scene methods: ``scene.veg.vegetation_mask()``, ``scene.veg.tile_metrics(...)``.

    The accessor only holds the Scene and delegates to :mod:`vegdask.compute`.

    Examples
    --------
    >>> from vegdask.data import synthetic_scene
    >>> scene, _ = synthetic_scene("2016-01-01", "2016-03-01", size=100, spinup_steps=200)
    >>> tiles = scene.veg.tile_metrics()
    >>> dict(tiles.sizes)
    {'time': 2, 'tile_y': 2, 'tile_x': 2, 'quantile': 20}
    """

    def __init__(self, scene: xr.Dataset):
        self._scene = scene

    def binary_image(self) -> xr.DataArray:
        """Pyveg's black-and-white image; see :func:`vegdask.compute.binary_image`."""
        return binary_image(self._scene)

    def vegetation_mask(self) -> xr.DataArray:
        """The vegetation mask; see :func:`vegdask.compute.vegetation_mask`."""
        return vegetation_mask(self._scene)

    def tile_metrics(self, **kwargs: Any) -> xr.Dataset:
        """Per-tile metrics; see :func:`vegdask.compute.tile_metrics`."""
        return tile_metrics(self._scene, **kwargs)
