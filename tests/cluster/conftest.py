"""Fixtures and helpers of the cluster tests."""

import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from azure.batch import BatchClient
from azure.core.credentials import AzureNamedKeyCredential
from distributed import Client

from vegdask.cluster import AzureBatchCluster
from vegdask.testing import BatchEmulator


@pytest.fixture
def batch_emulator():
    """A Batch emulator with a short node allocation delay."""
    with BatchEmulator(allocation_delay=0.2) as service:
        yield service


def shared_key_client(emu: BatchEmulator) -> BatchClient:
    """A Batch client of the emulator's account, with its shared key."""
    return BatchClient(emu.url, AzureNamedKeyCredential(emu.account_name, emu.account_key))


@pytest.fixture(name="shared_key_client")
def _shared_key_client():
    return shared_key_client


def batch_environment(emu: BatchEmulator, azurite) -> dict[str, str]:
    """The variables that point ``vegdask run|submit`` at the emulator's account and Azurite."""
    return {
        "AZURE_BATCH_URL": emu.url,
        "AZURE_BATCH_ACCOUNT": emu.account_name,
        "AZURE_BATCH_KEY": emu.account_key,
        "AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string,
    }


@pytest.fixture(name="batch_environment")
def _batch_environment():
    return batch_environment


@contextmanager
def batch_workers(emu: BatchEmulator, pool_id: str, workers: int, **options):
    """An ``AzureBatchCluster`` on the emulator with ``workers`` Dask workers up, and its client.

    The cluster and its client are closed on leaving, whatever happens inside.
    """
    options.setdefault("worker_python", sys.executable)
    with (
        AzureBatchCluster(
            emu.url, emu.account_name, emu.account_key, pool_id, **options
        ) as cluster,
        Client(cluster) as client,
    ):
        cluster.scale(workers)
        client.wait_for_workers(workers, timeout=60)
        yield cluster, client


@pytest.fixture(name="batch_workers")
def _batch_workers():
    return batch_workers


@pytest.fixture(scope="session")
def vegdask_wheel(tmp_path_factory):
    """A wheel of this vegdask, built from a copy of the source (the shared tree stays clean)."""
    root = Path(__file__).resolve().parents[2]
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(root / name, src / name)
    shutil.copytree(root / "vegdask", src / "vegdask", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(out), str(src)],
        check=True, capture_output=True,
    )  # fmt: skip
    return next(out.glob("vegdask-*.whl"))
