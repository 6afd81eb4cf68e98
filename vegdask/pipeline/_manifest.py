"""The run manifest, ``<output>/run.json``: per stage, its parameters' hash and completed periods.

Every stage records a hash of the parameters that affect it and the periods it has completed. A
period is recorded only after its data is written (Zarr region writes, idempotent), so a run killed
at any point resumes where it stopped and gives the same result as an uninterrupted run. A changed
parameter invalidates that stage and the stages after it (their recorded outputs are removed);
``force`` recomputes everything.

A complete stage records what it wrote (``outputs``: :func:`vegdask.data.storage.record_outputs`). A
rerun checks those records (sizes; every chunk and checksum with ``verify``) and recomputes what
is missing or changed: the periods of a Zarr store whose chunks changed, or the whole output.
Nothing the manifest does not account for is ever replaced without ``force``.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from importlib.metadata import version
from typing import Any, cast

import dask
import xarray as xr

from vegdask import __version__
from vegdask.compute import grouped_period_writes, store_templates
from vegdask.data import ManifestError, RunStore
from vegdask.data.storage import Damage, check_outputs, load_manifest, remove_outputs
from vegdask.pipeline._types import JobConfig, Manifest, StageEntry

__all__ = [
    "STAGES",
    "STAGE_OUTPUTS",
    "Run",
    "check_job",
    "read_manifest",
    "stages_to_compute",
]

STAGES = ("fetch", "process", "analyse")
#: What each stage writes at the output (besides run.json).
STAGE_OUTPUTS = {
    "fetch": ("scene.zarr", "weather.zarr"),
    "process": ("mask.zarr", "tiles.zarr", "tiles.parquet", "results_summary.json"),
    "analyse": ("analysis", "report.html", "report.pdf"),
}
# The stores written period by period: a damaged period of these is recomputed on its own.
_PERIOD_STORES = ("scene.zarr", "mask.zarr", "tiles.zarr")
_PACKAGES = ("dask", "distributed", "xarray", "zarr", "numpy", "numba")


@functools.cache
def _package_versions() -> tuple[tuple[str, str], ...]:
    """The versions of the packages run.json records, looked up once a process."""
    return tuple((name, version(name)) for name in _PACKAGES)


def _hash(params: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]


def _stage_params(config: JobConfig, stage: str) -> dict[str, Any]:
    fetch = {k: config[k] for k in ("location", "time", "source")}
    if stage == "fetch":
        return fetch
    process = {**fetch, "processing": config["processing"]}
    if stage == "process":
        return process
    # Analysis settings given through dask config (vegdask.analysis.*) count as parameters too.
    settings = dask.config.get("vegdask.analysis", default={})
    return {**process, "analysis": config["analysis"], "analysis_settings": settings}


class _StageHashes(dict[str, str]):
    """Per stage, the hash of the parameters a config gives it (as run.json records it).

    Each is computed once, when first asked for (a stage without a complete entry never is).
    """

    def __init__(self, config: JobConfig) -> None:
        super().__init__()
        self.config = config

    def __missing__(self, stage: str) -> str:
        self[stage] = _hash(_stage_params(self.config, stage))
        return self[stage]


def _unchanged(entry: StageEntry | None, hashes: dict[str, str], stage: str) -> bool:
    """Whether ``stage``'s manifest entry is complete, with parameters of hash ``hashes[stage]``."""
    return (
        entry is not None
        and bool(entry.get("complete"))
        and entry.get("params_hash") == hashes[stage]
    )


def stages_to_compute(
    config: JobConfig,
    until: str = "analyse",
    force: bool = False,
    verify: bool = False,
) -> list[str]:
    """The stages :func:`~vegdask.pipeline.run_job` would compute; the others it skips.

    A stage is skipped when it is complete with unchanged parameters, its outputs match their
    record (the full check with ``verify``) and no earlier stage is computed; so an empty list
    means nothing to compute (no cluster needed). The output is not checked: :func:`check_job`
    does that, and :func:`~vegdask.pipeline.prepare_job` both on one read of run.json.

    Examples
    --------
    >>> from vegdask.pipeline import validate_config
    >>> stages_to_compute(validate_config({"output": {"url": "memory://nothing-yet"}}))
    ['fetch', 'process', 'analyse']
    """
    if force:
        return list(STAGES[: STAGES.index(until) + 1])
    store = RunStore(config["output"]["url"])
    return Run(config, store, None, print, until=until, verify=verify, check=False).to_compute


