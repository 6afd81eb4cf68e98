"""`vegdask run --cluster azure-batch` whose workers cannot start stops with one line naming why.

The emulator runs each worker task with the configured worker Python: here a real interpreter
without ``distributed`` (a fresh virtual environment), as a node image without vegdask would be.
"""

import os
import subprocess
import sys
import venv

import pytest

from vegdask.testing import BatchEmulator


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory):
    """An interpreter with the standard library only (no distributed, no vegdask)."""
    where = tmp_path_factory.mktemp("bare")
    venv.EnvBuilder(with_pip=False).create(where)
    python = where / "bin" / "python"
    done = subprocess.run([python, "-c", "import distributed"], capture_output=True)
    assert done.returncode == 1
    return str(python)


@pytest.mark.slow
def test_workers_without_distributed_stop_the_run_with_their_missing_module(
    azurite, tmp_path, bare_python, batch_environment
):
    config = tmp_path / "job.toml"
    config.write_text('[location]\nsize = 100\n[time]\nstart = "2016-01-01"\nend = "2016-03-01"\n')
    with BatchEmulator(allocation_delay=0.2) as emu:
        env = {
            **os.environ,
            **batch_environment(emu, azurite),
            "DASK_VEGDASK__AZURE__WORKER_PYTHON": bare_python,
            "DASK_VEGDASK__CLUSTER__MAX_WORKER_LOSSES": "3",
        }
        done = subprocess.run(
            [sys.executable, "-m", "vegdask.cli", "run", str(config), "--cluster", "azure-batch",
             "--workers", "1", "--output", "abfs://runs-liveness/site", "--no-progress"],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert emu.pids() == []  # the cluster closed: no task process left behind
    assert done.returncode == 2, done.stderr[-3000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(
        "vegdask run: error: 3 Dask workers were lost in a row without finishing a task (last: "
        "Batch task vegdask-"
    ), lines[0]
    assert f"the Python on this node ({bare_python}) lacks distributed, vegdask, adlfs" in lines[0]


@pytest.mark.slow
def test_a_submitted_driver_whose_python_lacks_vegdask_says_so_and_the_pool_is_given_back(
    azurite, tmp_path, bare_python, monkeypatch, capsys, batch_environment, shared_key_client
):
    from vegdask.cli import main

    config = tmp_path / "job.toml"
    config.write_text('[location]\nsize = 100\n[time]\nstart = "2016-01-01"\nend = "2016-03-01"\n')
    with BatchEmulator(allocation_delay=0.2) as emu:
        for name, value in batch_environment(emu, azurite).items():
            monkeypatch.setenv(name, value)
        args = ["submit", str(config), "--output", "abfs://runs-bare/site", "--workers", "1"]
        code = main([*args, "--pool", "bare-pool", "--python", bare_python, "--wait"])
        out, err = capsys.readouterr()
        assert code == 1
        assert "task driver: failure, exit code 1" in out
        assert err.strip().splitlines() == [
            f"vegdask submit: the driver's last line: the Python on this node ({bare_python}) "
            "lacks distributed, vegdask, adlfs, azure.batch, azure.storage.blob: give vegdask a "
            "wheel to install (wheel=, vegdask submit --wheel) or set vegdask.azure.worker-python "
            "(DASK_VEGDASK__AZURE__WORKER_PYTHON) to an interpreter that has vegdask[azure]"
        ]
        # the driver's own last step (which needs the Azure SDK) could not run: the client
        # gave the pool it created back its zero nodes
        batch = shared_key_client(emu)
        assert batch.get_pool("bare-pool").target_dedicated_nodes == 0


@pytest.mark.slow
def test_a_pool_whose_start_task_fails_stops_the_watch_naming_the_node(
    azurite, bare_python, vegdask_wheel
):
    # the start task installs the wheel with the nodes' Python: here one without pip
    from distributed import Client

    from vegdask.cluster import AzureBatchCluster, WorkersLostError, watch_workers

    with BatchEmulator(allocation_delay=0.2) as emu:
        cluster = AzureBatchCluster(
            emu.url, emu.account_name, emu.account_key, "failing-start-pool",
            worker_python=bare_python, wheel=vegdask_wheel,
            storage_connection_string=azurite.connection_string,
        )  # fmt: skip
        with cluster, Client(cluster) as client:
            cluster.scale(1)
            with (
                pytest.raises(WorkersLostError) as lost,
                watch_workers(cluster, no_worker_timeout=5),
            ):
                client.submit(sum, [1, 2]).result(timeout=120)  # the watchdog's error first
    message = str(lost.value)
    assert message.startswith("no Dask worker was alive for 5 s (last: the pool's start task ")
    assert "failed on node " in message
