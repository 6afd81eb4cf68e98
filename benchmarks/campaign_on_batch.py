"""The demo campaign on the Batch emulator with a node preempted, against a local run of it.

    .venv/bin/python benchmarks/campaign_on_batch.py                 # the 8-location demo campaign
    .venv/bin/python benchmarks/campaign_on_batch.py --locations 2   # its first 2 locations

Runs ``vegdask config demo --campaign`` (or its first ``--locations``) locally on 2 workers,
then on the Batch emulator (Azurite for the output) through ``campaign_client`` with
low-priority nodes (``vegdask.azure.max-nodes``, default 2), preempting the busiest node as soon
as a task runs, then reruns it (nothing left to compute). Prints the wall times, the pool's
largest size, the requeued worker tasks and the differences between the two campaigns' tables
(:func:`vegdask.testing.table_differences`: none expected). Needs Azurite (``make
.azurite/node_modules/.bin/azurite-blob``; ``VEGDASK_AZURITE`` pointing at it).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import os
import sys
import tempfile
import threading
import time

import dask
from azure.batch import BatchClient
from azure.core.credentials import AzureNamedKeyCredential

from vegdask.data.storage import ensure_container
from vegdask.pipeline import (
    DEMO_CAMPAIGN,
    campaign_client,
    campaign_to_compute,
    job_client,
    run_campaign,
    validate_campaign,
)
from vegdask.testing import Azurite, BatchEmulator, campaign_tables, table_differences


def _campaign(locations: int, output: str, kind: str) -> object:
    raw = copy.deepcopy(DEMO_CAMPAIGN)
    raw["campaign"]["locations"] = raw["campaign"]["locations"][:locations]
    raw["output"] = {"url": output}
    raw["cluster"] = {**raw["cluster"], "kind": kind}
    return validate_campaign(raw)


def _local(locations: int, output: str) -> float:
    campaign = _campaign(locations, output, "local")
    started = time.perf_counter()
    with job_client("local", 2, output) as client:
        run_campaign(campaign, client=client, progress=False, log=lambda m: None)
    return time.perf_counter() - started


def _on_batch(locations: int, output: str, emu: BatchEmulator, max_nodes: int) -> dict:
    settings = {
        "vegdask.azure.batch-url": emu.url,
        "vegdask.azure.account-name": emu.account_name,
        "vegdask.azure.account-key": emu.account_key,
        "vegdask.azure.pool-id": "campaign",
        "vegdask.azure.worker-python": sys.executable,
        "vegdask.azure.low-priority": True,
        "vegdask.azure.max-nodes": max_nodes,
    }
    batch = BatchClient(emu.url, AzureNamedKeyCredential(emu.account_name, emu.account_key))
    campaign = _campaign(locations, output, "azure-batch")
    ensure_container(output)
    found: dict = {"targets": [0]}
    stop = threading.Event()
    with dask.config.set(settings):
        todo = campaign_to_compute(campaign)
        started = time.perf_counter()
        with campaign_client(campaign, todo) as client:
            found["job"] = client.cluster.job_id

            def watch() -> None:  # preempt once a task runs; note the pool's size meanwhile
                while not stop.wait(0.1):
                    with contextlib.suppress(Exception):
                        pool = batch.get_pool("campaign")
                        found["targets"].append(pool.target_low_priority_nodes or 0)
                    if "preempted" not in found and any(client.processing().values()):
                        found["preempted"] = emu.preempt("campaign")
                        found["preempted_after"] = time.perf_counter() - started

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            try:
                record = run_campaign(campaign, client=client, progress=False, log=lambda m: None)
            finally:
                stop.set()
                watcher.join()
        found["seconds"] = time.perf_counter() - started
        found["requeued"] = sum(
            bool(t.execution_info.requeue_count) for t in batch.list_tasks(found["job"])
        )
        found["statuses"] = [e["status"] for e in record["locations"].values()]
        started = time.perf_counter()
        again = run_campaign(campaign, client=None, progress=False, log=lambda m: None)
        found["rerun_seconds"] = time.perf_counter() - started
        found["rerun_statuses"] = [e["status"] for e in again["locations"].values()]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locations", type=int, default=8, help="the demo's first N locations")
    parser.add_argument("--max-nodes", type=int, default=2, help="vegdask.azure.max-nodes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, Azurite() as azurite:
        os.environ["AZURE_STORAGE_CONNECTION_STRING"] = azurite.connection_string
        local = os.path.join(folder, "local")
        seconds = _local(args.locations, local)
        print(
            f"local campaign ({args.locations} locations, 2 workers): {seconds:.1f} s", flush=True
        )
        remote = "abfs://campaign-on-batch/demo"
        with BatchEmulator(allocation_delay=0.5) as emu:
            found = _on_batch(args.locations, remote, emu, args.max_nodes)
        print(
            f"on the Batch emulator: {found['seconds']:.1f} s, statuses {found['statuses']}, "
            f"pool up to {max(found['targets'])} nodes (max-nodes {args.max_nodes}), node "
            f"{found.get('preempted')} preempted after {found.get('preempted_after', 0):.1f} s, "
            f"{found['requeued']} worker task(s) requeued"
        )
        print(f"rerun: {found['rerun_seconds']:.1f} s, statuses {found['rerun_statuses']}")
        differences = table_differences(campaign_tables(remote), campaign_tables(local))
        compared = len(campaign_tables(local))
        print(f"tables compared: {compared}; differences: {len(differences)}")
        for line in differences[:20]:
            print(f"  {line}")


if __name__ == "__main__":
    main()
