"""Cross-location summary: table, Pearson matrices against an independent formula, CLI."""

import json
import shutil

import dask
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from vegdask.cli import main


def _fake_run(root, i, precip, rng):
    (root / "analysis").mkdir(parents=True)
    run = {
        "config": {
            "location": {
                "id": f"loc{i}",
                "longitude": 27 + i,
                "latitude": 11 - i,
                "pattern_type": "spots" if i % 2 else "gaps",
            }
        }
    }
    (root / "run.json").write_text(json.dumps(run))
    tau = float(np.tanh(-precip / 100 + rng.normal(0, 0.1)))
    res = {
        s: {
            "ar1": {"kendall_tau": tau, "p_value": 0.04},
            "variance": {"kendall_tau": None, "p_value": None},
        }
        for s in ("offset50_mean", "total_precipitation")
    }
    res["location"] = {"offset50_mean": {"ar1": {"kendall_tau": tau / 2, "p_value": 0.01}}}
    (root / "analysis" / "resilience.json").write_text(json.dumps(res))
    summ = {
        "offset50_mean": {"mean": -800 + 2 * precip + rng.normal(0, 5), "max": -700.0 + i},
        "total_precipitation": {"mean": precip},
    }
    (root / "analysis" / "summary_stats.json").write_text(json.dumps(summ))


def test_summary_table_and_correlations(tmp_path, capsys):
    rng = np.random.default_rng(0)
    runs = []
    for i, precip in enumerate([20.0, 35.0, 50.0, 65.0, 80.0]):
        _fake_run(tmp_path / f"r{i}", i, precip, rng)
        runs.append(str(tmp_path / f"r{i}"))
    out = tmp_path / "summary"
    with dask.config.set({"vegdask.analysis.figure-formats": ["png", "svg"]}):  # SVG on request
        assert main(["summary", *runs, "--output", str(out)]) == 0
    assert "5 runs" in capsys.readouterr().out
    table = pd.read_csv(out / "summary.csv")
    assert table["location"].tolist() == [f"loc{i}" for i in range(5)]
    assert table["offset50_mean_ar1_tau"].notna().all()
    np.testing.assert_allclose(
        table["location_offset50_mean_ar1_tau"], table["offset50_mean_ar1_tau"] / 2
    )
    assert (table["location_offset50_mean_ar1_p"] == 0.01).all()
    r = pd.read_csv(out / "pearson_r.csv", index_col=0)
    p = pd.read_csv(out / "pearson_p.csv", index_col=0)
    x, y = table["total_precipitation_mean"], table["offset50_mean_mean"]
    ref_r = np.corrcoef(x, y)[0, 1]
    t = ref_r * np.sqrt((5 - 2) / (1 - ref_r**2))
    ref_p = 2 * stats.t.sf(abs(t), 3)
    assert r.loc["total_precipitation_mean", "offset50_mean_mean"] == pytest.approx(ref_r)
    assert p.loc["total_precipitation_mean", "offset50_mean_mean"] == pytest.approx(ref_p)
    assert (out / "offset50_mean_mean_vs_total_precipitation_mean.png").exists()
    assert (out / "correlations.svg").exists()
    assert (out / "offset50_mean_max_by_pattern_type.png").exists()
    assert (out / "summary.html").read_text().count("data:image/png;base64,") >= 3


def test_repeated_and_few_runs_are_warned_and_counted_once(tmp_path, capsys):
    runs = []
    for i, precip in enumerate([20.0, 35.0, 50.0, 65.0]):
        _fake_run(tmp_path / f"r{i}", i, precip, np.random.default_rng(i))
        runs.append(str(tmp_path / f"r{i}"))
    shutil.copytree(tmp_path / "r0", tmp_path / "copy")  # the same run in a second folder
    out = tmp_path / "summary"
    assert main(["summary", *runs, str(tmp_path / "copy"), "--output", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"{tmp_path / 'copy'} repeats the results of {runs[0]}" in err
    # 4 distinct runs, 2 degrees of freedom: |r| must exceed t / sqrt(df + t^2) for p < 0.05.
    t = stats.t.ppf(0.975, 2)
    assert f"only 4 distinct runs: p < 0.05 needs |r| > {t / np.sqrt(2 + t**2):.3f}" in err
    table = pd.read_csv(out / "summary.csv")
    distinct = table.iloc[:4]
    r = pd.read_csv(out / "pearson_r.csv", index_col=0)
    ref = np.corrcoef(distinct["total_precipitation_mean"], distinct["offset50_mean_mean"])[0, 1]
    assert r.loc["total_precipitation_mean", "offset50_mean_mean"] == pytest.approx(ref)
    page = (out / "summary.html").read_text()
    assert page.count('<p class="warning">') == 2
    assert page.count("<table") == page.count('<div class="scroll"><table')
    main_table = page[: page.index("<details>")]
    assert "offset50_mean_ar1_tau" in main_table
    assert "total_precipitation_ar1_tau" not in main_table  # in the folded full table only
    assert "total_precipitation_ar1_tau" in page


def test_summary_needs_analysed_runs(tmp_path, capsys):
    assert main(["summary", str(tmp_path), "--output", str(tmp_path / "s")]) == 2
    assert "vegdask analyse" in capsys.readouterr().err
