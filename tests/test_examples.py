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