def _pending(manifest: Manifest, hashes: dict[str, str], until: str) -> list[str]:
    """The stages up to ``until`` from the first not complete with these parameters on."""
    stages = list(STAGES[: STAGES.index(until) + 1])
    entries = manifest.get("stages", {})
    for i, name in enumerate(stages):
        if not _unchanged(entries.get(name), hashes, name):
            return stages[i:]
    return []


def _completed(client: Any, tasks: list[Any]) -> Iterator[tuple[int, Any]]:
    """Each of ``tasks``' index and result, as it completes on ``client``'s cluster.

    A job that is itself a worker's task (a campaign's location) computes a lone task here, in
    its own thread: through the scheduler, the task's in-task share of the graph (hundreds of
    task nodes for a tiny location) was pickled here, unpickled and pickled again by the
    scheduler, then unpickled by a worker: benchmarks/bench_campaign.py's 67 tiny locations took
    5.4 s more CPU that way (driver 3.8 against 2.0 s, workers 35.4 against 31.9 s).
    """
    if len(tasks) == 1 and _in_a_worker_task():
        yield 0, dask.compute(tasks[0], scheduler="sync")[0]
        return
    from distributed import as_completed

    futures = {future: index for index, future in enumerate(client.compute(tasks))}
    for future in as_completed(list(futures)):
        yield futures[future], future.result()


def _in_a_worker_task() -> bool:
    from distributed import get_worker

    try:
        get_worker()
    except ValueError:  # not in a worker's thread
        return False
    return True


def check_job(config: JobConfig, until: str = "analyse", *, force: bool = False) -> None:
    """Refuse an output that holds what this job's run would wrongly replace.

    That is: a run.json that is not a vegdask run's, another job's outputs, or outputs (of the
    stages up to ``until``) that run.json does not account for. ``force`` accepts all three: the
    run replaces them. Another job is one whose location, dates or source differ; a change of
    processing or analysis parameters only recomputes the stages it affects.

    Raises
    ------
    vegdask.data.ManifestError, FileExistsError
        One line naming the file or the difference, and ``--force``.
    """
    if force:
        return
    store = RunStore(config["output"]["url"])
    _check_job(config, store, _manifest_of_job(store, force), until, _StageHashes(config))


def _manifest_of_job(store: RunStore, force: bool) -> Manifest:
    """The run.json a job resumes; with ``force``, one vegdask cannot read counts as none."""
    try:
        return read_manifest(store)
    except ManifestError as err:
        if force:
            return {}
        raise ManifestError(
            f"{err}: pass --force to replace it and the outputs beside it"
        ) from None


def _check_job(
    config: JobConfig, store: RunStore, manifest: Manifest, until: str, hashes: dict[str, str]
) -> None:
    """:func:`check_job` on the run.json read already."""
    if not manifest:
        return  # check_output covers an output without run.json
    url = config["output"]["url"].rstrip("/")
    hint = "choose another --output, or pass --force to replace them"
    old = manifest.get("config")
    difference = _difference(old, config) if isinstance(old, dict) else None
    if difference:
        raise FileExistsError(
            f"output {url} holds the outputs of another job ({difference}); {hint}"
        )
    for stage in STAGES[: STAGES.index(until) + 1]:
        entry = manifest["stages"].get(stage)
        if _writes_nothing_new(entry, config, stage, hashes):
            continue
        for name in STAGE_OUTPUTS[stage]:
            if store.exists(name) and not _accounted(entry, name):
                raise FileExistsError(
                    f"{url}/{name} exists but run.json does not account for it (no {stage} stage "
                    f"of this run wrote it) and the run would replace it; move it, {hint}"
                )


def _difference(old: Mapping[str, Any], new: JobConfig) -> str | None:
    """The first fetch parameter (location, dates, source) set in both configs that differs."""
    for section in ("location", "time", "source"):
        before, after = old.get(section), cast(dict[str, Any], new[section])
        if not isinstance(before, dict):
            continue
        for key in sorted(before.keys() & after.keys()):
            if before[key] != after[key]:
                return f"{section}.{key} = {before[key]!r} there, {after[key]!r} in this config"
    return None


def _writes_nothing_new(
    entry: StageEntry | None, config: JobConfig, stage: str, hashes: dict[str, str]
) -> bool:
    """Whether ``stage`` writes nothing beyond its record (its outputs need no accounting).

    It is complete with unchanged parameters (recomputed, it writes what it recorded) or, for
    the analysis, disabled.
    """
    disabled = stage == "analyse" and not config["analysis"]["enabled"]
    return disabled or _unchanged(entry, hashes, stage)


