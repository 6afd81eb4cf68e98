"""The ``pyveg`` preset against an independent, plain implementation of pyveg v1.1.0's analysis.

The oracle below follows docs/analysis.md ("The pyveg preset") step by step with pandas
(groupby, resample, rolling var, ``Series.autocorr``), statsmodels' ``lowess``, scipy's
``ndimage.gaussian_filter`` (ewstools 1.0.0's detrending) and ``stats.kendalltau``. ewstools 1.0.0
itself cannot sit next to ewstools 2.x (the test extra's) in one environment.
"""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage, stats
from statsmodels.nonparametric.smoothers_lowess import lowess

from vegdask.analysis import GRIDS, pyveg_analysis, pyveg_collections, sensitivity
from vegdask.kernels import loess_smooth

VEG_VARS = ["offset50", "ndvi", "ndvi_veg"]


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


# ---- The oracle: pyveg's steps written out plainly, one sub-image at a time. ----


def oracle_smooth(g, n):
    ok = g[[c for c in VEG_VARS if c in g]].dropna()
    x = ok.index.to_numpy().astype("datetime64[ns]").astype(np.int64).astype(float)
    fit = lowess(ok["offset50"], x, frac=min(n / len(ok), 1), it=3, return_sorted=False)
    g["offset50_smooth"] = pd.Series(fit, ok.index)
    g["offset50_smooth_res"] = g["offset50"] - g["offset50_smooth"]
    return g


def oracle_aggregate(subs, weather, prefix):
    long = pd.concat(subs)
    agg = long.groupby(level=0).agg(["mean", "std"])
    agg.columns = [f"{prefix}{c}_{s}" for c, s in agg.columns]
    agg = agg.dropna(how="all")
    return agg if weather is None else agg.join(weather, how="outer")


def oracle_preprocess(summary):
    veg_key = next(k for k in summary if "COPERNICUS/S2" in k or "LANDSAT" in k)
    wx_key = next((k for k in summary if k.startswith("ECMWF/ERA5/")), None)
    prefix = "S2_" if "COPERNICUS/S2" in veg_key else veg_key.split("/")[1] + "_"
    data = summary[veg_key]["time-series-data"]
    dates = pd.DatetimeIndex(sorted(pd.to_datetime(list(data))))
    df = pd.DataFrame([dict(r, date=pd.Timestamp(d)) for d, rs in data.items() for r in rs or []])
    weather = None
    if wx_key:
        weather = pd.DataFrame(summary[wx_key]["time-series-data"]).T
        weather.index = pd.to_datetime(weather.index)
        weather = weather.sort_index().astype(float)
    subs = []
    for _, g in df.groupby(["latitude", "longitude"]):
        g = g.set_index("date").sort_index()[VEG_VARS].astype(float)
        x = g["offset50"]
        g.loc[(x - x.mean()).abs() > 3 * x.std(ddof=1), "offset50"] = np.nan  # outliers
        g = g.reindex(dates)  # missing dates: the calendar month's mean
        month_mean = g["offset50"].groupby(g.index.month).mean()
        missing = ~dates.isin(x.index)
        g.loc[missing, "offset50"] = g.index[missing].month.map(month_mean).to_numpy()
        subs.append(oracle_smooth(g, 4))
    ts = oracle_aggregate(subs, weather, prefix)
    if len(ts) <= 24:
        return ts, None
    dsubs = []
    for g in subs:
        monthly = g.resample("MS").mean().interpolate()
        diff = (monthly - monthly.shift(12)).dropna()
        dsubs.append(oracle_smooth(diff, 12))
    wdiff = None
    if weather is not None:
        wm = weather.resample("MS").mean().interpolate()
        wdiff = (wm - wm.shift(12)).dropna(how="all")
    return ts, oracle_aggregate(dsubs, wdiff, prefix)


def oracle_ews(series, detrend):
    """ewstools 1.0.0 ews_compute(roll_window=0.5, smooth='Gaussian', band_width=6) by hand."""
    x = series.dropna()
    if len(x) <= 12:
        return None
    resid = x - ndimage.gaussian_filter(x.to_numpy(), sigma=6, mode="reflect") if detrend else x
    out = {}
    for window, key in ((0.5, "tau"), (0.999, "last")):
        w = int(np.floor(window * len(x)))
        var = resid.rolling(w).var()
        ac = resid.rolling(w).apply(lambda v: pd.Series(v).autocorr(1), raw=True)
        for name, ind in (("variance", var), ("ar1", ac)):
            ok = ind.notna().to_numpy()
            if key == "tau":
                out[name] = {"tau": stats.kendalltau(np.arange(len(ind))[ok], ind[ok]).statistic}
            else:
                out[name]["last"] = ind.iloc[-1]
    return out


