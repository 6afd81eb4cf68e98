"""Data layer: imagery sources, weather, storage and the Scene data model."""

from vegdask.data._scene import (
    BANDS,
    CLOUD_MASK,
    SCENE_ATTRS,
    SCENE_VARIABLES,
    TILE_SIZE,
    WEATHER_VARIABLES,
    compute_ndvi,
    default_chunks,
    validate_scene,
    validate_weather,
)

__all__ = [
    "BANDS",
    "CLOUD_MASK",
    "SCENE_ATTRS",
    "SCENE_VARIABLES",
    "TILE_SIZE",
    "WEATHER_VARIABLES",
    "compute_ndvi",
    "default_chunks",
    "validate_scene",
    "validate_weather",
]
