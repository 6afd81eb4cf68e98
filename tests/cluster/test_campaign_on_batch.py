"""A campaign on one Batch pool (emulator, Azurite): preemption, adapt, release, as a local one."""

import contextlib
import json
import os
import subprocess
import sys
import threading

import dask
import pytest
from azure.core.exceptions import ResourceNotFoundError
from distributed import Client, LocalCluster

from vegdask.data.storage import ensure_container
from vegdask.pipeline import (
    campaign_client,
    campaign_to_compute,
    output_lock,
    read_manifest,
    run_campaign,
    validate_campaign,
)
from vegdask.testing import BatchEmulator, campaign_tables, table_differences, wait_until

# Two locations (one declining, one stable rainfall), 8 periods of 100 x 100 px, few surrogates.
TINY = {
    "campaign": {"locations": ["00", "04"]},
    "location": {"size": 100},
    "time": {"start": "2016-01-01", "end": "2016-09-01", "period": "1m"},
    "analysis": {
        "n_surrogates": 19,
        "sensitivity_surrogates": 9,
        "tile_surrogates": 0,
        "spatial_permutations": 0,
        "report": False,
    },
}

# What the pool tests need: the work of fetch and process only, 6 periods.
NO_ANALYSIS = {
    **TINY,
    "time": {**TINY["time"], "end": "2016-07-01"},
    "analysis": {"enabled": False},
}


def batch_settings(emu, pool_id):
    """vegdask.azure.* for a campaign on the emulator: low-priority nodes, at most 2."""
    return {
        "vegdask.azure.batch-url": emu.url,
        "vegdask.azure.account-name": emu.account_name,
        "vegdask.azure.account-key": emu.account_key,
        "vegdask.azure.pool-id": pool_id,
        "vegdask.azure.worker-python": sys.executable,
        "vegdask.azure.low-priority": True,
        "vegdask.azure.max-nodes": 2,
    }


