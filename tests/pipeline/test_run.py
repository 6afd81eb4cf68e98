"""The job end to end on real Dask workers: outputs, resume, invalidation, SIGKILL, bad configs."""

import copy
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from distributed import Client, LocalCluster

from vegdask.cli import main
from vegdask.pipeline import ConfigError, load_config, read_manifest, run_job, validate_config
from vegdask.testing import wait_until

SMALL = {
    "location": {"size": 100},
    "time": {"start": "2016-01-01", "end": "2016-07-01", "period": "1m"},
    "analysis": {"enabled": False},
}


@pytest.fixture(scope="module")
def client():
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False) as cluster, Client(
        cluster
    ) as client:  # fmt: skip
        yield client


def config_for(output, **sections):
    raw = copy.deepcopy(SMALL)
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    raw["output"] = {"url": str(output)}
    return validate_config(raw)


def strict_json(path):
    def refuse(token):
        raise AssertionError(f"non-strict JSON token {token}")

    return json.loads(path.read_text(), parse_constant=refuse)


def test_run_writes_every_output(tmp_path, client):
    manifest = run_job(config_for(tmp_path), client=client, progress=False, log=lambda m: None)
    tiles = xr.open_zarr(tmp_path / "tiles.zarr", consolidated=False)
    assert dict(tiles.sizes) == {"time": 6, "tile_y": 2, "tile_x": 2, "quantile": 20}
    assert {"feature_vec", "offset50", "ndvi_mean", "ndvi_veg_mean", "valid"} <= set(tiles)
    assert xr.open_zarr(tmp_path / "scene.zarr", consolidated=False).sizes["time"] == 6
    assert (
        xr.open_zarr(tmp_path / "mask.zarr", consolidated=False)["binary_image"].dtype == np.uint8
    )
    table = pd.read_parquet(tmp_path / "tiles.parquet")
    assert len(table) == 6 * 4
    # a row per period and tile, as xarray's own table of the store has them
    dims = ["time", "tile_y", "tile_x"]
    reference = tiles.drop_vars(["feature_vec", "quantile"]).to_dataframe(dim_order=dims)
    reference = reference.reset_index()
    assert list(table.columns[:3]) == dims
    pd.testing.assert_frame_equal(table[list(reference.columns)], reference, check_exact=True)
    fv = tiles["feature_vec"].values.reshape(-1, 20)
    for q in (0, 19):
        np.testing.assert_array_equal(table[f"feature_vec_{q}"].to_numpy(), fv[:, q])
    np.testing.assert_array_equal(
        np.sort(table["offset50"].dropna().to_numpy()),
        np.sort(tiles["offset50"].values[tiles["valid"].values]),
    )
    summary = strict_json(tmp_path / "results_summary.json")
    assert list(summary) == [
        "ECMWF/ERA5/vegdask/rietkerk-synthetic", "COPERNICUS/S2/vegdask/rietkerk-synthetic",
        "metadata"
    ]  # fmt: skip
    assert summary["metadata"]["synthetic"] is True
    assert summary["metadata"]["collection"] == "vegdask/rietkerk-synthetic"
    veg = summary["COPERNICUS/S2/vegdask/rietkerk-synthetic"]
    assert veg["type"] == "vegetation"
    assert list(veg["time-series-data"]) == [
        "2016-01-16", "2016-02-15", "2016-03-16", "2016-04-16", "2016-05-16", "2016-06-16"
    ]  # fmt: skip
    for date, records in veg["time-series-data"].items():
        assert records is None or len(records) == int(tiles["valid"].sel(time=date).sum())
        for record in records or []:
            assert set(record) == {
                "slope", "offset", "offset50", "mean", "std", "feature_vec", "date",
                "latitude", "longitude", "ndvi", "ndvi_veg",
            }  # fmt: skip
            assert 0 <= record["ndvi"] <= 255  # pyveg's 8-bit units
            assert record["offset50"] == record["feature_vec"][-1] - record["feature_vec"][10]
    assert summary["metadata"]["num_data_points"] == sum(
        r is not None for r in veg["time-series-data"].values()
    )
    stages = strict_json(tmp_path / "run.json")["stages"]
    assert stages["fetch"]["complete"]
    assert stages["process"]["complete"]
    assert len(stages["process"]["periods_completed"]) == 6
    assert stages["process"]["valid_tiles"] + stages["process"]["invalid_tiles"] == 24
    assert manifest["stages"] == stages


