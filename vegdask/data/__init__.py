"""Data layer: imagery sources, weather, storage and the Scene data model."""

from vegdask.data._image_files import read_image
from vegdask.data._local import local_scene
from vegdask.data._locations import Location, location, locations, region_pixels
from vegdask.data._outputs import ManifestError
from vegdask.data._patterns import binarise_biomass, load_parameters, simulate_pattern
from vegdask.data._periods import make_periods, parse_period
from vegdask.data._results_summary import (
    RECORD_SERIES,
    results_summary,
    tiles_from_results_summary,
)
from vegdask.data._run_store import RunStore
from vegdask.data._scene import (
    BANDS,
    CLOUD_MASK,
    SCENE_ATTRS,
    SCENE_VARIABLES,
    WEATHER_VARIABLES,
    check_region,
    compute_ndvi,
    default_chunks,
    period_coords,
    scene_grid,
    utm_epsg,
    validate_scene,
    validate_weather,
)
from vegdask.data._sources import (
    SOURCE_KINDS,
    SOURCE_OPTIONS,
    open_source,
    source_arguments,
    source_defaults,
)
from vegdask.data._storage import create_store, load_store, open_store, sanitise_container_name
from vegdask.data._synthetic import (
    DEMO_LOCATION,
    SYNTHETIC_RAINFALL_END,
    synthetic_location,
    synthetic_scene,
)
from vegdask.data.earthengine import (
    EARTHENGINE_COLLECTIONS,
    EarthEngineAuthError,
    earthengine_scene,
    initialize_earthengine,
)
from vegdask.data.stac import (
    SasSigner,
    azure_sas_signer,
    reflectance_offset,
    resolve_signer,
    sas_signer,
    stac_scene,
)

__all__ = [
    "BANDS",
    "CLOUD_MASK",
    "DEMO_LOCATION",
    "EARTHENGINE_COLLECTIONS",
    "RECORD_SERIES",
    "SCENE_ATTRS",
    "SCENE_VARIABLES",
    "SOURCE_KINDS",
    "SOURCE_OPTIONS",
    "SYNTHETIC_RAINFALL_END",
    "WEATHER_VARIABLES",
    "EarthEngineAuthError",
    "Location",
    "ManifestError",
    "RunStore",
    "SasSigner",
    "azure_sas_signer",
    "binarise_biomass",
    "check_region",
    "compute_ndvi",
    "create_store",
    "default_chunks",
    "earthengine_scene",
    "initialize_earthengine",
    "load_parameters",
    "load_store",
    "local_scene",
    "location",
    "locations",
    "make_periods",
    "open_source",
    "open_store",
    "parse_period",
    "period_coords",
    "read_image",
    "reflectance_offset",
    "region_pixels",
    "resolve_signer",
    "results_summary",
    "sanitise_container_name",
    "sas_signer",
    "scene_grid",
    "simulate_pattern",
    "source_arguments",
    "source_defaults",
    "stac_scene",
    "synthetic_location",
    "synthetic_scene",
    "tiles_from_results_summary",
    "utm_epsg",
    "validate_scene",
    "validate_weather",
]
