"""README Quick start command 1, ``make demo``, on a fresh clone: set-up included.

Target: <= 150 s on a 2-core machine with a warm package cache. The repository's committed HEAD is
cloned into a temporary folder, where ``make .venv/.installed-all`` (the set-up: the venv and the
install) and then ``make demo`` (now only ``vegdask run``, numba's cache empty) are timed, with
the environment a user's shell would have (no variables of an enclosing ``make`` or of
``make bench``). Run ``.venv/bin/python benchmarks/bench_quickstart.py`` to print the figures, or
through asv (``track_*``: one run each, in ``setup_cache``).
"""

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Set by an enclosing make (`make bench`), its benchmark settings or an activated venv, not by a
# user's shell: a user's first `make demo` also starts with numba's cache empty.
NOT_FROM_A_USER = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "VIRTUAL_ENV", "NUMBA_CACHE_DIR"}
NOT_FROM_A_USER |= {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"}


def timed_make(target, clone, env):
    """Seconds of ``make TARGET`` in ``clone``; its output's end in the error if it fails."""
    start = time.perf_counter()
    done = subprocess.run(["make", target], cwd=clone, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"make {target} failed:\n{(done.stdout + done.stderr)[-3000:]}")
    return seconds


def quick_start():
    """Clone, set up and run the demo as the README says; the seconds of each part."""
    env = {k: v for k, v in os.environ.items() if k not in NOT_FROM_A_USER}
    folder = tempfile.mkdtemp()
    try:
        clone = Path(folder) / "vegdask"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        setup = timed_make(".venv/.installed-all", clone, env)
        demo = timed_make("demo", clone, env)
    finally:
        shutil.rmtree(folder)
    return {"setup": setup, "demo": demo, "make_demo": setup + demo}


class QuickStart:
    """``make demo`` on a fresh clone: the set-up, the demo run, both."""

    timeout = 1800

    def setup_cache(self):
        return quick_start()

    def track_make_demo_seconds(self, result):
        return result["make_demo"]

    def track_setup_seconds(self, result):
        return result["setup"]

    def track_demo_run_seconds(self, result):
        return result["demo"]

    track_make_demo_seconds.unit = "s"
    track_setup_seconds.unit = "s"
    track_demo_run_seconds.unit = "s"


if __name__ == "__main__":
    print(QuickStart().setup_cache())
