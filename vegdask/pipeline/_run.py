"""`run_job`: a job as resumable stages (fetch -> process -> analyse), recorded in run.json."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vegdask.compute import check_tile_fits
from vegdask.data import RunStore
from vegdask.pipeline._manifest import STAGES, Run
from vegdask.pipeline._stages import analyse, fetch, open_job_source, process, source_options
from vegdask.pipeline._types import JobConfig, Manifest

__all__ = ["check_credentials", "run_job"]


def check_credentials(config: JobConfig) -> None:
    """Sign in to the config's source if it needs an account, before anything is written.

    Earth Engine is initialised here (once a process) so that missing credentials stop the job
    with their one-line message before run.json or scene.zarr exist, not in its first tasks.

    Raises
    ------
    vegdask.data.EarthEngineAuthError
        If Earth Engine has no usable credentials or project.
    """
    if config["source"]["kind"] == "earthengine":
        from vegdask.data import initialize_earthengine

        initialize_earthengine(source_options(config).get("project"))


def run_job(
    config: JobConfig,
    *,
    client: Any,
    force: bool = False,
    verify: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
    until: str = "analyse",
) -> Manifest:
    """Run fetch -> process -> analyse into ``config["output"]["url"]``, resuming what exists.

    Parameters
    ----------
    config : JobConfig
        A validated job config (see :func:`vegdask.pipeline.load_config`).
    client : distributed.Client or None
        Where the work runs; None will do when :func:`stages_to_compute` is empty (a stage that
        is complete with unchanged inputs and parameters is skipped, the analysis included).
    force : bool, default False
        Recompute every stage, and replace what the output holds that run.json does not account
        for (otherwise an error, as are another job's outputs: :func:`check_job`).
    verify : bool, default False
        Check the recorded outputs fully (decode every chunk, compare checksums) rather than by
        their sizes; whatever is missing or changed is recomputed either way.
    progress : bool, default True
        Show a progress bar per stage.
    log : callable
        Receives one-line messages for the user.
    until : {"fetch", "process", "analyse"}, default "analyse"
        The last stage to run.

    Returns
    -------
    Manifest
        The manifest, as written to ``<output>/run.json``.
    """
    if until not in STAGES:
        raise ValueError(f"until must be one of {STAGES}, got {until!r}")
    source = open_job_source(config)  # bad source settings fail here, before anything is written
    store = RunStore(config["output"]["url"])
    # run.json read and checked once: an unreadable one is named with --force, another job's
    # outputs or files it does not account for are refused
    run = Run(config, store, client, log, until=until, force=force, verify=verify)
    if "fetch" in run.to_compute:
        check_credentials(config)
    if config["source"]["kind"] == "local":  # the config checked the others' location.size
        scene = source[0]
        try:
            check_tile_fits(config["processing"]["tile_size"], scene.sizes["y"], scene.sizes["x"])
        except ValueError as err:
            raise ValueError(f"processing.{err}") from None
    store.ensure_container()
    run.start()
    scene = fetch(run, source, force, progress)
    if until != "fetch":
        process(run, scene, force, progress)
    if until == "analyse":
        analyse(run, force)
    return run.manifest
