"""The examples run and print what they promise."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(script, *args, cwd):
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args], capture_output=True, text=True, cwd=cwd
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_tile_metrics_example(tmp_path):
    lines = run("tile_metrics.py", cwd=tmp_path).splitlines()
    assert len(lines) == 12
    assert all("offset50" in line and "mm" in line for line in lines)


@pytest.mark.slow
def test_run_job_example(tmp_path):
    out = run("run_job.py", str(tmp_path / "job"), cwd=tmp_path)
    assert "offset50_mean" in out
    assert (tmp_path / "job" / "report.html").is_file()


def test_pyveg_folder_example(tmp_path):
    lines = run("pyveg_folder.py", cwd=tmp_path).splitlines()
    assert lines[0].endswith(": 6 periods, 25 tiles")
    assert [line[:10] for line in lines[1:]] == [
        "2016-01-16", "2016-02-15", "2016-03-16", "2016-04-16", "2016-05-16", "2016-06-16"
    ]  # fmt: skip
    # The folder holds the synthetic scene's NDVI exactly, so offset50 is that of the scene itself.
    import vegdask.compute  # noqa: F401
    from vegdask.data import synthetic_scene

    scene, _ = synthetic_scene("2016-01-01", "2016-07-01", size=250, spinup_steps=500)
    tiles = scene.veg.tile_metrics().compute()
    expected = tiles["offset50"].where(tiles["valid"]).mean(("tile_y", "tile_x")).values
    assert [float(line.split()[-1]) for line in lines[1:]] == [round(v, 1) for v in expected]
