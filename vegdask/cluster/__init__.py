"""Azure Batch: Dask workers as tasks (`AzureBatchCluster`), a whole job as one (`submit_job`).

Both use one pool lifecycle: `PoolSettings`, `ensure_pool`, `restore_pool`.
"""

from vegdask.cluster._azure_batch import AzureBatchCluster
from vegdask.cluster._blobs import BlobDrop, sas_connection_string, storage_connection_string
from vegdask.cluster._client import batch_client
from vegdask.cluster._liveness import Liveness, WorkersLostError, watch_workers
from vegdask.cluster._pool import (
    PoolClaim,
    PoolSettings,
    ensure_pool,
    restore_pool,
    worker_resources,
)
from vegdask.cluster._submit import (
    SubmittedJob,
    batch_credentials,
    dashboard_link,
    driver_script,
    submit_job,
    submitted_task,
    task_log,
)
from vegdask.cluster._submit_run import submit_run
from vegdask.cluster._worker import BatchWorker

__all__ = [
    "AzureBatchCluster",
    "BatchWorker",
    "BlobDrop",
    "Liveness",
    "PoolClaim",
    "PoolSettings",
    "SubmittedJob",
    "WorkersLostError",
    "batch_client",
    "batch_credentials",
    "dashboard_link",
    "driver_script",
    "ensure_pool",
    "restore_pool",
    "sas_connection_string",
    "storage_connection_string",
    "submit_job",
    "submit_run",
    "submitted_task",
    "task_log",
    "watch_workers",
    "worker_resources",
]
