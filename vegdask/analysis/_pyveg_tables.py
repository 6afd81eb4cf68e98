"""The ``pyveg`` preset's steps 1 to 6: a results_summary.json to pyveg's time-series tables.

Reading the collections into dates x sub-images tables, outlier removal, gap filling, LOWESS per
sub-image, aggregation over sub-images and 12-month differencing; the steps are listed in
:mod:`vegdask.analysis._pyveg`, which runs them and computes the indicators.
"""

from __future__ import annotations

import math
import posixpath
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from vegdask.analysis._series import remove_outliers
from vegdask.analysis._series import smooth as smooth_series
from vegdask.data import RunStore

__all__ = [
    "Table",
    "aggregate_sub_images",
    "deseasonalise_sub_images",
    "fill_missing_dates",
    "pyveg_collections",
    "read_pyveg_collections",
    "read_results_summary",
    "remove_offset50_outliers",
    "smooth_sub_images",
]

_VEG_VARIABLES = ("offset50", "ndvi", "ndvi_veg")
_OUTLIER_SIGMAS = 3.0
_N_SMOOTH = 4
_N_SMOOTH_DESEASONALISED = 12
_SEASON = 12  # months

Table = dict[str, pd.DataFrame]  # variable -> (dates x sub-images)


def read_results_summary(results: Any) -> dict[str, Any]:
    """Read ``results`` (a ``.json`` path/URL) or ``<results>/results_summary.json``.

    Raises
    ------
    FileNotFoundError, ValueError
        A missing file, or one that is not a JSON object.
    """
    url = str(results)
    if not url.endswith(".json"):
        url = url.rstrip("/") + "/results_summary.json"
    folder, name = posixpath.split(url)
    store = RunStore(folder or ".")
    if not store.exists(name):
        raise FileNotFoundError(
            f"{url} does not exist: the pyveg preset reads a results_summary.json"
        )
    try:
        summary = store.read_json(name)
    except ValueError as err:
        raise ValueError(f"{url} is not valid JSON: {err}") from None
    if not isinstance(summary, dict):
        raise ValueError(
            f"{url}: expected a JSON object of collections, got a {type(summary).__name__}"
        )
    return summary


def pyveg_collections(summary: dict[str, Any]) -> tuple[str, str | None]:
    """Return the keys pyveg reads as vegetation and as weather (pyveg's rule: by the key).

    Raises
    ------
    ValueError
        When no key contains ``"COPERNICUS/S2"`` or ``"LANDSAT"``.

    Examples
    --------
    >>> pyveg_collections({"ECMWF/ERA5/MONTHLY": {}, "COPERNICUS/S2_SR_HARMONIZED": {}})
    ('COPERNICUS/S2_SR_HARMONIZED', 'ECMWF/ERA5/MONTHLY')
    """
    veg = [k for k in summary if "COPERNICUS/S2" in k or "LANDSAT" in k]
    if not veg:
        raise ValueError(
            "results summary has no vegetation collection pyveg reads: no key contains "
            f"'COPERNICUS/S2' or 'LANDSAT' (keys: {sorted(summary)})"
        )
    weather = [k for k in summary if k.startswith("ECMWF/ERA5/")]
    return veg[0], (weather[0] if weather else None)


def _prefix(collection: str) -> str:
    # pyveg's column prefix for Sentinel-2; for Landsat the satellite part of the key (ours).
    return "S2_" if "COPERNICUS/S2" in collection else collection.split("/")[1] + "_"


def _to_float(value: Any) -> float:
    return math.nan if value is None else float(value)


def read_pyveg_collections(
    summary: dict[str, Any],
) -> tuple[Table, pd.DataFrame | None, str]:
    """Step 1: the vegetation variables as dates x sub-images tables, the weather, the prefix.

    Returns
    -------
    tables : dict of str to pandas.DataFrame
        ``offset50``, ``ndvi``, ``ndvi_veg`` (those present in the records), indexed by every date
        of the collection (null dates included), one column per (latitude, longitude); NaN where a
        sub-image has no record.
    weather : pandas.DataFrame or None
        The weather collection's variables by date.
    prefix : str
        ``"S2_"`` for Sentinel-2.

    Examples
    --------
    >>> tables, weather, prefix = read_pyveg_collections(
    ...     {"COPERNICUS/S2": {"time-series-data": {
    ...         "2016-01-16": [{"offset50": -8.0, "latitude": 1.0, "longitude": 2.0}],
    ...         "2016-02-15": None,
    ...     }}}
    ... )
    >>> tables["offset50"].to_numpy().ravel().tolist(), weather, prefix
    ([-8.0, nan], None, 'S2_')
    """
    veg_key, weather_key = pyveg_collections(summary)
    data = summary[veg_key]["time-series-data"]
    dates = pd.DatetimeIndex(sorted(pd.to_datetime(list(data))), name="date")
    rows = [
        {**record, "date": pd.Timestamp(date)}
        for date, records in data.items()
        for record in records or []
    ]
    for r in rows:
        if not isinstance(r.get("latitude"), int | float) or not isinstance(
            r.get("longitude"), int | float
        ):
            raise ValueError(
                f"{veg_key} {r['date'].date()}: a record without numeric latitude/longitude"
            )
    present = [v for v in _VEG_VARIABLES if any(v in r for r in rows)]
    if "offset50" not in present:
        raise ValueError(f"vegetation collection {veg_key!r} has no offset50 records")
    long = pd.DataFrame(
        {
            "date": [r["date"] for r in rows],
            "latitude": [r["latitude"] for r in rows],
            "longitude": [r["longitude"] for r in rows],
            **{v: [_to_float(r.get(v)) for r in rows] for v in present},
        }
    )
    tables = {
        v: long.pivot(index="date", columns=["latitude", "longitude"], values=v).reindex(dates)
        for v in present
    }
    weather = None
    if weather_key is not None:
        wdata = summary[weather_key]["time-series-data"]
        weather = pd.DataFrame.from_dict(
            {
                pd.Timestamp(d): {k: _to_float(x) for k, x in (v or {}).items()}
                for d, v in wdata.items()
            },
            orient="index",
        ).sort_index()
        weather.index.name = "date"
    return tables, weather, _prefix(veg_key)


