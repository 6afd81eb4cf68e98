"""Local files as a source: a folder of GeoTIFFs per date (as pyveg wrote them) or a Zarr Scene.

A GeoTIFF folder holds one directory per acquisition or composite date, named ``YYYY-MM-DD``
anywhere below the root, with one single-band GeoTIFF per band. pyveg's layout
``<root>/<date>/RAW/download.B4.tif`` works as it is: a file's band is the last dot-separated part
of its name (``download.B4.tif`` -> ``B4``, ``red.tif`` -> ``red``), mapped to the Scene's bands by
``bands``. pyveg kept red, green, blue and NDVI but no near infrared: NIR is then recovered from
NDVI and red (``nir = red (1 + ndvi) / (1 - ndvi)``), so NDVI is exactly the file's.

Dates are grouped into the requested periods and each period is the per-pixel median of its dates
(pyveg's folders hold one date per period already). A period without files is an explicit empty
period: NaN bands and ``cloud_mask`` all True. Headers are read when the Scene is built (so a
corrupt file or a mismatched grid is reported at once); pixels are read lazily, one task a period.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr

from vegdask import config
from vegdask.data._periods import make_periods
from vegdask.data._scene import (
    BANDS,
    assemble_scene,
    compute_ndvi,
    default_chunks,
    validate_scene,
)
from vegdask.data._storage import open_store

__all__ = ["local_scene"]

# File band name -> Scene band: vegdask's own names, always recognised (pyveg's Sentinel-2 names
# are the setting vegdask.source.local.bands).
_OWN_NAMES = {name: name for name in (*BANDS, "ndvi")} | {"NDVI": "ndvi"}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIFF_SUFFIXES = (".tif", ".tiff")


def local_scene(
    start: str,
    end: str,
    period: str = "1m",
    *,
    path: str | Path,
    bands: Mapping[str, str] | None = None,
    scale: float | None = None,
    offset: float | None = None,
    collection: str | None = None,
    chunks: dict[str, int] | None = None,
    drop_partial: bool = False,
) -> tuple[xr.Dataset, None]:
    """A lazy Scene from a folder of GeoTIFFs per date, or from an existing Zarr Scene.

    A keyword left as None takes its setting, ``vegdask.source.local.<keyword>``
    (``vegdask.yaml``).

    Parameters
    ----------
    start, end, period : str
        The date range and period length (see :func:`vegdask.data.make_periods`).
    path : str or Path
        A folder of per-date GeoTIFFs, or a Zarr Scene (a ``*.zarr`` path or URL, e.g. one written
        by ``vegdask fetch``), whose periods between ``start`` and ``end`` are kept.
    bands : mapping, optional
        File band name -> Scene band (``red``, ``green``, ``blue``, ``nir``, ``ndvi``); the
        setting by default (pyveg's Sentinel-2 names ``B4``, ``B3``, ``B2``, ``B8`` as
        packaged). Files named after the
        Scene's bands (``red.tif``, ``NDVI.tif``) are always recognised.
    scale, offset : float, optional
        Reflectance = ``DN * scale + offset`` (``1e-4`` and ``0`` for Sentinel-2 digital numbers);
        the settings (1 and 0 as packaged) by default.
    collection : str, optional
        Recorded in the Scene's ``collection`` attribute; the setting (``local`` as packaged) by
        default.
    chunks : dict, optional
        Scene chunks; :func:`vegdask.data.default_chunks` by default.
    drop_partial : bool
        Drop a trailing partial period.

    Returns
    -------
    scene, weather
        The lazy Scene; weather is None (local folders hold no weather).

    Raises
    ------
    ValueError
        If the folder holds no dated GeoTIFFs, a file is not a readable GeoTIFF, the files do not
        share one grid and CRS, or a date lacks the red band or both NIR and NDVI.

    Examples
    --------
    >>> import tempfile, numpy as np, rasterio
    >>> profile = dict(driver="GTiff", width=100, height=100, count=1, dtype="float32",
    ...                crs="EPSG:32635", transform=rasterio.Affine(10, 0, 5e5, 0, -10, 1.28e6))
    >>> root = tempfile.mkdtemp()
    >>> for date in ("2016-01-16", "2016-02-15"):
    ...     for band, value in (("B4", 0.1), ("B3", 0.1), ("B2", 0.1), ("B8", 0.3)):
    ...         tif = Path(root, date, "RAW", f"download.{band}.tif")
    ...         tif.parent.mkdir(parents=True, exist_ok=True)
    ...         with rasterio.open(tif, "w", **profile) as dst:
    ...             dst.write(np.full((1, 100, 100), value, np.float32))
    >>> scene, _ = local_scene("2016-01-01", "2016-04-01", path=root)
    >>> scene.sizes["time"], float(scene["ndvi"][0, 0, 0]), bool(scene["cloud_mask"][2].all())
    (3, 0.5, True)
    """
    periods = make_periods(start, end, period, drop_partial=drop_partial)
    if str(path).rstrip("/").endswith(".zarr"):
        return _zarr_scene(str(path), periods), None
    bands = config.get("source.local.bands", bands)
    scale = config.get("source.local.scale", scale)
    offset = config.get("source.local.offset", offset)
    files = _dated_files(Path(path), {**_OWN_NAMES, **bands})
    grid = _common_grid([p for by_band in files.values() for p in by_band.values()])
    chunks = chunks or default_chunks()
    shape = (grid["height"], grid["width"])
    per_period = []
    for first, last in zip(periods["start"], periods["end"], strict=True):
        dates = [d for d in files if first <= pd.Timestamp(d) < last]
        stack = dask.delayed(_read_period, pure=True)(
            [files[d] for d in dates], shape, scale, offset
        )
        per_period.append(da.from_delayed(stack, shape=(6, *shape), dtype=np.float32))
    attrs = {
        "source": "local",
        "collection": config.get("source.local.collection", collection),
        "location": _centre(grid),
        "resolution": float(abs(grid["transform"].a)),
    }
    scene = assemble_scene(
        da.stack(per_period, axis=1),
        periods,
        x=grid["x"],
        y=grid["y"],
        crs=grid["crs"],
        attrs=attrs,
        chunks=chunks,
    )
    return validate_scene(scene), None


def _zarr_scene(url: str, periods: pd.DataFrame) -> xr.Dataset:
    scene = validate_scene(open_store(url))
    times = pd.DatetimeIndex(scene["time"].values)
    inside = (times >= periods["start"].iloc[0]) & (times < periods["end"].iloc[-1])
    if not inside.any():
        raise ValueError(
            f"the Zarr Scene {url} has no period between {periods['start'].iloc[0]:%Y-%m-%d} "
            f"and {periods['end'].iloc[-1]:%Y-%m-%d}; its periods run from {times.min():%Y-%m-%d} "
            f"to {times.max():%Y-%m-%d}"
        )
    return scene.isel(time=np.flatnonzero(inside))


def _dated_files(root: Path, names: Mapping[str, str]) -> dict[str, dict[str, Path]]:
    """Map date -> Scene band -> file, for every GeoTIFF below a ``YYYY-MM-DD`` directory."""
    if not root.is_dir():
        raise ValueError(f"local source path {root} is not a folder (or a *.zarr Scene)")
    found: dict[str, dict[str, Path]] = {}
    for file in sorted(root.rglob("*")):
        if file.suffix.lower() not in _TIFF_SUFFIXES:
            continue
        date = next((p for p in file.relative_to(root).parts[:-1] if _DATE.match(p)), None)
        band = names.get(file.stem.rsplit(".", 1)[-1])
        if date is not None and band is not None:
            found.setdefault(date, {})[band] = file
    if not found:
        raise ValueError(
            f"no GeoTIFFs of known bands under a YYYY-MM-DD folder in {root}; expected e.g. "
            f"{root}/2016-01-16/RAW/download.B4.tif, with bands named {sorted(names)}"
        )
    for date, by_band in found.items():
        if "red" not in by_band or not {"nir", "ndvi"} & by_band.keys():
            raise ValueError(
                f"{root}/{date} needs a red band and a NIR or NDVI band; found {sorted(by_band)}"
            )
    return found


def _common_grid(paths: list[Path]) -> dict[str, Any]:
    """Grid of the first file, after checking that every file is a GeoTIFF on that grid."""
    import rasterio

    grid: dict[str, Any] = {}
    for path in paths:
        try:
            with rasterio.open(path) as src:
                this = {
                    "crs": src.crs,
                    "transform": src.transform,
                    "height": src.height,
                    "width": src.width,
                }
        except rasterio.errors.RasterioError as err:
            raise ValueError(f"{path} is not a readable GeoTIFF: {err}") from err
        if this["crs"] is None:
            raise ValueError(f"{path} has no CRS; a Scene needs georeferenced files")
        if not grid:
            grid = this
        elif this != grid:
            raise ValueError(
                f"{path} is on another grid than {paths[0]}: every file must share the CRS, "
                f"transform and shape ({grid['height']}x{grid['width']})"
            )
    t, (h, w) = grid["transform"], (grid["height"], grid["width"])
    grid["x"] = t.c + (np.arange(w) + 0.5) * t.a
    grid["y"] = t.f + (np.arange(h) + 0.5) * t.e
    return grid


def _centre(grid: dict[str, Any]) -> str:
    from pyproj import Transformer

    to_lonlat = Transformer.from_crs(grid["crs"], "EPSG:4326", always_xy=True)
    lon, lat = to_lonlat.transform(grid["x"].mean(), grid["y"].mean())
    return f"{lon:.4f},{lat:.4f}"


def _read_band(path: Path) -> npt.NDArray[np.float64]:
    import rasterio

    problem = None
    try:
        with rasterio.open(path) as src:
            values = src.read(1, masked=True)
    except rasterio.errors.RasterioError as err:
        problem = str(err).replace(" See previous exception for details.", "")
    if problem is not None:  # raised outside: GDAL's error, as its context, does not pickle
        raise ValueError(f"{path} could not be read (corrupt or truncated?): {problem}")
    return np.ma.filled(values.astype(np.float64), np.nan)


def _read_period(
    dates: list[dict[str, Path]], shape: tuple[int, int], scale: float, offset: float
) -> npt.NDArray[np.float32]:
    """Bands red, green, blue, nir, ndvi and the cloud mask of one period, stacked (6, y, x)."""
    if not dates:
        return np.stack([*(np.full(shape, np.nan, np.float32) for _ in range(5)), np.ones(shape)])
    layers = [_date_bands(by_band, shape, scale, offset) for by_band in dates]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "All-NaN slice": masked on every date
        median = {name: np.nanmedian([d[name] for d in layers], axis=0) for name in layers[0]}
    ndvi = median.pop("ndvi")
    clear = np.isfinite(median["red"]) & np.isfinite(ndvi)
    return np.stack(
        [*(median[b].astype(np.float32) for b in BANDS), ndvi.astype(np.float32), ~clear]
    ).astype(np.float32)


def _date_bands(
    by_band: dict[str, Path], shape: tuple[int, int], scale: float, offset: float
) -> dict[str, npt.NDArray[np.float64]]:
    values = {band: _read_band(path) for band, path in by_band.items()}
    bands = {b: values[b] * scale + offset for b in BANDS if b in values}
    for band in BANDS:
        bands.setdefault(band, np.full(shape, np.nan))
    if "nir" not in values:  # pyveg's folders: NIR from NDVI and red, so NDVI is the file's
        ndvi = values["ndvi"]
        with np.errstate(all="ignore"):
            bands["nir"] = bands["red"] * (1 + ndvi) / (1 - ndvi)
    bands["ndvi"] = values["ndvi"] if "ndvi" in values else compute_ndvi(bands["red"], bands["nir"])
    return bands
