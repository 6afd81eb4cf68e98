"""`vegdask run --cluster azure-batch`: the CLI job on emulated Batch workers, abfs output."""

import os
import subprocess
import sys

import pytest
import xarray as xr

from vegdask.pipeline import read_manifest
from vegdask.testing import BatchEmulator


@pytest.mark.slow
def test_run_cli_on_azure_batch(azurite, tmp_path, monkeypatch):
    config = tmp_path / "job.toml"
    config.write_text(
        '[location]\nsize = 100\n[time]\nstart = "2016-01-01"\nend = "2016-04-01"\n'
        "[analysis]\nenabled = false\n"
    )
    output = "abfs://runs-cli-batch/site"
    with BatchEmulator() as emu:
        env = {
            **os.environ,
            "AZURE_BATCH_URL": emu.url,
            "AZURE_BATCH_ACCOUNT": emu.account_name,
            "AZURE_BATCH_KEY": emu.account_key,
            "AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string,
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
    options = {"connection_string": azurite.connection_string, "use_listings_cache": False}
    tiles = xr.open_zarr(f"{output}/tiles.zarr", storage_options=options, consolidated=False)
    assert tiles.sizes["time"] == 3
    assert bool(tiles["valid"].any())


def test_azure_batch_cluster_needs_an_abfs_output(tmp_path, capsys):
    from vegdask.cli import main

    assert main(["run", "--cluster", "azure-batch", "--output", str(tmp_path)]) == 2
    assert "cannot write to the local path" in capsys.readouterr().err