def remove_offset50_outliers(tables: Table) -> Table:
    """Step 2: per sub-image, offset50 farther than 3 sample SDs from its mean becomes NaN."""
    off = tables["offset50"]
    da = remove_outliers(xr.DataArray(off.to_numpy(), dims=("time", "sub_image")), _OUTLIER_SIGMAS)
    return {**tables, "offset50": pd.DataFrame(da.to_numpy(), off.index, off.columns)}


def fill_missing_dates(tables: Table, absent: pd.DataFrame) -> Table:
    """Step 3: offset50 of a sub-image without a record at a date = its same-calendar-month mean.

    ``absent`` is True where the sub-image has no record (before outlier removal).
    """
    off = tables["offset50"]
    month_mean = off.groupby(off.index.month).transform("mean")
    return {**tables, "offset50": off.where(~absent, month_mean)}


def smooth_sub_images(tables: Table, n_points: int = _N_SMOOTH) -> Table:
    """Step 4 (and the LOWESS of step 6): ``offset50_smooth`` and ``offset50_smooth_res``.

    Per sub-image, only the dates where none of its variables is NaN enter the fit; elsewhere the
    smooth columns are NaN.
    """
    complete = np.logical_and.reduce([t.notna() for t in tables.values()])
    off = tables["offset50"]
    smooth = pd.DataFrame(np.nan, index=off.index, columns=off.columns)
    for j in range(off.shape[1]):
        rows = complete[:, j]
        if rows.sum() >= 2:
            smooth.iloc[rows, j] = smooth_series(off.iloc[rows, j], n_points, against="dates")
    return {**tables, "offset50_smooth": smooth, "offset50_smooth_res": off - smooth}


def aggregate_sub_images(
    tables: Table, weather: pd.DataFrame | None, prefix: str = "S2_"
) -> pd.DataFrame:
    """Step 5: per date, mean and sample SD over sub-images of each variable; weather joined.

    Examples
    --------
    >>> dates = pd.DatetimeIndex(["2016-01-16", "2016-02-15"], name="date")
    >>> table = pd.DataFrame([[1.0, 3.0], [np.nan, np.nan]], index=dates)
    >>> aggregate_sub_images({"offset50": table}, None).to_numpy().tolist()
    [[2.0, 1.4142135623730951]]
    """
    columns = {}
    for name, table in tables.items():
        columns[f"{prefix}{name}_mean"] = table.mean(axis=1)
        columns[f"{prefix}{name}_std"] = table.std(axis=1, ddof=1)
    frame = pd.DataFrame(columns).dropna(how="all")
    if weather is not None:
        frame = frame.join(weather, how="outer")
    frame.index.name = "date"
    return frame


def _monthly_difference(frame: pd.DataFrame) -> pd.DataFrame:
    """Month-start means, linearly interpolated, minus the value 12 months before."""
    monthly = frame.resample("MS").mean().interpolate()
    return monthly - monthly.shift(_SEASON)


def deseasonalise_sub_images(
    tables: Table, weather: pd.DataFrame | None, prefix: str = "S2_"
) -> pd.DataFrame:
    """Step 6: pyveg's 12-month differencing per sub-image, LOWESS n=12, aggregated.

    Each sub-image and variable is resampled to month starts and differenced; a sub-image's month
    with any NaN variable is dropped; offset50 is smoothed again (``frac = min(12 / n, 1)``).
    """
    diffs = {name: _monthly_difference(table) for name, table in tables.items()}
    incomplete = np.logical_or.reduce([d.isna() for d in diffs.values()])
    diffs = {name: d.mask(incomplete) for name, d in diffs.items()}
    base = {v: diffs[v] for v in _VEG_VARIABLES if v in diffs}
    smoothed = smooth_sub_images(base, _N_SMOOTH_DESEASONALISED)
    diffs.update({k: smoothed[k] for k in ("offset50_smooth", "offset50_smooth_res")})
    wx = None if weather is None else _monthly_difference(weather).dropna(how="all")
    return aggregate_sub_images(diffs, wx, prefix)
