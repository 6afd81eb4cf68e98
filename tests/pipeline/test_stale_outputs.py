"""Outputs that cannot be silently stale: every stage records what it wrote in run.json, a rerun
checks it (sizes; every chunk and checksum with --verify) and recomputes only what is missing or
changed, saying so in one line; a stage that is invalidated or disabled takes its old outputs with
it. Small synthetic jobs on a real (in-process) dask cluster."""

import json
import shutil

import dask
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from distributed import Client, LocalCluster

from vegdask.cli import main
from vegdask.pipeline import (
    check_job,
    read_manifest,
    run_job,
    stages_to_compute,
    validate_config,
)

SMALL = {
    "location": {"size": 100},
    "time": {"start": "2016-01-01", "end": "2016-07-01", "period": "1m"},
}
FEW = {"vegdask.analysis.n-surrogates": 9, "vegdask.analysis.spatial-permutations": 3}
PERIOD = 3  # the period damaged below: 2016-04-16
DATE = "2016-04-16"
# SMALL's 6 periods are one task, so one chunk of tiles.zarr and mask.zarr: a damaged chunk of
# them names its 6 periods (the first 3 shown) and all are recomputed.
CHUNK = "6 periods 2016-01-16"


@pytest.fixture(scope="module")
def client():
    with LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0"
    ) as cluster, Client(cluster) as client:  # fmt: skip
        yield client


@pytest.fixture(autouse=True)
def few_surrogates():
    with dask.config.set(FEW):
        yield


@pytest.fixture(scope="module")
def finished(tmp_path_factory, client):
    """A finished small job (analysis on) to copy: each test damages its own copy."""
    root = tmp_path_factory.mktemp("finished")
    config = validate_config({**SMALL, "output": {"url": str(root)}})
    with dask.config.set(FEW):
        run_job(config, client=client, progress=False, log=lambda m: None)
    return root


@pytest.fixture
def out(finished, tmp_path):
    root = tmp_path / "out"
    shutil.copytree(finished, root)
    return root


def rerun(root, client, **kwargs):
    config = validate_config({**SMALL, "output": {"url": str(root)}, **kwargs.pop("extra", {})})
    lines = []
    with dask.config.set(FEW):
        manifest = run_job(config, client=client, progress=False, log=lines.append, **kwargs)
    return manifest, lines


def config_of(root, **extra):
    return validate_config({**SMALL, "output": {"url": str(root)}, **extra})


def chunks_of(store, period):
    """Every chunk file holding ``period`` of a Zarr store's data variables along time.

    Zarr v3 keys (var/c/<time chunk>/...), the chunk read from each array's zarr.json.
    """
    files = []
    for metadata in store.glob("*/zarr.json"):
        array = json.loads(metadata.read_text())
        dims = array.get("dimension_names") or []
        if len(dims) > 1 and dims[0] == "time":
            chunk = array["chunk_grid"]["configuration"]["chunk_shape"][0]
            files += metadata.parent.glob(f"c/{period // chunk}/**/*")
    return sorted(p for p in files if p.is_file())


