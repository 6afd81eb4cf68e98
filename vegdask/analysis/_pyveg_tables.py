"""The ``pyveg`` preset's steps 1 to 6: a results_summary.json to pyveg's time-series tables.

pyveg's tables are long: one row per sub-image record (``date``, ``latitude``, ``longitude`` and
the record's numbers). Reading, outlier removal, the drop of incomplete rows, LOWESS per
sub-image, aggregation over sub-images and 12-month differencing; the steps are listed in
:mod:`vegdask.analysis._pyveg`, which runs them and computes the indicators.
"""

from __future__ import annotations

import posixpath
from typing import Any

import numpy as np
import pandas as pd
from dateutil.relativedelta import relativedelta

from vegdask.data import RunStore
from vegdask.kernels import loess_smooth

__all__ = [
    "aggregate_sub_images",
    "deseasonalise_sub_images",
    "drop_incomplete_records",
    "pyveg_collections",
    "pyveg_prefix",
    "read_pyveg_collections",
    "read_results_summary",
    "remove_offset50_outliers",
    "smooth_sub_images",
    "split_historic",
]

_SUB_IMAGE = ["latitude", "longitude"]
_DROPPED = ("slope", "offset", "mean", "std")  # record keys pyveg drops on reading
_NDVI = ("ndvi", "ndvi_veg")  # rescaled from 0-255 to -1..1 on reading
_DIFFERENCED = ("offset50", "ndvi", "precipitation", "temperature")  # columns pyveg differences
_COMPLETE = "complete"  # False where a record's non-numeric field (feature_vec) is null
_OUTLIER_SIGMAS = 3.0
_N_SMOOTH = 4
_N_SMOOTH_DESEASONALISED = 12
_SEASON = 12  # months
_HISTORIC_YEARS = 10  # weather starting more years than this before the vegetation is "historic"


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


def pyveg_prefix(collection: str) -> str:
    """The column prefix pyveg gives a collection: ``S2_``, or ``L<n>_`` for Landsat ``n``.

    For Landsat, ``L`` and the last character of the key's second part (``LC08`` -> ``L8_``).

    Raises
    ------
    ValueError
        A Landsat key without a second part (pyveg cannot name its columns either).

    Examples
    --------
    >>> pyveg_prefix("COPERNICUS/S2_SR_HARMONIZED"), pyveg_prefix("LANDSAT/LC08/C02/T1_L2")
    ('S2_', 'L8_')
    """
    if "COPERNICUS/S2" in collection:
        return "S2_"
    parts = collection.split("/")
    if len(parts) < 2 or not parts[1]:
        raise ValueError(
            f"vegetation collection {collection!r}: pyveg names Landsat columns after the key's "
            "second part (LANDSAT/LC08/... -> L8_), and this key has none"
        )
    return f"L{parts[1][-1]}_"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _records_table(records: list[dict[str, Any]], where: str) -> pd.DataFrame:
    """The long table pyveg makes of ``records``: numeric fields as float, NaN where null or absent.

    A field that is not a number in some record (``feature_vec``) only counts for completeness:
    column ``complete`` is False where such a field is null or absent.
    """
    keys = list(dict.fromkeys(k for r in records for k in r if k not in ("date", *_DROPPED)))
    numeric = [k for k in keys if all(r.get(k) is None or _is_number(r[k]) for r in records)]
    for key in _SUB_IMAGE:
        if key not in numeric or any(r.get(key) is None for r in records):
            raise ValueError(f"{where}: a record without numeric latitude/longitude")
    table = pd.DataFrame(
        {
            "date": [r["date"] for r in records],
            **{k: [np.nan if r.get(k) is None else float(r[k]) for r in records] for k in numeric},
        }
    )
    others = [k for k in keys if k not in numeric]
    table[_COMPLETE] = [all(r.get(k) is not None for k in others) for r in records]
    return table


