"""`vegdask submit`: the whole job as one Batch task (emulator + Azurite), equal to a local run."""

import json
import sys

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
    options = {"connection_string": azurite.connection_string, "use_listings_cache": False}
    remote = xr.open_zarr(f"{output}/tiles.zarr", storage_options=options, consolidated=False)
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
