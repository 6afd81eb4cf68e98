"""vegdask download into bad destinations: one line, exit status 2, nothing written anywhere.

Files are fetched to a hidden temporary name and renamed into place at the end, so a failure half
way leaves no partial file (in particular no valid-looking partial zip); symbolic links inside the
destination are refused, since a dangling one would send a file outside it.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import zipfile
from pathlib import Path

import fsspec
import pytest

from vegdask.cli import main

RUN = {
    "run.json": b'{"vegdask_version": "0.1.0"}',
    "results_summary.json": b"{}",
    "report.html": b"<html></html>",
    "analysis/timeseries.csv": b"time,offset50\n",
}


@pytest.fixture
def run_dir(tmp_path):
    fs = fsspec.filesystem("file")
    for rel, data in RUN.items():
        fs.makedirs(str(tmp_path / "run" / rel).rsplit("/", 1)[0], exist_ok=True)
        fs.pipe_file(str(tmp_path / "run" / rel), data)
    return tmp_path / "run"


def test_an_existing_zip_is_not_overwritten(run_dir, tmp_path, refused):
    (tmp_path / "old.zip").write_bytes(b"mine")
    refused(["download", str(run_dir), str(tmp_path / "old.zip")], tmp_path, "exists")
    assert (tmp_path / "old.zip").read_bytes() == b"mine"


@pytest.mark.parametrize("name", ["taken.txt", "taken.zip"])
def test_to_an_existing_file(run_dir, tmp_path, refused, name):
    (tmp_path / name).write_text("mine")
    refused(["download", str(run_dir), "--to", str(tmp_path / name)], tmp_path, name)
    assert (tmp_path / name).read_text() == "mine"


@pytest.mark.parametrize("under", ["sub", "sub/deeper", "sub/run.zip", "run.zip"])
def test_a_path_under_a_file(run_dir, tmp_path, refused, under):
    (tmp_path / "taken.txt").write_text("mine")
    target = tmp_path / "taken.txt" / under
    line = refused(["download", str(run_dir), "--to", str(target)], tmp_path)
    assert line.endswith(
        f"{tmp_path / 'taken.txt'} is not a folder, so {target} cannot be created under it"
    )


@contextlib.contextmanager
def read_only(folder: Path):
    """``folder`` made read-only, also for root (immutable: root ignores permission bits)."""
    folder.chmod(0o555)
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(folder)], check=True)
    try:
        yield
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o755)


@pytest.mark.parametrize("target", ["out", "new/out", "run.zip", "new/run.zip", "."])
def test_a_read_only_folder(run_dir, tmp_path, refused, target):
    locked = tmp_path / "locked"
    locked.mkdir()
    with read_only(locked):
        line = refused(["download", str(run_dir), str(locked / target)], tmp_path)
    assert "not permitted" in line or "permission denied" in line.lower()
    assert list(locked.iterdir()) == []


@pytest.mark.parametrize("link", ["report.html", "analysis"])
def test_a_symbolic_link_in_the_target_is_refused(run_dir, tmp_path, refused, link):
    target, outside = tmp_path / "copy", tmp_path / "outside"
    target.mkdir()
    (target / link).symlink_to(outside / link)  # dangling: writing through it creates outside/...
    refused(["download", str(run_dir), str(target)], tmp_path, "symbolic link", link)
    assert not outside.exists()


def test_a_failure_half_way_leaves_nothing(run_dir, tmp_path, refused):
    """A file of the run that cannot be read (a dangling link) after others were fetched."""
    (run_dir / "tiles.parquet").mkdir()
    (run_dir / "tiles.parquet" / "part-0.parquet").write_bytes(b"PAR1")
    (run_dir / "tiles.parquet" / "part-1.parquet").symlink_to(tmp_path / "gone.parquet")
    for target in ("copy", "nested/copy", "run.zip", "nested/run.zip"):
        refused(["download", str(run_dir), str(tmp_path / target)], tmp_path, "part-1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_the_destination_positionally_or_with_to(run_dir, tmp_path, capsys, refused):
    assert main(["download", str(run_dir), str(tmp_path / "a")]) == 0
    assert main(["download", str(run_dir), "--to", str(tmp_path / "b")]) == 0
    assert (
        main(["download", str(run_dir), str(tmp_path / "c.zip"), "--to", str(tmp_path / "c.zip")])
        == 0
    )
    capsys.readouterr()
    for folder in ("a", "b"):
        assert {
            str(p.relative_to(tmp_path / folder))
            for p in (tmp_path / folder).rglob("*")
            if p.is_file()
        } == set(RUN)
    with zipfile.ZipFile(tmp_path / "c.zip") as archive:
        assert {n: archive.read(n) for n in archive.namelist()} == RUN
    assert not [p for p in tmp_path.rglob(".*")]  # no temporary left behind
    refused(
        ["download", str(run_dir), str(tmp_path / "d"), "--to", str(tmp_path / "e")],
        tmp_path,
        "two destinations",
    )
    refused(["download", str(run_dir)], tmp_path, "no destination")


def test_into_an_existing_folder_beside_other_files(run_dir, tmp_path, refused):
    target = tmp_path / "copy"
    (target / "analysis").mkdir(parents=True)
    (target / "notes.txt").write_text("mine")
    assert main(["download", str(run_dir), str(target)]) == 0
    assert (target / "notes.txt").read_text() == "mine"
    assert {str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()} == {
        *RUN,
        "notes.txt",
    }
    assert sorted(p.name for p in target.iterdir() if p.name.startswith(".")) == []
    refused(["download", str(run_dir), str(target)], tmp_path, "already has")
