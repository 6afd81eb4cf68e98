"""The stages of a job: fetch (the Scene), process (tile metrics) and analyse (the report)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import xarray as xr

from vegdask.compute import binary_image, dataset_from_periods, tile_metrics
from vegdask.data import RunStore, default_chunks, open_source, source_arguments
from vegdask.data.storage import record_outputs, snapshot
from vegdask.pipeline._config import analysis_arguments
from vegdask.pipeline._cpu import CpuMeter
from vegdask.pipeline._manifest import STAGE_OUTPUTS, Run
from vegdask.pipeline._tables import write_tables
from vegdask.pipeline._types import JobConfig

__all__ = ["analyse", "fetch", "open_job_source", "process", "source_options"]


def _progress_bar(total: int, stage: str, show: bool) -> tuple[Callable[[int], None], Any]:
    from tqdm import tqdm

    bar = tqdm(total=total, desc=f"{stage:>8}", unit="period", disable=not show, leave=True)
    return bar.update, bar


def source_options(config: JobConfig) -> dict[str, Any]:
    """Keyword arguments of the config's source function (:func:`vegdask.data.open_source`)."""
    place = config["location"]
    return source_arguments(
        config["source"]["kind"],
        config["source"],
        location=(place["longitude"], place["latitude"]),
        size=place["size"],
    )


def open_job_source(config: JobConfig) -> tuple[xr.Dataset, xr.Dataset | None]:
    """The lazy Scene and weather of a job config's source (nothing is read yet)."""
    time = config["time"]
    return open_source(
        config["source"]["kind"],
        time["start"],
        time["end"],
        time["period"],
        **source_options(config),
    )


def fetch(
    run: Run, source: tuple[xr.Dataset, xr.Dataset | None] | None, force: bool, show: bool
) -> xr.Dataset:
    """The stage's Scene; ``source`` (prepare_job's) is None only when the stage is skipped."""
    entry = run.stage("fetch", force)
    if run.skip("fetch", entry):
        return run.store.open_zarr("scene.zarr")
    scene, weather = source or open_job_source(run.config)
    started, meter = time.perf_counter(), CpuMeter(run.client)
    update, bar = _progress_bar(scene.sizes["time"], "fetch", show)
    with bar:
        run.write_periods(entry, {"scene.zarr": scene}, update)
    if weather is not None and not entry["complete"]:  # e.g. an Earth Engine request: once
        run.store.write_zarr("weather.zarr", weather)
    stored = run.store.open_zarr("scene.zarr")
    # A period without one clear pixel (no images, or all cloud) is kept, and named here.
    empty = stored["cloud_mask"].all(dim=("y", "x")).values
    times = _dates(stored)
    entry.update(
        {
            "complete": True,
            "seconds": round(time.perf_counter() - started, 2),
            "cpu_seconds": meter.seconds(),
            "empty_periods": [t for t, e in zip(times, empty, strict=True) if e],
            "outputs": record_outputs(run.store, STAGE_OUTPUTS["fetch"], times),
        }
    )
    run.save()
    return stored


def _dates(dataset: xr.Dataset) -> list[str]:
    return [str(t)[:10] for t in dataset["time"].values]


def process(run: Run, scene: xr.Dataset, force: bool, show: bool) -> xr.Dataset:
    entry = run.stage("process", force)
    scene_changed = run.computing
    if run.skip("process", entry):
        return run.store.open_zarr("tiles.zarr")
    processing = run.config["processing"]
    # scene.zarr is chunked for the default tile; the tile size is a processing parameter. Only
    # the bands are rechunked: the small per-period coordinates stay in memory.
    chunks = default_chunks(processing["tile_size"])
    scene = scene.assign({n: v.variable.chunk(chunks) for n, v in scene.data_vars.items()})
    tiles = tile_metrics(scene, **processing)
    image = binary_image(scene).to_dataset(name="binary_image")
    image["binary_image"].attrs["meaning"] = "pyveg's BWNDVI: 255 = bare soil, 0 = vegetation"
    started, meter = time.perf_counter(), CpuMeter(run.client)
    update, bar = _progress_bar(scene.sizes["time"], "process", show)
    with bar:
        stores = {"tiles.zarr": tiles, "mask.zarr": image}
        written = run.write_periods(entry, stores, update, returning="tiles.zarr")
    # The tasks return the tile metrics they wrote; a resumed stage reads the earlier ones back.
    if len(written) == tiles.sizes["time"]:
        result = dataset_from_periods(tiles, written)
    else:
        result = run.store.load_zarr("tiles.zarr")
    write_tables(run, result, _weather(run.store))
    valid = result["valid"].values
    times = _dates(result)
    entry.update(
        {
            "complete": True,
            "seconds": round(time.perf_counter() - started, 2),
            "cpu_seconds": meter.seconds(),
            "tiles_per_period": int(valid[0].size),
            "valid_tiles": int(valid.sum()),
            "invalid_tiles": int((~valid).sum()),
            "empty_periods": [t for t, v in zip(times, valid, strict=True) if not v.any()],
            "dropped_edge_pixels": {
                "y": int(scene.sizes["y"] % processing["tile_size"]),
                "x": int(scene.sizes["x"] % processing["tile_size"]),
            },
            "outputs": record_outputs(run.store, STAGE_OUTPUTS["process"], times),
        }
    )
    run.save()
    # Tables rewritten from unchanged tiles (one was missing) leave the analysis' inputs as is.
    run.computing = scene_changed or bool(written)
    return result


def _weather(store: RunStore) -> xr.Dataset | None:
    if not store.exists("weather.zarr"):
        return None
    return store.load_zarr("weather.zarr")


def analyse(run: Run, force: bool) -> dict[str, Any] | None:
    entry = run.stage("analyse", force)
    if run.skip("analyse", entry):
        return None
    if not run.config["analysis"]["enabled"]:
        entry.update({"complete": True, "skipped": "disabled in the config", "outputs": {}})
        run.save()
        return None
    from vegdask.analysis import analyse_results

    started, meter = time.perf_counter(), CpuMeter(run.client)
    arguments = analysis_arguments(run.config["analysis"])
    before = snapshot(run.store, STAGE_OUTPUTS["analyse"])  # files of others there stay theirs
    resilience = analyse_results(run.store.url, **arguments)
    # The pyveg preset and report = false write no report.html.
    report = arguments.get("report", True) and arguments.get("preset") is None
    entry.update(
        {
            "complete": True,
            "seconds": round(time.perf_counter() - started, 2),
            "cpu_seconds": meter.seconds(),
            "report": report,
            "outputs": record_outputs(run.store, STAGE_OUTPUTS["analyse"], before=before),
        }
    )
    run.save()
    return resilience
