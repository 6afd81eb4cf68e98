"""The pipeline job on emulated Batch workers, abfs output on Azurite, equal to a local run."""

import json

import pytest
import xarray as xr
from distributed import Client, LocalCluster

from vegdask.pipeline import run_job, validate_config

SMALL = {
    "location": {"size": 100},
    "time": {"start": "2016-01-01", "end": "2016-07-01", "period": "1m"},
    "analysis": {"enabled": False},
}


def config_for(output):
    return validate_config({**SMALL, "output": {"url": str(output)}})


@pytest.mark.slow
def test_demo_job_on_batch_workers_equals_local_run(
    azurite, tmp_path, monkeypatch, batch_emulator, shared_key_client, batch_workers
):
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    remote = "abfs://runs-batch/site"
    emu = batch_emulator
    with batch_workers(emu, "pool", 2) as (cluster, client):
        run_job(config_for(remote), client=client, progress=False, log=lambda m: None)
        batch = shared_key_client(emu)
        for task in batch.list_tasks(cluster.job_id):  # the storage key never reached Batch
            assert azurite.account_key not in json.dumps(task.as_dict())
    with LocalCluster(n_workers=1, processes=False) as local, Client(local) as client:
        run_job(config_for(tmp_path), client=client, progress=False, log=lambda m: None)
    from_batch = azurite.open_zarr(f"{remote}/tiles.zarr")
    from_local = xr.open_zarr(tmp_path / "tiles.zarr", consolidated=False)
    xr.testing.assert_identical(from_batch.load(), from_local.load())
