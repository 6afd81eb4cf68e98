"""`submit_run`: ``vegdask run`` of a job config as one Azure Batch task (`submit_job`)."""

from __future__ import annotations

from typing import Any

from vegdask import config as settings
from vegdask.cluster._blobs import sas_connection_string, storage_connection_string
from vegdask.cluster._submit import SubmittedJob, batch_credentials, submit_job

__all__ = ["submit_run"]


def submit_run(
    output: str,
    *,
    config: bytes | None = None,
    workers: int,
    cluster: str = "azure-batch",
    force: bool = False,
    pool_id: str | None = None,
    python: str | None = None,
    hours: float = 24.0,
    batch_url: str | None = None,
    account_name: str | None = None,
    **submit: Any,
) -> SubmittedJob:
    """Run ``vegdask run`` inside Azure Batch: driver, scheduler and workers all in Azure.

    The task gets the job config as a file, the Batch credentials and a blob-only storage SAS
    that expires with it (never the account key), all as resource files (see `submit_job`).

    Parameters
    ----------
    output : str
        The run's ``abfs://container/prefix``.
    config : bytes, optional
        The TOML job config (default: the demo's).
    workers : int
        Dask workers.
    cluster : {"azure-batch", "local"}
        Workers as Batch tasks on the pool, or local to the driver's node.
    force : bool
        Recompute every stage.
    pool_id, python
        Default ``vegdask.azure.pool-id`` and ``vegdask.azure.worker-python``.
    hours : float
        The task's wall-clock limit and the lifetime of its storage SAS.
    batch_url, account_name
        The Batch account (default: dask config, then ``AZURE_BATCH_*``).
    **submit
        Further keywords of `submit_job` (``wheel``, ``install_dependencies``, ``vm_size``,
        ``low_priority``, ``scheduler_host``, ``sas_hours``).
    """
    command = ["-m", "vegdask.cli", "run"]
    files = {}
    if config is not None:
        files["job.toml"] = config
        command.append("job.toml")
    command += ["--output", output, "--cluster", cluster, "--workers", str(workers)]
    command += ["--no-progress", *(["--force"] if force else [])]
    storage = storage_connection_string()
    # the task gets a blob-only SAS that expires with it, never the account key
    secrets = {
        **batch_credentials(batch_url, account_name),
        "AZURE_STORAGE_CONNECTION_STRING": sas_connection_string(storage, hours),
    }
    pool = pool_id or settings.get("azure.pool-id")
    python = python or settings.get("azure.worker-python")
    return submit_job(
        command,
        files=files,
        secrets=secrets,
        environment={
            "DASK_VEGDASK__AZURE__POOL_ID": pool,
            "DASK_VEGDASK__AZURE__WORKER_PYTHON": python,
        },
        batch_url=batch_url,
        account_name=account_name,
        pool_id=pool,
        python=python,
        storage_connection_string=storage,
        max_hours=hours,
        metadata={"output": output},
        **submit,
    )
