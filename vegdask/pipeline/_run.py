"""The job as resumable stages (fetch -> process -> analyse) with a manifest, ``<output>/run.json``.

Every stage records a hash of the parameters that affect it and the periods it has completed. A
period is recorded only after its data is written (Zarr region writes, idempotent), so a run killed
at any point resumes where it stopped and gives the same result as an uninterrupted run. A changed
parameter invalidates that stage and the stages after it; ``force`` recomputes everything.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import dask
import numpy as np
import xarray as xr

from vegdask import __version__
from vegdask.compute import binary_image, tile_metrics
from vegdask.data import (
    create_store,
    default_chunks,
    ensure_container,
    filesystem,
    is_remote,
    join_url,
    open_source,
    open_store,
    write_dataset,
    write_period,
)

__all__ = ["STAGES", "read_manifest", "run_job"]

STAGES = ("fetch", "process", "analyse")
_PACKAGES = ("dask", "distributed", "xarray", "zarr", "numpy", "numba")


def _hash(params: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]


def _stage_params(config: dict[str, Any], stage: str) -> dict[str, Any]:
    fetch = {k: config[k] for k in ("location", "time", "source")}
    if stage == "fetch":
        return fetch
    process = {**fetch, "processing": config["processing"]}
    return process if stage == "process" else {**process, "analysis": config["analysis"]}


def read_manifest(output: str) -> dict[str, Any]:
    """The run manifest at ``<output>/run.json`` (empty if there is none)."""
    fs, path = filesystem(output)
    target = f"{path}/run.json"
    if not fs.exists(target):
        return {}
    with fs.open(target, "r") as f:
        return json.load(f)


def _write_json(output: str, name: str, content: dict[str, Any]) -> None:
    """Write JSON strictly (NaN becomes null); locally via a temporary file and a rename."""
    text = json.dumps(_strict(content), indent=2, allow_nan=False)
    fs, path = filesystem(output)
    fs.makedirs(path, exist_ok=True)
    target = f"{path}/{name}"
    if is_remote(output):
        fs.pipe_file(target, text.encode())
    else:
        fs.pipe_file(target + ".tmp", text.encode())
        fs.mv(target + ".tmp", target)


def _strict(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(v) for v in value]
    if isinstance(value, float | np.floating):
        return None if not math.isfinite(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


class _Run:
    """State of one job: its output, manifest and client."""

    def __init__(
        self, config: dict[str, Any], output: str, client: Any, log: Callable[[str], None]
    ):
        self.config = config
        self.output = output
        self.client = client
        self.log = log
        self.manifest = read_manifest(output)
        self.manifest.update(
            vegdask_version=__version__,
            config=config,
            packages={name: version(name) for name in _PACKAGES},
        )
        self.manifest.setdefault("stages", {})

    def stage(self, name: str, force: bool) -> dict[str, Any]:
        """The manifest entry of stage ``name``, reset if its parameters changed or ``force``."""
        params_hash = _hash(_stage_params(self.config, name))
        entry = self.manifest["stages"].get(name)
        if entry and entry.get("params_hash") != params_hash and not force:
            self.log(f"{name}: parameters changed since the last run; recomputing this stage")
        if force or not entry or entry.get("params_hash") != params_hash:
            later = STAGES[STAGES.index(name) :]
            for stage in later:
                self.manifest["stages"].pop(stage, None)
            entry = {"params_hash": params_hash, "periods_completed": [], "complete": False}
            self.manifest["stages"][name] = entry
        return entry

    def save(self) -> None:
        _write_json(self.output, "run.json", self.manifest)

    def write_periods(
        self,
        entry: dict[str, Any],
        datasets: dict[str, xr.Dataset],
        progress: Callable[[int], None],
    ) -> None:
        """Write every pending period of ``datasets`` (store name -> lazy Dataset) by region.

        Stores are (re)created when the stage starts afresh; each period is recorded in the
        manifest as soon as all its stores are written.
        """
        times = [str(t)[:10] for t in next(iter(datasets.values()))["time"].values]
        done = set(entry["periods_completed"])
        if not done:
            for name, dataset in datasets.items():
                create_store(dataset, join_url(self.output, name))
        pending = [i for i, t in enumerate(times) if t not in done]
        progress(len(times) - len(pending))
        if not pending:
            return
        from distributed import as_completed

        futures = {}
        for i in pending:
            writes = [
                write_period(dataset.isel(time=[i]), join_url(self.output, name), i)
                for name, dataset in datasets.items()
            ]
            futures[self.client.compute(dask.delayed(_written)(*writes))] = i
        for future in as_completed(list(futures)):
            future.result()  # raise a failed write here, before anything is recorded
            entry["periods_completed"] = sorted(
                {*entry["periods_completed"], times[futures[future]]}
            )
            self.save()
            progress(1)


def _written(*writes: Any) -> None:
    """Join the writes of one period into one task."""


def _progress_bar(total: int, stage: str, show: bool) -> tuple[Callable[[int], None], Any]:
    from tqdm import tqdm

    bar = tqdm(total=total, desc=f"{stage:>8}", unit="period", disable=not show, leave=True)
    return bar.update, bar


def source_options(config: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments of the config's source function (:func:`vegdask.data.open_source`)."""
    source = {k: v for k, v in config["source"].items() if k != "kind"}
    place = config["location"]
    if config["source"]["kind"] == "local":
        return source  # the files' own grid
    if config["source"]["kind"] == "synthetic":
        source["rainfall"] = (source.pop("rainfall_start"), source.pop("rainfall_end"))
    return {"location": (place["longitude"], place["latitude"]), "size": place["size"], **source}


