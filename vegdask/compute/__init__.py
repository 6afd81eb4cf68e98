"""Computation layer: lazy xarray/dask orchestration of the kernels over Scenes."""

from vegdask.compute._accessor import VegAccessor
from vegdask.compute._mask import binary_image, vegetation_mask
from vegdask.compute._period_writes import (
    dataset_from_periods,
    grouped_period_writes,
    grouped_task_count,
    period_writes,
    store_templates,
    write_period,
)
from vegdask.compute._tiles import GRAPH_CLASSES, METRICS, check_tile_fits, tile_metrics

__all__ = [
    "GRAPH_CLASSES",
    "METRICS",
    "VegAccessor",
    "binary_image",
    "check_tile_fits",
    "dataset_from_periods",
    "grouped_period_writes",
    "grouped_task_count",
    "period_writes",
    "store_templates",
    "tile_metrics",
    "vegetation_mask",
    "write_period",
]
