"""Azure Batch: Dask workers as tasks (`AzureBatchCluster`), a whole job as one (`submit_job`)."""

from vegdask.cluster._azure_batch import (
    AzureBatchCluster,
    BatchWorker,
    batch_client,
    worker_resources,
)
from vegdask.cluster._blobs import BlobDrop
from vegdask.cluster._submit import SubmittedJob, batch_credentials, submit_job

__all__ = [
    "AzureBatchCluster",
    "BatchWorker",
    "BlobDrop",
    "SubmittedJob",
    "batch_client",
    "batch_credentials",
    "submit_job",
    "worker_resources",
]