def open_job_source(config: dict[str, Any]) -> tuple[xr.Dataset, xr.Dataset | None]:
    """The lazy Scene and weather of a job config's source (nothing is read yet)."""
    time = config["time"]
    return open_source(
        config["source"]["kind"],
        time["start"],
        time["end"],
        time["period"],
        **source_options(config),
    )


def _fetch(
    run: _Run, source: tuple[xr.Dataset, xr.Dataset | None], force: bool, show: bool
) -> xr.Dataset:
    entry = run.stage("fetch", force)
    scene, weather = source
    started = time.perf_counter()
    update, bar = _progress_bar(scene.sizes["time"], "fetch", show)
    with bar:
        run.write_periods(entry, {"scene.zarr": scene}, update)
    if weather is not None and not entry["complete"]:  # e.g. an Earth Engine request: once
        write_dataset(weather, join_url(run.output, "weather.zarr"))
    stored = open_store(join_url(run.output, "scene.zarr"))
    # A period without one clear pixel (no images, or all cloud) is kept, and named here.
    empty = stored["cloud_mask"].all(dim=("y", "x")).values
    entry.update(
        complete=True,
        seconds=round(time.perf_counter() - started, 2),
        empty_periods=[str(t)[:10] for t, e in zip(stored["time"].values, empty, strict=True) if e],
    )
    run.save()
    return stored


def _process(run: _Run, scene: xr.Dataset, force: bool, show: bool) -> xr.Dataset:
    entry = run.stage("process", force)
    processing = run.config["processing"]
    # scene.zarr is chunked for the default tile; the tile size is a processing parameter. Only
    # the bands are rechunked: the small per-period coordinates stay in memory.
    chunks = default_chunks(processing["tile_size"])
    scene = scene.copy()
    for name in scene.data_vars:
        scene[name] = scene[name].variable.chunk(chunks)
    tiles = tile_metrics(scene, **processing)
    image = binary_image(scene).to_dataset(name="binary_image")
    image["binary_image"].attrs["meaning"] = "pyveg's BWNDVI: 255 = bare soil, 0 = vegetation"
    started = time.perf_counter()
    update, bar = _progress_bar(scene.sizes["time"], "process", show)
    with bar:
        run.write_periods(entry, {"tiles.zarr": tiles, "mask.zarr": image}, update)
    result = open_store(join_url(run.output, "tiles.zarr")).load()
    _write_tables(run, result, _weather(run.output))
    valid = result["valid"].values
    entry.update(
        complete=True,
        seconds=round(time.perf_counter() - started, 2),
        tiles_per_period=int(valid[0].size),
        valid_tiles=int(valid.sum()),
        invalid_tiles=int((~valid).sum()),
        empty_periods=[
            str(t)[:10] for t, v in zip(result["time"].values, valid, strict=True) if not v.any()
        ],
        dropped_edge_pixels={
            "y": int(scene.sizes["y"] % processing["tile_size"]),
            "x": int(scene.sizes["x"] % processing["tile_size"]),
        },
    )
    run.save()
    return result


def _weather(output: str) -> xr.Dataset | None:
    fs, path = filesystem(output)
    if not fs.exists(f"{path}/weather.zarr"):
        return None
    return open_store(join_url(output, "weather.zarr")).load()


def _write_tables(run: _Run, tiles: xr.Dataset, weather: xr.Dataset | None) -> None:
    """``tiles.parquet`` (one row per period and tile) and pyveg's ``results_summary.json``."""
    dims = ["time", "tile_y", "tile_x"]
    flat = tiles.drop_vars(["feature_vec", "quantile"]).to_dataframe(dim_order=dims).reset_index()
    # a store's variables come back in listing order: fix the columns so identical runs give
    # identical files
    flat = flat[dims + sorted(c for c in flat.columns if c not in dims)]
    fv = tiles["feature_vec"].values.reshape(-1, tiles.sizes["quantile"])
    for q in range(fv.shape[1]):
        flat[f"feature_vec_{q}"] = fv[:, q]
    fs, path = filesystem(run.output)
    with fs.open(f"{path}/tiles.parquet", "wb") as f:
        flat.to_parquet(f, index=False)
    _write_json(run.output, "results_summary.json", results_summary(tiles, weather, run.config))


