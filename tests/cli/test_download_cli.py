"""vegdask download: a run's summary, tables and report from a local path or abfs:// on Azurite."""

import zipfile

import fsspec
import pytest

from vegdask.cli import main

RUN = {
    "run.json": b'{"vegdask_version": "0.1.0"}',
    "results_summary.json": b"{}",
    "tiles.parquet": b"PAR1-not-really",
    "report.html": b"<html></html>",
    "analysis/timeseries.csv": b"time,offset50\n",
    "analysis/resilience.json": b'{"ar1": 0.5}',
    "analysis/offset50.png": b"\x89PNG",
}
NOT_WANTED = {
    "scene.zarr/zarr.json": b"{}",
    "analysis/indicators.zarr/zarr.json": b"{}",
}


def write_run(fs, root):
    for rel, data in {**RUN, **NOT_WANTED}.items():
        fs.makedirs(f"{root}/{rel}".rsplit("/", 1)[0], exist_ok=True)
        fs.pipe_file(f"{root}/{rel}", data)


def read_dir(path):
    return {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*") if p.is_file()}


@pytest.fixture
def abfs_run(azurite, monkeypatch):
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    fs = azurite.filesystem()
    fs.mkdir("runs")
    write_run(fs, "runs/demo")
    yield "abfs://runs/demo"
    fs.rm("runs", recursive=True)


@pytest.mark.slow
def test_download_from_azurite_to_dir_and_zip(abfs_run, tmp_path, capsys):
    assert main(["download", abfs_run, str(tmp_path / "out")]) == 0  # as docs/azure.md says
    assert read_dir(tmp_path / "out") == RUN
    assert main(["download", abfs_run, "--to", str(tmp_path / "run.zip")]) == 0
    with zipfile.ZipFile(tmp_path / "run.zip") as archive:
        assert {n: archive.read(n) for n in archive.namelist()} == RUN
    # never overwrite what is there
    assert main(["download", abfs_run, "--to", str(tmp_path / "out")]) == 2
    assert main(["download", abfs_run, "--to", str(tmp_path / "run.zip")]) == 2
    assert "choose" in capsys.readouterr().err
    assert read_dir(tmp_path / "out") == RUN


def test_download_local_and_not_a_run(tmp_path, capsys):
    write_run(fsspec.filesystem("file"), str(tmp_path / "run"))
    assert main(["download", str(tmp_path / "run"), "--to", str(tmp_path / "copy")]) == 0
    assert read_dir(tmp_path / "copy") == RUN
    (tmp_path / "empty").mkdir()
    assert main(["download", str(tmp_path / "empty"), "--to", str(tmp_path / "x")]) == 2
    assert "is not a vegdask run" in capsys.readouterr().err
