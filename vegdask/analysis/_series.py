"""Time series from a run's outputs or a pyveg ``results_summary.json``.

A run's ``tiles.zarr`` (dims ``time, tile_y, tile_x``) and ``weather.zarr`` become per-tile series
(offset50, NDVI, NDVI over vegetation), then the aggregate series: mean, std and count of valid
tiles per period, joined with precipitation and temperature.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import dask
import fsspec
import numpy as np
import pandas as pd
import xarray as xr

from vegdask.kernels import loess_smooth

__all__ = [
    "TILE_VARIABLES",
    "Results",
    "aggregate_series",
    "deseasonalise",
    "lagged_correlation",
    "load_results",
    "remove_outliers",
    "season_period",
    "smooth",
    "tiles_from_results_summary",
]

#: Per-tile variables turned into series (tiles.zarr names).
TILE_VARIABLES: tuple[str, ...] = ("offset50", "ndvi_mean", "ndvi_veg_mean")
_AGG_NAMES = {"offset50": "offset50", "ndvi_mean": "ndvi", "ndvi_veg_mean": "ndvi_veg"}
_WEATHER = ("total_precipitation", "mean_2m_air_temperature")


@dataclass
class Results:
    """What the analysis reads from a run (or from a pyveg results_summary.json)."""

    tiles: xr.Dataset
    weather: xr.Dataset | None
    run: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    root: str | None = None
    has_scene: bool = False


def _join(root: str, name: str) -> str:
    return root.rstrip("/") + "/" + name


def _open_zarr(url: str) -> xr.Dataset:
    return xr.open_zarr(url, consolidated=False)


def load_results(results: str | Any) -> Results:
    """Read a run's ``tiles.zarr``, ``weather.zarr`` and ``run.json``, or a results_summary.json.

    Parameters
    ----------
    results : str or path-like
        A run's output directory or URL (``abfs://container/prefix`` too), or a path/URL ending in
        ``.json`` holding pyveg's results_summary schema (FEATURES.md E6.1).

    Raises
    ------
    FileNotFoundError
        When neither ``tiles.zarr`` nor a results_summary.json is found.
    """
    url = str(results)
    fs, path = fsspec.core.url_to_fs(url)
    if url.endswith(".json"):
        if not fs.exists(path):
            raise FileNotFoundError(f"results summary {url} does not exist")
        with fs.open(path) as f:
            text = f.read()
        try:
            summary = json.loads(text)
        except ValueError as err:  # JSONDecodeError, UnicodeDecodeError
            raise ValueError(f"{url} is not valid JSON ({err})") from None
        try:
            tiles, weather, metadata = tiles_from_results_summary(summary)
        except ValueError as err:
            raise ValueError(f"{url}: {err}") from None
        return Results(tiles, weather, {}, metadata, root=None)
    tiles_url = _join(url, "tiles.zarr")
    if not fs.exists(_join(path, "tiles.zarr")):
        summary = _join(path, "results_summary.json")
        if fs.exists(summary):
            return load_results(_join(url, "results_summary.json"))
        raise FileNotFoundError(
            f"{url} holds neither tiles.zarr nor results_summary.json: pass a run's output "
            "directory/URL or a pyveg results_summary.json"
        )
    tiles = _open_zarr(tiles_url)
    weather = (
        _open_zarr(_join(url, "weather.zarr")) if fs.exists(_join(path, "weather.zarr")) else None
    )
    run: dict[str, Any] = {}
    if fs.exists(_join(path, "run.json")):
        with fs.open(_join(path, "run.json")) as f:
            run = json.loads(f.read())
    metadata = dict(tiles.attrs)
    config = run.get("config", {})
    metadata.update({k: v for k, v in config.items() if not isinstance(v, dict | list)})
    for key in ("location", "collection"):
        if isinstance(config.get(key), dict):
            metadata.update(config[key])
    return Results(
        tiles, weather, run, metadata, root=url, has_scene=fs.exists(_join(path, "scene.zarr"))
    )


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
    data = {name: np.full(shape, np.nan) for name in TILE_VARIABLES}
    keys = {"offset50": "offset50", "ndvi_mean": "ndvi", "ndvi_veg_mean": "ndvi_veg"}
    not_finite = 0
    for where, r in rows:
        t = dates.index(r["date_key"])
        iy, ix = lats.index(r["latitude"]), lons.index(r["longitude"])
        for name, key in keys.items():
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
    time = pd.to_datetime(dates).values
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
    tiles["valid"] = np.isfinite(tiles.offset50)
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
                for name in _WEATHER
            },
            coords={"time": pd.to_datetime(wdates).values},
        )
    metadata = dict(summary.get("metadata") or {})
    tiles.attrs.update({k: v for k, v in metadata.items() if isinstance(v, str | int | float)})
    return tiles, weather, metadata


def remove_outliers(da: xr.DataArray, sigmas: float = 3.0, dim: str = "time") -> xr.DataArray:
    """Mask values farther than ``sigmas`` standard deviations from their own tile's mean.

    As pyveg's ``drop_veg_outliers``: a value is dropped where ``|x - mean| > sigmas * sd``, with
    the sample standard deviation (``ddof=1``, pandas' default); NaN samples are ignored.

    Examples
    --------
    >>> da = xr.DataArray(np.r_[np.zeros(20), 50.0], dims="time")
    >>> int(remove_outliers(da).isnull().sum())
    1
    >>> kept = xr.DataArray(np.r_[np.tile([-1.0, 1.0], 24), 3.37], dims="time")
    >>> int(remove_outliers(kept).isnull().sum())  # 3.37 is within 3 sample SDs
    0
    """
    mean = da.mean(dim)
    std = da.std(dim, ddof=1)
    return da.where(np.abs(da - mean) <= sigmas * std)


def aggregate_series(
    tiles: xr.Dataset,
    weather: xr.Dataset | None = None,
    *,
    outlier_sigmas: float | None = 3.0,
) -> pd.DataFrame:
    """Aggregate per-tile series into one row per period: mean, std and count of valid tiles.

    Tiles flagged ``valid == False`` are excluded; with ``outlier_sigmas`` each tile's values
    beyond that many standard deviations of its own series are removed first (pyveg: 3, on
    offset50; here on every variable). Columns: ``<name>_mean``, ``<name>_std``, ``<name>_count``
    for ``name`` in offset50, ndvi, ndvi_veg, then the weather variables.

    Examples
    --------
    >>> tiles = xr.Dataset(
    ...     {"offset50": (("time", "tile_y", "tile_x"), [[[1.0, 3.0]], [[2.0, np.nan]]])},
    ...     coords={"time": pd.to_datetime(["2016-01-16", "2016-02-15"])},
    ... )
    >>> aggregate_series(tiles, outlier_sigmas=None)[["offset50_mean", "offset50_count"]].values
    array([[2., 2.],
           [2., 1.]])
    """
    valid = tiles.get("valid", True)
    columns: dict[str, Any] = {}
    for var in TILE_VARIABLES:
        if var not in tiles:
            continue
        da = tiles[var].where(valid)
        if outlier_sigmas is not None:
            da = remove_outliers(da, outlier_sigmas)
        name = _AGG_NAMES[var]
        stacked = da.stack(tile=("tile_y", "tile_x"))
        columns[f"{name}_mean"] = stacked.mean("tile")
        columns[f"{name}_std"] = stacked.std("tile", ddof=1)
        columns[f"{name}_count"] = stacked.count("tile")
    wx = None if weather is None else weather[[v for v in _WEATHER if v in weather]]
    with warnings.catch_warnings():  # all-NaN periods (fully cloudy) give NaN, not a warning
        warnings.simplefilter("ignore", RuntimeWarning)
        agg, wx = dask.compute(xr.Dataset(columns), wx)  # one pass over the stores
    frame = agg.to_dataframe()
    frame = frame[[c for c in frame.columns if c in columns]]
    if wx is not None:
        frame = frame.join(wx.to_dataframe()[list(wx.data_vars)], how="left")
    frame.index.name = "time"
    return frame


def season_period(index: pd.DatetimeIndex) -> int | None:
    """Return the samples per year of a time index (12 for monthly), or None if unknown.

    Examples
    --------
    >>> season_period(pd.date_range("2016-01-16", periods=36, freq="MS"))
    12
    """
    if len(index) < 3:
        return None
    days = float(np.median(np.diff(index.values).astype("timedelta64[D]").astype(float)))
    return round(365.25 / days) if days > 0 and round(365.25 / days) >= 2 else None


def deseasonalise(
    series: pd.Series, method: str | None = "stl", *, period: int | None = None
) -> pd.DataFrame:
    """Remove the annual cycle: robust STL (default) or pyveg's 12-month differencing.

    Parameters
    ----------
    series : pandas.Series
        Indexed by time; NaN where missing.
    method : {"stl", "diff", None}
        ``"stl"``: ``statsmodels.tsa.seasonal.STL(period, robust=True)``; gaps are linearly filled
        for the decomposition only and are NaN again in every output column. ``"diff"``: pyveg's
        ``x[t] - x[t - period]``. ``None``: no deseasonalising.
    period : int, optional
        Samples per year; default from the index spacing (12 for monthly).

    Returns
    -------
    pandas.DataFrame
        Columns ``deseasonalised``, and for STL ``trend``, ``seasonal``, ``resid``.

    Examples
    --------
    >>> t = pd.date_range("2016-01-16", periods=36, freq="30D")
    >>> y = pd.Series(10 + np.sin(2 * np.pi * np.arange(36) / 12), t)
    >>> bool(deseasonalise(y)["deseasonalised"].std() < 0.1 * y.std())
    True
    """
    if method not in ("stl", "diff", None):
        raise ValueError(f"deseasonalise method must be 'stl', 'diff' or None, got {method!r}")
    out = pd.DataFrame(index=series.index)
    if method is None:
        out["deseasonalised"] = series
        return out
    period = period or season_period(pd.DatetimeIndex(series.index))
    if period is None or series.notna().sum() < 2 * period + 1:
        raise ValueError(
            f"cannot deseasonalise {series.name!r}: need at least two years of valid samples "
            f"(period {period}), have {int(series.notna().sum())}"
        )
    if method == "diff":
        out["deseasonalised"] = series - series.shift(period)
        return out
    from statsmodels.tsa.seasonal import STL

    gaps = series.isna()
    filled = series.interpolate(limit_direction="both")
    fit = STL(filled.to_numpy(), period=period, robust=True).fit()
    for name in ("trend", "seasonal", "resid"):
        out[name] = np.where(gaps, np.nan, getattr(fit, name))
    out["deseasonalised"] = series - out["seasonal"]
    return out


def smooth(series: pd.Series, n: int = 4, *, it: int = 3, against: str = "index") -> pd.Series:
    """LOESS smoothing with pyveg's parameters: ``frac = min(n / len, 1)``, 3 robustness passes.

    ``len`` counts the valid samples; gaps stay NaN. pyveg uses ``n = 4`` on the seasonal series
    and ``n = 12`` on the deseasonalised one.

    Parameters
    ----------
    series : pandas.Series
        Indexed by time for ``against="dates"``.
    n, it
        Points per local fit and robustness iterations.
    against : {"index", "dates"}
        The x of the local fits: the sample index (vegdask's default: one sample per period, the
        period's date is a label) or the dates in nanoseconds (pyveg; months of 28 to 31 days).

    Examples
    --------
    >>> smooth(pd.Series(np.arange(10.0)), 4).round(6).tolist()[:3]
    [0.0, 1.0, 2.0]
    """
    if against not in ("index", "dates"):
        raise ValueError(f"smooth against must be 'index' or 'dates', got {against!r}")
    valid = int(series.notna().sum())
    if valid < 2:
        return series * np.nan
    t = None
    if against == "dates":
        t = pd.DatetimeIndex(series.index).as_unit("ns").asi8.astype(np.float64)
    return pd.Series(loess_smooth(series.to_numpy(), min(n / valid, 1.0), it=it, t=t), series.index)


def lagged_correlation(
    veg: pd.Series, precipitation: pd.Series, max_lag: int = 8
) -> tuple[pd.Series, int]:
    """Pearson correlation of ``veg[t]`` with ``precipitation[t - lag]`` for lags 0..max_lag.

    Returns the correlations (index = lag) and the lag of the largest absolute correlation.

    Examples
    --------
    >>> p = pd.Series(np.sin(np.arange(60) / 3.0))
    >>> corr, best = lagged_correlation(p.shift(2), p)
    >>> best, round(float(corr[2]), 6)
    (2, 1.0)
    """
    corr = pd.Series(
        [veg.corr(precipitation.shift(lag)) for lag in range(max_lag + 1)],
        index=pd.RangeIndex(max_lag + 1, name="lag"),
        name="correlation",
    )
    best = int(corr.abs().idxmax()) if corr.notna().any() else 0
    return corr, best
