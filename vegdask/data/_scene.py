"""The Scene: the data model every source produces and every later stage consumes.

A Scene is an :class:`xarray.Dataset` with dims ``(time, y, x)``:

- float32 reflectance variables ``red``, ``green``, ``blue``, ``nir`` and ``ndvi``;
- ``cloud_mask`` (bool, True where a pixel is unusable: cloud, shadow or no data);
- coordinates ``time`` (the mid-date of each period, as pyveg), ``period_start`` and ``period_end``
  along ``time``, and ``y``/``x`` (pixel centres in the CRS's units);
- a CRS and an affine transform (rioxarray), and attributes ``source``, ``collection``, ``location``
  and ``resolution`` (metres per pixel);
- chunked ``time=1`` and ``y``/``x`` in multiples of the tile size (50 pixels).

Weather is a Dataset with dim ``time`` holding ``total_precipitation`` (mm per period) and
``mean_2m_air_temperature`` (K), on the same periods.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from vegdask import config

BANDS: tuple[str, ...] = ("red", "green", "blue", "nir")
SCENE_VARIABLES: tuple[str, ...] = (*BANDS, "ndvi")
CLOUD_MASK = "cloud_mask"
SCENE_ATTRS: tuple[str, ...] = ("source", "collection", "location", "resolution")
WEATHER_VARIABLES: tuple[str, ...] = ("total_precipitation", "mean_2m_air_temperature")
# 10 x 10 tiles a chunk: 1 MB per float32 band and a few hundred ms of centrality kernel work.
DEFAULT_CHUNK_PIXELS = 500

__all__ = [
    "BANDS",
    "CLOUD_MASK",
    "DEFAULT_CHUNK_PIXELS",
    "SCENE_ATTRS",
    "SCENE_VARIABLES",
    "WEATHER_VARIABLES",
    "assemble_scene",
    "check_region",
    "compute_ndvi",
    "default_chunks",
    "period_coords",
    "scene_grid",
    "utm_epsg",
    "validate_scene",
    "validate_weather",
]


def compute_ndvi(red: Any, nir: Any) -> Any:
    """Normalised difference vegetation index ``(nir - red) / (nir + red)``.

    Works on numpy, dask and xarray objects alike; where ``nir + red == 0`` the result is NaN.

    Examples
    --------
    >>> import numpy as np
    >>> compute_ndvi(np.float32([0.25, 0.0]), np.float32([0.75, 0.0]))
    array([0.5, nan], dtype=float32)
    """
    total = nir + red
    with np.errstate(invalid="ignore", divide="ignore"):
        return ((nir - red) / total).astype(np.float32)


def default_chunks(tile_size: int | None = None) -> dict[str, int]:
    """Return the default Scene chunks: one period, the largest multiple of the tile <= 500 px.

    ``tile_size`` None: the setting ``vegdask.processing.tile-size`` (50).

    Examples
    --------
    >>> default_chunks()
    {'time': 1, 'y': 500, 'x': 500}
    >>> default_chunks(64)
    {'time': 1, 'y': 448, 'x': 448}
    """
    tile = int(config.get("processing.tile-size", tile_size))
    side = max(tile, DEFAULT_CHUNK_PIXELS // tile * tile)
    return {"time": 1, "y": side, "x": side}


def utm_epsg(longitude: float, latitude: float) -> int:
    """EPSG code of the WGS 84 UTM zone holding a point.

    Examples
    --------
    >>> utm_epsg(27.94, 11.58), utm_epsg(133.10, -15.71)
    (32635, 32753)
    """
    zone = min(int((longitude + 180) // 6) + 1, 60)
    return (32600 if latitude >= 0 else 32700) + zone


def check_region(location: Any, size: Any, resolution: Any) -> tuple[float, float]:
    """Check a scene's centre, side in pixels and pixel size; return ``(longitude, latitude)``.

    Raises
    ------
    ValueError
        Naming the value and what is allowed: a (longitude, latitude) pair within -180..180 and
        -80..84 (the UTM zones: the Scene grid is UTM), a whole number of pixels >= 1 and a
        resolution > 0 metres (a region of zero size otherwise).

    Examples
    --------
    >>> check_region((27.94, 11.58), 500, 10.0)
    (27.94, 11.58)
    >>> check_region((27.94, 85.0), 500, 10.0)
    Traceback (most recent call last):
    ...
    ValueError: latitude 85.0 is out of range; allowed -80..84 (degrees north, the UTM zones)
    """
    try:
        lon, lat = (float(v) for v in location)
    except (TypeError, ValueError):
        raise ValueError(
            f"location {location!r} is not a (longitude, latitude) pair of numbers"
        ) from None
    if not (np.isfinite(lon) and -180.0 <= lon <= 180.0):
        raise ValueError(f"longitude {lon} is out of range; allowed -180..180 (degrees east)")
    if not (np.isfinite(lat) and -80.0 <= lat <= 84.0):
        raise ValueError(
            f"latitude {lat} is out of range; allowed -80..84 (degrees north, the UTM zones)"
        )
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
        raise ValueError(f"size {size!r} gives a region of zero size; use a whole number >= 1")
    real = isinstance(resolution, int | float | np.floating) and not isinstance(resolution, bool)
    if not (real and np.isfinite(resolution) and resolution > 0):
        raise ValueError(f"resolution {resolution!r} gives a region of zero size; use metres > 0")
    return lon, lat


def scene_grid(
    location: tuple[float, float], size: int, resolution: float
) -> tuple[int, npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The pixel grid every source uses: ``size`` x ``size`` pixels centred on a point, in UTM.

    Parameters
    ----------
    location : (float, float)
        Longitude and latitude of the scene centre.
    size : int
        Pixels per side.
    resolution : float
        Pixel size in metres.

    Returns
    -------
    epsg, x, y
        The UTM zone's EPSG code and the pixel-centre coordinates (``y`` decreasing, north up).

    Examples
    --------
    >>> epsg, x, y = scene_grid((27.94, 11.58), 4, 10.0)
    >>> epsg, float(x[1] - x[0]), float(y[1] - y[0])
    (32635, 10.0, -10.0)
    """
    from pyproj import Transformer

    epsg = utm_epsg(*location)
    to_utm = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)
    cx, cy = to_utm.transform(*location)
    offsets = (np.arange(size) - size / 2 + 0.5) * resolution
    return epsg, cx + offsets, cy - offsets


