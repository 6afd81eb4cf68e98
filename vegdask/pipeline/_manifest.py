"""The run manifest, ``<output>/run.json``: per stage, its parameters' hash and completed periods.

Every stage records a hash of the parameters that affect it and the periods it has completed. A
period is recorded only after its data is written (Zarr region writes, idempotent), so a run killed
at any point resumes where it stopped and gives the same result as an uninterrupted run. A changed
parameter invalidates that stage and the stages after it; ``force`` recomputes everything.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import dask
import xarray as xr

from vegdask import __version__
from vegdask.compute import period_writes
from vegdask.data import RunStore

__all__ = ["STAGES", "Run", "read_manifest", "stages_to_compute"]

STAGES = ("fetch", "process", "analyse")
_PACKAGES = ("dask", "distributed", "xarray", "zarr", "numpy", "numba")


def _hash(params: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]


def _stage_params(config: dict[str, Any], stage: str) -> dict[str, Any]:
    fetch = {k: config[k] for k in ("location", "time", "source")}
    if stage == "fetch":
        return fetch
    process = {**fetch, "processing": config["processing"]}
    if stage == "process":
        return process
    # Analysis settings given through dask config (vegdask.analysis.*) count as parameters too.
    settings = dask.config.get("vegdask.analysis", default={})
    return {**process, "analysis": config["analysis"], "analysis_settings": settings}


def _unchanged(entry: dict[str, Any] | None, config: dict[str, Any], stage: str) -> bool:
    """Whether a manifest entry is complete with the parameters ``config`` gives ``stage``."""
    return bool(entry and entry.get("complete")) and entry.get("params_hash") == _hash(
        _stage_params(config, stage)
    )


def stages_to_compute(config: dict[str, Any], until: str = "analyse", force: bool = False) -> list:
    """The stages :func:`~vegdask.pipeline.run_job` would compute; the others it skips.

    A stage is skipped when it is complete with unchanged parameters and no earlier stage is
    computed; so an empty list means nothing to compute (no cluster needed).

    Examples
    --------
    >>> from vegdask.pipeline import validate_config
    >>> stages_to_compute(validate_config({"output": {"url": "memory://nothing-yet"}}))
    ['fetch', 'process', 'analyse']
    """
    stages = list(STAGES[: STAGES.index(until) + 1])
    entries = read_manifest(config["output"]["url"]).get("stages", {})
    for i, name in enumerate(stages):
        if force or not _unchanged(entries.get(name), config, name):
            return stages[i:]
    return []


def read_manifest(output: str | RunStore) -> dict[str, Any]:
    """The run manifest at ``<output>/run.json`` (empty if there is none)."""
    store = output if isinstance(output, RunStore) else RunStore(output)
    return store.read_json("run.json") if store.exists("run.json") else {}


class Run:
    """State of one job: its output store, manifest and client."""

    def __init__(
        self, config: dict[str, Any], store: RunStore, client: Any, log: Callable[[str], None]
    ):
        self.config = config
        self.store = store
        self.client = client
        self.log = log
        self.manifest = read_manifest(store)
        self.manifest.update(
            vegdask_version=__version__,
            config=config,
            packages={name: version(name) for name in _PACKAGES},
        )
        self.manifest.setdefault("stages", {})
        self.computing = False  # once a stage computes, every later one does (its inputs moved)

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

    def skip(self, name: str, entry: dict[str, Any]) -> bool:
        """Whether stage ``name`` is skipped (complete, unchanged, no earlier stage computed).

        Its entry records ``last_run``: ``"skipped"`` or ``"computed"``.
        """
        skip = not self.computing and _unchanged(entry, self.config, name)
        self.computing = not skip
        entry["last_run"] = "skipped" if skip else "computed"
        if skip:
            self.log(f"{name}: complete, inputs and parameters unchanged; skipped")
            self.save()
        return skip

    def save(self) -> None:
        self.store.write_json("run.json", self.manifest)

    def write_periods(
        self,
        entry: dict[str, Any],
        datasets: dict[str, xr.Dataset],
        progress: Callable[[int], None],
        returning: str | None = None,
    ) -> dict[int, Any]:
        """Write every pending period of ``datasets`` (store name -> lazy Dataset) by region.

        Stores are (re)created when the stage starts afresh; each period is recorded in the
        manifest as soon as all its stores are written. Returns, for each period written now (by
        index), what its task returned: the blocks of the store ``returning`` (see
        :func:`~vegdask.compute.period_writes`).
        """
        times = [str(t)[:10] for t in next(iter(datasets.values()))["time"].values]
        done = set(entry["periods_completed"])
        if not done:
            for name, dataset in datasets.items():
                self.store.create_zarr(name, dataset)
        pending = [i for i, t in enumerate(times) if t not in done]
        progress(len(times) - len(pending))
        if not pending:
            return {}
        from distributed import as_completed

        # Every period's writes in one graph, submitted once: one task a period.
        stores = {self.store.url_of(name): dataset for name, dataset in datasets.items()}
        url = None if returning is None else self.store.url_of(returning)
        writes = period_writes(stores, pending, options=self.store.options, returning=url)
        futures = dict(zip(self.client.compute(writes), pending, strict=True))
        written = {}
        for future in as_completed(list(futures)):
            # raise a failed write here, before anything is recorded
            written[futures[future]] = future.result()
            entry["periods_completed"] = sorted(
                {*entry["periods_completed"], times[futures[future]]}
            )
            self.save()
            progress(1)
        return written