def test_rerun_computes_only_what_is_missing(tmp_path, client):
    config = config_for(tmp_path)
    run_job(config, client=client, progress=False, log=lambda m: None)
    tiles_url = tmp_path / "tiles.zarr"
    expected = xr.open_zarr(tiles_url, consolidated=False)["offset50"].values.copy()
    # Tamper with a completed period: a rerun finds the changed chunk (its size differs from the
    # record in run.json) and recomputes its periods (a small scene's 6 periods are one task and
    # one chunk); --force recomputes everything.
    tampered = xr.open_zarr(tiles_url, consolidated=False)[["offset50"]].isel(time=[2]).load()
    tampered["offset50"][:] = 12345.0
    tampered.drop_vars([c for c in tampered.coords if c != "time"]).drop_vars("time").to_zarr(
        tiles_url, region={"time": slice(2, 3)}, consolidated=False
    )
    lines = []
    run_job(config, client=client, progress=False, log=lines.append)
    assert any("tiles.zarr (6 periods 2016-01-16" in line for line in lines), lines
    np.testing.assert_array_equal(
        xr.open_zarr(tiles_url, consolidated=False)["offset50"].values, expected
    )
    run_job(config, client=client, progress=False, force=True, log=lambda m: None)
    np.testing.assert_array_equal(
        xr.open_zarr(tiles_url, consolidated=False)["offset50"].values, expected
    )


def test_changed_parameter_invalidates_its_stage_only(tmp_path, client):
    run_job(config_for(tmp_path), client=client, progress=False, log=lambda m: None)
    scene_marker = (tmp_path / "scene.zarr" / "zarr.json").stat().st_mtime_ns
    messages = []
    config = config_for(tmp_path, processing={"graph_class": "vegetation"})
    run_job(config, client=client, progress=False, log=messages.append)
    assert any("process: parameters changed" in m for m in messages)
    assert (tmp_path / "scene.zarr" / "zarr.json").stat().st_mtime_ns == scene_marker
    tiles = xr.open_zarr(tmp_path / "tiles.zarr", consolidated=False)
    assert tiles.attrs["graph_class"] == "vegetation"
    assert read_manifest(str(tmp_path))["config"]["processing"]["graph_class"] == "vegetation"


def write_config(path, output, periods_end="2017-01-01"):
    path.write_text(
        f"""
[location]
size = 150
[time]
start = "2016-01-01"
end = "{periods_end}"
[output]
url = "{output}"
[cluster]
workers = 1
[analysis]
enabled = false
"""
    )
    return path


def vegdask(*args, **kwargs):
    return subprocess.Popen(
        [sys.executable, "-m", "vegdask.cli", *args, "--no-progress"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True, **kwargs,
    )  # fmt: skip


@pytest.mark.slow
def test_sigkill_mid_stage_then_resume_gives_the_uninterrupted_result(tmp_path):
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    job = vegdask("run", str(write_config(tmp_path / "a.toml", killed)))

    def mid_stage():  # some periods of the process stage written, not all
        assert job.poll() is None, job.stderr.read().decode()
        done = read_manifest(str(killed)).get("stages", {}).get("process", {})
        return 1 <= len(done.get("periods_completed", [])) < 12

    wait_until(mid_stage, timeout=240)
    os.killpg(job.pid, signal.SIGKILL)
    job.wait()
    partial = read_manifest(str(killed))["stages"]["process"]
    assert not partial["complete"]
    for config, output in ((tmp_path / "a.toml", killed), (tmp_path / "b.toml", clean)):
        if output == clean:
            write_config(config, clean)
        finished = vegdask("run", str(config))
        assert finished.wait(timeout=300) == 0, finished.stderr.read().decode()
    resumed = xr.open_zarr(killed / "tiles.zarr", consolidated=False).load()
    uninterrupted = xr.open_zarr(clean / "tiles.zarr", consolidated=False).load()
    xr.testing.assert_identical(resumed.drop_attrs(), uninterrupted.drop_attrs())
    assert read_manifest(str(killed))["stages"]["process"]["complete"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"place": {}}, "unknown section [place]"),
        ({"time": {"begin": "2016"}}, "unknown key time.begin"),
        ({"location": {"latitude": 123}}, "location.latitude = 123 is not valid"),
        ({"location": {"size": "big"}}, "location.size = 'big'"),
        ({"processing": {"diagonal": 1}}, "processing.diagonal = 1"),
        ({"time": {"start": "2016-05-01", "end": "2016-01-01"}}, "time: end 2016-01-01 must be"),
        ({"source": {"kind": "landsat"}}, "source.kind = 'landsat' is not valid; expected"),
    ],
)  # fmt: skip
def test_bad_configs_name_the_field(raw, message):
    with pytest.raises(ConfigError) as info:
        validate_config(raw)
    assert message in str(info.value)


