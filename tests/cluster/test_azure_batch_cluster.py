"""AzureBatchCluster end to end: Batch emulator, real Dask scheduler, workers as Batch tasks."""

import json
import os
import sys

import dask.array as da
import numpy as np
import pytest
from azure.core.exceptions import ResourceNotFoundError
from distributed import Client, futures_of

from vegdask.cluster import AzureBatchCluster
from vegdask.kernels import tile_feature_vectors
from vegdask.testing import BatchEmulator, process_alive, wait_until


def feature_vectors(size):
    """Per-tile feature vectors of a random mask: ~0.15 s per 500x500 chunk."""
    mask = da.random.RandomState(0).random((size, size), chunks=500) > 0.5
    tiles = ((10,) * (size // 500),) * 2 + ((20,),)
    return mask.map_blocks(tile_feature_vectors, new_axis=2, chunks=tiles, dtype="f8")


@pytest.fixture
def emu():
    with BatchEmulator(allocation_delay=0.3) as service:
        yield service


@pytest.mark.slow
def test_scale_compute_preempt_and_clean_up(emu, shared_key_client, batch_workers):
    client_b = shared_key_client(emu)
    with batch_workers(emu, "pool", 2, low_priority=True) as (cluster, client):
        pool = client_b.get_pool("pool")
        assert pool.target_low_priority_nodes == 2
        # each worker is a Batch task on its own node
        where = client.run(lambda: (os.environ["AZ_BATCH_TASK_ID"], os.environ["AZ_BATCH_NODE_ID"]))
        task_ids = {task for task, _ in where.values()}
        assert len(task_ids) == 2
        assert len({node for _, node in where.values()}) == 2
        running = {t.id for t in client_b.list_tasks(cluster.job_id, filter="state eq 'running'")}
        assert running == task_ids
        # no secret in what Batch received
        for task in client_b.list_tasks(cluster.job_id):
            text = json.dumps(task.as_dict())
            assert emu.account_key not in text
        spec = cluster.task_spec()
        assert emu.account_key not in json.dumps(spec)
        assert "distributed.cli.dask_worker" in spec["commandLine"]
        worker_pids = set(client.run(os.getpid).values()) | set(emu.pids())

        # a computation gives the local result
        fv = feature_vectors(3000)
        expected = fv.compute(scheduler="sync")
        np.testing.assert_array_equal(fv.compute(), expected)

        # preempt a node mid-computation: same results, the task was requeued
        persisted = client.persist(feature_vectors(3000).sum(axis=2) + 1.0)
        futures = futures_of(persisted)
        wait_until(lambda: sum(f.done() for f in futures) >= 3)
        assert not all(f.done() for f in futures)
        emu.preempt("pool")
        np.testing.assert_array_equal(persisted.compute(), expected.sum(axis=2) + 1.0)
        requeued = [
            t for t in client_b.list_tasks(cluster.job_id) if t.execution_info.requeue_count
        ]
        assert len(requeued) == 1
        client.wait_for_workers(2, timeout=60)
        assert len(client.scheduler_info()["workers"]) == 2
        worker_pids |= set(client.run(os.getpid).values()) | set(emu.pids())
        logs = cluster.logs()
        assert any(key.endswith("stderr.txt") and "Registered to" in v for key, v in logs.items())
        job_id = cluster.job_id
    # cleanup: every task completed, job terminated, created pool deleted, no process left
    assert {t.state for t in client_b.list_tasks(job_id)} == {"completed"}
    assert client_b.get_job(job_id).state == "completed"
    with pytest.raises(ResourceNotFoundError):
        client_b.get_pool("pool")
    wait_until(lambda: not any(process_alive(p) for p in worker_pids), timeout=10)


@pytest.mark.slow
def test_lost_worker_replaced_and_foreign_pool_kept(emu, shared_key_client, batch_workers):
    from azure.batch import models

    client_b = shared_key_client(emu)
    client_b.create_pool(
        models.BatchPoolCreateOptions(
            id="shared", vm_size="Standard_A2_v2", target_dedicated_nodes=0, task_slots_per_node=2
        )
    )
    with batch_workers(emu, "shared", 2, slots_per_node=2, max_nodes=1) as (cluster, client):
        assert client_b.get_pool("shared").target_dedicated_nodes == 1
        victim = next(iter(cluster.workers.values())).task_id
        client_b.terminate_task(cluster.job_id, victim)
        wait_until(lambda: len(list(client_b.list_tasks(cluster.job_id))) == 3)
        client.wait_for_workers(2, timeout=60)
        running = list(client_b.list_tasks(cluster.job_id, filter="state eq 'running'"))
        assert len(running) == 2
        assert victim not in {t.id for t in running}
        cluster.scale(0)
        wait_until(lambda: not client.scheduler_info()["workers"])
        wait_until(lambda: client_b.get_pool("shared").target_dedicated_nodes == 0)
    # a pool the cluster did not create is never deleted
    assert client_b.get_pool("shared").id == "shared"


@pytest.mark.slow
def test_start_task_installs_the_client_wheel_from_a_read_only_sas(
    emu, azurite, vegdask_wheel, shared_key_client, batch_workers
):
    from vegdask import __version__

    client_b = shared_key_client(emu)
    with batch_workers(
        emu,
        "software",
        1,
        wheel=vegdask_wheel,
        storage_connection_string=azurite.connection_string,
        install_dependencies=False,
    ) as (cluster, client):

        def where():
            import vegdask

            return vegdask.__file__, vegdask.__version__, os.environ["AZ_BATCH_NODE_SHARED_DIR"]

        ((path, version, shared),) = client.run(where).values()
        assert path.startswith(os.path.join(shared, "vegdask-site", "vegdask"))
        assert version == __version__
        start = client_b.get_pool("software").start_task
        (resource,) = start.resource_files
        assert resource.http_url.startswith(azurite.blob_endpoint)
        assert "sp=r&" in resource.http_url
        assert "se=" in resource.http_url
        # no secret in what Batch shows to account users: command lines and environment
        shown = [start.command_line, json.dumps(start.as_dict().get("environmentSettings"))]
        for task in client_b.list_tasks(cluster.job_id):
            shown += [task.command_line, json.dumps(task.as_dict().get("environmentSettings"))]
        for text in shown:
            assert "sig=" not in text
            assert azurite.account_key not in text
            assert emu.account_key not in text


def test_wheel_of_another_version_is_refused(tmp_path):
    other = tmp_path / "vegdask-0.0.1-py3-none-any.whl"
    other.write_bytes(b"")
    with pytest.raises(ValueError, match="exactly the client's version"):
        AzureBatchCluster("http://127.0.0.1:1", "a", "a2V5", "p", wheel=other)


@pytest.mark.slow
def test_adapt_grows_and_shrinks_workers_and_pool(emu, shared_key_client):
    client_b = shared_key_client(emu)
    with (
        AzureBatchCluster(
            emu.url, emu.account_name, emu.account_key, "adaptive", worker_python=sys.executable
        ) as cluster,
        Client(cluster),
    ):
        cluster.adapt(minimum=0, maximum=2, interval="200ms", wait_count=3)
        fv = feature_vectors(2000)
        np.testing.assert_array_equal(fv.compute(), fv.compute(scheduler="sync"))
        # the work ran on workers adapt started as Batch tasks, on nodes the pool grew for
        tasks = list(client_b.list_tasks(cluster.job_id))
        assert tasks
        assert all(t.node_info is not None for t in tasks)
        wait_until(lambda: not cluster.workers, timeout=60)
        wait_until(lambda: client_b.get_pool("adaptive").target_dedicated_nodes == 0, timeout=30)
        wait_until(lambda: not list(client_b.list_nodes("adaptive")), timeout=30)
        assert not list(client_b.list_tasks(cluster.job_id, filter="state eq 'running'"))


def fail_inside_cluster(batch_workers, emu, seen):
    with batch_workers(emu, "boom", 1) as (cluster, _client):
        seen.update(pids=set(emu.pids()), job_id=cluster.job_id)
        raise ZeroDivisionError("the user's code fails")


@pytest.mark.slow
def test_exception_inside_with_still_cleans_up(emu, shared_key_client, batch_workers):
    client_b = shared_key_client(emu)
    seen = {}
    with pytest.raises(ZeroDivisionError):
        fail_inside_cluster(batch_workers, emu, seen)
    assert client_b.get_job(seen["job_id"]).state == "completed"
    assert {t.state for t in client_b.list_tasks(seen["job_id"])} == {"completed"}
    with pytest.raises(ResourceNotFoundError):
        client_b.get_pool("boom")
    wait_until(lambda: not any(process_alive(p) for p in seen["pids"]), timeout=10)


_LEFT_OPEN = """
import sys
from distributed import Client
from vegdask.cluster import AzureBatchCluster

url, name, key = sys.argv[1:4]
cluster = AzureBatchCluster(url, name, key, "left-open", worker_python=sys.executable)
client = Client(cluster)
cluster.scale(1)
client.wait_for_workers(1, timeout=60)
print(cluster.job_id, flush=True)
# no close(): the interpreter exits with the cluster still open
"""


@pytest.mark.slow
def test_interpreter_exit_cleans_up_an_open_cluster(emu, tmp_path, shared_key_client):
    import subprocess

    script = tmp_path / "left_open.py"
    script.write_text(_LEFT_OPEN)
    done = subprocess.run(
        [sys.executable, str(script), emu.url, emu.account_name, emu.account_key],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    job_id = done.stdout.split()[-1]
    client_b = shared_key_client(emu)
    assert client_b.get_job(job_id).state == "completed"
    assert {t.state for t in client_b.list_tasks(job_id)} == {"completed"}
    with pytest.raises(ResourceNotFoundError):
        client_b.get_pool("left-open")  # created by the cluster, so deleted at exit