def _accounted(entry: StageEntry | None, name: str) -> bool:
    """Whether the stage entry ``entry`` accounts for its output ``name``.

    A stage under way may have written any of its outputs; a complete one wrote what it
    recorded (everything, for an older vegdask's record-less entry).
    """
    if entry is None:
        return False
    if not entry.get("complete") or "outputs" not in entry:
        return True
    return name in entry["outputs"]


def read_manifest(output: str | RunStore) -> Manifest:
    """The run manifest at ``<output>/run.json`` (empty if there is none).

    Raises
    ------
    vegdask.data.ManifestError
        If run.json is not a vegdask run's manifest (one line naming it and what is wrong).
    """
    store = output if isinstance(output, RunStore) else RunStore(output)
    return cast(Manifest, load_manifest(store))


def _damaged_stages(
    store: RunStore, manifest: Manifest, *, verify: bool = False
) -> dict[str, list[Damage]]:
    """Per complete stage, its outputs that no longer match their record in run.json.

    A complete stage without a record (run.json of an older vegdask) is damaged as a whole: what
    it wrote cannot be checked.
    """
    damaged = {}
    for name, entry in manifest.get("stages", {}).items():
        if name not in STAGES or not entry.get("complete"):
            continue
        if "outputs" not in entry:  # every period store redone, every file rewritten
            stores = [n for n in STAGE_OUTPUTS[name] if n in _PERIOD_STORES] or [f"{name} outputs"]
            damaged[name] = [Damage(n, whole=True, reason="not recorded") for n in stores]
        elif damage := check_outputs(store, entry["outputs"], verify=verify):
            damaged[name] = damage
    return damaged


def _reset_damaged(manifest: Manifest, damaged: dict[str, list[Damage]]) -> list[str]:
    """Mark the damaged stages (and what depends on them) to be recomputed; one line a stage.

    A Zarr store's damaged periods are taken out of the stage's completed periods (and, for the
    Scene, of the process stage's); damaged metadata redoes the whole store. Any other output
    is rewritten; the later stages are redone only when their inputs change (the Scene, the
    weather, the tiles), not for a table written again from unchanged tiles.
    """
    stages, lines = manifest.get("stages", {}), []
    redo: set[str] = set()
    redo_all = upstream = False
    for name in STAGES:
        entry = stages.get(name)
        if entry is None:
            continue
        damage = damaged.get(name, [])
        if not (damage or upstream):
            continue
        for item in damage:
            if item.name in _PERIOD_STORES:
                redo_all |= item.whole
                redo |= set(item.periods)
        entry["complete"] = False
        upstream = upstream or name == "fetch" or bool(redo or redo_all)
        if redo_all:
            entry["periods_completed"] = []
        else:
            entry["periods_completed"] = [p for p in entry["periods_completed"] if p not in redo]
        if damage:
            found = "; ".join(item.describe() for item in damage)
            lines.append(f"{name}: outputs differ from run.json: {found}; recomputing them")
    return lines


