"""The ``pyveg`` preset against pyveg v1.1.0's pipeline, run step by step in this file (issue 20).

The oracle below is pyveg's preprocessing as its code runs it (../shared/pyveg/ANALYSIS.md, "On
messy inputs", and FEATURES.md G1-G4), written with pandas on pyveg's long tables and statsmodels'
``lowess``, and ewstools' own indicators; nothing in it comes from vegdask. The fixtures are small
pyveg-format results_summary.json contents exercising the six points of issue 20 (null dates,
absent sub-images, outliers, NDVI's scale, series of 24 rows or fewer, Landsat) and their
combinations; every test names the points it covers.
"""

import itertools
import json
import math

import ewstools
import numpy as np
import pandas as pd
import pytest
from dateutil.relativedelta import relativedelta
from scipy import ndimage, stats
from statsmodels.nonparametric.smoothers_lowess import lowess

from vegdask.analysis import GRIDS, pyveg_analysis, pyveg_collections, sensitivity
from vegdask.analysis._pyveg import write_pyveg_outputs
from vegdask.data import RunStore
from vegdask.kernels import loess_smooth


def make_summary(
    seed,
    n_months=48,
    shape=(3, 4),
    collection="COPERNICUS/S2_SR_HARMONIZED",
    weather="ECMWF/ERA5/MONTHLY",
):
    """A results_summary with an annual cycle, a rising AR(1) coefficient, gaps and outliers."""
    rng = np.random.default_rng(seed)
    months = pd.date_range("2017-01-01", periods=n_months, freq="MS")
    dates = list(months + pd.to_timedelta(rng.integers(10, 20, n_months), "D"))
    del dates[9]  # a month without any image: interpolated when deseasonalising
    dates.insert(20, months[19] + pd.Timedelta(days=2))  # two images in one month
    n = len(dates)
    phase = 2 * np.pi * np.array([d.day_of_year for d in dates]) / 365.25
    phi = np.linspace(0.1, 0.9, n)
    null_dates = set(rng.choice(np.arange(1, n - 1), 2, replace=False))
    subs = [
        (11.6 - 0.0045 * a, 27.9 + 0.0045 * b) for a in range(shape[0]) for b in range(shape[1])
    ]
    series = {}
    for k, (lat, lon) in enumerate(subs):
        noise = np.zeros(n)
        for t in range(1, n):
            noise[t] = phi[t] * noise[t - 1] + rng.standard_normal()
        offset50 = -800 + 40 * np.sin(phase) + 15 * noise + 30 * k
        offset50[rng.choice(n, 2, replace=False)] += rng.choice([-1, 1], 2) * 400  # outliers
        ndvi = 150 + 30 * np.sin(phase + 0.5) + 4 * rng.standard_normal(n)
        series[(lat, lon)] = (offset50, ndvi, ndvi + 25 + rng.standard_normal(n))
    data = {}
    for i, date in enumerate(dates):
        key = date.strftime("%Y-%m-%d")
        records = [
            {
                "offset50": float(o[i]),
                "feature_vec": [0.0, float(o[i])],
                "date": key,
                "latitude": lat,
                "longitude": lon,
                "ndvi": float(v[i]),
                "ndvi_veg": float(w[i]),
            }
            for (lat, lon), (o, v, w) in series.items()
            if rng.random() > 0.06  # a cloudy sub-image
        ]
        data[key] = None if i in null_dates or not records else records
    out = {collection: {"type": "vegetation", "time-series-data": data}}
    if weather:
        rain = np.clip(60 + 50 * np.sin(phase - 1) + 10 * rng.standard_normal(n), 0, None)
        temp = 300 + 5 * np.sin(phase) + rng.standard_normal(n)
        out[weather] = {
            "type": "weather",
            "time-series-data": {
                d.strftime("%Y-%m-%d"): {
                    "total_precipitation": float(rain[i]),
                    "mean_2m_air_temperature": float(temp[i]),
                }
                for i, d in enumerate(dates)
            },
        }
    out["metadata"] = {"collection": collection}
    return out


# ---- Fixtures: pyveg-format results_summary.json contents, built here. ----


