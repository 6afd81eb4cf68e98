"""One entry point for every imagery source, by kind, as job configs name them."""

from __future__ import annotations

import importlib
from typing import Any

import xarray as xr

__all__ = ["SOURCE_KINDS", "open_source"]

# kind -> (module, function); imported on use: Earth Engine and STAC are optional extras.
_SOURCES: dict[str, tuple[str, str]] = {
    "synthetic": ("vegdask.data._synthetic", "synthetic_scene"),
    "earthengine": ("vegdask.data.earthengine", "earthengine_scene"),
    "stac": ("vegdask.data.stac", "stac_scene"),
    "local": ("vegdask.data._local", "local_scene"),
}
SOURCE_KINDS: tuple[str, ...] = tuple(_SOURCES)


def open_source(
    kind: str, start: str, end: str, period: str, **options: Any
) -> tuple[xr.Dataset, xr.Dataset | None]:
    """The lazy Scene (and weather, where the source has it) of source ``kind``.

    Parameters
    ----------
    kind : {"synthetic", "earthengine", "stac", "local"}
        The source.
    start, end, period : str
        The date range and period length.
    **options
        The source function's keyword arguments (e.g. ``location``, ``size``, ``collection``).

    Raises
    ------
    ValueError
        If ``kind`` is not a known source.

    Examples
    --------
    >>> scene, weather = open_source(
    ...     "synthetic", "2016-01-01", "2016-03-01", "1m", size=100, spinup_steps=10
    ... )
    >>> scene.attrs["source"], scene.sizes["time"]
    ('synthetic', 2)
    """
    if kind not in _SOURCES:
        raise ValueError(f"unknown source kind {kind!r}; allowed: {list(SOURCE_KINDS)}")
    module, function = _SOURCES[kind]
    return getattr(importlib.import_module(module), function)(start, end, period, **options)
