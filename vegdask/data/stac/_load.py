"""`stac_scene`: the STAC source as named stages, as odc-stac's ``load()`` is.

Check the options, build the grid, find and select the catalogue's items, load their bands with
odc-stac (signing on read), composite each period, assemble the Scene.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any, cast

import dask.array as da
import pandas as pd
import xarray as xr

from vegdask import config
from vegdask.data._periods import make_periods
from vegdask.data._scene import assemble_scene, check_region, default_chunks, scene_grid
from vegdask.data.stac._catalog import find_items, import_stac, item_time, select_items
from vegdask.data.stac._composite import period_composites, period_stack
from vegdask.data.stac._driver import load_bands
from vegdask.data.stac._redaction import strip_query
from vegdask.data.stac._reflectance import (
    assets_of,
    check_asset_roles,
    collection_spec,
    reflectance_offset,
)
from vegdask.data.stac._signing import catalogue_signer, resolve_signer

__all__ = ["stac_scene"]


def stac_scene(
    start: str,
    end: str,
    period: str = "1m",
    *,
    location: tuple[float, float],
    size: int = 500,
    resolution: float | None = None,
    catalog: str,
    collection: str | None = None,
    sign: Callable[[str], str] | str | None = None,
    max_cloud: float | None = None,
    chunks: dict[str, int] | None = None,
    drop_partial: bool = False,
    assets: Mapping[str, str] | None = None,
    resampling: str = "nearest",
    timeout: float | None = None,
    **options: Any,
) -> tuple[xr.Dataset, None]:
    """A lazy Scene of per-period median composites from a STAC catalogue.

    A keyword left as None takes its setting, ``vegdask.source.stac.<keyword>``
    (``vegdask.yaml``; ``_`` written ``-``).

    Parameters
    ----------
    start, end, period : str
        The date range (``end`` exclusive) and period length (see :func:`make_periods`).
    location : (float, float)
        Longitude and latitude of the scene centre.
    size : int, default 500
        Scene side in pixels.
    resolution : float, optional
        Pixel size in metres (the setting, 10 as packaged); the grid is :func:`scene_grid` (UTM,
        north up).
    catalog : str
        A STAC API URL (e.g. ``https://planetarycomputer.microsoft.com/api/stac/v1``) or the URL
        or path (``file://`` too) of a static ``catalog.json``/``collection.json``. A SAS query
        string on the URL is used to read the catalogue and the assets in the same container.
    collection : str, optional
        The collection (the setting, ``sentinel-2-l2a`` as packaged); see ``COLLECTIONS`` for
        those with a band mapping.
    sign : callable or str, optional
        ``href -> signed href``, applied when an asset (or a static catalogue file over http) is
        read: ``planetary_computer.sign``, :func:`sas_signer` or :func:`azure_sas_signer`; or a
        config string for :func:`resolve_signer` (``"planetary-computer"``, ``"sas:<ENV_VAR>"``);
        the setting by default (null as packaged: the catalogue URL's SAS, if it has one).
    max_cloud : float, optional
        Skip items whose ``eo:cloud_cover`` exceeds this percentage (0-100); the setting by
        default (null as packaged: none skipped).
    chunks : dict, optional
        Scene chunks; :func:`default_chunks` by default (``time`` is always 1).
    drop_partial : bool, default False
        Drop a trailing partial period (see :func:`make_periods`).
    assets : dict, optional
        Asset keys overriding the band mapping, e.g. ``{"red": "B04_10m"}``; keys among red,
        green, blue, nir and scl; the setting by default (null as packaged: none).
    resampling : str, default "nearest"
        odc-stac resampling of the bands (the SCL layer is always resampled by nearest).
    timeout : float, optional
        Seconds before a catalogue request fails; the setting (60 as packaged) by default.
    **options
        Passed on to :func:`odc.stac.load` (e.g. ``pool``).

    Returns
    -------
    scene, None
        The lazy Scene (no weather from this source).

    Raises
    ------
    ValueError
        For an unknown collection or band, a zero-size region, coordinates out of range, a
        catalogue that cannot be read, a bad ``max_cloud``; at compute time, an asset that cannot
        be read (named without its query string).
    ImportError
        If odc-stac/pystac are not installed (``pip install vegdask[stac]``).

    Examples
    --------
    >>> stac_scene("2022-01-01", "2022-03-01", location=(27.94, 11.58), catalog="x",
    ...            collection="landsat")
    Traceback (most recent call last):
    ...
    ValueError: collection 'landsat' has no band mapping; known collections: ['sentinel-2-l2a']
    """
    collection = config.get("source.stac.collection", collection)
    resolution = config.get("source.stac.resolution", resolution)
    assets = config.get("source.stac.assets", assets)
    max_cloud = config.get("source.stac.max-cloud", max_cloud)
    timeout = config.get("source.stac.timeout", timeout)
    spec = collection_spec(collection)
    sign = _check_options(
        location, size, resolution, config.get("source.stac.sign", sign), assets, max_cloud
    )
    chunks = {**default_chunks(), **(chunks or {}), "time": 1}
    periods = make_periods(start, end, period, drop_partial=drop_partial)
    import_stac()
    epsg, x, y = scene_grid(location, size, resolution)
    geobox = _geobox(epsg, x, y, size, resolution)
    bbox = _lonlat_bbox(geobox)
    interval = (
        pd.Timestamp(periods["start"].iloc[0]).to_pydatetime(),
        pd.Timestamp(periods["end"].iloc[-1]).to_pydatetime(),
    )
    catalog = str(catalog)
    if sign is None:
        sign = catalogue_signer(catalog)
    found = find_items(
        catalog, collection, bbox, interval, max_cloud=max_cloud, sign=sign, timeout=timeout
    )
    starts = periods["start"].to_numpy()
    selected = select_items(found, collection, starts, bbox, interval, max_cloud)
    per_period: list[da.Array | None] = [None] * len(periods)
    if selected:
        items = [item for _, item in selected]
        keys_of = assets_of(spec, assets, items, collection)
        keys = _acquisition_keys(selected, keys_of["red"], collection, lon=float(location[0]))
        groups = sorted(set(keys))
        arrays = load_bands(
            items,
            keys_of,
            keys,
            geobox=geobox,
            chunks=chunks,
            resampling=resampling,
            sign=sign,
            options=options,
        )
        per_period = period_composites(arrays, groups, len(periods), spec.scale)
    attrs = {
        "source": "stac",
        "collection": collection,
        "location": f"{location[0]:.4f},{location[1]:.4f}",
        "resolution": float(resolution),
        "catalog": strip_query(catalog),
    }
    stack = period_stack(per_period, size, chunks)
    return assemble_scene(stack, periods, x=x, y=y, crs=f"EPSG:{epsg}", attrs=attrs), None


def _check_options(
    location: tuple[float, float],
    size: int,
    resolution: float,
    sign: Callable[[str], str] | str | None,
    assets: Mapping[str, str] | None,
    max_cloud: float | None,
) -> Callable[[str], str] | None:
    """Check the region, band overrides and cloud limit; return the resolved signer."""
    check_region(location, size, resolution)
    sign = resolve_signer(sign)
    if assets is not None:
        check_asset_roles(assets)
    if max_cloud is not None and not 0 <= max_cloud <= 100:
        raise ValueError(f"max_cloud must be a percentage within 0..100, got {max_cloud!r}")
    return sign


def _geobox(epsg: int, x: Any, y: Any, size: int, resolution: float) -> Any:
    """The odc GeoBox of the Scene grid (pixel centres ``x``, ``y``; north up)."""
    from affine import Affine
    from odc.geo.geobox import GeoBox

    return GeoBox(
        (size, size),
        Affine(resolution, 0.0, x[0] - resolution / 2, 0.0, -resolution, y[0] + resolution / 2),
        f"EPSG:{epsg}",
    )


def _lonlat_bbox(geobox: Any) -> tuple[float, float, float, float]:
    lonlat = geobox.geographic_extent.boundingbox
    return (lonlat.left, lonlat.bottom, lonlat.right, lonlat.top)


def _acquisition_keys(
    selected: list[tuple[int, Any]], red: str, collection: str, *, lon: float
) -> list[tuple[int, date, float]]:
    """Each item's (period, local solar day, reflectance offset): one acquisition per key."""
    return [
        (
            index,
            # select_items keeps only items with a time
            (cast(datetime, item_time(item)) + timedelta(hours=lon / 15)).date(),
            reflectance_offset(item, red, collection),
        )
        for index, item in selected
    ]
