"""Storage plumbing that vegdask's own layers share: internal, not the user's API.

Users read and write stores with :mod:`vegdask.data` (``open_store``, ``create_store``,
``load_store``, ``RunStore``); the names here serve the layers above the data layer (the
compute layer's period writes, the pipeline's lock, the cluster's files for Batch nodes) and may
change without notice. Every Azure Blob client comes from :func:`blob_service`, with the
credentials of :func:`storage_options` (the one resolver) and ``vegdask.storage.retries``.
"""

from vegdask.data._azure import blob_service, is_azure, retry_keywords, storage_options
from vegdask.data._storage import (
    ensure_container,
    filesystem,
    is_remote,
    join_url,
    loaded_coords,
    open_zarr_group,
    split_container,
    write_dataset,
)

__all__ = [
    "blob_service",
    "ensure_container",
    "filesystem",
    "is_azure",
    "is_remote",
    "join_url",
    "loaded_coords",
    "open_zarr_group",
    "retry_keywords",
    "split_container",
    "storage_options",
    "write_dataset",
]
