"""Inputs that must be refused or said out loud (issue 22, items 2, 3 and 9): one line, exit
status 2 and nothing written, or a warning line before the run starts."""

import json
import os

import numpy as np
import pytest

from vegdask.cli import main
from vegdask.data import tiles_from_results_summary

# What a damaged chunk of the small job's tiles.zarr names: its 12 periods, the first 3 shown.
TWELVE = "12 periods 2016-01-16, 2016-02-15, 2016-03-16 ..."


@pytest.mark.parametrize("rainfall", ["nan", "inf", "-1"])
def test_simulate_refuses_a_rainfall_that_is_not_a_number_ge_0(tmp_path, refused, rainfall):
    line = refused(["simulate", str(tmp_path / "p.png"), "--rainfall", rainfall], tmp_path)
    assert f"--rainfall = {float(rainfall)} is not valid; expected a number >= 0" in line
    assert not (tmp_path / "p.png").exists()


def test_a_scene_too_large_for_a_worker_is_refused_with_an_estimate(tmp_path, refused):
    (tmp_path / "job.toml").write_text("[location]\nsize = 200000\n")
    for command in ("run", "fetch"):
        line = refused([command, str(tmp_path / "job.toml"), "--output", "o"], tmp_path)
        assert "location.size = 200000 is too large" in line
        assert "4e+10 pixels a period" in line  # 200000 ** 2
        assert "GB of memory" in line
        assert "from 50 to 8000" in line
    assert not (tmp_path / "o").exists()
    (tmp_path / "ok.toml").write_text("[location]\nsize = 8000\n")
    assert main(["config", "show", str(tmp_path / "ok.toml")]) == 0


def test_a_synthetic_source_at_a_catalogue_site_says_so_before_the_run(tmp_path, capsys):
    (tmp_path / "job.toml").write_text('[location]\nid = "17"\n')
    (tmp_path / "out").write_text("a file: the run stops after its first checks")
    assert main(["run", str(tmp_path / "job.toml"), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("vegdask run: warning: the source is synthetic")
    assert "not observations of location 17" in err[0]
    assert err[1].startswith("vegdask run: error:")
    (tmp_path / "coords.toml").write_text("[location]\nlongitude = 27.9\nlatitude = 11.6\n")
    assert main(["run", str(tmp_path / "coords.toml"), "--output", str(tmp_path / "out")]) == 2
    assert "warning" not in capsys.readouterr().err


def test_a_summary_without_offset50_keeps_its_ndvi_series(tmp_path, capsys):
    dates = [f"{y}-{m:02d}-15" for y in range(2016, 2020) for m in range(1, 13)]
    rng = np.random.default_rng(1)
    records = {
        d: [{"latitude": 11.6, "longitude": lon, "ndvi": float(rng.uniform(100, 140))}
            for lon in (27.9, 27.91)]
        for d in dates
    }  # fmt: skip
    summary = {"COPERNICUS/S2": {"type": "vegetation", "time-series-data": records}}
    with pytest.warns(UserWarning, match="no record of COPERNICUS/S2 has 'offset50'"):
        tiles, _, _ = tiles_from_results_summary(summary)
    # every record is a valid tile: NDVI rescaled as x * 2 / 255 - 1, as the records hold it
    expected = np.array([[r["ndvi"] * 2 / 255 - 1 for r in records[d]] for d in dates])
    np.testing.assert_allclose(tiles["ndvi_mean"].values[:, 0, :], expected, rtol=1e-12)
    assert bool(tiles["valid"].all())
    path = tmp_path / "results_summary.json"
    path.write_text(json.dumps(summary))
    assert main(["analyse", str(path), "--no-report", "--surrogates", "9"]) == 0
    err = capsys.readouterr().err
    assert "has 'offset50'" in err
    assert len(err.strip().splitlines()) == 1
    result = json.loads((tmp_path / "analysis" / "resilience.json").read_text())
    assert result["ndvi_mean"]["ar1"]["kendall_tau"] is not None  # the NDVI series was analysed
    csv = (tmp_path / "analysis" / "timeseries.csv").read_text().splitlines()
    header = csv[0].split(",")
    assert all(row.split(",")[header.index("ndvi_mean")] for row in csv[1:])


def test_a_run_json_that_is_not_json_is_named(tmp_path, refused):
    out = tmp_path / "out"
    out.mkdir()
    (out / "run.json").write_text("{not json")
    (out / "scene.zarr").mkdir()
    (out / "scene.zarr" / "mine").write_text("mine")
    line = refused(["run", "--output", str(out)], tmp_path)
    assert "run.json is not valid JSON" in line
    assert "--force" in line
    line = refused(["analyse", str(out)], tmp_path)
    assert "run.json is not valid JSON" in line


def test_a_deeply_nested_run_json_is_one_line(tmp_path, refused):
    out = tmp_path / "out"
    out.mkdir()
    (out / "run.json").write_text("[" * 100_000 + "]" * 100_000)
    line = refused(["fetch", "--output", str(out)], tmp_path)
    assert "run.json is not valid JSON" in line
    assert os.listdir(out) == ["run.json"]


def test_the_command_repairs_a_deleted_chunk_and_says_so_in_one_line(small_job, tmp_path, vegdask):
    out = tmp_path / "out"
    first = vegdask("run", str(small_job), "--output", str(out))
    assert first.wait(timeout=600) == 0, first.stderr.read()[-2000:]
    # The small job's 12 periods are one task, so one Zarr chunk of each variable: a deleted chunk
    # names them all (the first 3 shown) and all are recomputed.
    offset50 = out / "tiles.zarr" / "offset50"
    grid = json.loads((offset50 / "zarr.json").read_text())["chunk_grid"]["configuration"]
    assert grid["chunk_shape"][0] == 12
    chunk = sorted((offset50 / "c" / "0").rglob("*"))[-1]
    chunk.unlink()
    (out / "tiles.parquet").unlink()
    again = vegdask("run", str(small_job), "--output", str(out))
    stdout, stderr = again.communicate(timeout=600)
    assert again.returncode == 0, stderr[-2000:]
    said = [line for line in stdout.splitlines() if "differ" in line]
    assert said == [
        f"process: outputs differ from run.json: tiles.zarr ({TWELVE} missing or changed); "
        "tiles.parquet (missing); recomputing them"
    ], stdout
    assert chunk.exists()
    assert (out / "tiles.parquet").exists()
    assert "Traceback" not in stderr
    # Garbage of the same size: the sizes match, --verify decodes the chunk and finds it.
    good = chunk.read_bytes()
    chunk.write_bytes(b"\0" * len(good))
    cheap = vegdask("run", str(small_job), "--output", str(out))
    assert "nothing to compute" in cheap.communicate(timeout=600)[0]
    full = vegdask("run", str(small_job), "--output", str(out), "--verify")
    stdout, stderr = full.communicate(timeout=600)
    assert full.returncode == 0, stderr[-2000:]
    assert [line for line in stdout.splitlines() if "differ" in line] == [
        f"process: outputs differ from run.json: tiles.zarr ({TWELVE} missing or changed); "
        "recomputing them"
    ], stdout
    assert chunk.read_bytes() == good
