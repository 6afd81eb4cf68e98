"""`vegdask submit`: the whole job as one Batch task (emulator + Azurite), equal to a local run."""

import json
import sys

import dask
import pytest
import xarray as xr
from azure.storage.blob import BlobServiceClient
from distributed import Client, LocalCluster

from vegdask.cli import main
from vegdask.pipeline import load_config, read_manifest, run_job
from vegdask.testing import wait_until

JOB = (
    '[location]\nsize = 100\n[time]\nstart = "2016-01-01"\nend = "2016-04-01"\n'
    "[analysis]\nenabled = false\n"
)


@pytest.mark.slow
def test_submit_runs_the_whole_job_in_batch(
    batch_emulator, azurite, vegdask_wheel, tmp_path, monkeypatch, capsys, batch_environment,
    shared_key_client,
):  # fmt: skip
    emu = batch_emulator
    config = tmp_path / "job.toml"
    config.write_text(JOB)
    output = "abfs://runs-submit/site"
    for name, value in batch_environment(emu, azurite).items():
        monkeypatch.setenv(name, value)
    args = ["submit", str(config), "--output", output, "--workers", "1", "--pool", "submit-pool"]
    args += ["--python", sys.executable, "--wheel", str(vegdask_wheel), "--no-deps"]
    # the driver's node is up while its task runs: status shows the task, dashboard and logs
    assert main(args) == 0
    out = capsys.readouterr().out
    job_id = out.split("submitted job ")[1].split()[0]
    batch = shared_key_client(emu)
    wait_until(lambda: "dashboard" in (emu_log(batch, job_id) or ""), timeout=60)
    assert main(["batch", "status", "--job", job_id]) == 0
    status = capsys.readouterr().out
    assert "submitted: task driver running" in status
    assert f"output {output}" in status
    assert "dashboard: http://" in status
    assert f"logs: vegdask batch logs {job_id}" in status
    # the whole job runs in the task: minutes on a loaded 2-core machine, seconds alone
    wait_until(lambda: batch.get_task(job_id, "driver").state == "completed", timeout=400)
    driver = batch.get_task(job_id, "driver")
    assert driver.execution_info.exit_code == 0, main(["batch", "logs", job_id])

    # no secret in any task Batch shows: the driver's and its workers' (their own job)
    tasks = [t for j in batch.list_jobs() for t in batch.list_tasks(j.id)]
    assert len(tasks) >= 2
    assert any(f.file_path == "job.toml" for f in driver.resource_files)
    # the driver runs the wheel the pool's start task installed, as the workers do
    assert "vegdask-site" in driver.command_line
    (installed,) = batch.get_pool("submit-pool").start_task.resource_files
    assert installed.file_path == vegdask_wheel.name
    for task in tasks:
        shown = task.command_line + json.dumps(task.as_dict().get("environmentSettings"))
        for secret in (emu.account_key, azurite.account_key, azurite.connection_string, "sig="):
            assert secret not in shown

    # the pool is given back its size (0: submit created it), no process is left
    wait_until(lambda: not list(batch.list_nodes("submit-pool")), timeout=30)
    assert emu.pids() == []
    assert batch.get_pool("submit-pool").target_dedicated_nodes == 0

    # logs outlive the node: the driver copied them to storage; its secrets blob is gone
    assert main(["batch", "logs", job_id, "--file", "stdout.txt"]) == 0
    assert "done in" in capsys.readouterr().out
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    left = {b.name for b in service.get_container_client("vegdask-submit").list_blobs(job_id)}
    assert f"{job_id}/vegdask-secrets.env" not in left
    assert f"{job_id}/driver/stderr.txt" in left

    # the outputs equal a local run of the same config
    assert read_manifest(output)["stages"]["process"]["complete"]
    local = load_config(config)
    local["output"]["url"] = str(tmp_path / "local")
    with LocalCluster(n_workers=1, processes=False) as cluster, Client(cluster) as client:
        run_job(local, client=client, progress=False, log=lambda m: None)
    remote = azurite.open_zarr(f"{output}/tiles.zarr")
    here = xr.open_zarr(tmp_path / "local" / "tiles.zarr", consolidated=False)
    assert remote.sizes["time"] == 3
    xr.testing.assert_identical(remote.load(), here.load())