def mid_dates(n_months, start="2016-01-01"):
    """pyveg's date keys: the middle day of each month (find_mid_period: start + days // 2)."""
    starts = pd.date_range(start, periods=n_months + 1, freq="MS")
    return [(a + (b - a) // 2).strftime("%Y-%m-%d") for a, b in itertools.pairwise(starts)]


def pyveg_results(
    n_months=36,
    n_subs=4,
    *,
    collection="COPERNICUS/S2",
    weather="ECMWF/ERA5/MONTHLY",
    null_dates=(),
    absent=(),
    single=(),
    outliers=(),
    nan_ndvi_veg=(),
    weather_years_before=0,
    seed=0,
):
    """A results_summary.json as pyveg writes it (weather first, 0-255 NDVI, feature vectors).

    ``null_dates``: indices of dates whose value is null; ``absent``: (date, sub-image) pairs
    without a record; ``single``: dates with sub-image 0's record only; ``outliers``: (date,
    sub-image) pairs whose offset50 is moved by 600; ``nan_ndvi_veg``: pairs with ndvi_veg NaN;
    ``weather_years_before``: the weather starts this many years before the vegetation.
    """
    rng = np.random.default_rng(seed)
    dates = mid_dates(n_months)
    phase = 2 * np.pi * np.arange(n_months) / 12
    phi = np.linspace(0.1, 0.9, n_months)
    data = {date: [] for date in dates}
    for k in range(n_subs):
        noise = np.zeros(n_months)
        for t in range(1, n_months):
            noise[t] = phi[t] * noise[t - 1] + rng.standard_normal()
        offset50 = -800 + 40 * np.sin(phase) + 15 * noise + 30 * k
        ndvi = 150 + 30 * np.sin(phase + 0.5) + 4 * rng.standard_normal(n_months) + 2 * noise
        ndvi_veg = ndvi + 25 + rng.standard_normal(n_months)
        for t, date in enumerate(dates):
            if (t, k) in absent or (t in single and k > 0):
                continue
            o50 = offset50[t] + (600 * (-1) ** k if (t, k) in outliers else 0)
            fv = np.round(np.linspace(0, o50 * 1.7, 20), 1)
            data[date].append({
                "slope": float(fv[-1] / 20), "offset": float(fv[-1]), "offset50": float(o50),
                "mean": float(fv.mean()), "std": float(fv.std()), "feature_vec": fv.tolist(),
                "date": date, "latitude": round(11.6 - 0.0045 * (k // 2), 4),
                "longitude": round(27.9 + 0.0045 * (k % 2), 4), "ndvi": round(float(ndvi[t]), 4),
                "ndvi_veg": math.nan if (t, k) in nan_ndvi_veg else float(ndvi_veg[t]),
            })  # fmt: skip
    for t in null_dates:
        data[dates[t]] = None
    out = {}
    if weather:
        n_wx = n_months + 12 * weather_years_before
        wdates = mid_dates(n_wx, f"{2016 - weather_years_before}-01-01")
        wphase = 2 * np.pi * np.arange(n_wx) / 12
        rain = np.clip(0.06 + 0.05 * np.sin(wphase - 1) + 0.01 * rng.standard_normal(n_wx), 0, None)
        temp = 300 + 5 * np.sin(wphase) + rng.standard_normal(n_wx)
        out[weather] = {"type": "weather", "time-series-data": {
            d: {"total_precipitation": float(rain[t]), "mean_2m_air_temperature": float(temp[t])}
            for t, d in enumerate(wdates)
        }}  # fmt: skip
    out[collection] = {"type": "vegetation", "time-series-data": data}
    out["metadata"] = {"start_date": "2016-01-01", "time_per_point": "1m", "longitude": 27.9,
                       "latitude": 11.6, "collection": collection, "coords_id": "00"}  # fmt: skip
    return out


# Each case: the fixture and the points of issue 20 it covers.
CASES = {
    "null_dates": (
        {"null_dates": (5, 17), "seed": 1},
        "1: null dates are filled, then dropped by the smoothing's dropna, and missing later",
    ),
    "absent_sub_images": (
        {"absent": ((3, 1), (10, 2), (11, 2), (20, 0), (27, 3)), "single": (14,), "seed": 2},
        "2: sub-images absent on dates with other records are never filled; a date seen once is",
    ),
    "outliers": (
        {"outliers": ((8, 1), (25, 3), (31, 0)), "seed": 3},
        "3: an outlier's row is removed whole, so its NDVI leaves the NDVI mean",
    ),
    "gaps_with_outliers": (
        {
            "null_dates": (6,),
            "absent": ((12, 1), (13, 1)),
            "outliers": ((9, 1), (30, 2)),
            "nan_ndvi_veg": ((20, 3),),
            "seed": 4,
        },
        "1+2+3: outliers of sub-images with gaps are filled with month means, then dropped",
    ),
    "null_dates_with_absent_sub_images": (
        {"null_dates": (4, 22), "absent": ((5, 0), (21, 3), (23, 3)), "single": (13,), "seed": 5},
        "1+2: null dates and absent sub-images",
    ),
    "rows_24": (
        {"n_months": 24, "null_dates": (7,), "outliers": ((15, 2),), "seed": 6},
        "5: 24 rows: no detrended file and no summary taus",
    ),
    "rows_26": (
        {"n_months": 26, "absent": ((3, 2),), "outliers": ((15, 2),), "seed": 7},
        "5: 26 rows: the detrended file has 14 rows and every summary tau",
    ),
    "historic_weather": (
        {"weather_years_before": 30, "null_dates": (0, 11), "absent": ((2, 1),), "seed": 9},
        "1 with pyveg's historic split: weather from 1986 leaves time_series.csv, its first date "
        "a null one (the split is at the first vegetation value)",
    ),
    "earlier_weather": (
        {"weather_years_before": 5, "outliers": ((4, 3),), "seed": 10},
        "3 with weather from 5 years before: it stays in time_series.csv (no split)",
    ),
    "landsat": (
        {
            "collection": "LANDSAT/LC08/C01/T1_SR",
            "null_dates": (9,),
            "absent": ((15, 1),),
            "outliers": ((20, 0),),
            "seed": 8,
        },
        "6: Landsat 8's columns are L8_ (with gaps and outliers)",
    ),
}


# ---- The oracle: pyveg v1.1.0's pipeline as its code runs it, in pandas, one step at a time. ----
# Written from ../shared/pyveg/ANALYSIS.md (including "On messy inputs") and FEATURES.md G1-G4,
# not from vegdask's code: the DataFrames are pyveg's long tables (one row per sub-image record)
# and every step runs in pyveg's order, the quirks included. The indicators are ewstools' own
# (2.1.3 here; see ewstools_indicators for how it reproduces ewstools 1.0.0's numbers).

DROPPED_KEYS = ["slope", "offset", "mean", "std"]
EWS_NAMES = ("offset50_mean", "ndvi_mean", "total_precipitation")
DIFFERENCED = ("offset50", "ndvi", "precipitation", "temperature")


def oracle_read(summary):
    """read_json_to_dataframes: a null date is a row holding only its date; NDVI to -1..1."""
    frames = {}
    for name, coll in summary.items():
        if name == "metadata":
            continue
        rows = []
        for date, point in coll["time-series-data"].items():
            if point is None or point == {} or point == []:
                rows.append({"date": date})
            elif isinstance(point, list):
                rows.extend(dict(record) for record in point)
            else:
                rows.append({**point, "date": date})
        df = pd.DataFrame(rows).drop(columns=DROPPED_KEYS, errors="ignore")
        for col in ("ndvi", "ndvi_veg"):  # point 4
            if col in df:
                df[col] = df[col] * (2 / 255) - 1
        frames[name] = df.sort_values("date", kind="stable")
    return frames


def oracle_missing_dates(df):
    """get_missing_time_points: after leading rows with NaNs, every date seen exactly once."""
    complete = df.notna().all(axis=1).to_numpy()
    first = int(np.argmax(complete))
    return list(df.iloc[first:].drop_duplicates(subset="date", keep=False)["date"])


def oracle_outliers(df):
    """drop_veg_outliers: per sub-image, offset50 beyond 3 sample SDs of its mean is NaN."""
    df = df.copy()
    for _, g in df.groupby(["latitude", "longitude"]):
        x = g["offset50"]
        df.loc[g.index[((x - x.mean()).abs() > 3 * x.std()).to_numpy()], "offset50"] = np.nan
    return df


def oracle_fill_gaps(df, missing):
    """fill_veg_gaps: each sub-image gets a row per missing date; where it then has gaps, every
    NaN offset50 (outliers too) is its calendar month's mean, with the row's feature_vec NaN."""
    parts = []
    for (lat, lon), g in df.groupby(["latitude", "longitude"]):
        added = pd.DataFrame({"date": missing, "latitude": lat, "longitude": lon})
        g = pd.concat([g, added], ignore_index=True).sort_values("date", kind="stable")
        if missing:
            month = pd.to_datetime(g["date"]).dt.month
            month_mean = g.groupby(month)["offset50"].mean()
            for i, row in g.iterrows():
                if pd.isna(row["offset50"]):
                    g.loc[i, "offset50"] = month_mean[month[i]]
                    g.loc[i, "feature_vec"] = np.nan
        parts.append(g)
    return pd.concat(parts, ignore_index=True)


def oracle_lowess(g, n):
    x = pd.DatetimeIndex(pd.to_datetime(g["date"])).as_unit("ns").asi8.astype(float)
    fit = lowess(g["offset50"], x, frac=min(n / len(g), 1.0), it=3, is_sorted=True,
                 return_sorted=False)  # fmt: skip
    return g.assign(offset50_smooth=fit, offset50_smooth_res=g["offset50"] - fit)


def oracle_smooth(df, n):
    """smooth_veg_data: per sub-image, dropna on the whole table, then LOWESS against the date."""
    parts = [oracle_lowess(g.dropna(), n) for _, g in df.groupby(["latitude", "longitude"])]
    return pd.concat([p for p in parts if len(p)], ignore_index=True)


def oracle_make_time_series(veg, weather, prefix):
    """make_time_series: per date mean and std of the numeric columns; weather merged (outer)."""
    numeric = veg.drop(columns="date").select_dtypes("number")  # feature_vec is a nuisance column
    groups = numeric.groupby(veg["date"])
    means = groups.mean().rename(columns=lambda c: f"{prefix}{c}_mean")
    stds = groups.std().rename(columns=lambda c: f"{prefix}{c}_std")
    ts = pd.merge(means, stds, on="date", how="inner")
    ts = ts.drop(columns=[c for c in ts if "latitude_std" in c or "longitude_std" in c])
    if weather is not None:
        ts = pd.merge(ts, weather.set_index("date"), on="date", how="outer")
    ts.index = pd.to_datetime(ts.index)
    # the historic split: weather from more than 10 (whole) years before the first veg value
    first_veg = ts.filter(like=prefix).dropna(how="all").index[0]
    if relativedelta(first_veg, ts.index[0]).years > 10:
        historic = ts.loc[ts.index < first_veg, [c for c in ts if not c.startswith(prefix)]]
        return ts.loc[ts.index >= first_veg], historic
    return ts, None


def oracle_monthly_difference(df):
    """detrend_df: month-start means, linear interpolation, x(t) - x(t-12) of seasonal columns."""
    monthly = df.set_index(pd.to_datetime(df["date"])).drop(columns="date")
    monthly = monthly.select_dtypes("number").resample("MS").mean().interpolate()
    for col in monthly:
        if any(k in col for k in DIFFERENCED):
            monthly[col] = monthly[col].diff(12)
    return monthly.rename_axis("date").reset_index()


def oracle_preprocess(summary):
    """preprocess_data(n_smooth=4, resample=False, period="MS"): time_series(_detrended).csv."""
    frames = oracle_read(summary)
    veg_key = next(k for k in frames if "COPERNICUS/S2" in k or "LANDSAT" in k)
    wx_key = next((k for k in frames if k.startswith("ECMWF/ERA5/")), None)
    prefix = "S2_" if "COPERNICUS/S2" in veg_key else f"L{veg_key.split('/')[1][-1]}_"  # point 6
    veg, weather = frames[veg_key], frames.get(wx_key)
    missing = oracle_missing_dates(veg)  # point 2: only dates seen exactly once
    veg = oracle_fill_gaps(oracle_outliers(veg), missing)
    smoothed = oracle_smooth(veg, 4)  # point 1 and 3: the dropna removes filled and outlier rows
    ts, historic = oracle_make_time_series(smoothed, weather, prefix)
    if len(ts) <= 24:  # point 5
        return ts, None, historic
    parts = [oracle_monthly_difference(g) for _, g in smoothed.groupby(["latitude", "longitude"])]
    desea = oracle_smooth(pd.concat(parts, ignore_index=True), 12)
    wdiff = None
    if weather is not None:
        wdiff = oracle_monthly_difference(weather).set_index("date").dropna(how="all")
        wdiff = wdiff.reset_index()
    return ts, oracle_make_time_series(desea, wdiff, prefix)[0], historic


def ewstools_indicators(series, detrend):
    """ewstools' variance and lag-1 AC over 0.5 and 0.999 windows; taus of the 0.5 ones.

    ewstools 1.0.0 (pyveg's) read band_width=6 as sigma = 6 samples; ewstools >= 1.0.1 (2.1.3
    here) reads a bandwidth as ksmooth's, sigma = 0.25 / 0.675 * bandwidth: 16.2 is the same
    kernel. The windows (floor(w n)), pandas' rolling var and autocorr and the Kendall tau are the
    same in both versions.
    """
    x = series.dropna().to_numpy()
    if len(x) <= 12:
        return None
    out = {}
    for window in (0.5, 0.999):
        ts = ewstools.TimeSeries(x)
        if detrend:
            ts.detrend(method="Gaussian", bandwidth=6 * 0.675 / 0.25)
        ts.compute_var(rolling_window=window)
        ts.compute_auto(rolling_window=window, lag=1)
        if window == 0.5:
            ts.compute_ktau()
            out["tau"] = {"variance": ts.ktau["variance"], "ar1": ts.ktau["ac1"]}
        else:
            out["last"] = {"variance": ts.ews["variance"].iloc[-1], "ar1": ts.ews["ac1"].iloc[-1]}
    return out


SUMMARY_KEYS = {  # pyveg's names (the double space is pyveg's)
    ("ar1", "last", False): "Lag-1 AC (0.99 rolling window)",
    ("variance", "last", False): "Variance (0.99 rolling window)",
    ("ar1", "tau", False): "Kendall tau Lag-1 AC (0.5 rolling window)",
    ("variance", "tau", False): "Kendall tau Variance (0.5 rolling window)",
    ("ar1", "last", True): "Lag-1 AC (0.99 rolling window) Seasonal",
    ("variance", "last", True): "Variance (0.99 rolling window)  Seasonal",
    ("ar1", "tau", True): "Kendall tau Lag-1 AC (0.5 rolling window) Seasonal",
    ("variance", "tau", True): "Kendall tau Variance (0.5 rolling window) Seasonal",
}


def oracle_summary_stats(ts, desea, historic, metadata):
    """save_ts_summary_stats without the crystal-ball fit: one row per series pyveg reports."""
    rows = []
    if historic is not None:
        s = historic["total_precipitation"]
        rows.append({"min": s.min(), "max": s.max(), "mean": s.mean(), "median": s.median(),
                     "std": s.std(), "ts_id": f"{s.name}_historic", **metadata})  # fmt: skip
    for col in ts:
        if not any(name in col for name in EWS_NAMES):
            continue
        s = ts[col]
        row = {"min": s.min(), "max": s.max(), "mean": s.mean(), "median": s.median(),
               "std": s.std(), "ts_id": col, **metadata}  # fmt: skip
        if desea is not None and not desea.empty:  # point 5: no taus without the detrended file
            for seasonal, ews in ((False, ewstools_indicators(desea[col], True)),
                                  (True, ewstools_indicators(s, False))):  # fmt: skip
                for (ind, kind, is_seasonal), key in SUMMARY_KEYS.items():
                    if is_seasonal == seasonal:
                        row[key] = ews[kind][ind]
        rows.append(row)
    return pd.DataFrame(rows)


def oracle(summary):
    """pyveg's three CSVs and the taus the preset reports, from pyveg's steps."""
    ts, desea, historic = oracle_preprocess(summary)
    stats = oracle_summary_stats(ts, desea, historic, summary.get("metadata", {}))
    return ts, desea, stats, historic


# ---- Comparisons: the preset's CSV files and taus against the oracle's. ----


def expected_resilience(stats):
    """The taus and (0.99 window) values pyveg's summary holds, keyed as resilience.json."""
    out = {}
    for _, row in stats.iterrows():
        series = next(name for name in EWS_NAMES if name in row["ts_id"])
        for (ind, kind, seasonal), key in SUMMARY_KEYS.items():
            if key in row and pd.notna(row[key]):
                entry = out.setdefault(series + ("_seasonal" if seasonal else ""), {})
                entry.setdefault(ind, {})[kind] = row[key]
    return out


def assert_columns_match(got, want, where):
    """Every column of pyveg's to 1e-6 relative (an absolute floor of 1e-9 of the column's
    largest value, for values that cancel to ~0), NaN where pyveg's is NaN."""
    for col in want:
        ref = pd.to_numeric(want[col]).to_numpy(dtype=float)
        scale = np.nanmax(np.abs(ref)) if np.isfinite(ref).any() else 0.0
        np.testing.assert_allclose(
            pd.to_numeric(got[col]).to_numpy(dtype=float), ref, rtol=1e-6, atol=1e-9 * scale,
            err_msg=f"{where}: {col}",
        )  # fmt: skip


def written_csvs(result, tmp_path):
    """The preset's CSV files as written, read back with pandas."""
    write_pyveg_outputs(result, RunStore(str(tmp_path)), "pyveg")
    names = ("time_series", "time_series_detrended", "time_series_historic",
             "time_series_summary_stats")  # fmt: skip
    read = {name: tmp_path / "pyveg" / f"{name}.csv" for name in names}
    return {
        name: pd.read_csv(path, index_col=0, parse_dates=name != "time_series_summary_stats")
        if path.exists() else None
        for name, path in read.items()
    }  # fmt: skip


def assert_matches_pyveg(summary, tmp_path):
    """The preset's three CSV files, resilience.json's taus and values against the oracle's."""
    ts, desea, stats, historic = oracle(summary)
    if desea is None:  # point 5: the preset says why there are no indicators
        with pytest.warns(UserWarning, match="only for more than 24: no indicators"):
            out = pyveg_analysis(summary)
    else:
        out = pyveg_analysis(summary)
    csv = written_csvs(out, tmp_path)
    tables = (("time_series", ts), ("time_series_detrended", desea),
              ("time_series_historic", historic))  # fmt: skip
    for name, want in tables:
        got = csv[name]
        if want is None:
            assert got is None, name
            continue
        assert list(got.columns) == list(want.columns), name  # pyveg's names, in its order
        assert [d.date() for d in got.index] == [d.date() for d in want.index], name  # its rows
        assert_columns_match(got, want, name)
    got = csv["time_series_summary_stats"]
    assert sorted(got.columns) == sorted(stats.columns)
    assert got["ts_id"].tolist() == stats["ts_id"].tolist()
    numeric = [c for c in stats if c not in ("ts_id", *summary.get("metadata", {}))]
    assert_columns_match(got, stats[numeric], "time_series_summary_stats")
    text = pd.read_csv(tmp_path / "pyveg" / "time_series_summary_stats.csv", dtype=str)
    for key, value in summary.get("metadata", {}).items():
        assert text[key].tolist() == [str(value)] * len(got), key
    expected = expected_resilience(stats)
    assert sorted(out.resilience) == sorted(expected)
    for series, inds in expected.items():
        assert sorted(out.resilience[series]) == ["ar1", "variance"]
        for ind, ref in inds.items():
            got_ind = out.resilience[series][ind]
            assert got_ind["kendall_tau"] == pytest.approx(ref["tau"], abs=1e-6), (series, ind)
            assert got_ind["last_value_0.99_window"] == pytest.approx(ref["last"], rel=1e-6)
            seasonal = series.endswith("_seasonal")
            assert got_ind["pyveg_name"] == SUMMARY_KEYS[ind, "tau", seasonal]
    return out, ts, desea, stats


# ---- Tests ----


@pytest.mark.parametrize("case", CASES)
def test_preset_matches_pyveg(case, tmp_path):
    """Points 1-6 (as CASES says for each): every CSV column and every tau of pyveg's."""
    kwargs, _points = CASES[case]
    assert_matches_pyveg(pyveg_results(**kwargs), tmp_path)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"seed": 1},
        {"seed": 2, "n_months": 60, "shape": (2, 2)},
        {"seed": 3, "collection": "LANDSAT/LC08/C02/T1_L2", "weather": None},
        {"seed": 4, "n_months": 20},
    ],
)
def test_preset_matches_pyveg_on_cloudy_series(kwargs, tmp_path):
    """Points 1-6 together: random cloudy sub-images, null dates, outliers, two images in a
    month and a month without any (interpolated when deseasonalising); Landsat; 20 rows."""
    assert_matches_pyveg(make_summary(**kwargs), tmp_path)


def _records(summary, date):
    veg = next(v for k, v in summary.items() if "COPERNICUS/S2" in k or "LANDSAT" in k)
    return veg["time-series-data"][date]


def test_null_dates_stay_missing():
    """Point 1: a null date has no vegetation value in time_series.csv (its weather stays) and
    its month is interpolated in the deseasonalised table."""
    summary = pyveg_results(**CASES["null_dates"][0])
    dates = mid_dates(36)
    out = pyveg_analysis(summary)
    for t in (5, 17):
        row = out.time_series.loc[pd.Timestamp(dates[t])]
        assert row.filter(like="S2_").isna().all()
        rain = summary["ECMWF/ERA5/MONTHLY"]["time-series-data"][dates[t]]["total_precipitation"]
        assert row["total_precipitation"] == rain
    assert pd.Timestamp("2017-06-01") in out.deseasonalised.index  # date 17's month


def test_absent_sub_images_are_not_filled():
    """Point 2: a date's mean is over the sub-images present; a date with one record is that
    record's value (pyveg counts the date as missing, but the rows it fills are dropped)."""
    summary = pyveg_results(**CASES["absent_sub_images"][0])
    dates = mid_dates(36)
    out = pyveg_analysis(summary)
    for t in (3, 10, 20):
        present = [r["offset50"] for r in _records(summary, dates[t])]
        assert len(present) == 3
        assert out.time_series.loc[pd.Timestamp(dates[t]), "S2_offset50_mean"] == pytest.approx(
            np.mean(present), rel=1e-12
        )
    (single,) = _records(summary, dates[14])
    row = out.time_series.loc[pd.Timestamp(dates[14])]
    assert row["S2_offset50_mean"] == single["offset50"]
    assert np.isnan(row["S2_offset50_std"])


def test_outlier_rows_leave_every_mean():
    """Point 3: an offset50 outlier's row is removed whole: its NDVI leaves the NDVI mean."""
    summary = pyveg_results(**CASES["outliers"][0])
    date = mid_dates(36)[8]
    records = _records(summary, date)
    kept = [r["ndvi"] * 2 / 255 - 1 for r in records if r["longitude"] != records[1]["longitude"]
            or r["latitude"] != records[1]["latitude"]]  # fmt: skip
    out = pyveg_analysis(summary)
    assert out.time_series.loc[pd.Timestamp(date), "S2_ndvi_mean"] == pytest.approx(
        np.mean(kept), rel=1e-12
    )


def test_ndvi_is_rescaled_on_reading():
    """Point 4: NDVI columns are pyveg's x * 2 / 255 - 1, so on -1..1."""
    summary = pyveg_results(**CASES["absent_sub_images"][0])
    date = mid_dates(36)[14]
    (record,) = _records(summary, date)
    out = pyveg_analysis(summary)
    assert out.time_series.loc[pd.Timestamp(date), "S2_ndvi_mean"] == pytest.approx(
        record["ndvi"] * 2 / 255 - 1, rel=1e-12
    )
    ndvi = out.time_series.filter(regex="ndvi.*_mean")
    assert ((ndvi.abs() <= 1) | ndvi.isna()).all().all()


def test_short_series_have_no_indicators(tmp_path):
    """Point 5: 24 rows: no time_series_detrended.csv, no indicator in the summary statistics,
    nothing in resilience.json; 26 rows: 14 deseasonalised rows and every indicator."""
    with pytest.warns(UserWarning, match="24 rows, and pyveg deseasonalises"):
        out = pyveg_analysis(pyveg_results(**CASES["rows_24"][0]))
    assert len(out.time_series) == 24
    assert out.deseasonalised is None
    assert out.resilience == {}
    csv = written_csvs(out, tmp_path)
    assert csv["time_series_detrended"] is None
    assert list(csv["time_series_summary_stats"].columns[:6]) == [
        "min", "max", "mean", "median", "std", "ts_id"
    ]  # fmt: skip
    assert not any("window" in c for c in csv["time_series_summary_stats"].columns)
    out = pyveg_analysis(pyveg_results(**CASES["rows_26"][0]))
    assert len(out.deseasonalised) == 14
    assert out.summary[list(SUMMARY_KEYS.values())].notna().all(axis=None)
    assert len(out.resilience) == 6


def test_landsat_columns_are_l8():
    """Point 6: Landsat 8's columns are prefixed L8_ (the last digit of LC08)."""
    out = pyveg_analysis(pyveg_results(**CASES["landsat"][0]))
    veg = [
        c for c in out.time_series if c not in ("total_precipitation", "mean_2m_air_temperature")
    ]
    assert veg
    assert all(c.startswith("L8_") for c in veg)
    assert out.summary["ts_id"].tolist() == ["L8_offset50_mean", "L8_ndvi_mean",
                                              "total_precipitation"]  # fmt: skip


def test_outliers_use_the_sample_sd():
    """Issue 12's example: kept with ddof=1 (pyveg), dropped with ddof=0."""
    x = np.r_[np.tile([-1.0, 1.0], 24), 3.37]
    assert abs(x[-1] - x.mean()) <= 3 * x.std(ddof=1)
    assert abs(x[-1] - x.mean()) > 3 * x.std(ddof=0)
    dates = pd.date_range("2016-01-01", periods=x.size, freq="MS").strftime("%Y-%m-%d")
    summary = {
        "COPERNICUS/S2": {
            "time-series-data": {
                d: [{"offset50": float(v), "ndvi": 1.0, "latitude": 0.0, "longitude": 0.0}]
                for d, v in zip(dates, x, strict=True)
            }
        }
    }
    out = pyveg_analysis(summary)
    assert out.time_series["S2_offset50_mean"].iloc[-1] == 3.37


def test_loess_against_dates_matches_statsmodels():
    rng = np.random.default_rng(5)
    dates = pd.date_range("2016-01-01", periods=40, freq="MS") + pd.to_timedelta(
        rng.integers(0, 27, 40), "D"
    )
    y = np.sin(np.arange(40) / 3.0) + 0.3 * rng.standard_normal(40)
    t = dates.asi8.astype(float)
    for frac in (4 / 40, 12 / 40, 0.5):
        ref = lowess(y, t, frac=frac, it=3, return_sorted=False)
        np.testing.assert_allclose(loess_smooth(y, frac, t=t), ref, atol=1e-9)
    # Against dates the fit differs from the index's when the spacing is uneven.
    assert np.abs(loess_smooth(y, 0.1, t=t) - loess_smooth(y, 0.1)).max() > 1e-3
    with pytest.raises(ValueError, match="strictly increasing"):
        loess_smooth(y, 0.5, t=t[::-1])


def test_reading_rule_names_what_is_wrong():
    with pytest.raises(ValueError, match="COPERNICUS/S2"):
        pyveg_collections({"vegdask/rietkerk-synthetic": {"type": "vegetation"}})
    record = {"offset50": -800.0, "latitude": 1.0, "longitude": 2.0}
    with pytest.raises(ValueError, match="second part"):  # point 6: no Landsat number to name
        pyveg_analysis({"LANDSAT": {"time-series-data": {"2016-01-16": [record]}}})
    bad = {"COPERNICUS/S2": {"time-series-data": {"2016-01-16": [1.0]}}}
    with pytest.raises(ValueError, match="2016-01-16: expected a list of sub-image records"):
        pyveg_analysis(bad)


def test_pyveg_sensitivity_grid_is_ewstools_1_0_0s():
    """GRIDS["pyveg"]: a bandwidth in (0, 1] is sigma = bw * n (ewstools 1.0.0), not ksmooth."""
    rng = np.random.default_rng(6)
    x = pd.Series(np.cumsum(rng.standard_normal(90)) + rng.standard_normal(90))
    sens = sensitivity(x, grid="pyveg", indicators=("variance",), n_surrogates=1)
    assert sens.attrs["bandwidth_convention"] == "sigma"
    for bw in GRIDS["pyveg"].bandwidths:
        resid = x - ndimage.gaussian_filter(x.to_numpy(), sigma=bw * len(x), mode="reflect")
        for win in (0.3, 0.5, 0.8):
            var = resid.rolling(int(np.floor(win * len(x)))).var().dropna()
            ref = stats.kendalltau(np.arange(len(var)), var).statistic
            got = sens.kendall_tau.sel(indicator="variance", bandwidth=bw, window=win)
            assert float(got) == pytest.approx(ref, abs=1e-9)


# ---- The preset wired in: the job config's [analysis] section and `vegdask analyse --preset`. ----


@pytest.fixture(scope="module")
def preset_run(tmp_path_factory):
    """A small synthetic run (2 x 2 tiles, 30 months) whose job config asks for the preset."""
    from distributed import Client, LocalCluster

    from vegdask.pipeline import load_config, run_job

    out = tmp_path_factory.mktemp("preset-run")
    config = out / "job.toml"
    config.write_text(
        "[location]\nsize = 100\n"
        '[time]\nstart = "2016-01-01"\nend = "2018-07-01"\nperiod = "1m"\n'
        f'[output]\nurl = "{out / "run"}"\n'
        '[analysis]\npreset = "pyveg"\n'
    )
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False) as cluster, Client(
        cluster
    ) as client:  # fmt: skip
        run_job(load_config(config), client=client, progress=False, log=lambda m: None)
    return out / "run"