def period_coords(periods: pd.DataFrame) -> dict[str, tuple[str, npt.NDArray[Any]]]:
    """The Scene's ``time`` (mid-dates), ``period_start`` and ``period_end`` coordinates.

    ``periods`` is the table of :func:`vegdask.data.make_periods`.
    """
    return {
        "time": ("time", periods["mid"].to_numpy()),
        "period_start": ("time", periods["start"].to_numpy()),
        "period_end": ("time", periods["end"].to_numpy()),
    }


def assemble_scene(
    stack: Any,
    periods: pd.DataFrame,
    *,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    crs: Any,
    attrs: Mapping[str, Any],
    chunks: Mapping[str, int] | None = None,
) -> xr.Dataset:
    """The Scene of a source: its planes as variables, the periods' coordinates, the CRS.

    Every source builds a ``(plane, time, y, x)`` stack of float32 planes: the four `BANDS`,
    then ``ndvi`` (computed from red and nir here when the stack has five planes), then the
    cloud mask (true where > 0.5).

    Parameters
    ----------
    stack : (5 or 6, T, Y, X) dask array of float32
        The planes.
    periods : pandas.DataFrame
        The periods (:func:`vegdask.data.make_periods`): ``time`` is their mid-dates.
    x, y : (X,) and (Y,) array_like
        Pixel-centre coordinates in the CRS's units.
    crs : str or CRS
        The Scene's CRS, e.g. ``"EPSG:32635"``.
    attrs : mapping
        The Scene's attributes (``source``, ``collection``, ``location``, ``resolution``, ...).
    chunks : mapping, optional
        ``y`` and ``x`` chunk sizes to rechunk each variable to (one period per chunk).

    Examples
    --------
    >>> import dask.array as da
    >>> from vegdask.data import make_periods
    >>> periods = make_periods("2020-01-01", "2020-03-01", "1m")
    >>> stack = da.zeros((6, 2, 4, 4), dtype="float32")
    >>> scene = assemble_scene(stack, periods, x=np.arange(4.0), y=-np.arange(4.0),
    ...                        crs="EPSG:32635", attrs={"source": "zeros"})
    >>> list(scene.data_vars), scene.rio.crs.to_epsg(), bool(scene.cloud_mask.any())
    (['red', 'green', 'blue', 'nir', 'ndvi', 'cloud_mask'], 32635, False)
    """
    dims = ("time", "y", "x")
    planes = {name: stack[i] for i, name in enumerate(BANDS)}
    if stack.shape[0] == len(BANDS) + 2:
        planes["ndvi"] = stack[len(BANDS)]
    else:
        planes["ndvi"] = compute_ndvi(stack[BANDS.index("red")], stack[BANDS.index("nir")])
    planes[CLOUD_MASK] = stack[-1] > 0.5
    if chunks is not None:
        planes = {k: v.rechunk((1, chunks["y"], chunks["x"])) for k, v in planes.items()}
    data_vars = {name: (dims, plane) for name, plane in planes.items()}
    coords = {**period_coords(periods), "y": y, "x": x}
    return xr.Dataset(data_vars, coords=coords, attrs=dict(attrs)).rio.write_crs(crs)


