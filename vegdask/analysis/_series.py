"""Time series from a run's outputs or a pyveg ``results_summary.json``.

A run's ``tiles.zarr`` (dims ``time, tile_y, tile_x``) and ``weather.zarr`` become per-tile series
(offset50, NDVI, NDVI over vegetation), then the aggregate series: mean, std and count of valid
tiles per period, joined with precipitation and temperature.
"""

from __future__ import annotations

import json
import posixpath
import warnings
from dataclasses import dataclass, field
from typing import Any

import dask
import numpy as np
import pandas as pd
import xarray as xr

from vegdask import config
from vegdask._options import DESEASONALISE_METHODS
from vegdask.data import RECORD_SERIES, WEATHER_VARIABLES, RunStore, tiles_from_results_summary
from vegdask.data.storage import load_manifest, unanalysable
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
    "tile_panel",
    "tiles_from_results_summary",
]

#: Per-tile variables turned into series (tiles.zarr names).
TILE_VARIABLES: tuple[str, ...] = tuple(RECORD_SERIES)


@dataclass
class Results:
    """What the analysis reads from a run (or from a pyveg results_summary.json)."""

    tiles: xr.Dataset
    weather: xr.Dataset | None
    run: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    root: str | None = None
    has_scene: bool = False


def load_results(results: str | Any, *, use_summary: bool = False) -> Results:
    """Read a run's ``tiles.zarr``, ``weather.zarr`` and ``run.json``, or a results_summary.json.

    A run's tiles are read only as its run.json accounts for them: its process stage complete and
    tiles.zarr and weather.zarr as recorded (sizes). A folder's ``results_summary.json`` is read
    instead only when asked (``use_summary``), never in place of a missing tiles.zarr.

    Parameters
    ----------
    results : str or path-like
        A run's output directory or URL (``abfs://container/prefix`` too), or a path/URL ending in
        ``.json`` holding pyveg's results_summary schema.
    use_summary : bool, default False
        Read the folder's ``results_summary.json`` rather than its tiles.zarr.

    Raises
    ------
    FileNotFoundError
        When neither ``tiles.zarr`` nor a results_summary.json is found.
    ValueError
        When the run is not analysable as it is (one line saying why and what to do).
    """
    url = str(results)
    if url.endswith(".json"):
        folder, name = posixpath.split(url)
        store = RunStore(folder or ".")
        if not store.exists(name):
            raise FileNotFoundError(f"results summary {url} does not exist")
        text = store.read_bytes(name)
        try:
            summary = json.loads(text)
        except ValueError as err:  # JSONDecodeError, UnicodeDecodeError
            raise ValueError(f"{url} is not valid JSON ({err})") from None
        try:
            tiles, weather, metadata = tiles_from_results_summary(summary)
        except ValueError as err:
            raise ValueError(f"{url}: {err}") from None
        return Results(tiles, weather, {}, metadata, root=None)
    store = RunStore(url)
    if use_summary:
        if not store.exists("results_summary.json"):
            raise FileNotFoundError(f"{url} holds no results_summary.json (--use-summary)")
        return load_results(store.url_of("results_summary.json"))
    run = load_manifest(store)
    summary = "; or pass --use-summary to analyse its results_summary.json"
    if run and (problem := unanalysable(store, run)):
        raise ValueError(f"{url} cannot be analysed: {problem}; rerun `vegdask run`{summary}")
    if not store.exists("tiles.zarr"):
        if store.exists("results_summary.json"):
            raise FileNotFoundError(f"{url} holds no tiles.zarr{summary}")
        raise FileNotFoundError(
            f"{url} holds neither tiles.zarr nor results_summary.json: pass a run's output "
            "directory/URL or a pyveg results_summary.json"
        )
    tiles = store.open_zarr("tiles.zarr")
    weather = store.open_zarr("weather.zarr") if store.exists("weather.zarr") else None
    metadata = dict(tiles.attrs)
    config = run.get("config", {})
    metadata.update({k: v for k, v in config.items() if not isinstance(v, dict | list)})
    for key in ("location", "collection"):
        if isinstance(config.get(key), dict):
            metadata.update(config[key])
    return Results(tiles, weather, run, metadata, root=url, has_scene=store.exists("scene.zarr"))


def remove_outliers(
    da: xr.DataArray, sigmas: float | None = None, dim: str = "time"
) -> xr.DataArray:
    """Mask values farther than ``sigmas`` standard deviations from their own tile's mean.

    As pyveg's ``drop_veg_outliers``: a value is dropped where ``|x - mean| > sigmas * sd``, with
    the sample standard deviation (``ddof=1``, pandas' default); NaN samples are ignored.
    ``sigmas`` left as None is the ``vegdask.analysis.outlier-sigmas`` setting (pyveg's 3).

    Examples
    --------
    >>> da = xr.DataArray(np.r_[np.zeros(20), 50.0], dims="time")
    >>> int(remove_outliers(da).isnull().sum())
    1
    >>> kept = xr.DataArray(np.r_[np.tile([-1.0, 1.0], 24), 3.37], dims="time")
    >>> int(remove_outliers(kept).isnull().sum())  # 3.37 is within 3 sample SDs
    0
    """
    sigmas = config.get("analysis.outlier-sigmas", sigmas)
    mean = da.mean(dim)
    std = da.std(dim, ddof=1)
    return da.where(np.abs(da - mean) <= sigmas * std)


