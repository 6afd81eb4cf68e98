"""The STAC source: Sentinel-2 L2A COGs from a STAC catalogue, composited per period.

Modules: ``_load`` (`stac_scene`, stage by stage), ``_catalog`` (finding and selecting items),
``_signing`` and ``_redaction`` (tokens in, never out), ``_reflectance`` (band mapping, offsets),
``_driver`` (odc-stac reading), ``_composite`` (per-period medians).

The catalogue is either a STAC API (searched with pystac-client; Microsoft Planetary Computer's
``https://planetarycomputer.microsoft.com/api/stac/v1`` is the main target) or a static catalogue
(the URL or path of a ``catalog.json``/``collection.json``, walked with pystac and filtered by
bounding box and date here). Items are loaded with :func:`odc.stac.load` onto exactly the grid of
:func:`vegdask.data.scene_grid` and reduced to one median composite of the clear observations per
period.

Band mapping (Sentinel-2 L2A, asset keys of Planetary Computer / Element84 Earth Search):

============  ==================  =======================================
Scene band    Planetary Computer  Earth Search (Element84)
============  ==================  =======================================
``red``       ``B04``             ``red``
``green``     ``B03``             ``green``
``blue``      ``B02``             ``blue``
``nir``       ``B08``             ``nir``
cloud mask    ``SCL``             ``scl``
============  ==================  =======================================

Cloud mask: a pixel of one acquisition is *clear* when its Scene Classification (SCL) class is
2 (dark area), 4 (vegetation), 5 (bare soil), 6 (water) or 7 (unclassified) and no band is 0 (no
data). Classes 0 (no data), 1 (saturated or defective), 3 (cloud shadow), 8 and 9 (cloud, medium
and high probability), 10 (thin cirrus) and 11 (snow or ice) are unusable. A Scene pixel's
``cloud_mask`` is True where no acquisition of its period is clear; its bands are then NaN.

Reflectance is ``DN * 0.0001 + offset`` per acquisition, where ``offset`` is (first rule that
applies):

1. ``0`` if the item says the offset was already applied (``earthsearch:boa_offset_applied``);
2. ``-0.1`` if ``s2:processing_baseline >= 04.00`` (ESA's ``BOA_ADD_OFFSET`` of -1000 DN, from
   25 January 2022 and in reprocessed data), ``0`` for older baselines;
3. the asset's ``raster:bands`` ``offset`` if it has one;
4. ``-0.1`` if acquired on or after 2022-01-25, else ``0``.

Assets are signed when they are read (on the worker, so short-lived tokens stay fresh), never
when the graph is built: pass ``sign=planetary_computer.sign`` for Planetary Computer, or
:func:`sas_signer` / :func:`azure_sas_signer` for a private Azure container. Tokens are never
logged, put in errors, or stored in the Scene's attributes.
"""

from vegdask.data.stac._load import stac_scene
from vegdask.data.stac._reflectance import (
    CLEAR_SCL_CLASSES,
    COLLECTIONS,
    UNUSABLE_SCL_CLASSES,
    reflectance_offset,
)
from vegdask.data.stac._signing import SasSigner, azure_sas_signer, resolve_signer, sas_signer

__all__ = [
    "CLEAR_SCL_CLASSES",
    "COLLECTIONS",
    "UNUSABLE_SCL_CLASSES",
    "SasSigner",
    "azure_sas_signer",
    "reflectance_offset",
    "resolve_signer",
    "sas_signer",
    "stac_scene",
]