def oracle(summary):
    ts, desea = oracle_preprocess(summary)
    res = {}
    for name in ("offset50_mean", "ndvi_mean", "total_precipitation"):
        col = next((c for c in ts.columns if name in c), None)
        if col is None:
            continue
        res[f"{name}_seasonal"] = oracle_ews(ts[col], False)
        res[name] = oracle_ews(desea[col], True) if desea is not None else None
    return ts, desea, {k: v for k, v in res.items() if v is not None}


# ---- Tests ----


@pytest.mark.parametrize(
    "kwargs",
    [
        {"seed": 1},
        {"seed": 2, "n_months": 60, "shape": (2, 2)},
        {"seed": 3, "collection": "LANDSAT/LC08/C02/T1_L2", "weather": None},
        {"seed": 4, "n_months": 20},
    ],
)
def test_preset_reproduces_the_oracle(kwargs):
    summary = make_summary(**kwargs)
    ts, desea, expected = oracle(summary)
    out = pyveg_analysis(summary)

    pd.testing.assert_frame_equal(
        out.time_series, ts[out.time_series.columns], check_names=False, rtol=1e-9, atol=1e-6
    )
    assert sorted(out.time_series.columns) == sorted(ts.columns)
    if desea is None:
        assert out.deseasonalised is None
    else:
        pd.testing.assert_frame_equal(
            out.deseasonalised,
            desea[out.deseasonalised.columns],
            check_names=False,
            check_freq=False,
            atol=1e-6,
        )
    assert sorted(out.resilience) == sorted(expected)
    for series, inds in expected.items():
        for name, ref in inds.items():
            got = out.resilience[series][name]
            assert got["kendall_tau"] == pytest.approx(ref["tau"], abs=1e-6), (series, name)
            assert got["last_value_0.99_window"] == pytest.approx(ref["last"], rel=1e-9)
    # The summary statistics table carries the same numbers under pyveg's names.
    col = "S2_offset50_mean" if "S2_offset50_mean" in ts else "LC08_offset50_mean"
    row = out.summary.loc[col]
    assert row["std"] == pytest.approx(ts[col].std(ddof=1))
    seasonal = expected["offset50_mean_seasonal"]
    assert row["Kendall tau Lag-1 AC (0.5 rolling window) Seasonal"] == pytest.approx(
        seasonal["ar1"]["tau"], abs=1e-6
    )
    assert row["Variance (0.99 rolling window) Seasonal"] == pytest.approx(
        seasonal["variance"]["last"], rel=1e-9
    )


def test_fixture_exercises_every_step():
    """The fixture has outliers, absent sub-images, null dates and a month without data."""
    summary = make_summary(1)
    data = summary["COPERNICUS/S2_SR_HARMONIZED"]["time-series-data"]
    assert sum(v is None for v in data.values()) >= 2
    assert any(v is not None and len(v) < 12 for v in data.values())
    months = pd.to_datetime(list(data)).to_period("M")
    assert months.nunique() < len(months)  # two images in one month
    assert len(pd.period_range(months.min(), months.max(), freq="M")) > months.nunique()


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
    _, _, expected = oracle(summary)
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
    printed = json.loads(capsys.readouterr().out)
    resilience = json.loads((tmp_path / "analysis" / "resilience.json").read_text())
    _assert_oracle_taus(resilience, json.loads(summary_file.read_text()))
    assert printed["offset50_mean"]["ar1"][0] == resilience["offset50_mean"]["ar1"]["kendall_tau"]
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
        "interpolate_gaps": True, "spatial_permutations": 0, "report": False, "pdf": False,
    }  # fmt: skip
    assert set(every) | {"enabled"} == set(_SCHEMA["analysis"])
    arguments = analysis_arguments(validate_config({"analysis": every})["analysis"])
    assert set(arguments) <= set(inspect.signature(analyse_results).parameters)
    assert arguments["detrend"] is None
    assert arguments["deseasonalise_method"] == "diff"
    with pytest.raises(ConfigError, match=r"analysis\.preset = 'R' is not valid; expected 'pyveg'"):
        validate_config({"analysis": {"preset": "R"}})