@pytest.fixture(scope="module")
def local_tables(tmp_path_factory):
    """The same campaign, uninterrupted, on a local cluster."""
    out = tmp_path_factory.mktemp("local-campaign")
    campaign = validate_campaign({**TINY, "output": {"url": str(out)}})
    with (
        LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        record = run_campaign(campaign, client=client, progress=False, log=lambda m: None)
    assert [e["status"] for e in record["locations"].values()] == ["done", "done"]
    return campaign_tables(str(out))


@pytest.mark.slow
def test_campaign_with_a_preempted_node_equals_a_local_campaign(
    azurite, monkeypatch, local_tables, shared_key_client
):
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    remote = "abfs://campaign-preempted/study"
    campaign = validate_campaign(
        {**TINY, "output": {"url": remote}, "cluster": {"kind": "azure-batch"}}
    )
    with BatchEmulator(allocation_delay=0.2) as emu, dask.config.set(batch_settings(emu, "camp")):
        ensure_container(remote)  # as vegdask run does, before the lock
        todo = campaign_to_compute(campaign)
        assert [s.id for s in todo] == ["00", "04"]
        preempted, stop = [], threading.Event()
        with output_lock(remote), campaign_client(campaign, todo) as client:
            job_id = client.cluster.job_id

            def preempt_when_busy():
                # a task of the campaign running: its worker's node goes, the campaign goes on
                busy = lambda: stop.is_set() or any(client.processing().values())  # noqa: E731
                wait_until(busy, timeout=120, interval=0.05)
                if not stop.is_set():
                    preempted.append(emu.preempt("camp"))

            watcher = threading.Thread(target=preempt_when_busy, daemon=True)
            watcher.start()
            try:
                record = run_campaign(campaign, client=client, progress=False, log=lambda m: None)
            finally:
                stop.set()
                watcher.join(timeout=30)
        assert len(preempted) == 1
        requeued = [
            t for t in shared_key_client(emu).list_tasks(job_id) if t.execution_info.requeue_count
        ]
        assert len(requeued) == 1  # the preempted worker's task, run again on another node
        assert [e["status"] for e in record["locations"].values()] == ["done", "done"]
        # the rerun: every location complete, nothing computed, no cluster needed
        assert campaign_to_compute(campaign) == []
        with output_lock(remote):
            again = run_campaign(campaign, client=None, progress=False, log=lambda m: None)
        assert [e["status"] for e in again["locations"].values()] == ["done", "done"]
        assert emu.pids() == []  # the pool released: no worker left
        with pytest.raises(ResourceNotFoundError):
            shared_key_client(emu).get_pool("camp")
    assert table_differences(campaign_tables(remote), local_tables) == []
    assert {"00/timeseries", "04/resilience", "summary"} <= local_tables.keys()


def largest_target(batch_client, pool_id, stop, seen):
    """Record the pool's largest low-priority target until ``stop`` (the pool may not exist yet)."""
    while not stop.wait(0.1):
        with contextlib.suppress(ResourceNotFoundError):
            seen.append(batch_client.get_pool(pool_id).target_low_priority_nodes or 0)


def toml(table):
    """``TINY``-like nested tables as TOML (strings, numbers, booleans and lists of strings)."""
    lines = []
    for section, values in table.items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


@pytest.mark.slow
def test_the_pool_grows_and_is_released_when_a_location_fails(
    azurite, tmp_path, batch_environment, shared_key_client
):
    """vegdask run CAMPAIGN --cluster azure-batch: one pool for the campaign, gone at its end."""
    remote = "abfs://campaign-grows/study"
    fs = azurite.filesystem()
    # location 01's output holds a store no run of vegdask wrote: that location fails
    fs.mkdir("campaign-grows")
    fs.pipe("campaign-grows/study/locations/01/scene.zarr/zarr.json", b"{}")
    config = tmp_path / "campaign.toml"
    # two locations done at once: a tiny location's stage is one task (its periods grouped)
    config.write_text(toml({**NO_ANALYSIS, "campaign": {"locations": ["00", "02", "01"]}}))
    with BatchEmulator(allocation_delay=0.2) as emu:
        env = {
            **os.environ,
            **batch_environment(emu, azurite),
            "DASK_VEGDASK__AZURE__WORKER_PYTHON": sys.executable,
            "DASK_VEGDASK__AZURE__POOL_ID": "grows",
            "DASK_VEGDASK__AZURE__LOW_PRIORITY": "true",
            "DASK_VEGDASK__AZURE__MAX_NODES": "3",
            # adapt asks for a worker per 10 ms of queued work (5 s by default), so for one a
            # ready task, checked every 0.1 s (1 s): on a quiet machine the tiny campaign's
            # work lasts about a second
            "DASK_DISTRIBUTED__ADAPTIVE__TARGET_DURATION": "10ms",
            "DASK_DISTRIBUTED__ADAPTIVE__INTERVAL": "100ms",
        }
        stop, targets = threading.Event(), []
        watcher = threading.Thread(
            target=largest_target, args=(shared_key_client(emu), "grows", stop, targets)
        )
        watcher.start()
        try:
            done = subprocess.run(
                [sys.executable, "-m", "vegdask.cli", "run", str(config), "--cluster",
                 "azure-batch", "--output", remote, "--no-progress"],
                env=env, capture_output=True, text=True, timeout=600,
            )  # fmt: skip
        finally:
            stop.set()
            watcher.join()
        assert done.returncode == 3, done.stderr[-3000:]
        assert "2 of 3 locations done, 1 failed: see campaign.json" in done.stdout
        assert done.stdout.count("dashboard http://") == 1  # one cluster for the campaign
        assert "Traceback" not in done.stderr
        assert 2 <= max(targets) <= 3  # grew from one node with the work, within max-nodes
        with pytest.raises(ResourceNotFoundError):  # released: the pool it created is deleted
            shared_key_client(emu).get_pool("grows")
        assert emu.pids() == []
    record = json.loads(fs.cat("campaign-grows/study/campaign.json"))
    assert [e["status"] for e in record["locations"].values()] == ["done", "done", "failed"]


def interrupted_campaign(campaign, seen):
    """Run ``campaign`` on Batch, interrupted as by Ctrl-C once its first location is done."""
    first = campaign.sites[0].output

    def interrupt(line):
        # the next line logged once location 00 is processed (done, or 04 starting after it)
        if read_manifest(first).get("stages", {}).get("process", {}).get("complete"):
            pool = client.cluster.batch_client.get_pool(client.cluster.pool_id)
            seen["target"] = pool.target_low_priority_nodes
            raise KeyboardInterrupt

    todo = campaign_to_compute(campaign)
    with campaign_client(campaign, todo) as client:
        seen["job_id"] = client.cluster.job_id
        run_campaign(campaign, client=client, progress=False, log=interrupt)


@pytest.mark.slow
def test_an_interrupted_campaign_gives_the_pool_back(azurite, monkeypatch, shared_key_client):
    """Ctrl-C mid-campaign: a pool the campaign found gets its targets back, no worker is left."""
    from azure.batch import models

    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    remote = "abfs://campaign-interrupted/study"
    campaign = validate_campaign(
        {**NO_ANALYSIS, "output": {"url": remote}, "cluster": {"kind": "azure-batch"}}
    )
    with BatchEmulator(allocation_delay=0.2) as emu, dask.config.set(batch_settings(emu, "found")):
        shared_key_client(emu).create_pool(
            models.BatchPoolCreateOptions(id="found", vm_size="Standard_A1_v2")
        )
        ensure_container(remote)
        seen = {}
        with pytest.raises(KeyboardInterrupt):
            interrupted_campaign(campaign, seen)
        assert seen["target"] >= 1  # the campaign's workers ran on the pool's nodes
        pool = shared_key_client(emu).get_pool("found")  # not deleted: it was not the campaign's
        assert (pool.target_dedicated_nodes, pool.target_low_priority_nodes) == (0, 0)
        assert {t.state for t in shared_key_client(emu).list_tasks(seen["job_id"])} == {"completed"}
        wait_until(lambda: emu.pids() == [], timeout=30)