class Run:
    """State of one job: its output store, manifest and client.

    run.json is read, checked (:func:`check_job`, unless not ``check``) and its damaged stages
    reset once, here, before anything is written; :attr:`to_compute` is then what
    :func:`stages_to_compute` says. The damaged stages' lines wait in :attr:`repairs` until the
    run starts (:meth:`start`).
    """

    def __init__(
        self,
        config: JobConfig,
        store: RunStore,
        client: Any,
        log: Callable[[str], None],
        *,
        until: str = "analyse",
        force: bool = False,
        verify: bool = False,
        check: bool = True,
    ):
        self.config = config
        self.store = store
        self.client = client
        self.log = log
        self.hashes = _StageHashes(config)
        self.manifest = _manifest_of_job(store, force) if check else read_manifest(store)
        self.repairs: list[str] = []
        self.to_compute = list(STAGES[: STAGES.index(until) + 1])
        if not force:
            if check:
                _check_job(config, store, self.manifest, until, self.hashes)
            damaged = _damaged_stages(store, self.manifest, verify=verify)
            self.repairs = _reset_damaged(self.manifest, damaged)
            self.to_compute = _pending(self.manifest, self.hashes, until)
        self.computing = False  # once a stage computes, every later one does (its inputs moved)
        self.unsaved = False  # the manifest holds what run.json does not yet (save_if_changed)

    def start(self) -> None:
        """Log the repairs; the manifest records this vegdask, its packages and the config.

        run.json is written with them by the run's next save: before its first computed stage
        writes anything (:meth:`stage`, :meth:`skip`), else at its end
        (:meth:`save_if_changed`). A run that fails in a skipped stage leaves run.json as it was.
        """
        for line in self.repairs:
            self.log(line)
        self.manifest["vegdask_version"] = __version__
        self.manifest["config"] = self.config
        self.manifest["packages"] = dict(_package_versions())
        self.manifest.setdefault("stages", {})
        self.unsaved = True

    def stage(self, name: str, force: bool) -> StageEntry:
        """The manifest entry of stage ``name``, reset if its parameters changed or ``force``."""
        params_hash = self.hashes[name]
        stages = self.manifest["stages"]
        entry = stages.get(name)
        if entry and entry.get("params_hash") != params_hash and not force:
            self.log(f"{name}: parameters changed since the last run; recomputing this stage")
        if force or not entry or entry.get("params_hash") != params_hash:
            removed = []
            for stage in STAGES[STAGES.index(name) :]:
                old = stages.pop(stage, None)
                removed += remove_outputs(self.store, old.get("outputs", {}) if old else {})
            if removed and not force:
                self.log(
                    f"{name}: removed the outputs of the earlier parameters: {', '.join(removed)}"
                )
            entry = {"params_hash": params_hash, "periods_completed": [], "complete": False}
            stages[name] = entry
            self.save()  # before the stage writes: what it writes is then accounted for
        return entry

    def skip(self, name: str, entry: StageEntry) -> bool:
        """Whether stage ``name`` is skipped (complete, unchanged, no earlier stage computed).

        Its entry records ``last_run``: ``"skipped"`` or ``"computed"``. A skip is written to
        run.json by the run's next save; before a computed stage writes, what the manifest
        noted is written.
        """
        skip = not self.computing and _unchanged(entry, self.hashes, name)
        self.computing = not skip
        entry["last_run"] = "skipped" if skip else "computed"
        if skip:
            self.log(f"{name}: complete, inputs and parameters unchanged; skipped")
            self.unsaved = True
        else:
            self.save_if_changed()
        return skip

    def save(self) -> None:
        """Write run.json (the manifest as it is now)."""
        self.store.write_json("run.json", self.manifest)
        self.unsaved = False

    def save_if_changed(self) -> None:
        """Write run.json if the manifest changed since its last save (:meth:`start`, a skip)."""
        if self.unsaved:
            self.save()

    def write_periods(
        self,
        entry: StageEntry,
        datasets: dict[str, xr.Dataset],
        progress: Callable[[int], None],
        returning: str | None = None,
    ) -> dict[int, Any]:
        """Write every pending period of ``datasets`` (store name -> lazy Dataset) by region.

        Stores are (re)created when the stage starts afresh, a small scene's holding a task's
        periods a Zarr chunk (:func:`~vegdask.compute.store_templates`). Consecutive periods of a
        small scene share a task (:func:`~vegdask.compute.grouped_period_writes`); a task's periods
        are recorded in the manifest (one write of run.json) as soon as it has written them.
        Returns, for each period written now (by index), what its task returned for it: the
        blocks of the store ``returning`` (see :func:`~vegdask.compute.period_writes`).
        """
        times = [str(t)[:10] for t in next(iter(datasets.values()))["time"].values]
        done = set(entry["periods_completed"])
        if not done:
            for name, dataset in store_templates(datasets).items():
                self.store.create_zarr(name, dataset)
        pending = [i for i, t in enumerate(times) if t not in done]
        progress(len(times) - len(pending))
        if not pending:
            return {}
        # Every period's writes in one graph, submitted once: one task a few periods.
        stores = {self.store.url_of(name): dataset for name, dataset in datasets.items()}
        url = None if returning is None else self.store.url_of(returning)
        tasks = grouped_period_writes(stores, pending, options=self.store.options, returning=url)
        written: dict[int, Any] = {}
        for index, result in _completed(self.client, [task for _, task in tasks]):
            # a failed write raised here, before anything is recorded
            periods = tasks[index][0]
            written.update(zip(periods, result, strict=True))
            entry["periods_completed"] = sorted(
                {*entry["periods_completed"], *(times[i] for i in periods)}
            )
            self.save()
            progress(len(periods))
        return written
