"""docs/azure.md's offline Batch routes as written: submit --wheel, run --cluster azure-batch."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vegdask.pipeline import read_manifest
from vegdask.testing import BatchEmulator, wait_until

ROOT = Path(__file__).resolve().parents[2]
JOB = (
    '[location]\nsize = 100\n[time]\nstart = "2016-01-01"\nend = "2016-03-01"\n'
    "[analysis]\nenabled = false\n"
)


def documented_block() -> list[str]:
    """The commands of the console block under "Trying `vegdask submit` ... offline"."""
    text = (ROOT / "docs" / "azure.md").read_text()
    section = text.split(
        "**Trying `vegdask submit` and `vegdask run --cluster azure-batch` offline.**"
    )[1]
    block = re.search(r"```console\n(.*?)```", section, re.S).group(1)
    return [line[2:] for line in block.splitlines() if line.startswith("$ ")]


@pytest.mark.slow
def test_the_documented_batch_routes_run_as_written(
    azurite, tmp_path, monkeypatch, batch_environment, shared_key_client
):
    commands = documented_block()
    assert [c.split()[0:2] for c in commands] == [
        ["export", "DASK_VEGDASK__AZURE__WORKER_PYTHON=$PWD/.venv/bin/python"],
        ["python", "-m"],
        ["vegdask", "submit"],
        ["vegdask", "run"],
    ]
    clone = tmp_path / "clone"  # a clone's files, with its environment (the tree stays clean)
    clone.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, clone / name)
    shutil.copytree(
        ROOT / "vegdask", clone / "vegdask", ignore=shutil.ignore_patterns("__pycache__")
    )
    (clone / ".venv").symlink_to(Path(sys.prefix))
    (clone / "job.toml").write_text(JOB)
    with BatchEmulator(allocation_delay=0.2) as emu:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("DASK_VEGDASK")},
            "PATH": f"{clone / '.venv' / 'bin'}:{os.environ['PATH']}",  # the environment active
            **batch_environment(emu, azurite),
        }
        script = "set -e\n" + "\n".join(commands) + "\n"
        done = subprocess.run(
            ["bash", "-c", script], cwd=clone, env=env, capture_output=True, text=True, timeout=900
        )
        assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-3000:])
        assert "task driver: success, exit code 0" in done.stdout
        assert "Traceback" not in done.stderr
        batch = shared_key_client(emu)
        # submit's pool has the wheel's start task; run grew it and gave it back its zero nodes
        pool = batch.get_pool("vegdask-pool")
        assert pool.start_task.resource_files[0].file_path == "vegdask-0.1.0-py3-none-any.whl"
        assert pool.target_dedicated_nodes == 0
        wait_until(lambda: emu.pids() == [], timeout=60)
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    for output in ("abfs://runs/site", "abfs://runs/from-here"):
        stages = read_manifest(output)["stages"]
        assert stages["process"]["complete"], output
        assert len(stages["process"]["periods_completed"]) == 2, output


def documented_campaign() -> tuple[str, list[str]]:
    """The campaign config and the commands under "Campaigns on Batch" ... "Trying it offline"."""
    text = (ROOT / "docs" / "azure.md").read_text()
    section = text.split("\n## Campaigns on Batch\n")[1].split("\n## ")[0]
    offline = section.split("**Trying it offline**")[1]
    config = re.search(r"```toml\n(.*?)```", offline, re.S).group(1)
    block = re.search(r"```console\n(.*?)```", offline, re.S).group(1)
    return config, [line[2:] for line in block.splitlines() if line.startswith("$ ")]


@pytest.mark.slow
def test_the_documented_campaign_on_batch_runs_as_written(
    azurite, tmp_path, monkeypatch, batch_environment, shared_key_client
):
    from azure.core.exceptions import ResourceNotFoundError

    config, commands = documented_campaign()
    assert [c.split()[0:2] for c in commands] == [
        ["export", "DASK_VEGDASK__AZURE__WORKER_PYTHON=$PWD/.venv/bin/python"],
        ["export", "DASK_VEGDASK__AZURE__MAX_NODES=3"],
        ["vegdask", "run"],
        ["vegdask", "run"],
    ]
    here = tmp_path / "clone"  # the clone's directory, with its environment
    here.mkdir()
    (here / ".venv").symlink_to(Path(sys.prefix))
    (here / "campaign.toml").write_text(config)
    with BatchEmulator(allocation_delay=0.2) as emu:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("DASK_VEGDASK")},
            "PATH": f"{here / '.venv' / 'bin'}:{os.environ['PATH']}",
            **batch_environment(emu, azurite),
        }
        script = "set -e\n" + "\n".join(commands) + "\n"
        done = subprocess.run(
            ["bash", "-c", script], cwd=here, env=env, capture_output=True, text=True, timeout=900
        )
        assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-3000:])
        assert "Traceback" not in done.stderr
        first, rerun = done.stdout.split("vegdask run: campaign of 2 locations, ")[1:]
        assert first.startswith("2 to compute")
        assert "dashboard http://" in first
        assert "2 of 2 locations done" in first
        assert rerun.startswith("0 to compute")
        assert "nothing to compute" in rerun
        with pytest.raises(ResourceNotFoundError):  # the pool the run created: deleted
            shared_key_client(emu).get_pool("vegdask-pool")
        wait_until(lambda: emu.pids() == [], timeout=60)
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    for site in ("00", "04"):
        stages = read_manifest(f"abfs://campaigns/tiny/locations/{site}")["stages"]
        assert len(stages["process"]["periods_completed"]) == 6, site
