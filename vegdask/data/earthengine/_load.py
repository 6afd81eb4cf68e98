"""`earthengine_scene`: the Earth Engine source as named stages.

Check the options, build the grid and the image spec, stack one delayed request per (period,
chunk), assemble the Scene; the weather is one more delayed request.
"""

from __future__ import annotations

from typing import Any

import xarray as xr

from vegdask import config
from vegdask.data._periods import make_periods
from vegdask.data._scene import assemble_scene, check_region, default_chunks, scene_grid
from vegdask.data.earthengine._collections import check_collection, check_dates
from vegdask.data.earthengine._imagery import (
    BYTES_PER_PIXEL,
    ImageSpec,
    block_stack,
    masking_description,
)
from vegdask.data.earthengine._session import import_ee
from vegdask.data.earthengine._weather import WeatherSpec, weather_dataset

__all__ = ["earthengine_scene"]

OPTIONS = ("cloud_threshold", "cloud_score_band", "mask_snow", "max_request_bytes")


def earthengine_scene(
    start: str,
    end: str,
    period: str = "1m",
    *,
    location: tuple[float, float],
    size: int = 500,
    resolution: float | None = None,
    collection: str | None = None,
    weather: bool | None = None,
    project: str | None = None,
    chunks: dict[str, int] | None = None,
    drop_partial: bool = False,
    cloud_threshold: float | None = None,
    cloud_score_band: str | None = None,
    mask_snow: bool | None = None,
    max_request_bytes: int | None = None,
    **options: Any,
) -> tuple[xr.Dataset, xr.Dataset | None]:
    """A lazy Scene of per-period median composites from Google Earth Engine, and its weather.

    Building the Scene sends nothing; computing it sends one ``computePixels`` request per
    (period, chunk) (more if a chunk exceeds ``max_request_bytes``) from whichever process runs
    the task, each initialising Earth Engine itself. A keyword left as None takes its setting,
    ``vegdask.source.earthengine.<keyword>`` (``vegdask.yaml``; ``_`` written ``-``).

    Parameters
    ----------
    start, end, period : str
        The date range (``end`` exclusive) and period length (see
        :func:`vegdask.data.make_periods`).
    location : (float, float)
        Longitude and latitude of the scene centre.
    size : int, default 500
        Scene side in pixels.
    resolution : float, optional
        Pixel size in metres; the setting (null as packaged: the collection's own, 10 for
        Sentinel-2 and 30 for Landsat) by default.
    collection : str, optional
        One of :data:`EARTHENGINE_COLLECTIONS`; the setting (``COPERNICUS/S2_SR_HARMONIZED``) by
        default.
    weather : bool, optional
        Also return ERA5-Land weather (precipitation in mm and mean 2 m temperature in K per
        period); ``None`` otherwise. The setting (true) by default.
    project : str, optional
        Google Cloud project registered for Earth Engine (requests are billed to it); the
        setting (null as packaged: the credentials' quota project) by default.
    chunks : dict, optional
        Scene chunks; :func:`vegdask.data.default_chunks` by default. One request per chunk.
    drop_partial : bool, default False
        Drop a trailing partial period.
    cloud_threshold : float, optional
        Sentinel-2: a pixel is clear where the Cloud Score+ band is >= this (0..1); the
        setting (0.6) by default.
    cloud_score_band : {"cs_cdf", "cs"}, optional
        Sentinel-2: the Cloud Score+ band used; the setting (``cs_cdf``) by default.
    mask_snow : bool, optional
        Landsat: also mask QA_PIXEL's snow bit; the setting (true) by default.
    max_request_bytes : int, optional
        Largest response asked for in one request (Earth Engine's limit is about 48 MB); the
        setting (32 MiB) by default.
    **options
        Rejected: any other keyword is an error naming the allowed ones.

    Returns
    -------
    scene : xarray.Dataset
        The lazy Scene (dims time, y, x); bands NaN and ``cloud_mask`` True where a period has
        no clear observation.
    weather : xarray.Dataset or None
        Lazy weather on the same periods (dim time).

    Raises
    ------
    ValueError
        For an unknown collection, dates outside its availability, a bad period, a region of
        zero size, coordinates out of range or an unknown option.
    ImportError
        If earthengine-api is not installed.

    Examples
    --------
    Building is offline and lazy; computing needs Earth Engine credentials.

    >>> scene, weather = earthengine_scene(
    ...     "2020-01-01", "2020-04-01", location=(27.94, 11.58), size=100
    ... )
    >>> dict(scene.sizes), scene.rio.crs.to_epsg(), scene.attrs["resolution"]
    ({'time': 3, 'y': 100, 'x': 100}, 32635, 10.0)
    >>> list(weather.data_vars)
    ['total_precipitation', 'mean_2m_air_temperature']
    """
    if options:
        raise ValueError(
            f"unknown Earth Engine option(s) {sorted(options)}; allowed: {', '.join(OPTIONS)}"
        )
    collection = config.get("source.earthengine.collection", collection)
    project = config.get("source.earthengine.project", project)
    cloud_threshold = config.get("source.earthengine.cloud-threshold", cloud_threshold)
    cloud_score_band = config.get("source.earthengine.cloud-score-band", cloud_score_band)
    max_request_bytes = config.get("source.earthengine.max-request-bytes", max_request_bytes)
    spec_collection = check_collection(collection)
    resolution = config.get("source.earthengine.resolution", resolution)
    if resolution is None:
        resolution = spec_collection.resolution
    lon, lat = check_region(location, size, resolution)
    _check_masking(cloud_threshold, cloud_score_band, max_request_bytes)
    periods = make_periods(start, end, period, drop_partial=drop_partial)
    check_dates(spec_collection, periods)
    import_ee()  # fail now, not in a worker, if the extra is missing

    epsg, x, y = scene_grid((lon, lat), int(size), float(resolution))
    spec = ImageSpec(
        collection=collection,
        epsg=epsg,
        resolution=float(resolution),
        footprint=_footprint(x, y, float(resolution)),
        cloud_threshold=float(cloud_threshold),
        cloud_score_band=cloud_score_band,
        mask_snow=config.flag("source.earthengine.mask-snow", mask_snow),
        project=project,
        max_request_bytes=int(max_request_bytes),
    )
    attrs = {
        "source": "earthengine",
        "collection": collection,
        "location": f"{lon:.4f},{lat:.4f}",
        "resolution": float(resolution),
        "cloud_masking": masking_description(spec_collection, spec),
        "compositing": "median per period",
    }
    stack = block_stack(spec, periods, x, y, chunks or default_chunks())
    scene = assemble_scene(stack, periods, x=x, y=y, crs=f"EPSG:{epsg}", attrs=attrs)
    if not config.flag("source.earthengine.weather", weather):
        return scene, None
    weather_spec = WeatherSpec(epsg=epsg, footprint=spec.footprint, project=project)
    return scene, weather_dataset(weather_spec, periods)


def _check_masking(cloud_threshold: float, cloud_score_band: str, max_request_bytes: int) -> None:
    if not 0.0 <= cloud_threshold <= 1.0:
        raise ValueError(f"cloud_threshold {cloud_threshold!r} is out of range; allowed 0..1")
    if cloud_score_band not in ("cs_cdf", "cs"):
        raise ValueError(f"cloud_score_band {cloud_score_band!r} is not one of 'cs_cdf', 'cs'")
    if max_request_bytes < BYTES_PER_PIXEL:
        raise ValueError(
            f"max_request_bytes {max_request_bytes!r} is too small; at least {BYTES_PER_PIXEL}"
        )


def _footprint(x: Any, y: Any, resolution: float) -> tuple[float, float, float, float]:
    """The scene's outer edges (left, bottom, right, top) from its pixel centres."""
    half = resolution / 2
    return (float(x[0] - half), float(y[-1] - half), float(x[-1] + half), float(y[0] + half))
