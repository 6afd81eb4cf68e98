"""Storage plumbing that the layers above the data layer share: internal, not the user's API.

Users read and write stores with :mod:`vegdask.data` (``open_store``, ``create_store``, ...);
the names here serve vegdask's own packages and may change without notice.
"""

from vegdask.data._storage import loaded_coords, open_zarr_group

__all__ = ["loaded_coords", "open_zarr_group"]
