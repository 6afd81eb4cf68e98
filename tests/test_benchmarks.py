"""Every asv benchmark file imports and runs as ``make bench`` runs it, on tiny parameters.

asv imports the files as the package ``benchmarks`` through an importer of its own process
(``sys.meta_path``, not ``sys.path``), so a function of a benchmark file sent to a dask worker
process cannot be unpickled there (``make bench BENCH="--quick"`` failed so: ``No module named
'benchmarks'``). The probe below imports each file the same way (asv_runner's importer) and runs
one benchmark's set-up and one call per file on small inputs; ``asv check`` discovers them all as
``make bench`` does. bench_quickstart (a fresh clone and ``make demo``) and bench_report (the
whole demo in ``setup_cache``) are imported only: their one call is minutes long.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted(p.stem for p in (ROOT / "benchmarks").glob("bench_*.py"))
# One benchmark a file: its set-up and one call, small.
CALLS = {
    "bench_analysis": "b = m.RollingIndicators(); b.setup(120); b.time_detrend_and_indicators(120)",
    "bench_campaign": (
        "r = m.campaign_against_single(locations=2, size=100)\n"
        "assert r['worker_peak_mib'] > 50 and r['seconds']['campaign'] > 0, r\n"
        "assert m.Campaign().track_process_rate_share_of_single_location({'tiny': r}) > 0"
    ),
    "bench_cli": "exec(m.timeraw_version())",  # and through make bench, below
    "bench_cluster": (
        "b = m.ScaleUp(); b.setup(1)\n"
        "try:\n    b.time_scale_to_registered(1)\nfinally:\n    b.teardown(1)"
    ),
    "bench_data": "b = m.Rietkerk(); b.setup(); b.time_100_steps_250x250()",
    "bench_kernels": "exec(m.timeraw_import())",
    "bench_pipeline": (
        "stage = m.run_stages(100, end='2016-03-01')\n"
        "assert stage['tiles'] == 8 and stage['peak_mib'] > 50, stage\n"
        "assert m.bare_kernel_seconds_per_tile(stage['folder']) > 0"
    ),
    "bench_quickstart": "",
    "bench_report": "",
}
PROBE = """
import importlib
from asv_runner._aux import update_sys_path
update_sys_path({root!r} + "/benchmarks")  # asv's own importer: this process only
m = importlib.import_module("benchmarks.{name}")
{call}
print("ok")
"""


def test_every_benchmark_file_has_a_smoke_call():
    assert sorted(CALLS) == FILES


@pytest.mark.slow
@pytest.mark.parametrize("name", FILES)
def test_a_benchmark_of_each_file_runs_as_asv_runs_it(name, tmp_path):
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(root=str(ROOT), name=name, call=CALLS[name])],
        cwd=tmp_path,  # not the repository: `benchmarks` is importable through sys.path only
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "ok"


def test_asv_discovers_every_benchmark(tmp_path):
    asv = shutil.which("asv", path=str(Path(sys.executable).parent))
    done = subprocess.run(
        [asv, "check", "--python=same"],
        cwd=ROOT,
        env={**os.environ, "HOME": str(tmp_path)},  # asv's caches there, not the user's
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "No problems found" in done.stdout


def test_make_bench_runs_a_file_as_documented(tmp_path):
    """docs/performance.md's ``make bench BENCH="--quick --bench ..."``, on the CLI's benchmarks."""
    done = subprocess.run(
        ["make", "bench", "BENCH=--quick --bench bench_cli"],
        cwd=ROOT,
        env={**os.environ, "HOME": str(tmp_path)},  # asv's machine file there, not the user's
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "bench_cli.timeraw_version" in done.stdout
    assert "failed" not in done.stdout


@pytest.mark.parametrize(
    ("args", "lines"),
    [
        (["sites", "--first", "3", "--last", "4"], ["stable: ", "declining: ", "NDVI p below"]),
        (
            ["warmup", "--first", "3", "--last", "4"],
            ["| 0 | stable | 1 |", "| 2 | declining | 1 |"],
        ),
    ],
)
def test_campaign_truth_runs_as_docs_pipeline_runs_it(args, lines):
    """benchmarks/campaign_truth.py (docs/pipeline.md's figures), on two sites: 03 and 04."""
    done = subprocess.run(
        [sys.executable, "benchmarks/campaign_truth.py", *args],
        cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for line in lines:
        assert line in done.stdout, done.stdout