def emu_log(batch, job_id):
    from vegdask.cluster import task_log

    return task_log(batch, job_id, "driver")


def test_submit_refuses_a_local_output(tmp_path, capsys):
    assert main(["submit", "--output", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "give an abfs:// output" in err
    assert str(tmp_path) in err


def test_driver_script_as_text():
    from vegdask.cluster import driver_script

    script = driver_script(
        ["-m", "vegdask.cli", "run", "job 1.toml"],
        python="/opt/py/bin/python",
        job_id="vegdask-0a1b2c3d-submit",
        node_site=True,
        secrets=True,
        scheduler_host="10.0.0.4",
        modules=("vegdask",),
        pool_id="pool-1",
        restore=(2, 0),
    )
    lines = script.splitlines()
    assert lines[:4] == [
        "set -e",
        'export PYTHONPATH="$AZ_BATCH_NODE_SHARED_DIR/vegdask-site${PYTHONPATH:+:$PYTHONPATH}"',
        'f="$AZ_BATCH_TASK_WORKING_DIR/vegdask-secrets.env"; . "$f"; rm -f "$f"',
        "h=10.0.0.4 || true; export DASK_VEGDASK__AZURE__SCHEDULER_HOST=${h:-127.0.0.1}",
    ]
    assert lines[4] == "set +e"
    # the module check (a quoted Python program over several lines), then the command
    assert lines[5].startswith("/opt/py/bin/python -c 'import importlib.util, sys")
    assert script.count(" vegdask && /opt/py/bin/python -m vegdask.cli run 'job 1.toml'\n") == 1
    assert lines[-3:] == [
        "status=$?",
        "/opt/py/bin/python -c 'import azure.batch, azure.storage.blob' 2>/dev/null && "
        "/opt/py/bin/python -m vegdask.cluster._submit finish --drop vegdask-0a1b2c3d-submit "
        "--pool pool-1 --restore 2 0 || true",
        "exit $status",
    ]


def test_driver_script_runs_the_command_with_its_secrets_and_exits_with_its_status(tmp_path):
    import hashlib
    import shlex
    import subprocess

    from vegdask.cluster import driver_script

    secret = "it's a secret"
    digest = hashlib.sha256(secret.encode()).hexdigest()
    (tmp_path / "vegdask-secrets.env").write_text(f"export TOKEN={shlex.quote(secret)}\n")
    code = (
        "import hashlib, os, sys; print(os.environ['DASK_VEGDASK__AZURE__SCHEDULER_HOST']); "
        f"sys.exit(3 if hashlib.sha256(os.environ['TOKEN'].encode()).hexdigest() == '{digest}' "
        "else 5)"
    )
    script = driver_script(
        ["-c", code], python=sys.executable, job_id="j", secrets=True, modules=("json",)
    )
    assert secret not in script
    env = {"PATH": "/usr/bin:/bin", "AZ_BATCH_TASK_WORKING_DIR": str(tmp_path)}
    env["AZ_BATCH_TASK_DIR"] = str(tmp_path)  # no storage settings: the finish step is a no-op
    done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 3, done.stderr
    assert done.stdout.strip().count(".") == 3  # the node's first IP address (or 127.0.0.1)
    assert not (tmp_path / "vegdask-secrets.env").exists()  # sourced, then deleted


def test_submitted_secrets_reach_the_command_and_nothing_batch_shows(
    batch_emulator, azurite, monkeypatch, batch_environment, shared_key_client
):
    import hashlib

    from vegdask.cluster import submit_job

    emu = batch_emulator
    for name in ("AZURE_BATCH_URL", "AZURE_BATCH_ACCOUNT", "AZURE_BATCH_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    secret = "hunter2 'quoted' $HOME"
    digest = hashlib.sha256(secret.encode()).hexdigest()
    secrets = {"TOKEN": secret, **batch_environment(emu, azurite)}  # as vegdask submit's
    code = (
        "import hashlib, os, sys; "
        f"sys.exit(3 if hashlib.sha256(os.environ['TOKEN'].encode()).hexdigest() == '{digest}' "
        "else 5)"
    )
    job = submit_job(
        ["-c", code],
        files={"job.toml": b"[location]\n"},
        secrets=secrets,
        environment={"PLAIN": "shown"},
        batch_url=emu.url,
        account_name=emu.account_name,
        account_key=emu.account_key,
        storage_connection_string=azurite.connection_string,
        pool_id="secret-pool",
        python=sys.executable,
        modules=(),
        metadata={"output": "abfs://o/p"},
    )
    task = job.wait(timeout=120, poll=0.2)
    assert task.execution_info.exit_code == 3  # the command saw the secret
    batch = shared_key_client(emu)
    driver = batch.get_task(job.job_id, "driver")
    shown = driver.command_line + json.dumps(driver.as_dict().get("environmentSettings"))
    assert "PLAIN" in shown
    for value in ("hunter2", emu.account_key, azurite.account_key, "sig="):
        assert value not in shown
    # the rest Batch shows has the inputs' SAS URLs (read-only, expiring), not the secrets
    shown = json.dumps(driver.as_dict()) + json.dumps(batch.get_job(job.job_id).as_dict())
    assert "job.toml" in shown
    for value in ("hunter2", emu.account_key, azurite.account_key):
        assert value not in shown
    # the task deleted its secrets blob and gave the pool it created back its zero nodes
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    left = {b.name for b in service.get_container_client("vegdask-submit").list_blobs(job.job_id)}
    assert f"{job.job_id}/job.toml" in left
    assert f"{job.job_id}/vegdask-secrets.env" not in left
    wait_until(lambda: batch.get_pool("secret-pool").target_dedicated_nodes == 0, timeout=30)


def test_submit_sizes_the_pool_by_the_low_priority_setting_unless_told(
    batch_emulator, azurite, monkeypatch, capsys, batch_environment, shared_key_client
):
    """`vegdask submit` reads vegdask.azure.low-priority as the cluster does; the flag wins. The
    driver's workers get the same kind of node and VM size (the task's environment)."""
    emu = batch_emulator
    for name, value in batch_environment(emu, azurite).items():
        monkeypatch.setenv(name, value)
    batch = shared_key_client(emu)
    # an interpreter the node lacks: the task ends at once, its pool left as submit sized it
    args = ["submit", "--output", "abfs://runs-spot/site", "--python", "/no/such/python"]
    jobs = {}
    for pool, flag in (("spot", []), ("dedicated", ["--no-low-priority"])):
        with dask.config.set({"vegdask.azure.low-priority": True}):
            assert main([*args, "--pool", pool, "--vm-size", "Standard_A2_v2", *flag]) == 0
        jobs[pool] = capsys.readouterr().out.split("submitted job ")[1].split()[0]
    nodes = {
        pool: (batch.get_pool(pool).target_dedicated_nodes or 0,
               batch.get_pool(pool).target_low_priority_nodes or 0)
        for pool in jobs
    }  # fmt: skip
    assert nodes == {"spot": (0, 1), "dedicated": (1, 0)}
    for pool, job_id in jobs.items():
        driver = batch.get_task(job_id, "driver")
        environment = {s.name: s.value for s in driver.environment_settings}
        assert environment["DASK_VEGDASK__AZURE__LOW_PRIORITY"] == str(pool == "spot").lower()
        assert environment["DASK_VEGDASK__AZURE__VM_SIZE"] == "Standard_A2_v2"
        wait_until(lambda j=job_id: batch.get_task(j, "driver").state == "completed", timeout=60)
    wait_until(lambda: emu.pids() == [], timeout=30)
