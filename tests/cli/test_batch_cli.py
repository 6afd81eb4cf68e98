"""vegdask batch-emulator (and its preempt) and batch status, through the command line."""

import signal
import subprocess
import sys

import pytest
from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.credentials import AzureNamedKeyCredential

from vegdask.cli import main
from vegdask.testing import process_alive, wait_until


def serve(monkeypatch, *flags, exports=3):
    """``vegdask batch-emulator`` as a real process; its exports put into the environment."""
    cmd = [sys.executable, "-c", "import sys; from vegdask.cli import main; sys.exit(main())"]
    args = ["batch-emulator", "--port", "0", "--allocation-delay", "0", *flags]
    proc = subprocess.Popen([*cmd, *args], stdout=subprocess.PIPE, text=True)
    env = {}
    for _ in range(exports):
        name, value = proc.stdout.readline().removeprefix("export ").strip().split("=", 1)
        env[name] = value
        monkeypatch.setenv(name, value)
    return proc, env


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)


@pytest.fixture
def served(monkeypatch):
    proc, env = serve(monkeypatch)
    yield proc, env
    stop(proc)


def test_managed_identity_mode_needs_no_key(monkeypatch):
    from vegdask.cluster import batch_client

    for name in ("AZURE_BATCH_KEY", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID"):
        monkeypatch.delenv(name, raising=False)
    proc, env = serve(monkeypatch, "--managed-identity", exports=5)
    try:
        assert "AZURE_BATCH_KEY" not in env
        assert env["AZURE_BATCH_URL"].startswith("https://127.0.0.1:")
        assert {"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "REQUESTS_CA_BUNDLE"} <= env.keys()
        assert list(batch_client().list_pools()) == []  # authenticated with a bearer token
    finally:
        stop(proc)


def test_status_preempt_and_no_orphans_after_interrupt(served, capsys, tmp_path):
    proc, env = served
    client = BatchClient(
        env["AZURE_BATCH_URL"],
        AzureNamedKeyCredential(env["AZURE_BATCH_ACCOUNT"], env["AZURE_BATCH_KEY"]),
    )
    client.create_pool(m.BatchPoolCreateOptions(id="p", vm_size="x", target_low_priority_nodes=1))
    job = m.BatchJobCreateOptions(id="vegdask-t-job", pool_info=m.BatchPoolInfo(pool_id="p"))
    client.create_job(job)
    pidfile = tmp_path / "pid"
    command = f"sh -c 'echo $$ > {pidfile}; exec sleep 60'"
    client.create_task("vegdask-t-job", m.BatchTaskCreateOptions(id="w", command_line=command))
    wait_until(lambda: client.get_task("vegdask-t-job", "w").state == "running")
    wait_until(lambda: pidfile.exists() and pidfile.read_text().strip())
    assert main(["batch", "status", "--job", "vegdask-t-job"]) == 0
    out = capsys.readouterr().out
    assert "pool p: active" in out
    assert "job vegdask-t-job (active) on p: active 0, running 1" in out
    assert "task w: running" in out
    assert main(["batch-emulator", "preempt", "p"]) == 0
    assert capsys.readouterr().out.startswith("preempted node ")
    assert client.get_task("vegdask-t-job", "w").execution_info.requeue_count == 1
    assert main(["batch-emulator", "preempt", "nope"]) == 2
    assert "PoolNotFound" in capsys.readouterr().err
    wait_until(lambda: client.get_task("vegdask-t-job", "w").state == "running")
    wait_until(lambda: pidfile.read_text().strip() and process_alive(int(pidfile.read_text())))
    pid = int(pidfile.read_text())
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 0
    assert not process_alive(pid)


def test_status_without_account_is_a_clear_error(monkeypatch, capsys):
    for name in ("AZURE_BATCH_URL", "AZURE_BATCH_ACCOUNT", "AZURE_BATCH_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert main(["batch", "status"]) == 2
    assert "no Batch account URL" in capsys.readouterr().err


def test_status_tells_workers_stopped_on_request_from_failed_ones(served, capsys):
    # A closing cluster terminates its worker tasks: Batch then reports them as failed
    # (TaskEnded), like a worker that crashed. Status counts them apart.
    _proc, env = served
    client = BatchClient(
        env["AZURE_BATCH_URL"],
        AzureNamedKeyCredential(env["AZURE_BATCH_ACCOUNT"], env["AZURE_BATCH_KEY"]),
    )
    client.create_pool(m.BatchPoolCreateOptions(id="p", vm_size="x", target_dedicated_nodes=1))
    job = m.BatchJobCreateOptions(id="vegdask-s-job", pool_info=m.BatchPoolInfo(pool_id="p"))
    client.create_job(job)
    for task_id, command in (("ok", "true"), ("crashed", "sh -c 'exit 3'"), ("worker", "sleep 60")):
        client.create_task(
            "vegdask-s-job", m.BatchTaskCreateOptions(id=task_id, command_line=command)
        )
    wait_until(lambda: client.get_task("vegdask-s-job", "worker").state == "running", timeout=30)
    client.terminate_task("vegdask-s-job", "worker")  # as AzureBatchCluster.close() does
    done = {"ok", "crashed", "worker"}
    wait_until(
        lambda: (
            {t.id for t in client.list_tasks("vegdask-s-job") if t.state == "completed"} == done
        ),
        timeout=30,
    )
    assert client.get_job_task_counts("vegdask-s-job").task_counts.failed == 2  # Batch's own view
    assert main(["batch", "status", "--job", "vegdask-s-job"]) == 0
    out = capsys.readouterr().out
    assert "running 0, succeeded 1, stopped 1, failed 1" in out
    assert "task ok: succeeded" in out
    assert "task crashed: failed" in out
    assert "task worker: stopped" in out


def test_status_of_an_empty_account_says_so(served, capsys):
    _, env = served
    assert main(["batch", "status"]) == 0
    assert capsys.readouterr().out == "no pools and no vegdask jobs in this Batch account\n"
    client = BatchClient(
        env["AZURE_BATCH_URL"],
        AzureNamedKeyCredential(env["AZURE_BATCH_ACCOUNT"], env["AZURE_BATCH_KEY"]),
    )
    client.create_pool(m.BatchPoolCreateOptions(id="idle", vm_size="Standard_A1_v2"))
    assert main(["batch", "status"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("pool idle: ")
    assert out[1:] == ["no vegdask jobs in this Batch account"]
    assert main(["batch", "status", "--job", "vegdask-nope"]) == 2
    assert capsys.readouterr().err == (
        "vegdask batch: error: no vegdask job vegdask-nope in this Batch account; "
        "vegdask batch status lists them\n"
    )
