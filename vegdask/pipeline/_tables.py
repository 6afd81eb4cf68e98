"""The run's output tables: ``tiles.parquet`` and pyveg's ``results_summary.json``."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from vegdask import __version__
from vegdask.data import filesystem
from vegdask.pipeline._manifest import Run, write_json

__all__ = ["pyveg_keys", "results_summary", "write_tables"]


def write_tables(run: Run, tiles: xr.Dataset, weather: xr.Dataset | None) -> None:
    """``tiles.parquet`` (one row per period and tile) and pyveg's ``results_summary.json``."""
    dims = ["time", "tile_y", "tile_x"]
    flat = tiles.drop_vars(["feature_vec", "quantile"]).to_dataframe(dim_order=dims).reset_index()
    # a store's variables come back in listing order: fix the columns so identical runs give
    # identical files
    flat = flat[dims + sorted(c for c in flat.columns if c not in dims)]
    fv = tiles["feature_vec"].values.reshape(-1, tiles.sizes["quantile"])
    for q in range(fv.shape[1]):
        flat[f"feature_vec_{q}"] = fv[:, q]
    fs, path = filesystem(run.output)
    with fs.open(f"{path}/tiles.parquet", "wb") as f:
        flat.to_parquet(f, index=False)
    write_json(run.output, "results_summary.json", results_summary(tiles, weather, run.config))


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


_RECORD_CENTRALITY = {
    "slope": "slope", "offset": "offset", "offset50": "offset50", "mean": "fv_mean", "std": "fv_std"
}  # fmt: skip
_RECORD_NDVI = {"ndvi": "ndvi_uint8_mean", "ndvi_veg": "ndvi_veg_uint8_mean"}


def results_summary(
    tiles: xr.Dataset, weather: xr.Dataset | None, config: dict[str, Any]
) -> dict[str, Any]:
    """Pyveg's ``results_summary.json`` (weather, vegetation, metadata; NDVI as 0-255 means).

    The collections are written under keys pyveg's analysis reads (:func:`pyveg_keys`); the
    metadata names the collections exactly, the source kind, and whether the data are synthetic.
    A source without weather (local files) gives a summary without the weather entry.
    """
    dates = [str(t)[:10] for t in tiles["time"].values]
    veg_collection = tiles.attrs.get("collection", "unknown")
    weather_collection = None if weather is None else weather.attrs.get("collection", "unknown")
    veg_key, weather_key = pyveg_keys(veg_collection, weather_collection)
    weather_entry = {} if weather is None else _weather_entry(weather, dates, weather_key)
    # pyveg's record keys -> tiles.zarr variables, each read once as a numpy array.
    centrality = {k: tiles[v].values for k, v in _RECORD_CENTRALITY.items()}
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
    longitude_centre, latitude_centre = (
        (float(v) for v in place.split(","))
        if place
        else (config["location"]["longitude"], config["location"]["latitude"])
    )
    return {
        **weather_entry,
        veg_key: {"type": "vegetation", "time-series-data": veg_series},
        "metadata": {
            "start_date": config["time"]["start"],
            "end_date": config["time"]["end"],
            "time_per_point": config["time"]["period"],
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
        date: {
            "total_precipitation": float(weather["total_precipitation"].values[i]),
            "mean_2m_air_temperature": float(weather["mean_2m_air_temperature"].values[i]),
        }
        for i, date in enumerate(dates)
    }
    return {key: {"type": "weather", "time-series-data": series}}
