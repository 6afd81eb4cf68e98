"""A run whose workers are gone for good stops with one line naming the cause; Ctrl-C still works.

Real local Dask clusters whose worker processes are killed (as the operating system's OOM killer
or a user would), through the real ``vegdask run`` command.
"""

import contextlib
import os
import signal
import subprocess
from pathlib import Path

import dask
import pytest
from distributed import Client, LocalCluster

from vegdask.cli import INTERRUPTED
from vegdask.cluster import WorkersLostError, watch_workers
from vegdask.testing import wait_until


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(") ", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                found.append(int(entry.name))
    return found


def _descendants(pid: int) -> list[int]:
    return [d for child in _children(pid) for d in (child, *_descendants(child))]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _kill(proc, *, everything: bool) -> None:
    """SIGKILL the run's worker processes, or every process it started (none can restart then)."""
    pids = [p for p in _descendants(proc.pid) if b"resource_tracker" not in _cmdline(p)]
    if not everything:  # the worker processes (spawned, or forked by a forkserver), not it
        pids = [p for p in pids if b"forkserver" not in _cmdline(p)]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _keep_killing(proc, rounds: int, *, everything: bool, every: float = 2.0) -> None:
    """Kill every ``every`` seconds, ``rounds`` times, until ``proc`` ends (its end stops it)."""
    for _ in range(rounds):
        _kill(proc, everything=everything)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=every)
            return


@pytest.mark.slow
def test_a_run_without_live_workers_stops_with_one_line(
    small_job, tmp_path, vegdask, first_line, monkeypatch
):
    monkeypatch.setenv("DASK_VEGDASK__CLUSTER__NO_WORKER_TIMEOUT", "8")  # the run's setting
    proc = vegdask("run", str(small_job), "--output", str(tmp_path / "out"))
    first_line(proc)  # the cluster is up
    # Until the run ends: every process it started, again and again (on a loaded machine a
    # nanny may still restart a worker between two rounds, so the watchdog sees either cause).
    _keep_killing(proc, rounds=240, everything=True, every=0.5)
    _, err = proc.communicate(timeout=120)  # the watchdog stopped it (a safety net's timeout)
    assert proc.returncode == 2, err
    assert "Traceback" not in err, err
    last = err.strip().splitlines()[-1]
    causes = ("no Dask worker was alive for 8 s", "Dask workers were lost in a row")
    assert last.startswith("vegdask run: error: "), last
    assert any(cause in last for cause in causes), last
    assert last.endswith("stopped (rerun the same command to resume)")


@pytest.mark.slow
def test_ctrl_c_stops_a_run_whose_workers_are_killed_again_and_again(
    small_job_text, tmp_path, vegdask, first_line, monkeypatch
):
    # The watchdog must not stop the run first: this is about Ctrl-C alone.
    monkeypatch.setenv("DASK_VEGDASK__CLUSTER__NO_WORKER_TIMEOUT", "600")
    monkeypatch.setenv("DASK_VEGDASK__CLUSTER__MAX_WORKER_LOSSES", "100000")
    # 48 periods of 600 x 600 pixels: more work than fits in the 6 s of killing below, even
    # on a quiet machine (a forked worker can start and finish a small task within 0.3 s).
    job = tmp_path / "job.toml"
    job.write_text(
        small_job_text.replace('end = "2017-01-01"', 'end = "2020-01-01"').replace(
            "size = 100", "size = 600"
        )
    )
    proc = vegdask("run", str(job), "--output", str(tmp_path / "out"))
    first_line(proc)
    _keep_killing(proc, rounds=20, everything=False, every=0.3)  # their nannies restart them
    assert proc.poll() is None  # still waiting
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)  # a safety net: Ctrl-C ends it, however loaded
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == f"vegdask run: {INTERRUPTED}"
    # The driver prints no traceback. (A worker process its nanny was restarting when Ctrl-C
    # came may print distributed's own start-up traceback: that process is not vegdask's.)
    frames = [line for line in err.splitlines() if line.strip().startswith("File ")]
    assert not [frame for frame in frames if "/vegdask/" in frame], err


def _die():
    os._exit(1)  # the worker process dies, as a segfault or the OOM killer would end it


def test_workers_that_keep_dying_without_finishing_a_task_stop_the_block():
    # Dask gives up on a task after 3 worker deaths (KilledWorker); the watchdog stops the block
    # after 2 lost in a row, naming them, whatever the work was.
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 10}),
        LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=":0") as cluster,
        Client(cluster) as client,
        # the watchdog's error, not Dask's KilledWorker (after 10 deaths) nor the timeout's
        pytest.raises(WorkersLostError) as lost,
        watch_workers(cluster, max_losses=2),
    ):
        client.submit(_die, pure=False).result(timeout=120)
    message = str(lost.value)
    assert message.startswith("2 Dask workers were lost in a row without finishing a task (last:")
    assert "\n" not in message


def test_a_finished_task_resets_the_count_of_lost_workers():
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),  # not run again
        LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=":0") as cluster,
        Client(cluster) as client,
        watch_workers(cluster, max_losses=2) as watch,
    ):
        # one worker lost, then work done: the run goes on
        client.submit(_die, pure=False)
        wait_until(lambda: watch.losses >= 1, timeout=60)
        assert watch.losses == 1
        client.wait_for_workers(1, timeout=60)
        assert client.submit(sum, [1, 2], pure=False).result(timeout=60) == 3
        assert watch.losses == 0


def test_workers_retired_by_the_cluster_are_not_lost():
    """adapt or scale retiring workers (a campaign's pool shrinking) is not a loss; a kill is."""
    with (
        LocalCluster(n_workers=3, processes=False, dashboard_address=None) as cluster,
        Client(cluster) as client,
        watch_workers(cluster, max_losses=2, no_worker_timeout=0) as watch,
    ):
        cluster.scale(1)
        wait_until(lambda: len(cluster.scheduler.workers) == 1, timeout=30)
        assert watch.losses == 0
        assert watch.verdict(workers=1) is None
        # adapt retires the workers it does not need (the scheduler first, then the cluster)
        cluster.scale(3)
        wait_until(lambda: len(cluster.scheduler.workers) == 3, timeout=30)
        cluster.adapt(minimum=1, maximum=3, interval="50ms", wait_count=1)
        wait_until(lambda: len(cluster.scheduler.workers) == 1, timeout=30)
        assert watch.losses == 0
        # a worker that goes without being retired is still a loss
        address = next(iter(cluster.scheduler.workers))
        client.sync(cluster.scheduler.remove_worker, address, stimulus_id="test-lost")
        assert watch.losses == 1
