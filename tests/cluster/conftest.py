"""Fixtures of the cluster tests."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vegdask.testing import BatchEmulator


@pytest.fixture
def batch_emulator():
    """A Batch emulator with a short node allocation delay."""
    with BatchEmulator(allocation_delay=0.2) as service:
        yield service


@pytest.fixture(scope="session")
def vegdask_wheel(tmp_path_factory):
    """A wheel of this vegdask, built from a copy of the source (the shared tree stays clean)."""
    root = Path(__file__).resolve().parents[2]
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(root / name, src / name)
    shutil.copytree(root / "vegdask", src / "vegdask", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(out), str(src)],
        check=True, capture_output=True,
    )  # fmt: skip
    return next(out.glob("vegdask-*.whl"))
