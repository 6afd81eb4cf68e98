"""One run per output: a second run on an output in use is refused; stale locks are taken over."""

import json
import socket
import subprocess
import sys
import time

import pytest
from azure.storage.blob import BlobLeaseClient, BlobServiceClient

from vegdask.pipeline import OutputInUseError, output_lock


def test_a_second_run_on_the_same_output_is_refused(small_job, tmp_path, vegdask, first_line):
    out = tmp_path / "out"
    first = vegdask("run", str(small_job), "--output", str(out))
    first_line(first)  # it holds the lock and its cluster is up
    second = vegdask("run", str(small_job), "--output", str(out))
    _, err = second.communicate(timeout=300)
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
    time.sleep(16)
    with output_lock("abfs://locks/site"):
        assert blob.get_blob_properties().lease.state == "leased"
