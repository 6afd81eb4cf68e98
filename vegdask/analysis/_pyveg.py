"""The ``pyveg`` preset: pyveg v1.1.0's default analysis of a results_summary.json, step by step.

``pyveg_gee_analysis`` with its defaults (pyveg 1.1.0 with ewstools 1.0.0), reimplemented from its
description (docs/analysis.md, "The pyveg preset"), pyveg's quirks included:

1. :func:`read_pyveg_collections`: vegetation is the collection whose key contains
   ``"COPERNICUS/S2"`` or ``"LANDSAT"`` (columns ``S2_...``, ``L8_...``), weather the one whose
   key starts with ``"ECMWF/ERA5/"``; one row per sub-image record, NDVI rescaled to -1..1.
2. :func:`remove_offset50_outliers`: per sub-image, offset50 beyond 3 sample standard deviations
   of its mean becomes NaN.
3. pyveg's gap filling (same-calendar-month means for the dates seen exactly once, and for
   outliers) marks every row it fills with a NaN ``feature_vec``, so step 4's ``dropna``
   removes all of them: it changes no output, and the preset does not compute it.
4. :func:`drop_incomplete_records` (pyveg's ``dropna``) and :func:`smooth_sub_images`: per
   sub-image, LOWESS of offset50 against the date (float nanoseconds), ``frac = min(4 / n, 1)``,
   3 robustness iterations: ``offset50_smooth`` and the residual ``offset50_smooth_res``.
5. :func:`aggregate_sub_images`: per date, mean and sample std over the sub-images of every
   column (``S2_offset50_mean``, ``S2_offset50_std``, ...), weather joined on the date (outer);
   :func:`split_historic`: weather from more than 10 years before the first vegetation value
   is set apart (``time_series_historic.csv``): pyveg's ``time_series.csv``.
6. :func:`deseasonalise_sub_images` (when step 5 has more than 24 rows): per sub-image, monthly
   means on month starts, linear interpolation, ``x(t) - x(t - 12)``, rows with a NaN dropped,
   LOWESS ``frac = min(12 / n, 1)`` of the differenced offset50; weather resampled and
   differenced the same way; aggregated (and split) as in 5: ``time_series_detrended.csv``.
7. :func:`pyveg_indicators`: ewstools 1.0.0's ``ews_compute`` on each series containing
   ``offset50_mean``, ``ndvi_mean`` or ``total_precipitation`` (NaN dropped, more than 12 values):
   Gaussian trend with sigma = 6 samples (``mode="reflect"``, truncated at 4 sigma) removed on the
   deseasonalised series (none on the seasonal one), rolling windows of ``floor(0.5 n)`` samples
   stamped at their end, variance (ddof 1) and lag-1 autocorrelation (Pearson, pandas
   ``autocorr``), Kendall tau-b of each against time; the last value of the same computation with a
   window of ``floor(0.999 n)`` samples is pyveg's "(0.99 rolling window)" summary number. Only
   when step 6 ran: pyveg reports no indicator for a series of 24 rows or fewer.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from vegdask._options import PRESETS
from vegdask.analysis._pyveg_tables import (
    aggregate_sub_images,
    deseasonalise_sub_images,
    drop_incomplete_records,
    read_pyveg_collections,
    remove_offset50_outliers,
    smooth_sub_images,
    split_historic,
)
from vegdask.data import RunStore
from vegdask.kernels import gaussian_smooth, kendall_tau, rolling_indicators

__all__ = [
    "PRESETS",
    "PYVEG_SERIES",
    "PyvegAnalysis",
    "pyveg_analysis",
    "pyveg_indicators",
    "write_pyveg_outputs",
]

#: Series whose indicators pyveg reports (resilience.json names; pyveg's column contains them).
PYVEG_SERIES: tuple[str, ...] = ("offset50_mean", "ndvi_mean", "total_precipitation")
_MIN_ROWS_DESEASONALISE = 24  # pyveg deseasonalises more rows than this
_MIN_ROWS_EWS = 12  # ewstools is run on more values than this
_SIGMA = 6.0  # ewstools 1.0.0 band_width=6: an absolute sigma in samples
_WINDOW = 0.5
_SUMMARY_WINDOW = 0.999  # floor(0.999 n) = n - 1 samples: pyveg's "0.99 rolling window"
_INDICATORS = ("ar1", "variance")
# time_series_summary_stats.csv's names of each indicator's (0.99 window value, 0.5 window tau),
# deseasonalised and seasonal; the double space is pyveg's.
_SUMMARY_NAMES = {
    ("ar1", False): ("Lag-1 AC (0.99 rolling window)", "Kendall tau Lag-1 AC (0.5 rolling window)"),
    ("variance", False): (
        "Variance (0.99 rolling window)", "Kendall tau Variance (0.5 rolling window)"
    ),
    ("ar1", True): (
        "Lag-1 AC (0.99 rolling window) Seasonal",
        "Kendall tau Lag-1 AC (0.5 rolling window) Seasonal",
    ),
    ("variance", True): (
        "Variance (0.99 rolling window)  Seasonal",
        "Kendall tau Variance (0.5 rolling window) Seasonal",
    ),
}  # fmt: skip


@dataclass
class PyvegAnalysis:
    """What the ``pyveg`` preset computes from a results_summary.json.

    Attributes
    ----------
    time_series, deseasonalised : pandas.DataFrame
        pyveg's ``time_series.csv`` and ``time_series_detrended.csv`` (None when the series has
        24 rows or fewer), indexed by date.
    summary : pandas.DataFrame
        pyveg's ``time_series_summary_stats.csv`` without the crystal-ball fit: one row per
        series (``ts_id``), its statistics, the results summary's metadata and, when the
        deseasonalised table exists, the indicators, under pyveg's column names.
    resilience : dict
        resilience.json under the preset: ``{series: {"ar1"|"variance": {"kendall_tau", ...}}}``
        for the deseasonalised series and ``<series>_seasonal`` for the seasonal ones; empty for
        a series of 24 rows or fewer (pyveg reports no indicator).
    historic : pandas.DataFrame or None
        pyveg's ``time_series_historic.csv``: the weather of the dates more than 10 years before
        the first vegetation value (step 5b), when there are such dates.
    """

    time_series: pd.DataFrame
    deseasonalised: pd.DataFrame | None
    summary: pd.DataFrame
    resilience: dict[str, dict[str, dict[str, Any]]]
    historic: pd.DataFrame | None = None


def pyveg_indicators(series: pd.Series, *, detrend: bool) -> dict[str, dict[str, Any]] | None:
    """Step 7: ewstools 1.0.0's variance and lag-1 AC of one series, their taus, pyveg's summary.

    Returns None when the series has 12 valid values or fewer (ewstools is not run).

    Returns
    -------
    dict or None
        ``{"ar1"|"variance": {"kendall_tau", "last_value_0.99_window", "window_samples",
        "n_samples"}}``.

    Examples
    --------
    >>> x = pd.Series(np.sin(np.arange(40.0) ** 1.5))
    >>> out = pyveg_indicators(x, detrend=True)
    >>> out["ar1"]["window_samples"], out["variance"]["n_samples"]
    (20, 40)
    """
    values = series.dropna().to_numpy(dtype=np.float64)
    n = values.size
    if n <= _MIN_ROWS_EWS:
        return None
    resid = values - gaussian_smooth(values, _SIGMA) if detrend else values
    half = rolling_indicators(resid, _WINDOW, ar1="pearson", min_valid=1.0)
    whole = rolling_indicators(resid, _SUMMARY_WINDOW, ar1="pearson", min_valid=1.0)
    return {
        name: {
            "kendall_tau": float(kendall_tau(half[name])[0]),
            "last_value_0.99_window": float(whole[name][-1]),
            "window_samples": math.floor(_WINDOW * n),
            "n_samples": n,
        }
        for name in _INDICATORS
    }


def _series_column(frame: pd.DataFrame, name: str) -> str | None:
    return next((c for c in frame.columns if name in c and not c.endswith("_std")), None)


def _entry(stats: dict[str, Any], name: str, seasonal: bool) -> dict[str, Any]:
    return {
        **stats,
        "p_value": None,
        "preset": "pyveg",
        "pyveg_name": _SUMMARY_NAMES[name, seasonal][1],
        "window": _WINDOW,
        "detrend": None if seasonal else "gaussian",
        "bandwidth": None if seasonal else _SIGMA,
        "bandwidth_convention": None if seasonal else "sigma",
        "ar1_estimator": "pearson",
        "deseasonalise": None if seasonal else "diff",
    }


def _summary_row(
    column: pd.Series,
    indicators: dict[bool, dict[str, dict[str, Any]] | None] | None,
    metadata: dict[str, Any],
) -> dict[str, Any]:
    """One series' row of pyveg's summary; ``indicators`` by seasonal (True/False) or None."""
    row: dict[str, Any] = {k: float(getattr(column, k)()) for k in ("min", "max", "mean", "median")}
    row = {**row, "std": float(column.std(ddof=1)), "ts_id": column.name, **metadata}
    for (name, seasonal), (last_name, tau_name) in _SUMMARY_NAMES.items():
        if indicators is not None:
            stats = (indicators[seasonal] or {}).get(name, {})
            row[last_name] = stats.get("last_value_0.99_window", np.nan)
            row[tau_name] = stats.get("kendall_tau", np.nan)
    return row


def pyveg_analysis(summary: dict[str, Any]) -> PyvegAnalysis:
    """Run pyveg v1.1.0's default analysis on a results_summary.json's content.

    Parameters
    ----------
    summary : dict
        The parsed results_summary.json (pyveg's schema, as pyveg or vegdask wrote it).

    Returns
    -------
    PyvegAnalysis

    Examples
    --------
    >>> dates = pd.date_range("2016-01-01", periods=36, freq="MS").strftime("%Y-%m-%d")
    >>> rng = np.random.default_rng(0)
    >>> summary = {"COPERNICUS/S2": {"time-series-data": {
    ...     d: [{"offset50": float(rng.normal()), "ndvi": float(rng.normal()),
    ...          "latitude": 1.0, "longitude": float(k)} for k in range(3)]
    ...     for d in dates
    ... }}}
    >>> out = pyveg_analysis(summary)
    >>> len(out.time_series), len(out.deseasonalised), sorted(out.resilience)
    (36, 24, ['ndvi_mean', 'ndvi_mean_seasonal', 'offset50_mean', 'offset50_mean_seasonal'])
    """
    records, weather, prefix = read_pyveg_collections(summary)
    kept = drop_incomplete_records(remove_offset50_outliers(records))
    if kept.empty:
        raise ValueError(
            "results summary has no complete sub-image record (pyveg drops records with a null "
            "field or an outlying offset50): nothing to analyse"
        )
    kept = smooth_sub_images(kept)
    time_series, historic = split_historic(aggregate_sub_images(kept, weather, prefix), prefix)
    deseasonalised = None
    if len(time_series) > _MIN_ROWS_DESEASONALISE:
        deseasonalised = split_historic(deseasonalise_sub_images(kept, weather, prefix), prefix)[0]
    else:
        warnings.warn(
            f"the pyveg preset: {len(time_series)} rows, and pyveg deseasonalises and reports "
            f"indicators only for more than {_MIN_ROWS_DESEASONALISE}: no indicators",
            UserWarning,
            stacklevel=2,
        )
    metadata = summary.get("metadata") or {}
    resilience: dict[str, dict[str, dict[str, Any]]] = {}
    rows = []
    if historic is not None and "total_precipitation" in historic:
        rain = historic["total_precipitation"].rename("total_precipitation_historic")
        rows.append(_summary_row(rain, None, metadata))
    for name in PYVEG_SERIES:
        column = _series_column(time_series, name)
        if column is None:
            continue
        indicators = None
        if deseasonalised is not None:  # pyveg: no indicators without time_series_detrended.csv
            indicators = {
                False: pyveg_indicators(deseasonalised[column], detrend=True),
                True: pyveg_indicators(time_series[column], detrend=False),
            }
            for seasonal, stats in indicators.items():
                if stats is not None:
                    key = f"{name}_seasonal" if seasonal else name
                    resilience[key] = {ind: _entry(st, ind, seasonal) for ind, st in stats.items()}
        rows.append(_summary_row(time_series[column], indicators, metadata))
    return PyvegAnalysis(time_series, deseasonalised, pd.DataFrame(rows), resilience, historic)


def write_pyveg_outputs(result: PyvegAnalysis, store: RunStore, folder: str) -> None:
    """Write pyveg's CSV files into the folder ``folder`` of the run ``store``.

    ``time_series.csv``, ``time_series_detrended.csv`` and ``time_series_historic.csv`` (when
    computed) and ``time_series_summary_stats.csv``, as pyveg names them.
    """
    store.makedirs(folder)
    tables = {
        "time_series.csv": result.time_series,
        "time_series_detrended.csv": result.deseasonalised,
        "time_series_historic.csv": result.historic,
        "time_series_summary_stats.csv": result.summary,
    }
    for name, table in tables.items():
        if table is not None:
            store.write_bytes(f"{folder}/{name}", table.to_csv(date_format="%Y-%m-%d").encode())
