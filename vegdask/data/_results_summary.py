"""pyveg's ``results_summary.json``: written from a run's tiles and weather, read back as tiles.

The one description of the format: a vegetation collection whose ``time-series-data`` maps each
date to one record per valid tile (or null), a ``vegdask/weather`` entry and ``metadata``.
NDVI is written as pyveg's means of 0-255 pixels and read back in NDVI units.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from vegdask import __version__
from vegdask.data._scene import WEATHER_VARIABLES

__all__ = [
    "RECORD_CENTRALITY",
    "RECORD_SERIES",
    "pyveg_keys",
    "results_summary",
    "tiles_from_results_summary",
]

#: pyveg's record keys of the centrality metrics -> tiles.zarr variables.
RECORD_CENTRALITY = {
    "slope": "slope", "offset": "offset", "offset50": "offset50", "mean": "fv_mean", "std": "fv_std"
}  # fmt: skip
#: tiles.zarr series variables -> pyveg's record keys. NDVI records hold the 0-255 means, which
#: tiles.zarr keeps as ``<key>_uint8_mean``.
RECORD_SERIES = {"offset50": "offset50", "ndvi_mean": "ndvi", "ndvi_veg_mean": "ndvi_veg"}
_RECORD_NDVI = {
    key: f"{key}_uint8_mean" for key in RECORD_SERIES.values() if key.startswith("ndvi")
}


# pyveg's analysis finds vegetation by these parts of a key, weather by this start.
_PYVEG_VEGETATION = ("COPERNICUS/S2", "LANDSAT")
_PYVEG_WEATHER = "ECMWF/ERA5/"


def pyveg_keys(vegetation: str, weather: str | None) -> tuple[str, str | None]:
    """The results_summary keys pyveg reads as vegetation and weather, for these collections.

    An Earth Engine id pyveg recognises stays as it is; another collection's own name follows
    the Sentinel-2 marker (the Landsat one if its name says Landsat), and a weather collection's
    follows ``ECMWF/ERA5/`` (ERA5-Land's id, ``ECMWF/ERA5_LAND/...``, does not start with it).

    Examples
    --------
    >>> pyveg_keys("COPERNICUS/S2_SR_HARMONIZED", "ECMWF/ERA5_LAND/MONTHLY_AGGR")
    ('COPERNICUS/S2_SR_HARMONIZED', 'ECMWF/ERA5/ERA5_LAND/MONTHLY_AGGR')
    >>> pyveg_keys("vegdask/rietkerk-synthetic", "vegdask/rietkerk-synthetic")
    ('COPERNICUS/S2/vegdask/rietkerk-synthetic', 'ECMWF/ERA5/vegdask/rietkerk-synthetic')
    """
    veg = vegetation
    if not any(marker in vegetation for marker in _PYVEG_VEGETATION):
        marker = "LANDSAT" if "landsat" in vegetation.lower() else "COPERNICUS/S2"
        veg = f"{marker}/{vegetation}"
    if weather is None or weather.startswith(_PYVEG_WEATHER):
        return veg, weather
    return veg, _PYVEG_WEATHER + weather.removeprefix("ECMWF/")


def results_summary(
    tiles: xr.Dataset,
    weather: xr.Dataset | None,
    *,
    start: str,
    end: str,
    period: str,
    centre: tuple[float, float],
) -> dict[str, Any]:
    """Pyveg's ``results_summary.json`` (weather, vegetation, metadata; NDVI as 0-255 means).

    The collections are written under keys pyveg's analysis reads (:func:`pyveg_keys`); the
    metadata names the collections exactly, the source kind, and whether the data are synthetic.
    A source without weather (local files) gives a summary without the weather entry.

    Parameters
    ----------
    tiles : xarray.Dataset
        A run's tile metrics (tiles.zarr).
    weather : xarray.Dataset, optional
        Its weather (weather.zarr), one value a period.
    start, end, period : str
        The job's dates and period (``[time]``), recorded in the metadata.
    centre : (float, float)
        The job's longitude and latitude, recorded unless the tiles name their scene's own
        (a local folder's).
    """
    dates = [str(t)[:10] for t in tiles["time"].values]
    veg_collection = tiles.attrs.get("collection", "unknown")
    weather_collection = None if weather is None else weather.attrs.get("collection", "unknown")
    veg_key, weather_key = pyveg_keys(veg_collection, weather_collection)
    weather_entry = (
        {}
        if weather is None or weather_key is None
        else _weather_entry(weather, dates, weather_key)
    )
    # pyveg's record keys -> tiles.zarr variables, each read once as a numpy array.
    centrality = {k: tiles[v].values for k, v in RECORD_CENTRALITY.items()}
    ndvi = {k: tiles[v].values for k, v in _RECORD_NDVI.items()}
    feature_vec = tiles["feature_vec"].values
    latitude, longitude = tiles["latitude"].values, tiles["longitude"].values
    valid = tiles["valid"].values
    veg_series: dict[str, Any] = {}
    for i, date in enumerate(dates):
        # Keys in pyveg's order: centrality metrics, feature_vec, date, coordinates, NDVI.
        veg_series[date] = [
            {
                **{key: float(array[i, a, b]) for key, array in centrality.items()},
                "feature_vec": feature_vec[i, a, b].tolist(),
                "date": date,
                "latitude": round(float(latitude[a, b]), 4),
                "longitude": round(float(longitude[a, b]), 4),
                **{key: float(array[i, a, b]) for key, array in ndvi.items()},
            }
            for a, b in zip(*np.nonzero(valid[i]), strict=True)
        ] or None
    n_points = sum(1 for d in dates if veg_series[d] is not None)
    # The scene's centre as its source recorded it (a local folder's own, not the config's).
    place = tiles.attrs.get("location")
    longitude_centre, latitude_centre = (float(v) for v in place.split(",")) if place else centre
    return {
        **weather_entry,
        veg_key: {"type": "vegetation", "time-series-data": veg_series},
        "metadata": {
            "start_date": start,
            "end_date": end,
            "time_per_point": period,
            "longitude": longitude_centre,
            "latitude": latitude_centre,
            "collection": veg_collection,
            "weather_collection": weather_collection,
            "source": tiles.attrs.get("source", "unknown"),
            "synthetic": tiles.attrs.get("source") == "synthetic",
            "num_data_points": n_points,
            "tag": f"vegdask-{__version__}",
        },
    }


def _weather_entry(weather: xr.Dataset, dates: list[str], key: str) -> dict[str, Any]:
    series = {
        date: {name: float(weather[name].values[i]) for name in WEATHER_VARIABLES}
        for i, date in enumerate(dates)
    }
    return {key: {"type": "weather", "time-series-data": series}}


def _number(record: dict[str, Any], key: str, where: str, default: float | None = None) -> float:
    """``record[key]`` as a float, or an error naming the field."""
    value = record.get(key, default)
    if value is None:
        value = np.nan if default is not None else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}: {key} = {value!r} is not a number")
    return float(value)


def _records(
    records: dict[str, Any], dates: list[str], collection: str
) -> list[tuple[str, dict[str, Any]]]:
    """Every sub-image record with where it is (``collection/date[i]``); its date as date_key."""
    rows = []
    for d in dates:
        entries = records[d] or []
        if not isinstance(entries, list):
            raise ValueError(f"{collection}/{d}: expected a list of sub-image records or null")
        for i, r in enumerate(entries):
            if not isinstance(r, dict):
                raise ValueError(f"{collection}/{d}[{i}]: expected a record (an object)")
            rows.append((f"{collection}/{d}[{i}]", {**r, "date_key": d}))
    return rows


def tiles_from_results_summary(
    summary: dict[str, Any],
) -> tuple[xr.Dataset, xr.Dataset | None, dict[str, Any]]:
    """Turn pyveg's results_summary.json content into tiles and weather Datasets.

    Sub-images are placed on a ``(tile_y, tile_x)`` grid from their distinct latitudes
    (north first) and longitudes. pyveg's NDVI values are means of 0-255 pixels and are rescaled
    with ``x * 2 / 255 - 1`` to NDVI units; null dates become NaN periods.

    Examples
    --------
    >>> summary = {
    ...     "COPERNICUS/S2": {
    ...         "type": "vegetation",
    ...         "time-series-data": {
    ...             "2016-01-16": [
    ...                 {"offset50": -826.0, "latitude": 11.6, "longitude": 27.9, "ndvi": 127.5}
    ...             ],
    ...             "2016-02-15": None,
    ...         },
    ...     },
    ... }
    >>> tiles, weather, meta = tiles_from_results_summary(summary)
    >>> tiles.offset50.values.ravel().tolist(), tiles.ndvi_mean.values.ravel().tolist()
    ([-826.0, nan], [0.0, nan])
    """
    if not isinstance(summary, dict):
        raise ValueError(
            f"a results summary is a JSON object of collections, got a {type(summary).__name__}"
        )
    veg = [
        (name, v)
        for name, v in summary.items()
        if isinstance(v, dict) and v.get("type") == "vegetation"
    ]
    if not veg:
        raise ValueError("results summary has no collection with type 'vegetation'")
    collection, records = veg[0][0], veg[0][1].get("time-series-data")
    if not isinstance(records, dict):
        raise ValueError(f"{collection}: time-series-data must be an object of dates")
    dates = sorted(records)
    rows = _records(records, dates, collection)
    lats = sorted({_number(r, "latitude", where) for where, r in rows}, reverse=True)
    lons = sorted({_number(r, "longitude", where) for where, r in rows})
    shape = (len(dates), len(lats), len(lons))
    data = {name: np.full(shape, np.nan) for name in RECORD_SERIES}
    present = np.zeros(shape, dtype=bool)
    not_finite = 0
    for where, r in rows:
        t = dates.index(r["date_key"])
        iy, ix = lats.index(r["latitude"]), lons.index(r["longitude"])
        present[t, iy, ix] = True
        for name, key in RECORD_SERIES.items():
            if r.get(key) is None:
                continue
            value = _number(r, key, where)
            if not math.isfinite(value):
                not_finite += 1
                continue
            data[name][t, iy, ix] = value * 2 / 255 - 1 if name != "offset50" else value
    if not_finite:
        warnings.warn(
            f"results summary: {not_finite} NaN or infinite values ignored (as missing)",
            UserWarning,
            stacklevel=2,
        )
    if not any(np.isfinite(arr).any() for arr in data.values()):
        raise ValueError(f"{collection} has no valid values in any period: nothing to analyse")
    time = _times(dates, collection)
    lon2d, lat2d = np.meshgrid(lons, lats)
    tiles = xr.Dataset(
        {name: (("time", "tile_y", "tile_x"), arr) for name, arr in data.items()},
        coords={
            "time": time,
            "tile_y": np.arange(len(lats)),
            "tile_x": np.arange(len(lons)),
            "latitude": (("tile_y", "tile_x"), lat2d),
            "longitude": (("tile_y", "tile_x"), lon2d),
        },
    )
    # A tile is valid where it has a record with offset50; without offset50 anywhere (a summary
    # of NDVI only), where it has a record.
    tiles["valid"] = (("time", "tile_y", "tile_x"), present)
    if any("offset50" in r for _, r in rows):
        tiles["valid"] = tiles["valid"] & np.isfinite(tiles.offset50)
    else:
        warnings.warn(
            f"results summary: no record of {collection} has 'offset50': its series is empty; "
            "the NDVI series are analysed",
            UserWarning,
            stacklevel=2,
        )
    weather = None
    wx = [v for v in summary.values() if isinstance(v, dict) and v.get("type") == "weather"]
    if wx:
        wdata = wx[0]["time-series-data"]
        wdates = sorted(wdata)
        weather = xr.Dataset(
            {
                name: (
                    "time",
                    [_number(wdata[d] or {}, name, f"weather/{d}", np.nan) for d in wdates],
                )
                for name in WEATHER_VARIABLES
            },
            coords={"time": _times(wdates, "weather")},
        )
    metadata = dict(summary.get("metadata") or {})
    tiles.attrs.update({k: v for k, v in metadata.items() if isinstance(v, str | int | float)})
    return tiles, weather, metadata


def _times(dates: list[str], where: str) -> np.ndarray:
    """The date keys of a collection as datetime64, or one line naming the first that is not one.

    Examples
    --------
    >>> _times(["2016-01-16", "2016-02-15T00:00"], "S2").astype("datetime64[D]")
    array(['2016-01-16', '2016-02-15'], dtype='datetime64[D]')
    >>> _times(["2016-01-16", "16/02/2016"], "S2")
    Traceback (most recent call last):
    ...
    ValueError: S2: date key '16/02/2016' is not an ISO date (YYYY-MM-DD)
    """
    try:
        return pd.to_datetime(dates, format="ISO8601").values
    except (ValueError, TypeError):
        for date in dates:
            try:
                pd.to_datetime([date], format="ISO8601")
            except (ValueError, TypeError):
                raise ValueError(
                    f"{where}: date key {date!r} is not an ISO date (YYYY-MM-DD)"
                ) from None
        raise
