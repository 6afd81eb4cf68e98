"""The Batch emulator, driven only through the real azure-batch client."""

import datetime as dt
import sys

import pytest
from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)

from vegdask.testing import BatchEmulator, process_alive, wait_until


@pytest.fixture
def emu():
    with BatchEmulator(allocation_delay=0.2) as service:
        yield service


@pytest.fixture
def client(emu):
    return BatchClient(emu.url, AzureNamedKeyCredential(emu.account_name, emu.account_key))


def make_pool(client, pool_id="p", dedicated=1, low=0, slots=1, start=None, job_id="j"):
    client.create_pool(
        m.BatchPoolCreateOptions(
            id=pool_id,
            vm_size="Standard_A1_v2",
            target_dedicated_nodes=dedicated,
            target_low_priority_nodes=low,
            task_slots_per_node=slots,
            start_task=start,
        )
    )
    pool_info = m.BatchPoolInfo(pool_id=pool_id)
    client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=pool_info))


def task(task_id, command, **kw):
    return m.BatchTaskCreateOptions(id=task_id, command_line=command, **kw)


def state(client, tid, job_id="j"):
    return client.get_task(job_id, tid).state


def scheduling_passes(client, probe):
    """Return once the emulator's loop has run whole passes since the call: a probe task, queued
    after every task already there, was started on a pool of its own and then reaped. Each pass
    steps every node, then considers every queued task in order: what did not change in them was
    left as it was, not merely not reached yet."""
    make_pool(client, pool_id=probe, job_id=probe)
    client.create_task(probe, task("probe", "true"))
    wait_until(lambda: state(client, "probe", probe) == "completed")


def test_wrong_key_is_refused_with_batch_error(emu):
    bad = BatchClient(emu.url, AzureNamedKeyCredential(emu.account_name, "d3Jvbmc="))
    with pytest.raises(HttpResponseError) as err:
        list(bad.list_pools())
    assert err.value.status_code == 403
    assert err.value.error.code == "AuthenticationFailed"


def test_not_found_and_exists(client):
    with pytest.raises(ResourceNotFoundError):
        client.get_pool("nope")
    make_pool(client)
    with pytest.raises(ResourceExistsError):
        make_pool(client)


def test_task_runs_with_batch_environment_and_files(client):
    make_pool(client)
    env = [m.EnvironmentSetting(name="GREETING", value="hi")]
    cmd = 'echo "$GREETING $AZ_BATCH_TASK_ID $AZ_BATCH_JOB_ID $AZ_BATCH_POOL_ID"; pwd; echo e >&2'
    client.create_task("j", task("t1", cmd, environment_settings=env))
    wait_until(lambda: state(client, "t1") == "completed")
    t = client.get_task("j", "t1")
    assert t.execution_info.exit_code == 0
    assert t.execution_info.result == "success"
    out = b"".join(client.download_task_file("j", "t1", "stdout.txt")).decode().splitlines()
    assert out[0] == "hi t1 j p"
    assert out[1].endswith("/t1/wd")
    assert b"".join(client.download_task_file("j", "t1", "stderr.txt")) == b"e\n"
    counts = client.get_job_task_counts("j")
    assert counts.task_counts.succeeded == 1
    assert counts.task_counts.failed == 0


def test_task_resource_files_are_fetched_before_the_command_runs(client, tmp_path):
    make_pool(client)
    (tmp_path / "job.toml").write_text("answer = 42\n")
    files = [m.ResourceFile(http_url=(tmp_path / "job.toml").as_uri(), file_path="in/job.toml")]
    client.create_task("j", task("t1", "cat in/job.toml", resource_files=files))
    missing = [m.ResourceFile(http_url=(tmp_path / "nope").as_uri(), file_path="x")]
    client.create_task("j", task("t2", "echo never", resource_files=missing))
    wait_until(lambda: {state(client, "t1"), state(client, "t2")} == {"completed"})
    assert b"".join(client.download_task_file("j", "t1", "stdout.txt")) == b"answer = 42\n"
    failed = client.get_task("j", "t2").execution_info
    assert failed.result == "failure"
    assert failed.failure_info.code == "ResourceFileDownloadFailed"


def test_slots_limit_concurrency_and_filters(client):
    make_pool(client, dedicated=1, slots=2)
    group = m.BatchTaskGroup(task_values=[task(f"t{i}", "sleep 30") for i in range(3)])
    result = client.create_task_collection("j", group)
    assert sorted(r.status for r in result.result_values) == ["success"] * 3
    wait_until(lambda: len(list(client.list_tasks("j", filter="state eq 'running'"))) == 2)
    scheduling_passes(client, "probe")  # t2 was considered with both slots busy
    assert len(list(client.list_tasks("j", filter="state eq 'running'"))) == 2
    assert [t.id for t in client.list_tasks("j", filter="state eq 'active'")] == ["t2"]
    client.terminate_task("j", "t0")
    wait_until(lambda: state(client, "t2") == "running")
    assert client.get_task("j", "t0").execution_info.result == "failure"


