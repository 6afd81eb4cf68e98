"""Storage plumbing that vegdask's own layers share: internal, not the user's API.

Users read and write stores with :mod:`vegdask.data` (``open_store``, ``create_store``,
``load_store``, ``RunStore``); the names here serve the layers above the data layer (the
compute layer's period writes, the pipeline's lock and run records, the analysis' reading of a
run, the cluster's files for Batch nodes) and may change without notice. Every Azure Blob
client comes from :func:`blob_service`, with the credentials of :func:`storage_options` (the one
resolver) and ``vegdask.storage.retries``. A run's records in run.json (:func:`load_manifest`,
:func:`record_outputs`, ...) and its JSON writer (:func:`to_strict_json`) are here too.
"""

from vegdask.data._azure import (
    blob_service,
    is_azure,
    retry_keywords,
    storage_answer,
    storage_options,
)
from vegdask.data._outputs import (
    Damage,
    check_outputs,
    load_manifest,
    record_outputs,
    remove_outputs,
    snapshot,
    unanalysable,
)
from vegdask.data._run_store import to_strict_json
from vegdask.data._storage import (
    ensure_container,
    filesystem,
    is_remote,
    join_url,
    loaded_coords,
    open_zarr_group,
    split_container,
    write_dataset,
    write_regions,
)

__all__ = [
    "Damage",
    "blob_service",
    "check_outputs",
    "ensure_container",
    "filesystem",
    "is_azure",
    "is_remote",
    "join_url",
    "load_manifest",
    "loaded_coords",
    "open_zarr_group",
    "record_outputs",
    "remove_outputs",
    "retry_keywords",
    "snapshot",
    "split_container",
    "storage_answer",
    "storage_options",
    "to_strict_json",
    "unanalysable",
    "write_dataset",
    "write_regions",
]
