"""One run per output: a second run on an output in use is refused; stale locks are taken over."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from azure.storage.blob import BlobLeaseClient, BlobServiceClient

from vegdask.pipeline import OutputInUseError, _lock, output_lock
from vegdask.pipeline._lock import WRITE_GRACE_SECONDS
from vegdask.testing import wait_until


def test_a_second_run_on_the_same_output_is_refused(small_job, tmp_path, vegdask, first_line):
    out = tmp_path / "out"
    first = vegdask("run", str(small_job), "--output", str(out))
    first_line(first)  # it holds the lock and its cluster is up
    # held still (its workers too) until the second has tried: a small job can end before
    # the second run has even started, and that run then resumes a finished job
    os.killpg(first.pid, signal.SIGSTOP)
    try:
        second = vegdask("run", str(small_job), "--output", str(out))
        _, err = second.communicate(timeout=300)
    finally:
        os.killpg(first.pid, signal.SIGCONT)
    assert second.returncode == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"vegdask run: error: output {out} is in use by another run (since ")
    assert f"host {socket.gethostname()}, pid {first.pid})" in lines[0]
    stdout, err = first.communicate(timeout=600)
    assert first.returncode == 0, err
    assert "report:" not in stdout  # the analysis is disabled: there is no report.html
    assert not (out / "report.html").exists()
    assert not (out / "run.lock").exists()  # released


def test_a_dead_runs_lock_is_stale(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / "run.lock").write_text(
        json.dumps({"host": socket.gethostname(), "pid": dead.pid, "started": "2020-01-01T00:00"})
    )
    with output_lock(str(tmp_path)):
        held = json.loads((tmp_path / "run.lock").read_text())
    assert held["pid"] != dead.pid


def test_a_live_process_on_another_host_holds_the_lock(tmp_path):
    owner = {"host": "elsewhere", "pid": 1, "started": "2020-01-01T00:00:00+00:00"}
    (tmp_path / "run.lock").write_text(json.dumps(owner))
    expected = r"since 2020-01-01T00:00:00\+00:00, host elsewhere"
    with pytest.raises(OutputInUseError, match=expected), output_lock(str(tmp_path)):
        pass
    assert json.loads((tmp_path / "run.lock").read_text()) == owner  # untouched


def test_blob_lease_lock_on_azurite(azurite, monkeypatch):
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    service.create_container("locks")
    with output_lock("abfs://locks/site"):
        in_use = r"abfs://locks/site is in use .* host "
        with pytest.raises(OutputInUseError, match=in_use), output_lock("abfs://locks/site"):
            pass
        blob = service.get_blob_client("locks", "site/run.lock")
        assert blob.get_blob_properties().lease.state == "leased"
    assert blob.get_blob_properties().lease.state == "available"  # released
    # A run that died holding the lease: the lock is free again once the lease expires.
    BlobLeaseClient(blob).acquire(lease_duration=15)
    with pytest.raises(OutputInUseError), output_lock("abfs://locks/site"):
        pass
    # The lease's own expiry, as the service reports it (15 s, the shortest a lease can be).
    wait_until(lambda: blob.get_blob_properties().lease.state == "expired", timeout=60)
    with output_lock("abfs://locks/site"):
        assert blob.get_blob_properties().lease.state == "leased"


@pytest.mark.parametrize(
    "content",
    ["", '{"host": "', "{}", '{"pid": 1}', "[1, 2]", "null", "\x00\x00\x00", "[" * 100_000],
    ids=["empty", "truncated", "no-owner", "no-host", "not-an-object", "null", "zeros", "deep"],
)
def test_a_lock_that_is_not_whole_is_stale_once_old(tmp_path, content, monkeypatch):
    """A run.lock without host/pid (disk full while writing it, or emptied) never blocks."""
    lock = tmp_path / "run.lock"
    lock.write_text(content)
    old = time.time() - 2 * WRITE_GRACE_SECONDS
    os.utime(lock, (old, old))
    waits = []
    monkeypatch.setattr(_lock.time, "sleep", waits.append)
    with output_lock(str(tmp_path)):
        held = json.loads(lock.read_text())
    assert waits == []  # taken over at once, no waiting
    assert held["host"] == socket.gethostname()
    assert held["pid"] == os.getpid()
    assert not lock.exists()


def test_a_lock_being_written_is_waited_for_then_taken_over(tmp_path, monkeypatch):
    """A fresh empty lock may be a run between creating and writing it: wait the grace first."""
    lock = tmp_path / "run.lock"
    lock.write_text("")
    ages = []  # the lock's age when it is taken over: the grace, whatever the machine's load
    take_over = _lock._take_over

    def timed_take_over(path: str) -> None:
        ages.append(time.time() - os.path.getmtime(path))
        take_over(path)

    monkeypatch.setattr(_lock, "_take_over", timed_take_over)
    with output_lock(str(tmp_path)):
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert len(ages) == 1
    assert ages[0] >= WRITE_GRACE_SECONDS


def test_a_whole_lock_written_during_the_grace_holds(tmp_path):
    """The grace is for the writer: once it has written its lock, the output is in use."""
    lock = tmp_path / "run.lock"
    lock.write_text("")
    other = {"host": "elsewhere", "pid": 1, "started": "2026-01-01T00:00:00+00:00"}
    writer = threading.Timer(0.5, lambda: lock.write_text(json.dumps(other)))
    writer.start()
    with pytest.raises(OutputInUseError, match="host elsewhere"), output_lock(str(tmp_path)):
        pass
    writer.join()
    assert json.loads(lock.read_text()) == other
