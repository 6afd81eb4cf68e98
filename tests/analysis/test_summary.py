"""Cross-location summary: table, Pearson matrices against an independent formula, CLI."""

import json

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


def test_summary_needs_analysed_runs(tmp_path, capsys):
    assert main(["summary", str(tmp_path), "--output", str(tmp_path / "s")]) == 2
    assert "vegdask analyse" in capsys.readouterr().err