def test_start_task_runs_once_per_node_before_tasks(client, tmp_path):
    log = tmp_path / "log"
    start = m.BatchStartTask(
        command_line=f"sleep 0.3; echo start $AZ_BATCH_NODE_ID >> {log}", wait_for_success=True
    )
    make_pool(client, dedicated=2, start=start)
    for i in range(4):
        client.create_task("j", task(f"t{i}", f"echo task $AZ_BATCH_NODE_ID >> {log}"))
    wait_until(lambda: all(state(client, f"t{i}") == "completed" for i in range(4)))
    lines = log.read_text().splitlines()
    starts = [line for line in lines if line.startswith("start")]
    assert len(starts) == 2
    assert len(set(starts)) == 2
    for node in {line.split()[1] for line in lines if line.startswith("task")}:
        assert lines.index(f"start {node}") < lines.index(f"task {node}")


def test_retries_and_wall_clock(client):
    make_pool(client, dedicated=1, slots=2)
    client.create_task(
        "j", task("fail", "exit 3", constraints=m.BatchTaskConstraints(max_task_retry_count=2))
    )
    limit = m.BatchTaskConstraints(max_wall_clock_time=dt.timedelta(seconds=0.5))
    client.create_task("j", task("slow", "sleep 30", constraints=limit))
    wait_until(
        lambda: state(client, "fail") == "completed" and state(client, "slow") == "completed"
    )
    fail = client.get_task("j", "fail").execution_info
    assert (fail.exit_code, fail.retry_count, fail.result) == (3, 2, "failure")
    slow = client.get_task("j", "slow").execution_info
    assert slow.failure_info.code == "MaxWallClockTimeExceeded"


def test_resize_allocation_delay_and_shrink(client):
    make_pool(client, dedicated=0)
    client.begin_resize_pool(
        "p", m.BatchPoolResizeOptions(target_dedicated_nodes=1, target_low_priority_nodes=2)
    )
    assert client.get_pool("p").allocation_state == "resizing"
    wait_until(lambda: client.get_pool("p").allocation_state == "steady")
    pool = client.get_pool("p")
    assert (pool.current_dedicated_nodes, pool.current_low_priority_nodes) == (1, 2)
    client.create_task("j", task("t", "sleep 30"))
    wait_until(lambda: state(client, "t") == "running")
    client.begin_resize_pool(
        "p",
        m.BatchPoolResizeOptions(
            target_dedicated_nodes=0,
            target_low_priority_nodes=0,
            node_deallocation_option="taskcompletion",
        ),
    )
    wait_until(lambda: len(list(client.list_nodes("p"))) == 1)
    scheduling_passes(client, "probe")  # the busy node was stepped again and kept its task
    assert len(list(client.list_nodes("p"))) == 1
    assert state(client, "t") == "running"
    client.terminate_task("j", "t")
    wait_until(lambda: not list(client.list_nodes("p")))


def test_preemption_requeues_running_tasks(emu, client):
    make_pool(client, dedicated=0, low=1)
    client.create_task("j", task("t", "sleep 30"))
    wait_until(lambda: state(client, "t") == "running")
    pid = emu.pids()[0]
    node = client.get_task("j", "t").node_info.node_id
    assert emu.preempt("p") == node
    t = client.get_task("j", "t")
    assert t.state == "active"
    assert t.execution_info.requeue_count == 1
    assert not process_alive(pid)
    wait_until(lambda: state(client, "t") == "running")
    assert client.get_task("j", "t").node_info.node_id != node


def test_terminate_job_and_delete_pool_and_no_orphans(client, emu, tmp_path):
    make_pool(client, dedicated=1, slots=2)
    # a task whose shell starts a background child: the whole process group must die
    client.create_task("j", task("t", f"sleep 60 & echo $! > {tmp_path}/child; wait"))
    client.create_task("j", task("u", "sleep 60"))
    wait_until(lambda: (tmp_path / "child").exists() and (tmp_path / "child").read_text().strip())
    child = int((tmp_path / "child").read_text())
    shells = emu.pids()
    client.begin_terminate_job("j", {"terminateReason": "done"})
    assert client.get_job("j").state == "completed"
    assert {state(client, t) for t in "tu"} == {"completed"}
    assert not process_alive(child)
    assert not any(process_alive(p) for p in shells)
    client.begin_delete_pool("p")
    with pytest.raises(ResourceNotFoundError):
        client.get_pool("p")


def test_stop_kills_everything():
    with BatchEmulator() as emu:
        client = BatchClient(emu.url, AzureNamedKeyCredential(emu.account_name, emu.account_key))
        make_pool(client, dedicated=1, slots=3)
        for i in range(3):
            client.create_task(
                "j", task(f"t{i}", f"{sys.executable} -c 'import time; time.sleep(60)'")
            )
        wait_until(lambda: len(emu.pids()) == 3)
        pids = emu.pids()
    assert not any(process_alive(p) for p in pids)
