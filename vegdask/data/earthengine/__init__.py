"""The Google Earth Engine source: per-period median composites fetched as numpy arrays.

Modules: ``_load`` (`earthengine_scene`, stage by stage), ``_collections`` (what is read and
when it exists), ``_session`` (initialisation, redaction), ``_imagery`` (composites and
``computePixels`` blocks), ``_weather`` (ERA5-Land per period).

:func:`earthengine_scene` builds a lazy Scene on the grid of :func:`vegdask.data.scene_grid`
(UTM, north up). Nothing is sent to Earth Engine until the Scene is computed: every
(period, chunk) block is one dask task that initialises Earth Engine in its own process
(:func:`initialize_earthengine`, idempotent; see xee issue #345), builds the composite for its
period and fetches the block with ``ee.data.computePixels`` (``fileFormat`` ``NUMPY_NDARRAY``) on
an explicit grid: the UTM zone's EPSG code, an affine transform taken from the Scene's
coordinates and the block's dimensions. A block larger than one request allows
(``max_request_bytes``, 32768 pixels a side) is fetched in several requests.

Collections
    Sentinel-2 ``COPERNICUS/S2_SR_HARMONIZED`` (L2A surface reflectance) and
    ``COPERNICUS/S2_HARMONIZED`` (L1C top-of-atmosphere), masked with Cloud Score+
    (``GOOGLE/CLOUD_SCORE_PLUS/V1/S2_HARMONIZED``: a pixel is clear where ``cs_cdf`` >= 0.6);
    Landsat Collection 2 Level-2 ``LANDSAT/LT04|LT05|LE07|LC08|LC09/C02/T1_L2``, masked with
    ``QA_PIXEL`` (fill, dilated cloud, cirrus on Landsat 8/9, cloud, shadow and, by default,
    snow) and ``QA_RADSAT`` (saturation), scaled ``x * 0.0000275 - 0.2``.

A period without any clear observation of a pixel leaves that pixel NaN with ``cloud_mask``
True; a period without any image is an all-NaN, all-masked period, not an error.

Weather comes from ERA5-Land monthly aggregates (``ECMWF/ERA5_LAND/MONTHLY_AGGR``), averaged
over the scene at the dataset's own scale (~11 km) in one request, then summed (precipitation,
m -> mm) or averaged (2 m temperature, K) over the months overlapping each period, each month
weighted by the fraction of it inside the period.

Usage (needs an Earth Engine account; see ``docs/earthengine.md``)::

    scene, weather = earthengine_scene(
        "2018-01-01", "2020-01-01", "1m", location=(27.94, 11.58), project="my-ee-project"
    )
    scene.to_zarr("scene.zarr")  # the requests are sent here, one per (period, chunk)
"""

from vegdask.data.earthengine._collections import CLOUD_SCORE_PLUS, EARTHENGINE_COLLECTIONS
from vegdask.data.earthengine._load import earthengine_scene
from vegdask.data.earthengine._session import EarthEngineAuthError, initialize_earthengine
from vegdask.data.earthengine._weather import ERA5_LAND_MONTHLY, aggregate_monthly_weather

__all__ = [
    "CLOUD_SCORE_PLUS",
    "EARTHENGINE_COLLECTIONS",
    "ERA5_LAND_MONTHLY",
    "EarthEngineAuthError",
    "aggregate_monthly_weather",
    "earthengine_scene",
    "initialize_earthengine",
]