def one_error(capsys):
    """The one line a refused command printed on standard error."""
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def mtimes(root):
    return {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def test_every_stage_records_what_it_wrote(out):
    stages = read_manifest(str(out))["stages"]
    assert set(stages["fetch"]["outputs"]) == {"scene.zarr", "weather.zarr"}
    assert set(stages["process"]["outputs"]) == {
        "tiles.zarr", "mask.zarr", "tiles.parquet", "results_summary.json"
    }  # fmt: skip
    assert set(stages["analyse"]["outputs"]) == {"analysis", "report.html"}
    tiles = stages["process"]["outputs"]["tiles.zarr"]
    assert sorted(tiles["periods"]) == [f"2016-0{m}-{d}" for m, d in zip(
        range(1, 7), ("16", "15", "16", "16", "16", "16"), strict=True)]  # fmt: skip
    files = [p for p in (out / "tiles.zarr").rglob("*") if p.is_file()]
    assert tiles["files"] == len(files)
    assert tiles["bytes"] == sum(p.stat().st_size for p in files)
    report = stages["analyse"]["outputs"]["report.html"]["files"][""]
    assert report[0] == (out / "report.html").stat().st_size
    assert stages_to_compute(config_of(out)) == []


@pytest.mark.parametrize("damage", ["delete", "truncate", "garbage"])
def test_a_damaged_tiles_chunk_recomputes_its_periods_only(out, client, damage):
    before = xr.open_zarr(out / "tiles.zarr", consolidated=False).load()
    chunk = next(p for p in chunks_of(out / "tiles.zarr", PERIOD) if "offset50" in p.parts)
    untouched = {p: p.stat().st_mtime_ns for p in chunks_of(out / "scene.zarr", PERIOD)}
    if damage == "delete":
        chunk.unlink()
    elif damage == "truncate":
        chunk.write_bytes(chunk.read_bytes()[:10])
    else:
        chunk.write_bytes(b"garbage, not zstd" * 7)
    assert stages_to_compute(config_of(out)) == ["process", "analyse"]
    manifest, lines = rerun(out, client)
    said = [line for line in lines if "differ" in line]
    assert len(said) == 1, lines
    assert f"tiles.zarr ({CHUNK}" in said[0]
    after = xr.open_zarr(out / "tiles.zarr", consolidated=False).load()
    xr.testing.assert_identical(after, before)
    assert {p: p.stat().st_mtime_ns for p in untouched} == untouched  # the Scene not rewritten
    assert manifest["stages"]["process"]["complete"]
    assert manifest["stages"]["fetch"]["last_run"] == "skipped"
    assert stages_to_compute(config_of(out)) == []


def test_garbage_of_the_same_size_is_found_by_verify(out, client):
    before = xr.open_zarr(out / "tiles.zarr", consolidated=False).load()
    chunk = next(p for p in chunks_of(out / "tiles.zarr", PERIOD) if "ndvi_mean" in p.parts)
    chunk.write_bytes(bytes(range(256)) * (chunk.stat().st_size // 256) + b"x" * (
        chunk.stat().st_size % 256))  # fmt: skip
    assert stages_to_compute(config_of(out)) == []  # the cheap check compares sizes only
    assert stages_to_compute(config_of(out), verify=True) == ["process", "analyse"]
    _, lines = rerun(out, client, verify=True)
    assert any(f"tiles.zarr ({CHUNK}" in line for line in lines), lines
    xr.testing.assert_identical(xr.open_zarr(out / "tiles.zarr", consolidated=False).load(), before)


def test_a_period_listed_in_run_json_whose_scene_chunks_are_absent(out, client):
    tiles = xr.open_zarr(out / "tiles.zarr", consolidated=False).load()
    for chunk in chunks_of(out / "scene.zarr", PERIOD):
        chunk.unlink()
    assert DATE in read_manifest(str(out))["stages"]["fetch"]["periods_completed"]
    assert stages_to_compute(config_of(out)) == ["fetch", "process", "analyse"]
    _, lines = rerun(out, client)
    assert any(line.startswith("fetch:") and "scene.zarr" in line for line in lines), lines
    assert chunks_of(out / "scene.zarr", PERIOD)
    after = xr.open_zarr(out / "tiles.zarr", consolidated=False).load()
    assert np.isfinite(after["offset50"].isel(time=PERIOD)).any()
    xr.testing.assert_identical(after, tiles)


@pytest.mark.parametrize("name", ["tiles.parquet", "results_summary.json"])
def test_a_deleted_table_is_rewritten_and_the_analysis_kept(out, client, name):
    original = (out / name).read_bytes()
    report = (out / "report.html").stat().st_mtime_ns
    (out / name).unlink()
    assert stages_to_compute(config_of(out)) == ["process", "analyse"]
    manifest, lines = rerun(out, client)
    assert sum(name in line for line in lines) == 1, lines
    if name == "tiles.parquet":
        pd.testing.assert_frame_equal(pd.read_parquet(out / name), pd.read_parquet(
            __import__("io").BytesIO(original)))  # fmt: skip
    else:
        assert json.loads((out / name).read_text()) == json.loads(original)
    # the tiles did not change: the analysis is not redone
    assert manifest["stages"]["analyse"]["last_run"] == "skipped"
    assert (out / "report.html").stat().st_mtime_ns == report
    assert stages_to_compute(config_of(out)) == []


@pytest.mark.parametrize("name", ["report.html", "analysis/timeseries.csv", "analysis"])
def test_a_deleted_report_or_analysis_file_is_recomputed(out, client, name):
    path = out / name
    shutil.rmtree(path) if path.is_dir() else path.unlink()
    assert stages_to_compute(config_of(out)) == ["analyse"]
    manifest, lines = rerun(out, client)
    assert sum("analyse: outputs differ" in line for line in lines) == 1, lines
    assert path.exists()
    assert (out / "report.html").exists()
    assert manifest["stages"]["process"]["last_run"] == "skipped"
    assert stages_to_compute(config_of(out)) == []


def test_disabling_the_analysis_removes_its_outputs_but_not_a_users_file(out, client):
    (out / "analysis" / "my notes.txt").write_text("mine")
    manifest, lines = rerun(out, client, extra={"analysis": {"enabled": False}})
    assert not (out / "report.html").exists()
    assert not (out / "analysis" / "timeseries.csv").exists()
    assert not (out / "analysis" / "indicators.zarr").exists()
    assert (out / "analysis" / "my notes.txt").read_text() == "mine"
    removed = [line for line in lines if "removed" in line]
    assert len(removed) == 1, lines
    assert "report.html" in removed[0]
    assert "analysis" in removed[0]
    assert manifest["stages"]["analyse"]["outputs"] == {}
    assert (out / "tiles.zarr").exists()


def test_a_changed_processing_parameter_removes_only_recorded_outputs(out, client):
    (out / "analysis" / "mine.csv").write_text("1")
    manifest, _ = rerun(out, client, extra={"processing": {"graph_class": "vegetation"}})
    assert (out / "analysis" / "mine.csv").read_text() == "1"
    assert manifest["stages"]["process"]["last_run"] == "computed"
    assert (out / "report.html").exists()


def test_a_user_run_json_without_stages_is_refused_and_its_scene_kept(tmp_path, capsys):
    out = tmp_path / "out"
    (out / "scene.zarr").mkdir(parents=True)
    (out / "scene.zarr" / "data.bin").write_bytes(b"mine")
    (out / "run.json").write_text('{"mine": true}')
    job = tmp_path / "job.toml"
    job.write_text('[location]\nsize = 100\n[time]\nstart = "2016-01-01"\nend = "2016-03-01"\n')
    assert main(["run", str(job), "--output", str(out), "--no-progress"]) == 2
    line = one_error(capsys)
    assert "run.json" in line
    assert "stages" in line
    assert "--force" in line
    assert (out / "scene.zarr" / "data.bin").read_bytes() == b"mine"
    assert (out / "run.json").read_text() == '{"mine": true}'


@pytest.mark.parametrize(
    ("stages", "named"),
    [('"x"', "\"stages\" is 'x'"), ('{"fetch": {"periods_completed": 5}}', "periods_completed")],
)
def test_a_malformed_manifest_is_one_line(tmp_path, capsys, stages, named):
    out = tmp_path / "out"
    out.mkdir()
    (out / "run.json").write_text(f'{{"stages": {stages}}}')
    for argv in (["run", "--output", str(out)], ["analyse", str(out)]):
        assert main(argv) == 2
        line = one_error(capsys)
        assert named in line
        assert "run.json" in line
    assert sorted(p.name for p in out.iterdir()) == ["run.json"]


def test_users_files_after_fetch_are_refused_by_run(tmp_path, client, capsys):
    out = tmp_path / "out"
    run_job(config_of(out), client=client, progress=False, log=lambda m: None, until="fetch")
    (out / "tiles.zarr").mkdir()
    (out / "tiles.zarr" / "mine").write_text("mine")
    (out / "report.html").write_text("<p>mine</p>")
    job = tmp_path / "job.toml"
    job.write_text(
        '[location]\nsize = 100\n[time]\nstart = "2016-01-01"\nend = "2016-07-01"\n'
        f'[output]\nurl = "{out}"\n'
    )
    assert main(["run", str(job), "--no-progress"]) == 2
    line = one_error(capsys)
    assert "tiles.zarr" in line
    assert "--force" in line
    shutil.rmtree(out / "tiles.zarr")
    assert main(["run", str(job), "--no-progress"]) == 2
    line = one_error(capsys)
    assert "report.html" in line
    assert (out / "report.html").read_text() == "<p>mine</p>"
    assert "process" not in read_manifest(str(out))["stages"]


def test_another_jobs_outputs_are_refused(out, tmp_path, capsys):
    before = mtimes(out)
    job = tmp_path / "other.toml"
    job.write_text('[location]\nsize = 150\n[time]\nstart = "2016-01-01"\nend = "2016-07-01"\n')
    assert main(["run", str(job), "--output", str(out), "--no-progress"]) == 2
    line = one_error(capsys)
    assert "location.size = 100 there, 150" in line
    assert "--force" in line
    assert main(["run", "--output", str(out), "--no-progress"]) == 2  # the demo's config
    assert "another job" in capsys.readouterr().err
    assert mtimes(out) == before


def test_fetch_with_new_dates_then_analyse_does_not_mix_old_tiles(out, client, capsys):
    assert main(["analyse", str(out), "--no-report", "--surrogates", "9"]) == 0
    capsys.readouterr()
    later = {**SMALL, "time": {"start": "2016-03-01", "end": "2016-09-01", "period": "1m"}}
    config = validate_config({**later, "output": {"url": str(out)}})
    with pytest.raises(FileExistsError, match=r"time\.end = '2016-07-01' there"):
        run_job(config, client=client, progress=False, log=lambda m: None, until="fetch")
    lines = []
    run_job(config, client=client, progress=False, log=lines.append, until="fetch", force=True)
    assert not (out / "tiles.zarr").exists()  # the old dates' tiles went with their stage
    assert main(["analyse", str(out)]) == 2
    line = one_error(capsys)
    assert "process stage is not complete" in line


def test_analyse_refuses_a_half_processed_run(out, capsys):
    manifest = json.loads((out / "run.json").read_text())
    manifest["stages"]["process"].update(complete=False, periods_completed=["2016-01-16"])
    (out / "run.json").write_text(json.dumps(manifest))
    assert main(["analyse", str(out)]) == 2
    line = one_error(capsys)
    assert "not complete" in line
    assert "1 periods done" in line


def test_analyse_refuses_tiles_that_disagree_with_run_json(out, capsys):
    next(iter(chunks_of(out / "tiles.zarr", PERIOD))).unlink()
    assert main(["analyse", str(out)]) == 2
    line = one_error(capsys)
    assert f"tiles.zarr ({CHUNK}" in line


def test_analyse_never_falls_back_to_the_summary_silently(out, capsys):
    shutil.rmtree(out / "tiles.zarr")
    assert main(["analyse", str(out)]) == 2  # with run.json: it disagrees
    line = one_error(capsys)
    assert "tiles.zarr (missing)" in line
    assert "--use-summary" in line
    (out / "run.json").unlink()
    assert main(["analyse", str(out)]) == 2  # a folder without run.json
    line = one_error(capsys)
    assert "no tiles.zarr" in line
    assert "--use-summary" in line
    assert main(["analyse", str(out), "--use-summary", "--no-report", "--surrogates", "9"]) == 0
    assert "ndvi_mean" in capsys.readouterr().out


def test_an_analysis_of_a_run_with_analysis_off_is_left_alone(tmp_path, client, capsys):
    out = tmp_path / "out"
    off = {"analysis": {"enabled": False}}
    run_job(config_of(out, **off), client=client, progress=False, log=lambda m: None)
    assert main(["analyse", str(out), "--no-report", "--surrogates", "5"]) == 0
    written = mtimes(out / "analysis")
    check_job(config_of(out, **off))  # the run writes no analysis: nothing to account for
    manifest, lines = rerun(out, client, extra=off)
    assert mtimes(out / "analysis") == written
    assert not [line for line in lines if "removed" in line]
    assert manifest["stages"]["analyse"]["outputs"] == {}
    # Turned on, the analysis would replace the files run.json does not account for.
    with pytest.raises(FileExistsError, match=r"analysis exists but run\.json does not account"):
        check_job(config_of(out))


def test_an_analysis_with_other_settings_in_the_run_folder_is_redone_by_the_next_run(out):
    assert main(["analyse", str(out), "--no-report", "--surrogates", "5"]) == 0
    assert stages_to_compute(config_of(out), verify=True) == ["analyse"]


def test_on_blob_storage_damage_is_found_and_a_disabled_analysis_removed(
    client, azurite, monkeypatch
):
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    remote, root = "abfs://runs-stale/site", "runs-stale/site"
    fs = azurite.filesystem()
    config = validate_config({**SMALL, "output": {"url": remote}})
    run_job(config, client=client, progress=False, log=lambda m: None)
    before = azurite.open_zarr(f"{remote}/tiles.zarr")
    before = before.load()
    fs.rm(fs.find(f"{root}/tiles.zarr/offset50/c/0")[0])  # SMALL's periods: one chunk
    fs.rm(f"{root}/report.html")
    assert stages_to_compute(config) == ["process", "analyse"]
    lines = []
    run_job(config, client=client, progress=False, log=lines.append)
    said = [line for line in lines if "differ" in line]
    assert len(said) == 2, lines
    assert f"tiles.zarr ({CHUNK}" in said[0]
    assert "report.html (missing)" in said[1]
    after = azurite.open_zarr(f"{remote}/tiles.zarr")
    xr.testing.assert_identical(after.load(), before)
    assert fs.exists(f"{root}/report.html")
    off = validate_config({**SMALL, "output": {"url": remote}, "analysis": {"enabled": False}})
    run_job(off, client=client, progress=False, log=lambda m: None)
    assert not fs.exists(f"{root}/report.html")
    assert not fs.find(f"{root}/analysis")
    assert fs.exists(f"{root}/tiles.parquet")


def test_run_job_names_a_manifest_it_cannot_read_and_force(tmp_path):
    from vegdask.data import ManifestError

    out = tmp_path / "out"
    out.mkdir()
    (out / "run.json").write_text('{"stages": "x"}')
    with pytest.raises(ManifestError, match="pass --force to replace it"):
        run_job(config_of(out), client=None, progress=False, log=lambda m: None)
    assert sorted(p.name for p in out.iterdir()) == ["run.json"]