def aggregate_series(
    tiles: xr.Dataset,
    weather: xr.Dataset | None = None,
    *,
    outlier_sigmas: float | None = None,
) -> pd.DataFrame:
    """Aggregate per-tile series into one row per period: mean, std and count of valid tiles.

    Tiles flagged ``valid == False`` are excluded; each tile's values beyond ``outlier_sigmas``
    standard deviations of its own series are removed first (None: the
    ``vegdask.analysis.outlier-sigmas`` setting, pyveg's 3, which pyveg applied to offset50
    only, here to every variable; 0 removes none). Columns: ``<name>_mean``, ``<name>_std``,
    ``<name>_count`` for ``name`` in offset50, ndvi, ndvi_veg, then the weather variables.

    Examples
    --------
    >>> tiles = xr.Dataset(
    ...     {"offset50": (("time", "tile_y", "tile_x"), [[[1.0, 3.0]], [[2.0, np.nan]]])},
    ...     coords={"time": pd.to_datetime(["2016-01-16", "2016-02-15"])},
    ... )
    >>> aggregate_series(tiles, outlier_sigmas=0)[["offset50_mean", "offset50_count"]].values
    array([[2., 2.],
           [2., 1.]])
    """
    columns: dict[str, Any] = {}
    for var in TILE_VARIABLES:
        if var not in tiles:
            continue
        name = RECORD_SERIES[var]
        stacked = _valid_tiles(tiles, var, outlier_sigmas)
        columns[f"{name}_mean"] = stacked.mean("tile")
        columns[f"{name}_std"] = stacked.std("tile", ddof=1)
        columns[f"{name}_count"] = stacked.count("tile")
    wx = None if weather is None else weather[[v for v in WEATHER_VARIABLES if v in weather]]
    with warnings.catch_warnings():  # all-NaN periods (fully cloudy) give NaN, not a warning
        warnings.simplefilter("ignore", RuntimeWarning)
        agg, wx = dask.compute(xr.Dataset(columns), wx)  # one pass over the stores
    frame = agg.to_dataframe()
    frame = frame[[c for c in frame.columns if c in columns]]
    if wx is not None:
        frame = frame.join(wx.to_dataframe()[list(wx.data_vars)], how="left")
    frame.index.name = "time"
    return frame


def _valid_tiles(tiles: xr.Dataset, var: str, outlier_sigmas: float | None) -> xr.DataArray:
    """A variable's valid values (time, tile), each tile's outliers removed."""
    da = tiles[var].where(tiles.get("valid", True))
    outlier_sigmas = config.get("analysis.outlier-sigmas", outlier_sigmas)
    if outlier_sigmas:  # 0: off
        da = remove_outliers(da, outlier_sigmas)
    return da.stack(tile=("tile_y", "tile_x"))


def tile_panel(tiles: xr.Dataset, var: str, *, outlier_sigmas: float | None = None) -> pd.DataFrame:
    """A variable's tiles as a panel (rows periods, columns ``(tile_y, tile_x)``).

    The values the aggregate series averages (:func:`aggregate_series`): tiles flagged
    ``valid == False`` masked, each tile's outliers removed (``outlier_sigmas`` as there; None:
    the setting ``vegdask.analysis.outlier-sigmas``).

    Examples
    --------
    >>> tiles = xr.Dataset(
    ...     {"offset50": (("time", "tile_y", "tile_x"), [[[1.0, 3.0]], [[2.0, np.nan]]])},
    ...     coords={"time": pd.to_datetime(["2016-01-16", "2016-02-15"])},
    ... )
    >>> tile_panel(tiles, "offset50", outlier_sigmas=0).columns.tolist()
    [(0, 0), (0, 1)]
    """
    stacked = _valid_tiles(tiles, var, outlier_sigmas).transpose("time", "tile")
    columns = pd.MultiIndex.from_tuples(stacked["tile"].values.tolist(), names=["tile_y", "tile_x"])
    index = pd.DatetimeIndex(stacked["time"].values, name="time")
    return pd.DataFrame(np.asarray(stacked.values), index=index, columns=columns)


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
    series: pd.Series, method: str | None = None, *, period: int | None = None
) -> pd.DataFrame:
    """Remove the annual cycle: robust STL (default) or pyveg's 12-month differencing.

    Parameters
    ----------
    series : pandas.Series
        Indexed by time; NaN where missing.
    method : {"stl", "diff", "none"}, optional
        Default the ``vegdask.analysis.deseasonalise`` setting (``"stl"``). ``"stl"``:
        ``statsmodels.tsa.seasonal.STL(period, seasonal_deg=0, robust=True)``: the
        cycle-subseries are smoothed by local constants, as R's ``stl`` does by default
        (``s.degree = 0``); statsmodels' local lines (``seasonal_deg=1``) follow the first and
        last year with a few years per subseries, leaving their residuals near zero. Gaps are
        linearly filled for the decomposition only and are NaN again in every output column.
        ``"diff"``: pyveg's ``x[t] - x[t - period]``. ``"none"``: no deseasonalising.
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
    method = config.get("analysis.deseasonalise", method)
    if method not in DESEASONALISE_METHODS:
        raise ValueError(
            f"deseasonalise method must be one of {DESEASONALISE_METHODS}, got {method!r}"
        )
    out = pd.DataFrame(index=series.index)
    if method == "none":
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
    fit = STL(filled.to_numpy(), period=period, seasonal_deg=0, robust=True).fit()
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