def test_bad_config_file_on_the_command_line(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text("[processing]\ngraph_class = 'trees'\n")
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "processing.graph_class = 'trees'" in err
    path.write_text("[processing\n")
    assert main(["run", str(path)]) == 2
    assert "not valid TOML" in capsys.readouterr().err
    assert main(["run", str(tmp_path / "missing.toml")]) == 2
    assert "not found" in capsys.readouterr().err


def test_remote_cluster_with_local_output_is_refused(tmp_path, capsys):
    assert main(["run", "--cluster", "tcp://10.0.0.1:8786", "--output", str(tmp_path)]) == 2
    assert "cannot write to the local path" in capsys.readouterr().err


def test_demo_config_is_what_the_docs_promise():
    demo = load_config(None)
    assert demo["source"]["kind"] == "synthetic"
    assert demo["location"]["size"] // demo["processing"]["tile_size"] >= 10  # >= 100 tiles
    assert demo["time"] == {"start": "2016-01-01", "end": "2020-01-01", "period": "1m"}  # 48


def test_abfs_output_on_azurite_equals_a_local_run(tmp_path, client, azurite, monkeypatch):
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    remote = "abfs://runs-pipeline/site-00"
    run_job(config_for(remote), client=client, progress=False, log=lambda m: None)
    run_job(config_for(tmp_path), client=client, progress=False, log=lambda m: None)
    from_blob = azurite.open_zarr(f"{remote}/tiles.zarr")
    from_disk = xr.open_zarr(tmp_path / "tiles.zarr", consolidated=False)
    xr.testing.assert_identical(from_blob.load(), from_disk.load())
    manifest = read_manifest(remote)
    assert manifest["stages"]["process"]["complete"]
    assert azurite.account_key not in json.dumps(manifest)  # no secret in the outputs

    fs = azurite.filesystem()
    assert {"run.json", "results_summary.json", "tiles.parquet"} <= {
        path.rsplit("/", 1)[-1] for path in fs.ls("runs-pipeline/site-00")
    }


def test_unwritable_output_is_a_clear_error(tmp_path, capsys):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    assert main(["run", "--output", str(blocked / "run"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert str(blocked) in err


@pytest.mark.slow
def test_results_summary_reanalyses_like_the_run(tmp_path, client):
    """pyveg's schema carries the same information: its reanalysis equals the run's analysis."""
    from vegdask.analysis import analyse_results

    config = config_for(tmp_path, time={"end": "2019-01-01"})
    run_job(config, client=client, progress=False, log=lambda m: None)
    fast = {"n_surrogates": 99, "sensitivity_surrogates": 19, "tile_surrogates": 0}
    from_run = analyse_results(str(tmp_path), output=str(tmp_path / "a"), **fast)
    from_summary = analyse_results(
        str(tmp_path / "results_summary.json"), output=str(tmp_path / "b"), **fast
    )
    for series in ("offset50_mean", "ndvi_mean"):
        for indicator in ("ar1", "variance"):
            ours, theirs = from_run[series][indicator], from_summary[series][indicator]
            assert ours["kendall_tau"] == pytest.approx(theirs["kendall_tau"], abs=1e-9)
            assert ours["p_value"] == pytest.approx(theirs["p_value"], abs=1e-9)


def test_tile_size_that_does_not_divide_the_default_chunks(tmp_path, client):
    # scene.zarr is chunked 500 px; 64-px tiles need the process stage to rechunk it.
    config = config_for(
        tmp_path,
        location={"size": 600},
        time={"end": "2016-03-01"},
        processing={"tile_size": 64},
    )
    manifest = run_job(config, client=client, progress=False, log=lambda m: None)
    tiles = xr.open_zarr(tmp_path / "tiles.zarr", consolidated=False)
    assert (tiles.sizes["tile_y"], tiles.sizes["tile_x"]) == (9, 9)  # 600 // 64
    assert manifest["stages"]["process"]["dropped_edge_pixels"] == {"y": 24, "x": 24}
    summary = strict_json(tmp_path / "results_summary.json")
    records = summary["COPERNICUS/S2/vegdask/rietkerk-synthetic"]
    first = next(r for r in records["time-series-data"].values() if r)[0]
    assert list(first) == [  # pyveg's key order
        "slope", "offset", "offset50", "mean", "std", "feature_vec", "date", "latitude",
        "longitude", "ndvi", "ndvi_veg",
    ]  # fmt: skip
