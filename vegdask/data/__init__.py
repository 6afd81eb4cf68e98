"""Data layer: imagery sources, weather, storage and the Scene data model."""

from vegdask.data._local import local_scene
from vegdask.data._locations import Location, location, locations, region_pixels
from vegdask.data._periods import make_periods, parse_period
from vegdask.data._scene import (
    BANDS,
    CLOUD_MASK,
    SCENE_ATTRS,
    SCENE_VARIABLES,
    TILE_SIZE,
    WEATHER_VARIABLES,
    compute_ndvi,
    default_chunks,
    period_coords,
    scene_grid,
    utm_epsg,
    validate_scene,
    validate_weather,
)
from vegdask.data._sources import SOURCE_KINDS, open_source
from vegdask.data._storage import (
    create_store,
    join_url,
    open_store,
    sanitise_container_name,
    storage_options,
    write_period,
)
from vegdask.data._synthetic import DEMO_LOCATION, synthetic_scene

__all__ = [
    "BANDS",
    "CLOUD_MASK",
    "DEMO_LOCATION",
    "SCENE_ATTRS",
    "SCENE_VARIABLES",
    "SOURCE_KINDS",
    "TILE_SIZE",
    "WEATHER_VARIABLES",
    "Location",
    "compute_ndvi",
    "create_store",
    "default_chunks",
    "join_url",
    "local_scene",
    "location",
    "locations",
    "make_periods",
    "open_source",
    "open_store",
    "parse_period",
    "period_coords",
    "region_pixels",
    "sanitise_container_name",
    "scene_grid",
    "storage_options",
    "synthetic_scene",
    "utm_epsg",
    "validate_scene",
    "validate_weather",
    "write_period",
]