def validate_scene(scene: xr.Dataset, *, tile_size: int | None = None) -> xr.Dataset:
    """Check that ``scene`` follows the Scene conventions and return it.

    ``tile_size`` None: the setting ``vegdask.processing.tile-size`` (50).

    Raises
    ------
    ValueError
        Naming what is missing or wrong: dims, variables, dtypes, CRS, or chunks that are not one
        period by a multiple of ``tile_size`` pixels.
    """
    if not isinstance(scene, xr.Dataset):
        raise TypeError(f"a Scene is an xarray.Dataset, got {type(scene).__name__}")
    missing = [v for v in SCENE_VARIABLES if v not in scene.data_vars]
    if missing:
        raise ValueError(
            f"Scene is missing variable(s) {missing}; a Scene needs {list(SCENE_VARIABLES)}"
        )
    for name in SCENE_VARIABLES:
        var = scene[name]
        if var.dims != ("time", "y", "x"):
            raise ValueError(
                f"Scene variable {name!r} has dims {var.dims}; expected ('time', 'y', 'x')"
            )
        if var.dtype != np.float32:
            raise ValueError(f"Scene variable {name!r} has dtype {var.dtype}; expected float32")
    if scene.rio.crs is None:
        raise ValueError("Scene has no CRS; set one with scene.rio.write_crs(...)")
    _check_chunks(scene, int(config.get("processing.tile-size", tile_size)))
    return scene


def _check_chunks(scene: xr.Dataset, tile_size: int) -> None:
    if not scene.chunks:
        return
    if any(c != 1 for c in scene.chunks.get("time", (1,))):
        raise ValueError(f"Scene must be chunked time=1, got time chunks {scene.chunks['time']}")
    for dim in ("y", "x"):
        inner = scene.chunks[dim][:-1]
        if any(c % tile_size for c in inner):
            raise ValueError(
                f"Scene {dim} chunks {scene.chunks[dim]} are not multiples of the tile size "
                f"{tile_size}"
            )


def validate_weather(
    weather: xr.Dataset, times: Mapping[str, Any] | xr.DataArray | None = None
) -> xr.Dataset:
    """Check that ``weather`` has dim ``time``, the weather variables and (optionally) the times.

    Raises
    ------
    ValueError
        Naming the missing variables or the periods that do not match.
    """
    missing = [v for v in WEATHER_VARIABLES if v not in weather.data_vars]
    if missing:
        raise ValueError(f"weather is missing {missing}; expected {list(WEATHER_VARIABLES)}")
    if times is not None and not np.array_equal(np.asarray(weather["time"]), np.asarray(times)):
        raise ValueError("weather periods do not match the Scene's periods")
    return weather
