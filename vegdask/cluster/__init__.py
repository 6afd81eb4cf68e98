"""Dask clusters on Azure: workers as Azure Batch tasks (`AzureBatchCluster`)."""

from vegdask.cluster._azure_batch import (
    AzureBatchCluster,
    BatchWorker,
    batch_client,
    worker_resources,
)

__all__ = ["AzureBatchCluster", "BatchWorker", "batch_client", "worker_resources"]
