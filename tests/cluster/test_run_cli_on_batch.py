"""`vegdask run --cluster azure-batch`: the CLI job on emulated Batch workers, abfs output."""

import os
import subprocess
import sys

import pytest

from vegdask.pipeline import read_manifest
from vegdask.testing import BatchEmulator


@pytest.mark.slow
def test_run_cli_on_azure_batch(azurite, tmp_path, monkeypatch, batch_environment):
    config = tmp_path / "job.toml"
    config.write_text(
        '[location]\nsize = 100\n[time]\nstart = "2016-01-01"\nend = "2016-04-01"\n'
        "[analysis]\nenabled = false\n"
    )
    output = "abfs://runs-cli-batch/site"
    with BatchEmulator() as emu:
        env = {
            **os.environ,
            **batch_environment(emu, azurite),
            "DASK_VEGDASK__AZURE__WORKER_PYTHON": sys.executable,
        }
        done = subprocess.run(
            [sys.executable, "-m", "vegdask.cli", "run", str(config), "--cluster", "azure-batch",
             "--workers", "1", "--output", output, "--no-progress"],
            env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        assert emu.pids() == []  # the cluster closed: no worker process left behind
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    assert read_manifest(output)["stages"]["process"]["complete"]
    tiles = azurite.open_zarr(f"{output}/tiles.zarr")
    assert tiles.sizes["time"] == 3
    assert bool(tiles["valid"].any())


def test_azure_batch_cluster_needs_an_abfs_output(tmp_path, capsys):
    from vegdask.cli import main

    assert main(["run", "--cluster", "azure-batch", "--output", str(tmp_path)]) == 2
    assert "cannot write to the local path" in capsys.readouterr().err


@pytest.mark.slow
def test_sigterm_releases_the_batch_pool_as_ctrl_c_does(
    azurite, tmp_path, batch_environment, shared_key_client
):
    from azure.core.exceptions import ResourceNotFoundError

    from vegdask.testing import wait_until

    config = tmp_path / "job.toml"
    config.write_text(
        '[location]\nsize = 100\n[time]\nstart = "2016-01-01"\nend = "2017-01-01"\n'
        "[analysis]\nenabled = false\n"
    )
    with BatchEmulator(allocation_delay=0.2) as emu:
        env = {
            **os.environ,
            **batch_environment(emu, azurite),
            "DASK_VEGDASK__AZURE__WORKER_PYTHON": sys.executable,
            "DASK_VEGDASK__AZURE__POOL_ID": "sigterm-pool",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "vegdask.cli", "run", str(config), "--cluster", "azure-batch",
             "--workers", "1", "--output", "abfs://runs-sigterm/site", "--no-progress"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert "dashboard http://" in proc.stdout.readline()
            batch = shared_key_client(emu)
            wait_until(lambda: emu.pids(), timeout=120)  # a worker task runs on the pool
            assert batch.get_pool("sigterm-pool").target_dedicated_nodes == 1
            proc.terminate()  # SIGTERM to the driver only, as `kill` or a service manager sends it
            _, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 143, err[-3000:]
        assert err.strip().splitlines()[-1] == (
            "vegdask run: terminated; rerun the same command to resume"
        )

        # the pool this run created is deleted, its worker task ended, no process left
        def pool_gone():
            try:
                batch.get_pool("sigterm-pool")
            except ResourceNotFoundError:
                return True
            return False

        wait_until(pool_gone, timeout=60)
        wait_until(lambda: emu.pids() == [], timeout=60)
