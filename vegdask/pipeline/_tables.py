"""The run's output tables: ``tiles.parquet`` and pyveg's ``results_summary.json``."""

from __future__ import annotations

import numpy as np
import xarray as xr

from vegdask.data import results_summary
from vegdask.pipeline._manifest import Run

__all__ = ["write_tables"]

_ROW_DIMS = ("time", "tile_y", "tile_x")


def write_tables(run: Run, tiles: xr.Dataset, weather: xr.Dataset | None) -> None:
    """``tiles.parquet`` (one row per period and tile) and pyveg's ``results_summary.json``."""
    flat = _rows(tiles.drop_vars(["feature_vec", "quantile"]), _ROW_DIMS)
    # a store's variables come back in listing order: fix the columns so identical runs give
    # identical files
    columns = {c: flat[c] for c in [*_ROW_DIMS, *sorted(set(flat) - set(_ROW_DIMS))]}
    fv = tiles["feature_vec"].values.reshape(-1, tiles.sizes["quantile"])
    columns.update({f"feature_vec_{q}": fv[:, q] for q in range(fv.shape[1])})
    run.store.write_parquet("tiles.parquet", columns)
    # One line: a table of every tile and period is no easier to read indented, and takes 4x as
    # long to write (json's C encoder does not indent) at twice the size.
    time, place = run.config["time"], run.config["location"]
    summary = results_summary(
        tiles,
        weather,
        start=time["start"],
        end=time["end"],
        period=time["period"],
        centre=(place["longitude"], place["latitude"]),
    )
    run.store.write_json("results_summary.json", summary, indent=None)


def _rows(dataset: xr.Dataset, dims: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Each variable of ``dataset`` (dims among ``dims``) as a column, a row per cell of ``dims``.

    What ``dataset.to_dataframe(dim_order=dims).reset_index()`` holds, in C order of ``dims``,
    at a tenth of its cost (2.5 ms of a tiny location's tables).
    """
    shape = tuple(dataset.sizes[d] for d in dims)
    columns = {}
    for name, var in dataset.variables.items():
        values = var.transpose(*(d for d in dims if d in var.dims)).values
        spread = tuple(slice(None) if d in var.dims else None for d in dims)
        columns[str(name)] = np.broadcast_to(values[spread], shape).ravel()
    return columns
