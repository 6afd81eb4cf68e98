"""AzureBatchCluster with TLS: workers connect over tls://, their key never in the task JSON."""

import json

import dask.array as da
import pytest
from azure.storage.blob import BlobServiceClient
from distributed import Security

from vegdask.cluster import AzureBatchCluster


def key_lines(pem):
    """The base64 lines of a PEM private key (any of them leaking is a leak)."""
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


@pytest.mark.slow
def test_tls_workers_compute_and_the_key_stays_out_of_batch(
    batch_emulator, azurite, shared_key_client, batch_workers
):
    emu = batch_emulator
    security = Security.temporary()
    key = security.tls_worker_key
    with batch_workers(
        emu, "tls-pool", 2, security=security, storage_connection_string=azurite.connection_string
    ) as (cluster, client):
        assert cluster.scheduler_address.startswith("tls://")
        workers = client.scheduler_info()["workers"]
        assert len(workers) == 2
        assert all(address.startswith("tls://") for address in workers)
        x = da.arange(10_000, chunks=1_000)
        assert client.compute(x.sum()).result() == sum(range(10_000))
        # what Batch shows: command lines, environment, resource files; no key, no SAS signature
        tasks = list(shared_key_client(emu).list_tasks(cluster.job_id))
        assert tasks
        for task in tasks:
            shown = json.dumps(task.as_dict())
            assert all(line not in shown for line in key_lines(key))
            assert emu.account_key not in shown
            assert azurite.account_key not in shown
            shown_cmd = task.command_line + json.dumps(task.as_dict().get("environmentSettings"))
            assert "sig=" not in shown_cmd
            files = {f.file_path: f.http_url for f in task.resource_files}
            assert set(files) == {
                "vegdask-tls/ca.pem",
                "vegdask-tls/cert.pem",
                "vegdask-tls/key.pem",
            }
            assert all("sp=r&" in url and "se=" in url for url in files.values())
        spec = cluster.task_spec()
        assert "--tls-key" in spec["commandLine"]
        assert all("sig=<redacted>" in f["httpUrl"] for f in spec["resourceFiles"])
        prefix = cluster.prefix
    # the key blobs are deleted on close
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    left = list(service.get_container_client("vegdask-secrets").list_blobs(name_starts_with=prefix))
    assert left == []
    assert emu.pids() == []


def test_tls_needs_blob_storage(monkeypatch):
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    with pytest.raises(ValueError, match="needs blob storage"):
        AzureBatchCluster("http://127.0.0.1:1", "a", "a2V5", "p", security=True)