def read_pyveg_collections(
    summary: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame | None, str]:
    """Step 1: the vegetation records as pyveg's long table, the weather by date, the prefix.

    Returns
    -------
    records : pandas.DataFrame
        One row per sub-image record, sorted by date: ``date``, ``latitude``, ``longitude``, the
        record's numeric fields (``offset50``, ``ndvi`` and ``ndvi_veg`` rescaled to -1..1 with
        ``x * 2 / 255 - 1``, ...; NaN where null) and ``complete``. pyveg drops ``slope``,
        ``offset``, ``mean`` and ``std``. A null date has no row.
    weather : pandas.DataFrame or None
        The weather collection's variables by date (NaN rows for null dates).
    prefix : str
        ``"S2_"`` for Sentinel-2, ``"L8_"`` for Landsat 8 (:func:`pyveg_prefix`).

    Examples
    --------
    >>> records, weather, prefix = read_pyveg_collections(
    ...     {"COPERNICUS/S2": {"time-series-data": {
    ...         "2016-01-16": [{"offset50": -8.0, "latitude": 1.0, "longitude": 2.0,
    ...                         "ndvi": 255.0}],
    ...         "2016-02-15": None,
    ...     }}}
    ... )
    >>> records[["offset50", "ndvi"]].to_numpy().tolist(), weather, prefix
    ([[-8.0, 1.0]], None, 'S2_')
    """
    veg_key, weather_key = pyveg_collections(summary)
    data = summary[veg_key]["time-series-data"]
    rows: list[Any] = []
    for date, records in data.items():
        if records and not (
            isinstance(records, list) and all(isinstance(r, dict) for r in records)
        ):
            raise ValueError(f"{veg_key}/{date}: expected a list of sub-image records or null")
        rows.extend({**r, "date": pd.Timestamp(date)} for r in records or [])
    if not rows:
        raise ValueError(f"vegetation collection {veg_key!r} has no sub-image records")
    records = _records_table(rows, veg_key)
    if "offset50" not in records:
        raise ValueError(f"vegetation collection {veg_key!r} has no offset50 records")
    for name in _NDVI:
        if name in records:
            records[name] = records[name] * (2 / 255) - 1
    records = records.sort_values("date", kind="stable", ignore_index=True)
    weather = None
    if weather_key is not None:
        wdata = summary[weather_key]["time-series-data"]
        weather = pd.DataFrame.from_dict(
            {
                pd.Timestamp(d): {
                    k: np.nan if x is None else float(x) for k, x in (v or {}).items()
                }
                for d, v in wdata.items()
            },
            orient="index",
        ).sort_index()
        weather.index.name = "date"
    return records, weather, pyveg_prefix(veg_key)


def remove_offset50_outliers(records: pd.DataFrame) -> pd.DataFrame:
    """Step 2: per sub-image, offset50 farther than 3 sample SDs from its mean becomes NaN.

    pyveg's test ``|x - mean| > 3 * std`` (ddof 1, NaN ignored): a sub-image with one value
    (SD NaN) keeps it.
    """
    by = records.groupby(_SUB_IMAGE)["offset50"]
    centred = (records["offset50"] - by.transform("mean")).abs()
    far = centred > _OUTLIER_SIGMAS * by.transform("std")
    return records.assign(offset50=records["offset50"].mask(far))


def drop_incomplete_records(records: pd.DataFrame) -> pd.DataFrame:
    """Step 4a: pyveg's ``dropna``: only records without any NaN or null field are kept.

    It removes outliers' rows whole (their NDVI too), records with a NaN ``ndvi_veg`` and every
    row pyveg's gap filling (step 3) added or filled: those carry a NaN ``feature_vec``.
    """
    kept = records.dropna()
    if _COMPLETE in kept:
        kept = kept[kept[_COMPLETE]].drop(columns=_COMPLETE)
    return kept.reset_index(drop=True)


def smooth_sub_images(records: pd.DataFrame, n_points: int = _N_SMOOTH) -> pd.DataFrame:
    """Step 4b (and the LOWESS of step 6): ``offset50_smooth`` and ``offset50_smooth_res``.

    Per sub-image, LOWESS of offset50 against the date in nanoseconds, ``frac = min(n / len,
    1)``, 3 robustness iterations (statsmodels' ``lowess``, which returns a single point as it is).
    """
    fit = pd.Series(np.nan, index=records.index)
    for _, rows in records.groupby(_SUB_IMAGE, sort=False):
        y = rows["offset50"].to_numpy()
        if y.size > 1:
            t = pd.DatetimeIndex(rows["date"]).as_unit("ns").asi8.astype(np.float64)
            y = loess_smooth(y, min(n_points / y.size, 1.0), t=t)
        fit[rows.index] = y
    return records.assign(
        offset50_smooth=fit.to_numpy(), offset50_smooth_res=(records["offset50"] - fit).to_numpy()
    )


