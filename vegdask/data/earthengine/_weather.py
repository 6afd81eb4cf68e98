"""ERA5-Land weather per period: monthly means over the scene, weighted into the periods."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dask
import dask.array as da
import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr
from dateutil.relativedelta import relativedelta

from vegdask.data.earthengine._session import import_ee, initialize_earthengine, redact

__all__ = [
    "ERA5_LAND_MONTHLY",
    "ERA5_LAND_SCALE",
    "WeatherSpec",
    "aggregate_monthly_weather",
    "weather_dataset",
]


ERA5_LAND_MONTHLY = "ECMWF/ERA5_LAND/MONTHLY_AGGR"

# ERA5-Land band names and units (metres of water per month; kelvin, monthly mean).
_ERA5_PRECIPITATION = "total_precipitation_sum"

_ERA5_TEMPERATURE = "temperature_2m"

# ERA5-Land's native grid is 0.1 degree: about 11132 m at the equator.
ERA5_LAND_SCALE = 11132.0


@dataclass(frozen=True)
class WeatherSpec:
    epsg: int
    footprint: tuple[float, float, float, float]
    project: str | None


def _fetch_monthly_weather(spec: WeatherSpec, start: str, end: str) -> list[dict[str, Any]]:
    """ERA5-Land monthly means over the scene, one dict per month (start_millis, bands)."""
    ee = import_ee()
    initialize_earthengine(spec.project)
    region = ee.Geometry.Rectangle(list(spec.footprint), f"EPSG:{spec.epsg}", False)

    def monthly(image: Any) -> Any:
        means = image.reduceRegion(
            reducer=ee.Reducer.mean(), geometry=region, scale=ERA5_LAND_SCALE
        )
        return ee.Feature(None, means).set("start_millis", image.get("system:time_start"))

    table = (
        ee.ImageCollection(ERA5_LAND_MONTHLY)
        .filterDate(start, end)
        .select([_ERA5_PRECIPITATION, _ERA5_TEMPERATURE])
        .map(monthly)
    )
    try:
        info = table.getInfo()
    except ee.EEException as err:
        raise RuntimeError(
            f"Earth Engine request for {ERA5_LAND_MONTHLY} {start}..{end} failed: "
            f"{redact(str(err))}"
        ) from None
    return [feature["properties"] for feature in info.get("features", [])]


def aggregate_monthly_weather(
    months: pd.DatetimeIndex,
    precipitation_m: npt.ArrayLike,
    temperature_k: npt.ArrayLike,
    periods: pd.DataFrame,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per-period precipitation (mm) and mean temperature (K) from monthly values.

    Each month contributes the fraction of its days inside the period: precipitation
    ``sum(fraction * total * 1000)``, temperature the day-weighted mean. A period not fully
    covered by the months given gets NaN precipitation (a partial total would mislead); its
    temperature is the mean over the covered days (NaN if none).

    Examples
    --------
    >>> from vegdask.data import make_periods
    >>> months = pd.DatetimeIndex(["2020-01-01", "2020-02-01"])
    >>> periods = make_periods("2020-01-01", "2020-03-01", "2m")
    >>> total, mean = aggregate_monthly_weather(months, [0.010, 0.029], [300.0, 290.0], periods)
    >>> round(float(total[0]), 6), round(float(mean[0]), 4)  # 10 + 29 mm; (31*300 + 29*290) / 60
    (39.0, 295.1667)
    """
    precipitation = np.asarray(precipitation_m, dtype=np.float64)
    temperature = np.asarray(temperature_k, dtype=np.float64)
    starts = pd.DatetimeIndex(months).normalize()
    ends = pd.DatetimeIndex([m + relativedelta(months=1) for m in starts])
    month_days = (ends - starts).days.to_numpy()
    total = np.full(len(periods), np.nan)
    mean = np.full(len(periods), np.nan)
    for t, (p_start, p_end) in enumerate(zip(periods["start"], periods["end"], strict=True)):
        overlap_start = np.maximum(starts.to_numpy(), np.datetime64(p_start, "ns"))
        overlap_end = np.minimum(ends.to_numpy(), np.datetime64(p_end, "ns"))
        days = np.clip((overlap_end - overlap_start) / np.timedelta64(1, "D"), 0, None)
        ok_p = days > 0
        ok_t = ok_p & np.isfinite(temperature)
        if ok_t.any():
            mean[t] = float(np.sum(days[ok_t] * temperature[ok_t]) / np.sum(days[ok_t]))
        covered = np.sum(days[ok_p & np.isfinite(precipitation)])
        if covered >= (p_end - p_start) / pd.Timedelta(days=1):
            total[t] = float(np.sum(days[ok_p] / month_days[ok_p] * precipitation[ok_p]) * 1000.0)
    return total, mean


def weather_values(spec: WeatherSpec, periods: pd.DataFrame) -> npt.NDArray[np.float64]:  # (2, T)
    first = pd.Timestamp(periods["start"].iloc[0]).replace(day=1)
    last = pd.Timestamp(periods["end"].iloc[-1])
    rows = _fetch_monthly_weather(spec, first.strftime("%Y-%m-%d"), last.strftime("%Y-%m-%d"))
    rows = sorted(rows, key=lambda r: r.get("start_millis", 0))
    months = pd.to_datetime([r["start_millis"] for r in rows], unit="ms")
    precipitation = [_number(r.get(_ERA5_PRECIPITATION)) for r in rows]
    temperature = [_number(r.get(_ERA5_TEMPERATURE)) for r in rows]
    total, mean = aggregate_monthly_weather(months, precipitation, temperature, periods)
    return np.stack([total, mean])


def _number(value: Any) -> float:
    return float("nan") if value is None else float(value)


def weather_dataset(spec: WeatherSpec, periods: pd.DataFrame) -> xr.Dataset:
    """Lazy weather on ``periods``: precipitation (mm) and mean 2 m temperature (K), one request."""
    values = da.from_delayed(
        dask.delayed(weather_values, pure=True)(spec, periods),
        (2, len(periods)),
        dtype=np.float64,
    )
    return xr.Dataset(
        {
            "total_precipitation": ("time", values[0], {"units": "mm"}),
            "mean_2m_air_temperature": ("time", values[1], {"units": "K"}),
        },
        coords={"time": ("time", periods["mid"].to_numpy())},
        attrs={"source": "earthengine", "collection": ERA5_LAND_MONTHLY},
    )
