"""Helpers of the fault tests: small synthetic jobs run through the real ``vegdask`` command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from vegdask.cli import main

# 12 monthly periods of a 100 x 100 synthetic scene, analysis off: the smallest real job.
SMALL_JOB = """
[location]
longitude = 27.94
latitude = 11.58
size = 100
[time]
start = "2016-01-01"
end = "2017-01-01"
period = "1m"
[analysis]
enabled = false
"""


@pytest.fixture(scope="session")
def small_job_text() -> str:
    return SMALL_JOB


@pytest.fixture
def small_job(tmp_path: Path) -> Path:
    path = tmp_path / "job.toml"
    path.write_text(SMALL_JOB)
    return path


def _vegdask(*args: str, **kwargs) -> subprocess.Popen:
    """Start ``python -m vegdask.cli ARGS`` in its own session (a terminal's process group)."""
    return subprocess.Popen(
        [sys.executable, "-m", "vegdask.cli", *args, "--no-progress"]
        if args[0] == "run"
        else [sys.executable, "-m", "vegdask.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        **kwargs,
    )


@pytest.fixture
def vegdask():
    """Start ``vegdask ARGS`` in its own session; every process it started is stopped at the end."""
    started: list[subprocess.Popen] = []

    def start(*args: str, **kwargs) -> subprocess.Popen:
        started.append(_vegdask(*args, **kwargs))
        return started[-1]

    yield start
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()


def first_line(proc: subprocess.Popen) -> str:
    """The first line ``proc`` prints on standard output."""
    line = proc.stdout.readline()
    assert line, f"no output; stderr: {proc.stderr.read()[-2000:]}"
    return line


@pytest.fixture(name="first_line")
def _first_line():
    return first_line


def tree(root: Path) -> dict[str, object]:
    """Every entry below ``root`` (links as their target, others as size and modification time).

    What a refused command must leave as it was.
    """
    return {
        str(p.relative_to(root)): (
            os.readlink(p) if p.is_symlink() else (p.stat().st_size, p.stat().st_mtime_ns)
        )
        for p in root.rglob("*")
    }


@pytest.fixture(name="tree")
def _tree():
    return tree


@pytest.fixture
def refused(capsys):
    """Run ``vegdask ARGV`` in this process and check that it was refused as the CLI promises.

    Exit status 2, exactly one line on standard error (``vegdask COMMAND: error: ...``, returned)
    holding every one of ``words``, no traceback, nothing below ``root`` changed. ``after`` runs
    right after the command, whatever it did (to give back permissions a case took away).
    """

    def check(
        argv: list[str], root: Path, *words: str, after: Callable[[], object] | None = None
    ) -> str:
        before = tree(root)
        try:
            code = main(argv)
        finally:
            if after is not None:
                after()
        out, err = capsys.readouterr()
        assert code == 2, (out, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert lines[0].startswith(f"vegdask {argv[0]}: error: "), lines[0]
        for word in words:
            assert word in lines[0], lines[0]
        assert "Traceback" not in out + err
        assert tree(root) == before
        return lines[0]

    return check