def aggregate_sub_images(
    records: pd.DataFrame, weather: pd.DataFrame | None, prefix: str = "S2_"
) -> pd.DataFrame:
    """Step 5: per date, mean and sample SD over sub-images of each column; weather joined.

    ``<prefix><column>_mean`` for every column, then ``<prefix><column>_std`` but for latitude's
    and longitude's; dates without a record have no row unless the weather has them (outer join).

    Examples
    --------
    >>> records = pd.DataFrame({"date": pd.to_datetime(["2016-01-16", "2016-01-16"]),
    ...                         "latitude": [1.0, 1.0], "longitude": [2.0, 3.0],
    ...                         "offset50": [1.0, 3.0]})
    >>> aggregate_sub_images(records, None).to_numpy().tolist()
    [[1.0, 2.5, 2.0, 1.4142135623730951]]
    """
    groups = records.drop(columns="date").groupby(records["date"])
    means = groups.mean().rename(columns=lambda c: f"{prefix}{c}_mean")
    stds = groups.std(ddof=1).drop(columns=_SUB_IMAGE)
    frame = means.join(stds.rename(columns=lambda c: f"{prefix}{c}_std"))
    if weather is not None:
        frame = frame.join(weather, how="outer")
    frame.index.name = "date"
    return frame


def split_historic(
    frame: pd.DataFrame, prefix: str = "S2_"
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Step 5b: pyveg's historic split of an aggregated table (weather from long before).

    Where the first date with a vegetation value is more than 10 whole years (the years of a
    ``relativedelta``) after the table's first date, the weather of the earlier dates is pyveg's
    ``time_series_historic.csv`` and the table starts at that date; otherwise it stays whole.

    Examples
    --------
    >>> frame = pd.DataFrame({"S2_offset50_mean": [np.nan, np.nan, 1.0], "rain": [1.0, 2.0, 3.0]},
    ...                      index=pd.to_datetime(["1986-01-16", "2005-01-16", "2016-01-16"]))
    >>> table, historic = split_historic(frame)
    >>> len(table), historic.columns.tolist(), len(historic)
    (1, ['rain'], 2)
    """
    veg = frame.filter(like=prefix).notna().any(axis=1)
    if not veg.any():
        return frame, None
    first = veg.idxmax()
    if relativedelta(first, frame.index[0]).years <= _HISTORIC_YEARS:
        return frame, None
    historic = frame.loc[frame.index < first, [c for c in frame if not c.startswith(prefix)]]
    return frame.loc[frame.index >= first], historic


def _monthly_difference(frame: pd.DataFrame) -> pd.DataFrame:
    """Month-start means, linearly interpolated; ``x(t) - x(t - 12)`` of the seasonal columns."""
    monthly = frame.resample("MS").mean().interpolate()
    seasonal = [c for c in monthly if any(name in c for name in _DIFFERENCED)]
    monthly[seasonal] = monthly[seasonal] - monthly[seasonal].shift(_SEASON)
    return monthly


def deseasonalise_sub_images(
    records: pd.DataFrame, weather: pd.DataFrame | None, prefix: str = "S2_"
) -> pd.DataFrame:
    """Step 6: pyveg's 12-month differencing per sub-image, LOWESS n=12, aggregated.

    ``records`` are step 4's (kept and smoothed). Each sub-image's columns are resampled to month
    starts (mean, then linear interpolation, so a month without a record is interpolated) and the
    offset50, NDVI and smooth columns differenced over 12 months; rows with a NaN are dropped,
    offset50 is smoothed again (``frac = min(12 / n, 1)``); the weather is resampled and
    differenced the same way; aggregated as in step 5.
    """
    parts = [
        _monthly_difference(rows.set_index("date")).dropna()
        for _, rows in records.groupby(_SUB_IMAGE, sort=False)
    ]
    diffs = pd.concat(parts).rename_axis("date").reset_index()
    smoothed = smooth_sub_images(diffs, _N_SMOOTH_DESEASONALISED)
    wx = None if weather is None else _monthly_difference(weather).dropna(how="all")
    return aggregate_sub_images(smoothed, wx, prefix)
