"""Faults mid-run: storage that disappears and comes back, a worker process killed mid-stage."""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

import psutil
import pytest
import xarray as xr

from vegdask.data import open_store
from vegdask.testing import AZURITE_ACCOUNT_KEY, AZURITE_ACCOUNT_NAME, find_azurite, wait_until


@pytest.fixture(scope="module")
def reference(tmp_path_factory, small_job_text):
    """The output folder of an uninterrupted run of the small job."""
    folder = tmp_path_factory.mktemp("reference")
    (folder / "job.toml").write_text(small_job_text)
    options = ("--output", str(folder / "out"), "--no-progress")
    done = subprocess.run(
        [sys.executable, "-m", "vegdask.cli", "run", str(folder / "job.toml"), *options],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    return folder / "out"


def _stages(out) -> dict:
    path = out / "run.json"
    return json.loads(path.read_text())["stages"] if path.exists() else {}


def _stored_stages(storage) -> dict:
    """The stages of run.json at abfs://faults/site on ``storage`` ({} while there is none)."""
    from azure.core.exceptions import ResourceNotFoundError
    from azure.storage.blob import BlobClient

    blob = BlobClient.from_connection_string(storage.connection_string, "faults", "site/run.json")
    try:
        return json.loads(blob.download_blob().readall())["stages"]
    except (ResourceNotFoundError, json.JSONDecodeError):
        return {}


class _Storage:
    """Azurite on a fixed port and data folder, so it can be stopped and started again."""

    def __init__(self):
        self.folder = tempfile.mkdtemp(prefix="vegdask-fault-azurite-")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.process = None

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT_NAME};"
            f"AccountKey={AZURITE_ACCOUNT_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{self.port}/{AZURITE_ACCOUNT_NAME};"
        )

    def start(self):
        self.process = subprocess.Popen(
            [
                find_azurite(), "--blobHost", "127.0.0.1", "--blobPort", str(self.port),
                "--location", self.folder, "--silent", "--skipApiVersionCheck", "--loose",
                "--disableTelemetry",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip

        def answers():
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/?comp=list", timeout=1)
            except urllib.error.HTTPError:
                return True
            except OSError:
                return False
            return True

        wait_until(answers, timeout=60, interval=0.2)

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def test_storage_lost_mid_run_is_one_line_and_the_rerun_is_identical(
    small_job, reference, vegdask, first_line, monkeypatch
):
    storage = _Storage()
    storage.start()
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", storage.connection_string)
    try:
        out = "abfs://faults/site"
        run = vegdask("run", str(small_job), "--output", out)
        first_line(run)
        # Stop the storage once the run writes periods (as soon as one is recorded: the small
        # job takes a few seconds in all).
        wait_until(lambda: _stored_stages(storage).get("fetch", {}).get("periods_completed"),
                   timeout=300, interval=0.02)  # fmt: skip
        storage.stop()
        _, err = run.communicate(timeout=300)
        assert run.returncode == 2, err
        assert err.strip().splitlines() == [
            "vegdask run: error: lost the connection to blob storage (ServiceRequestError); "
            "rerun the same command to resume once it answers"
        ]
        storage.start()
        rerun = vegdask("run", str(small_job), "--output", out)
        _, err = rerun.communicate(timeout=900)
        assert rerun.returncode == 0, err
        xr.testing.assert_equal(
            open_store(f"{out}/tiles.zarr").load(), open_store(str(reference / "tiles.zarr")).load()
        )
    finally:
        storage.stop()


def test_a_worker_killed_mid_stage_the_run_completes_identically(
    small_job, tmp_path, reference, vegdask, first_line
):
    out = tmp_path / "out"
    run = vegdask("run", str(small_job), "--output", str(out))
    first_line(run)
    # The process stage starts once fetch is complete: its tile tasks are the run's longest part.
    wait_until(lambda: _stages(out).get("fetch", {}).get("complete"), timeout=600, interval=0.01)
    # Worker processes: spawned by the driver, or forked by its forkserver (not the forkserver
    # or the resource tracker themselves, the driver's other children).
    workers = [
        p
        for p in psutil.Process(run.pid).children(recursive=True)
        if p.ppid() != run.pid or "spawn_main" in " ".join(p.cmdline())
    ]
    assert workers
    workers[0].kill()  # SIGKILL, mid-stage: its tasks are recomputed on a restarted worker
    _, err = run.communicate(timeout=900)
    assert run.returncode == 0, err
    assert _stages(out)["process"]["complete"]
    xr.testing.assert_equal(
        open_store(str(out / "tiles.zarr")).load(), open_store(str(reference / "tiles.zarr")).load()
    )
    # Byte-identical tables (column order and all) and summary.
    for name in ("tiles.parquet", "results_summary.json"):
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name