_RECORD_CENTRALITY = {
    "slope": "slope", "offset": "offset", "offset50": "offset50", "mean": "fv_mean", "std": "fv_std"
}  # fmt: skip
_RECORD_NDVI = {"ndvi": "ndvi_uint8_mean", "ndvi_veg": "ndvi_veg_uint8_mean"}


def results_summary(
    tiles: xr.Dataset, weather: xr.Dataset | None, config: dict[str, Any]
) -> dict[str, Any]:
    """Pyveg's ``results_summary.json`` (weather, vegetation, metadata; NDVI as 0-255 means).

    A source without weather (local files) gives a summary without the weather entry.
    """
    dates = [str(t)[:10] for t in tiles["time"].values]
    veg_collection = tiles.attrs.get("collection", "unknown")
    weather_entry = {} if weather is None else _weather_entry(weather, dates)
    # pyveg's record keys -> tiles.zarr variables, each read once as a numpy array.
    centrality = {k: tiles[v].values for k, v in _RECORD_CENTRALITY.items()}
    ndvi = {k: tiles[v].values for k, v in _RECORD_NDVI.items()}
    feature_vec = tiles["feature_vec"].values
    latitude, longitude = tiles["latitude"].values, tiles["longitude"].values
    valid = tiles["valid"].values
    veg_series: dict[str, Any] = {}
    for i, date in enumerate(dates):
        # Keys in pyveg's order: centrality metrics, feature_vec, date, coordinates, NDVI.
        veg_series[date] = [
            {
                **{key: float(array[i, a, b]) for key, array in centrality.items()},
                "feature_vec": feature_vec[i, a, b].tolist(),
                "date": date,
                "latitude": round(float(latitude[a, b]), 4),
                "longitude": round(float(longitude[a, b]), 4),
                **{key: float(array[i, a, b]) for key, array in ndvi.items()},
            }
            for a, b in zip(*np.nonzero(valid[i]), strict=True)
        ] or None
    n_points = sum(1 for d in dates if veg_series[d] is not None)
    # The scene's centre as its source recorded it (a local folder's own, not the config's).
    place = tiles.attrs.get("location")
    longitude_centre, latitude_centre = (
        (float(v) for v in place.split(","))
        if place
        else (config["location"]["longitude"], config["location"]["latitude"])
    )
    return {
        **weather_entry,
        veg_collection: {"type": "vegetation", "time-series-data": veg_series},
        "metadata": {
            "start_date": config["time"]["start"],
            "end_date": config["time"]["end"],
            "time_per_point": config["time"]["period"],
            "longitude": longitude_centre,
            "latitude": latitude_centre,
            "collection": veg_collection,
            "num_data_points": n_points,
            "tag": f"vegdask-{__version__}",
        },
    }


def _weather_entry(weather: xr.Dataset, dates: list[str]) -> dict[str, Any]:
    series = {
        date: {
            "total_precipitation": float(weather["total_precipitation"].values[i]),
            "mean_2m_air_temperature": float(weather["mean_2m_air_temperature"].values[i]),
        }
        for i, date in enumerate(dates)
    }
    return {"vegdask/weather": {"type": "weather", "time-series-data": series}}


def _analyse(run: _Run, force: bool) -> dict[str, Any] | None:
    entry = run.stage("analyse", force)
    if not run.config["analysis"]["enabled"]:
        entry.update(complete=True, skipped="disabled in the config")
        run.save()
        return None
    from vegdask.analysis import analyse_results

    started = time.perf_counter()
    resilience = analyse_results(run.output)
    entry.update(complete=True, seconds=round(time.perf_counter() - started, 2))
    run.save()
    return resilience


def run_job(
    config: dict[str, Any],
    *,
    client: Any,
    force: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
    until: str = "analyse",
) -> dict[str, Any]:
    """Run fetch -> process -> analyse into ``config["output"]["url"]``, resuming what exists.

    Parameters
    ----------
    config : dict
        A validated job config (see :func:`vegdask.pipeline.load_config`).
    client : distributed.Client
        Where the work runs.
    force : bool, default False
        Recompute every stage.
    progress : bool, default True
        Show a progress bar per stage.
    log : callable
        Receives one-line messages for the user.
    until : {"fetch", "process", "analyse"}, default "analyse"
        The last stage to run.

    Returns
    -------
    dict
        The manifest, as written to ``<output>/run.json``.
    """
    if until not in STAGES:
        raise ValueError(f"until must be one of {STAGES}, got {until!r}")
    source = open_job_source(config)  # bad source settings fail here, before anything is written
    output = config["output"]["url"]
    ensure_container(output)
    run = _Run(config, output, client, log)
    run.save()
    scene = _fetch(run, source, force, progress)
    if until != "fetch":
        _process(run, scene, force, progress)
    if until == "analyse":
        _analyse(run, force)
    return run.manifest
