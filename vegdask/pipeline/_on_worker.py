"""A campaign location's job run as one task on a worker: the driver only submits and waits.

Besides its tasks, a location's job does work of its own: it reads and writes run.json, creates
its stores, builds its graphs, writes its tables and records its outputs. For a tiny location
(100x100 px, 24 periods) that was ~0.5 s of the driver's CPU, as much as its tiles' work on the
workers, and one driver process serves every worker of the pool. Run as a task, that work is
spread over the workers like the tiles: the task submits the job's own tasks back to the
scheduler (``worker_client``: it leaves its thread to them while it waits), at the location's
priority, and returns the job's messages for the driver to print.

Only a job whose output is a local folder (and so whose workers are local too: a remote cluster
needs blob storage) and whose source every worker reads as the driver does runs as a task. A
job writing to blob storage stays in the driver: the storage credentials are the driver's, given
to the tasks that write, and a job on a worker would need them whole (its analysis reads by
URL); so would Earth Engine's, and a local source's files are the driver's.
"""

from __future__ import annotations

import uuid
import warnings
from typing import Any

from vegdask.data.storage import is_remote
from vegdask.pipeline._interleave import RANK_STEP, SILENCED, ranked
from vegdask.pipeline._run import JobRead, prepare_job, run_job
from vegdask.pipeline._types import JobConfig, Manifest

__all__ = ["run_location"]

# Sources every worker reads as the driver would: computed, or fetched over the network.
_SOURCES = ("synthetic", "stac")


def run_location(
    config: JobConfig,
    client: Any,
    rank: int,
    until: str,
    read: JobRead | None = None,
    **options: Any,
) -> Manifest:
    """:func:`~vegdask.pipeline.run_job` of a campaign's location at the priority of ``rank``.

    As one task on a worker when its output and source allow (its messages then go to
    ``options["log"]`` when it ends, and it shows no progress bars), else here. ``read`` is its
    run.json as the campaign read it (:func:`~vegdask.pipeline.read_job`: small, it goes to the
    worker; not read again there). Its errors are raised here as run_job raises them. Returns
    the job's manifest.
    """
    if client is None or not _on_a_worker(config):
        with ranked(client, rank):
            return _run(config, client, until, read, **options)
    log = options.pop("log")
    options.pop("progress", None)
    lines, manifest = _on_worker(config, client, rank, until, {**options, "read": read})
    for line in lines:
        log(line)
    return manifest


def _on_a_worker(config: JobConfig) -> bool:
    """Whether the job's output (a local folder) and source let it run as a worker's task."""
    return not is_remote(config["output"]["url"]) and config["source"]["kind"] in _SOURCES


def _on_worker(
    config: JobConfig, client: Any, rank: int, until: str, options: dict[str, Any]
) -> tuple[list[str], Manifest]:
    """run_job as one task at the priority of ``rank``; its messages and manifest."""
    future = client.submit(
        _job,
        config,
        rank,
        until,
        options,
        key=f"vegdask-location-{uuid.uuid4().hex}",
        priority=-RANK_STEP * rank,
        pure=False,
    )
    try:
        return future.result()
    finally:
        future.release()


def _job(
    config: JobConfig, rank: int, until: str, options: dict[str, Any]
) -> tuple[list[str], Manifest]:
    """The location's job, in a worker's task: its own tasks go to the scheduler from here."""
    from distributed import worker_client

    lines: list[str] = []
    with warnings.catch_warnings(), worker_client() as client, ranked(client, rank):
        for message, category in SILENCED:  # as the driver silences them (interleave)
            warnings.filterwarnings("ignore", message, category)
        manifest = _run(config, client, until, progress=False, log=lines.append, **options)
    return lines, manifest


def _run(
    config: JobConfig, client: Any, until: str, read: JobRead | None, **options: Any
) -> Manifest:
    """run_job, prepared from ``read`` when the campaign read run.json (else it reads it)."""
    prepared = None
    if read is not None:
        checks = {k: options[k] for k in ("force", "verify", "log") if k in options}
        prepared = prepare_job(config, until=until, read=read, **checks)
    return run_job(config, client=client, until=until, prepared=prepared, **options)
