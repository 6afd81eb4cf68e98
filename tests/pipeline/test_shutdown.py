"""A command that succeeds ends quietly, and a local run compiles the numba kernels once.

The CLI runs in a subprocess on a tiny job (2 periods of 100x100 pixels, no analysis); its standard
error must hold no traceback and no worker-kill warning ("Worker process still alive after 4.0
seconds, killing"), locally and with an abfs:// output on Azurite.
"""

import os
import re
import subprocess
import sys
from collections import Counter

import pytest

TINY_JOB = """
[location]
size = 100
[time]
start = "2016-01-01"
end = "2016-03-01"
[analysis]
enabled = false
"""


@pytest.fixture
def tiny_job(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_JOB)
    return path


def run_cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "vegdask.cli", *args, "--no-progress"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )


def assert_quiet(result):
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert "Error" not in result.stderr, result.stderr
    assert "killing" not in result.stderr, result.stderr


def test_local_run_is_quiet_and_compiles_each_kernel_once(tiny_job, tmp_path):
    # An empty numba cache: a first run on a fresh machine. numba reports every cache write.
    cache = tmp_path / "numba-cache"
    result = run_cli(
        "run",
        str(tiny_job),
        "--output",
        str(tmp_path / "out"),
        env={"NUMBA_CACHE_DIR": str(cache), "NUMBA_DEBUG_CACHE": "1"},
    )
    assert_quiet(result)
    saved = Counter(re.findall(r"data saved to '([^']+)'", result.stdout))
    loaded = Counter(re.findall(r"data loaded from '([^']+)'", result.stdout))
    assert any("_tiles_feature_vectors" in path for path in saved)
    # Each kernel compiled by one process only; the workers loaded it (a fetch and a process task).
    assert set(saved.values()) == {1}, saved
    assert any("_tiles_feature_vectors" in path for path in loaded), result.stdout[-2000:]


def test_abfs_run_is_quiet(tiny_job, azurite):
    env = {"AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string}
    result = run_cli("run", str(tiny_job), "--output", "abfs://quiet-exit/run", env=env)
    assert_quiet(result)
    assert "done in" in result.stdout
