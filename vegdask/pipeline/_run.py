"""`run_job`: a job as resumable stages (fetch -> process -> analyse), recorded in run.json."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import xarray as xr

from vegdask.compute import check_tile_fits
from vegdask.data import RunStore
from vegdask.pipeline._lock import OutputInUseError, check_output
from vegdask.pipeline._manifest import STAGES, Run
from vegdask.pipeline._stages import analyse, fetch, open_job_source, process, source_options
from vegdask.pipeline._types import JobConfig, Manifest

__all__ = ["JobRead", "PreparedJob", "check_credentials", "prepare_job", "read_job", "run_job"]


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


@dataclass(frozen=True)
class JobRead:
    """A job's run.json as read and checked once (:func:`read_job`), with its stamp.

    Small and picklable (no source, no client): a campaign reads its locations' run.json on the
    driver and its locations' tasks prepare from it (:func:`prepare_job`'s ``read``).
    """

    run: Run
    stamp: tuple[Any, ...] | None
    options: tuple[str, bool, bool]  # until, force, verify

    @property
    def to_compute(self) -> list[str]:
        """The stages the run computes (:func:`stages_to_compute`)."""
        return self.run.to_compute


def read_job(
    config: JobConfig,
    store: RunStore,
    *,
    until: str = "analyse",
    force: bool = False,
    verify: bool = False,
) -> JobRead:
    """Read and check ``store``'s run.json for ``config`` once, as :func:`prepare_job` does.

    :func:`check_job`'s refusals and the damaged stages; nothing is written.

    Examples
    --------
    >>> import tempfile
    >>> from vegdask.pipeline import validate_config
    >>> out = tempfile.mkdtemp()
    >>> read_job(validate_config({"output": {"url": out}}), RunStore(out)).to_compute
    ['fetch', 'process', 'analyse']
    """
    if until not in STAGES:
        raise ValueError(f"until must be one of {STAGES}, got {until!r}")
    stamp = store.stamp("run.json")  # before the read: a write during it shows too
    run = Run(config, store, None, print, until=until, force=force, verify=verify)
    return JobRead(run, stamp, (until, force, verify))


@dataclass(frozen=True)
class PreparedJob:
    """A job whose every check before writing is done, once: what :func:`run_job` will compute.

    Made by :func:`prepare_job`; pass it to :func:`run_job` as ``prepared`` so that run.json is
    read, the output checked and the stages' parameters hashed once on the run path. ``stamp``
    is what run.json was like when read (:meth:`~vegdask.data.RunStore.stamp`); ``source`` is
    the opened source, None when the fetch stage is skipped (its source is not needed).
    """

    config: JobConfig
    until: str
    force: bool
    verify: bool
    run: Run
    source: tuple[xr.Dataset, xr.Dataset | None] | None
    stamp: tuple[Any, ...] | None

    @property
    def to_compute(self) -> list[str]:
        """The stages the run computes (:func:`stages_to_compute`); empty: no cluster needed."""
        return self.run.to_compute


def prepare_job(
    config: JobConfig,
    *,
    until: str = "analyse",
    force: bool = False,
    verify: bool = False,
    log: Callable[[str], None] = print,
    store: RunStore | None = None,
    read: JobRead | None = None,
) -> PreparedJob:
    """Check a job once before it writes anything or needs a cluster.

    The output's container is made sure of and the output checked (:func:`check_output`),
    run.json read and checked (:func:`check_job`, an unreadable one named with ``--force``), its
    damaged stages found (every chunk and checksum with ``verify``), a local folder's scene
    checked to hold a tile, and, when the fetch stage computes, the source opened (bad source
    settings fail here) and signed in to. Nothing
    is written (but a missing container), so a refused job leaves the output as it was;
    :func:`run_job` refuses the job if run.json changed since (another run wrote it).

    Parameters
    ----------
    config, until, force, verify, log
        As :func:`run_job`'s.
    store : RunStore, optional
        The output's store, when the caller has one (e.g. whose container it made sure of
        before taking the lock: a store does that once).
    read : JobRead, optional
        :func:`read_job`'s answer for this config and options, when the caller read run.json
        already (a campaign, for its plan): it is not read again. Its store is the output's.

    Returns
    -------
    PreparedJob
        Its ``to_compute`` lists the stages to compute (empty: no cluster is needed).

    Examples
    --------
    >>> import tempfile
    >>> from vegdask.pipeline import validate_config
    >>> job = prepare_job(validate_config({"output": {"url": tempfile.mkdtemp()}}))
    >>> job.to_compute
    ['fetch', 'process', 'analyse']
    """
    if until not in STAGES:
        raise ValueError(f"until must be one of {STAGES}, got {until!r}")
    if read is not None and (read.run.config, read.options) != (config, (until, force, verify)):
        raise ValueError("read is read_job's answer for another config or options")
    store = read.run.store if read else store or RunStore(config["output"]["url"])
    store.ensure_container()  # storage that refuses or does not answer fails first
    check_output(store.url, force=force)  # a file, or a folder of stores vegdask did not write
    read = read or read_job(config, store, until=until, force=force, verify=verify)
    run, stamp = read.run, read.stamp
    run.log = log
    fetching, local = "fetch" in run.to_compute, config["source"]["kind"] == "local"
    # The source is needed (and bad source settings fail here, before anything is written) when
    # the fetch stage computes: a changed source setting changes its parameters' hash. A local
    # source is opened anyway, for its size (the config checked the others' location.size).
    source = open_job_source(config) if fetching or local else None
    if local and source is not None:
        scene = source[0]
        try:
            check_tile_fits(config["processing"]["tile_size"], scene.sizes["y"], scene.sizes["x"])
        except ValueError as err:
            raise ValueError(f"processing.{err}") from None
    if fetching:
        check_credentials(config)
    return PreparedJob(config, until, force, verify, run, source, stamp)


def run_job(
    config: JobConfig,
    *,
    client: Any,
    force: bool = False,
    verify: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
    until: str = "analyse",
    prepared: PreparedJob | None = None,
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
    prepared : PreparedJob, optional
        :func:`prepare_job`'s answer for this config, ``until``, ``force`` and ``verify`` (a
        caller that needed its ``to_compute`` to choose ``client``): its checks are not
        repeated. Made here when not given.

    Raises
    ------
    OutputInUseError
        If run.json changed since ``prepared`` read it: another run wrote to the output.

    Returns
    -------
    Manifest
        The manifest, as written to ``<output>/run.json``.
    """
    job = prepared or prepare_job(config, until=until, force=force, verify=verify, log=log)
    if (job.config, job.until, job.force, job.verify) != (config, until, force, verify):
        raise ValueError("prepared is prepare_job's answer for another config or options")
    run = job.run
    if prepared is not None and run.store.stamp("run.json") != job.stamp:
        raise OutputInUseError(
            f"output {run.store.url} changed after this run checked it (another run wrote its "
            "run.json meanwhile); run the command again"
        )
    run.client, run.log = client, log
    run.start()
    scene = fetch(run, job.source, force, progress)
    if until != "fetch":
        process(run, scene, force, progress)
    if until == "analyse":
        analyse(run, force)
    run.save_if_changed()  # what start and the skipped stages noted, if no save wrote it since
    return run.manifest