def _assert_oracle_taus(resilience, summary):
    expected = expected_resilience(oracle(summary)[2])
    assert sorted(resilience) == sorted(expected)
    assert {"offset50_mean", "ndvi_mean", "total_precipitation"} <= set(resilience)
    for series, inds in expected.items():
        for name, ref in inds.items():
            assert resilience[series][name]["kendall_tau"] == pytest.approx(ref["tau"], abs=1e-6)


def test_job_config_preset_writes_pyvegs_numbers(preset_run):
    summary = json.loads((preset_run / "results_summary.json").read_text())
    resilience = json.loads((preset_run / "analysis" / "resilience.json").read_text())
    _assert_oracle_taus(resilience, summary)
    assert resilience["offset50_mean"]["ar1"]["preset"] == "pyveg"
    series = pd.read_csv(preset_run / "analysis" / "pyveg" / "time_series.csv", index_col=0)
    assert len(series) == 30
    assert "S2_offset50_mean" in series
    assert (preset_run / "analysis" / "pyveg" / "time_series_summary_stats.csv").exists()
    manifest = json.loads((preset_run / "run.json").read_text())
    assert manifest["stages"]["analyse"]["report"] is False  # so vegdask run names no report
    assert not (preset_run / "report.html").exists()


def test_cli_analyse_preset_pyveg(preset_run, tmp_path, capsys):
    from vegdask.cli import main

    summary_file = preset_run / "results_summary.json"
    assert main(["analyse", str(summary_file), "--preset", "pyveg", "--output", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    resilience = json.loads((tmp_path / "analysis" / "resilience.json").read_text())
    _assert_oracle_taus(resilience, json.loads(summary_file.read_text()))
    row = next(line.split() for line in lines if line.startswith("mean-series  offset50_mean "))
    assert row[2:] == ["ar1", f"{resilience['offset50_mean']['ar1']['kendall_tau']:.3f}", "n/a"]
    assert lines[-1] == f"wrote {tmp_path}/analysis/"
    assert not (tmp_path / "report.html").exists()


def test_cli_preset_errors_are_one_line(tmp_path, capsys):
    from vegdask.cli import main

    assert main(["analyse", str(tmp_path), "--preset", "pyveg"]) == 2
    err = capsys.readouterr().err
    assert "results_summary.json does not exist" in err
    assert "Traceback" not in err
    (tmp_path / "results_summary.json").write_text('{"vegdask/rietkerk-synthetic": {}}')
    assert main(["analyse", str(tmp_path), "--preset", "pyveg"]) == 2
    assert "'COPERNICUS/S2' or 'LANDSAT'" in capsys.readouterr().err


def test_analysis_section_maps_onto_analyse_results():
    import inspect

    from vegdask.analysis import analyse_results
    from vegdask.pipeline import ConfigError, validate_config
    from vegdask.pipeline._config import _SCHEMA, analysis_arguments

    every = {
        "preset": "pyveg", "window": 0.4, "detrend": "none", "bandwidth": 8.0,
        "bandwidth_convention": "ksmooth", "ar1": "pearson", "deseasonalise": "diff",
        "n_surrogates": 9, "seed": 1, "sensitivity_grid": "earlywarnings",
        "sensitivity_surrogates": 2, "tile_surrogates": 0, "outlier_sigmas": 4.0,
        "interpolate_gaps": True, "spatial_permutations": 0, "alpha": 0.01, "report": False,
        "pdf": False,
    }  # fmt: skip
    assert set(every) | {"enabled"} == set(_SCHEMA["analysis"])
    arguments = analysis_arguments(validate_config({"analysis": every})["analysis"])
    assert set(arguments) <= set(inspect.signature(analyse_results).parameters)
    assert arguments["detrend"] == "none"
    assert arguments["deseasonalise_method"] == "diff"
    with pytest.raises(
        ConfigError, match=r"analysis\.preset = 'R' is not valid; expected one of \['pyveg'\]"
    ):
        validate_config({"analysis": {"preset": "R"}})


def test_no_complete_record_is_one_clear_error():
    """Point 1 at its limit: when every record has a null field pyveg's dropna leaves nothing."""
    summary = pyveg_results(n_months=12, n_subs=1, nan_ndvi_veg=[(t, 0) for t in range(12)])
    with pytest.raises(ValueError, match="no complete sub-image record"):
        pyveg_analysis(summary)


def test_historic_weather_is_split_off(tmp_path):
    """Point 1 with pyveg's historic split: weather from more than 10 years before the first
    vegetation value (here 2016-02-15, 2016-01-16 being a null date) is time_series_historic.csv
    and a total_precipitation_historic summary row; from 5 years before, it stays."""
    out = pyveg_analysis(pyveg_results(**CASES["historic_weather"][0]))
    assert out.time_series.index[0] == pd.Timestamp("2016-02-15")
    assert out.historic.index[0] == pd.Timestamp("1986-01-16")
    assert out.historic.index[-1] == pd.Timestamp("2016-01-16")
    assert list(out.historic.columns) == ["total_precipitation", "mean_2m_air_temperature"]
    assert out.summary["ts_id"].iloc[0] == "total_precipitation_historic"
    assert out.deseasonalised.index[0] == pd.Timestamp("2017-02-01")
    assert (tmp_path / "pyveg" / "time_series_historic.csv").exists() is False
    write_pyveg_outputs(out, RunStore(str(tmp_path)), "pyveg")
    assert (tmp_path / "pyveg" / "time_series_historic.csv").exists()
    out = pyveg_analysis(pyveg_results(**CASES["earlier_weather"][0]))
    assert out.historic is None
    assert out.time_series.index[0] == pd.Timestamp("2011-01-16")
    assert out.time_series.loc[:"2015-12-31"].filter(like="S2_").isna().all(axis=None)
