"""The run's output tables: ``tiles.parquet`` and pyveg's ``results_summary.json``."""

from __future__ import annotations

import pandas as pd
import xarray as xr

from vegdask.data import results_summary
from vegdask.pipeline._manifest import Run

__all__ = ["write_tables"]


def write_tables(run: Run, tiles: xr.Dataset, weather: xr.Dataset | None) -> None:
    """``tiles.parquet`` (one row per period and tile) and pyveg's ``results_summary.json``."""
    dims = ["time", "tile_y", "tile_x"]
    flat = tiles.drop_vars(["feature_vec", "quantile"]).to_dataframe(dim_order=dims).reset_index()
    # a store's variables come back in listing order: fix the columns so identical runs give
    # identical files
    columns = {c: flat[c] for c in dims + sorted(c for c in flat.columns if c not in dims)}
    fv = tiles["feature_vec"].values.reshape(-1, tiles.sizes["quantile"])
    columns.update({f"feature_vec_{q}": fv[:, q] for q in range(fv.shape[1])})
    # one frame made at once: a column added at a time took 2 ms of a tiny location's 5
    run.store.write_parquet("tiles.parquet", pd.DataFrame(columns))
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
