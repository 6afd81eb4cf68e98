"""`submit_run`: ``vegdask run`` of a job config as one Azure Batch task (`submit_job`)."""

from __future__ import annotations

from typing import Any

from vegdask import config as settings
from vegdask.cluster._blobs import sas_connection_string, storage_connection_string
from vegdask.cluster._pool import PoolSettings
from vegdask.cluster._submit import SubmittedJob, batch_credentials, submit_job

__all__ = ["submit_run"]


def submit_run(
    output: str,
    *,
    config: bytes | None = None,
    workers: int,
    cluster: str | None = None,
    force: bool = False,
    pool_id: str | None = None,
    python: str | None = None,
    vm_size: str | None = None,
    low_priority: bool | None = None,
    hours: float | None = None,
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
    cluster : {"azure-batch", "local"}, optional
        Workers as Batch tasks on the pool, or local to the driver's node; default
        ``vegdask.azure.job-cluster``.
    force : bool
        Recompute every stage.
    pool_id, python, vm_size, low_priority
        The pool, as `PoolSettings` documents them (default ``vegdask.azure.*``); the driver's
        `AzureBatchCluster` gets the same settings.
    hours : float, optional
        The task's wall-clock limit and the lifetime of its storage SAS; default
        ``vegdask.azure.job-hours``.
    batch_url, account_name
        The Batch account (default: dask config, then ``AZURE_BATCH_*``).
    **submit
        Further keywords of `submit_job` (``wheel``, ``install_dependencies``,
        ``scheduler_host``, ``sas_hours``).
    """
    cluster = settings.get("azure.job-cluster", cluster)
    hours = float(settings.get("azure.job-hours", hours))
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
    pool = PoolSettings(pool_id, vm_size, python, low_priority=low_priority)
    return submit_job(
        command,
        files=files,
        secrets=secrets,
        environment={  # the driver's workers on the same pool and nodes
            "DASK_VEGDASK__AZURE__POOL_ID": str(pool.pool_id),
            "DASK_VEGDASK__AZURE__WORKER_PYTHON": str(pool.python),
            "DASK_VEGDASK__AZURE__VM_SIZE": str(pool.vm_size),
            "DASK_VEGDASK__AZURE__LOW_PRIORITY": str(pool.low_priority).lower(),
        },
        batch_url=batch_url,
        account_name=account_name,
        pool_id=pool.pool_id,
        python=pool.python,
        vm_size=pool.vm_size,
        low_priority=pool.low_priority,
        storage_connection_string=storage,
        max_hours=hours,
        metadata={"output": output},
        **submit,
    )
