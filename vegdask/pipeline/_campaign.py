"""Campaigns: one config naming many locations, run as one job on one cluster.

A config with a ``[campaign]`` section names its locations there (catalogue ids, ``"all"``,
``{id, longitude, latitude, size, start, end}`` tables, or a ``locations_file`` CSV); every other
section applies to every location. Each location runs as a single job (see
:func:`~vegdask.pipeline.run_job`) into ``<output>/locations/<id>/``; ``<output>/campaign.json``
records per location its status, error, timings and verdict, and ``<output>/summary/`` holds the
cross-location summary of :func:`vegdask.analysis.summarise_runs`. The locations run a few at
once on the one cluster, their tasks interleaved and ranked so that they finish in order.
"""

from __future__ import annotations

import copy
import csv
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from vegdask import config as settings
from vegdask.data import RunStore, location, locations, synthetic_location
from vegdask.data.storage import join_url
from vegdask.pipeline._config import ConfigError, read_config, validate_config
from vegdask.pipeline._cpu import CpuMeter
from vegdask.pipeline._interleave import interleave
from vegdask.pipeline._manifest import STAGES, read_manifest
from vegdask.pipeline._on_worker import run_location
from vegdask.pipeline._record import Record
from vegdask.pipeline._run import JobRead, read_job
from vegdask.pipeline._types import JobConfig, Manifest, StageEntry

__all__ = [
    "DEMO_CAMPAIGN",
    "Campaign",
    "Site",
    "campaign_to_compute",
    "check_campaign",
    "load_job",
    "run_campaign",
    "validate_campaign",
]

#: The offline demo campaign: 8 catalogue locations, 4 with declining and 4 with stable
#: synthetic rainfall (see :func:`vegdask.data.synthetic_location`), small scenes (25 tiles:
#: the pooled test's power, docs/pipeline.md).
DEMO_CAMPAIGN: dict[str, Any] = {
    "campaign": {"locations": ["00", "01", "02", "03", "04", "05", "06", "07"]},
    "location": {"size": 250},
    "time": {"start": "2016-01-01", "end": "2020-01-01", "period": "1m"},
    "source": {"kind": "synthetic"},
    "output": {"url": "vegdask-campaign"},
    "analysis": {
        "enabled": True,
        "n_surrogates": 200,
        "sensitivity_surrogates": 50,
        "tile_surrogates": 50,
        "spatial_permutations": 19,
    },
}
_CAMPAIGN_KEYS = ("locations", "locations_file")
# A location's own table: where it is, its scene size and its dates.
_TABLE_KEYS = ("id", "longitude", "latitude", "size", "start", "end")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_SYNTHETIC_KEYS = ("seed", "rainfall_start", "rainfall_end")


@dataclass(frozen=True)
class Site:
    """One location of a campaign: its id, validated job config and synthetic rainfall path.

    ``read`` is its run.json as :func:`check_campaign` read it (None until then).
    """

    id: str
    config: JobConfig
    synthetic_rainfall: str | None = None
    read: JobRead | None = field(default=None, compare=False, repr=False)

    @property
    def output(self) -> str:
        return self.config["output"]["url"]


@dataclass(frozen=True)
class Campaign:
    """A validated campaign: the shared config (output, cluster, ...) and its sites."""

    config: JobConfig
    sites: tuple[Site, ...]

    @property
    def output(self) -> str:
        return self.config["output"]["url"]


def validate_campaign(raw: dict[str, Any], base: str | Path = ".") -> Campaign:
    """Validate a campaign config: the ``[campaign]`` section and every location's job config.

    Parameters
    ----------
    raw : dict
        The config as read (:func:`~vegdask.pipeline.read_config`), with a ``campaign`` table.
    base : str or Path
        Where a relative ``locations_file`` is (the config file's folder).

    Raises
    ------
    ConfigError
        One line naming the location (or the file's row) and the field.

    Examples
    --------
    >>> campaign = validate_campaign({"campaign": {"locations": [
    ...     "17", {"id": "site-a", "longitude": 10.5, "latitude": 12.0, "size": 100}]}})
    >>> [(s.id, s.output, s.config["location"]["size"]) for s in campaign.sites]
    [('17', 'vegdask-demo/locations/17', 890), ('site-a', 'vegdask-demo/locations/site-a', 100)]
    >>> try:
    ...     validate_campaign({"campaign": {"locations": [{"id": "x", "longitude": 1,
    ...                                                      "latitude": 91}]}})
    ... except ConfigError as err:
    ...     print(err)
    campaign location 'x': location.latitude = 91 is not valid; expected a number in [-90, 90]
    """
    raw = copy.deepcopy(raw)
    section = raw.pop("campaign")
    if not isinstance(section, dict):
        raise ConfigError(f"[campaign] must be a table of keys, got {section!r}")
    unknown = sorted(set(section) - set(_CAMPAIGN_KEYS))
    if unknown:
        raise ConfigError(f"unknown key campaign.{unknown[0]}; allowed: {list(_CAMPAIGN_KEYS)}")
    if len(section) != 1:
        raise ConfigError("[campaign] needs either campaign.locations or campaign.locations_file")
    placed = sorted(set(raw.get("location") or {}) - {"size"})
    if placed:
        raise ConfigError(
            f"location.{placed[0]}: a campaign names its locations in [campaign]; its [location] "
            "may only hold size (every location's default)"
        )
    common = validate_config(raw)  # the shared sections, named without a location
    if "locations" in section:
        tables = _entries(section["locations"])
    else:
        tables = _read_locations_file(section["locations_file"], Path(base))
    seen: set[str] = set()
    sites = []
    for table in tables:
        if table["id"] in seen:
            raise ConfigError(f"campaign location {table['id']!r} is named twice")
        seen.add(table["id"])
        sites.append(_site(raw, table, common["output"]["url"]))
    if not sites:
        raise ConfigError("[campaign] names no locations; give catalogue ids, 'all' or tables")
    return Campaign(common, tuple(sites))


def _entries(value: Any) -> list[dict[str, Any]]:
    """``campaign.locations`` as location tables (catalogue ids and "all" expanded)."""
    if not isinstance(value, list):
        raise ConfigError(
            f"campaign.locations = {value!r} is not valid; expected a list of catalogue ids, "
            "'all' and {id, longitude, latitude, size} tables"
        )
    tables: list[dict[str, Any]] = []
    for i, entry in enumerate(value):
        where = f"campaign.locations[{i}]"
        if entry == "all":
            tables.extend({"id": key} for key in locations())
        elif isinstance(entry, str | int) and not isinstance(entry, bool):
            try:
                tables.append({"id": location(entry).id})
            except KeyError as err:
                raise ConfigError(
                    f"{where} = {entry!r} is not a catalogue id; expected one of "
                    "vegdask config locations (00-66), 'all' or a table"
                ) from err
        elif isinstance(entry, dict):
            tables.append(_table(entry, where))
        else:
            raise ConfigError(
                f"{where} = {entry!r} is not valid; expected a catalogue id, 'all' or a table"
            )
    return tables


def _table(entry: dict[str, Any], where: str) -> dict[str, Any]:
    """Check a location table's keys and id; coordinates are checked with the job config."""
    name = entry.get("id")
    if not isinstance(name, str) or not _ID.fullmatch(name):
        raise ConfigError(
            f"{where}.id = {name!r} is not valid; expected a name of letters, digits, '.', '_' "
            "or '-' (it names the location's output folder)"
        )
    unknown = sorted(set(entry) - set(_TABLE_KEYS))
    if unknown:
        raise ConfigError(
            f"campaign location {name!r}: unknown key {unknown[0]}; allowed: {list(_TABLE_KEYS)}"
        )
    given = [k for k in ("longitude", "latitude") if k in entry]
    if len(given) == 1:
        missing = "latitude" if given == ["longitude"] else "longitude"
        raise ConfigError(f"campaign location {name!r}: {missing} is missing (give both or none)")
    if not given:
        try:
            location(name)
        except KeyError as err:
            raise ConfigError(
                f"campaign location {name!r}: not a catalogue id, so give its longitude and "
                "latitude"
            ) from err
    return dict(entry)


def _read_locations_file(name: Any, base: Path) -> list[dict[str, Any]]:
    """The rows of a CSV of sites (id, longitude, latitude[, size]) as location tables."""
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"campaign.locations_file = {name!r} is not valid; expected a CSV path")
    path = base / name
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"campaign.locations_file {path} cannot be read: {err}") from err
    rows = csv.DictReader(line for line in text.splitlines() if line.strip())
    missing = [c for c in ("id", "longitude", "latitude") if c not in (rows.fieldnames or [])]
    if missing:
        raise ConfigError(
            f"{path} has no column {missing[0]}; expected columns id, longitude, latitude and "
            "optionally size"
        )
    tables = []
    for number, row in enumerate(rows, start=2):  # the header is line 1
        table: dict[str, Any] = {"id": (row["id"] or "").strip()}
        for column, kind in (("longitude", float), ("latitude", float), ("size", int)):
            text_value = (row.get(column) or "").strip()
            if not text_value and column == "size":
                continue
            try:
                table[column] = kind(text_value)
            except ValueError as err:
                raise ConfigError(
                    f"{path} line {number} (location {table['id']!r}): {column} = "
                    f"{text_value!r} is not {'an integer' if kind is int else 'a number'}"
                ) from err
        tables.append(_table(table, f"{path} line {number}"))
    return tables


def _site(raw: dict[str, Any], table: dict[str, Any], output: str) -> Site:
    """One location's job config: the shared sections with its place, size, dates and output."""
    name = table["id"]
    job = copy.deepcopy(raw)
    place: dict[str, Any] = {k: table[k] for k in ("longitude", "latitude", "size") if k in table}
    if "longitude" not in table:
        place["id"] = name
    size = (raw.get("location") or {}).get("size")
    job["location"] = {**({"size": size} if size is not None else {}), **place}
    job["time"] = {
        **(raw.get("time") or {}),
        **{k: table[k] for k in ("start", "end") if k in table},
    }
    job["output"] = {"url": join_url(output, "locations", name)}
    path = None
    source = job.setdefault("source", {})
    synthetic = source.get("kind", "synthetic") == "synthetic"
    if synthetic and not any(k in source for k in _SYNTHETIC_KEYS):
        # each location its own pattern and rainfall path: the campaign's known truth
        path, options = synthetic_location(name)
        source.update({k: v for k, v in options.items() if k not in source})  # the config's win
    try:
        config = validate_config(job)
    except ConfigError as err:
        raise ConfigError(f"campaign location {name!r}: {err}") from err
    return Site(name, config, path)


def load_job(
    path: str | Path | None, *, overrides: dict[str, dict[str, Any]] | None = None
) -> JobConfig | Campaign:
    """A config file as a validated job config, or as a :class:`Campaign` if it has [campaign].

    A relative ``campaign.locations_file`` is read from the config file's folder.

    Examples
    --------
    >>> load_job(None)["location"]["size"]
    500
    """
    raw = read_config(path, overrides=overrides)
    if "campaign" not in raw:
        return validate_config(raw)
    return validate_campaign(raw, Path(path).parent if path is not None else Path("."))


def check_campaign(
    campaign: Campaign,
    until: str = "analyse",
    force: bool = False,
    verify: bool = False,
    *,
    store: RunStore | None = None,
) -> Campaign:
    """The campaign with every location's run.json read and checked once (:attr:`Site.read`).

    The output's container is made sure of once (``store``, the campaign output's, when the
    caller has one), not again by the locations. A location already read with these options is
    not read again; one whose output is another job's (or a file) is left unread: its run fails
    with its one line (recorded in campaign.json) while the others go on.
    """
    store = store or RunStore(campaign.output)
    store.ensure_container()

    def checked(site: Site) -> Site:
        if site.read is not None and site.read.options == (until, force, verify):
            return site
        location = RunStore(site.output, container_ready=True)
        try:
            read = read_job(site.config, location, until=until, force=force, verify=verify)
        except (FileExistsError, NotADirectoryError):  # another job's, or a file's place
            return replace(site, read=None)
        return replace(site, read=read)

    return replace(campaign, sites=tuple(checked(site) for site in campaign.sites))


def campaign_to_compute(
    campaign: Campaign,
    until: str = "analyse",
    force: bool = False,
    verify: bool = False,
    *,
    store: RunStore | None = None,
) -> list[Site]:
    """The sites whose job has stages left to compute (:func:`check_campaign` reads them)."""
    sites = check_campaign(campaign, until, force, verify, store=store).sites
    return [s for s in sites if s.read is None or s.read.to_compute]


def run_campaign(
    campaign: Campaign,
    *,
    client: Any,
    force: bool = False,
    verify: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
    until: str = "analyse",
    to_compute: list[Site] | None = None,
    plan: dict[str, Any] | None = None,
    in_flight: int | None = None,
    store: RunStore | None = None,
) -> dict[str, Any]:
    """Run every location of ``campaign`` on one client; record each in ``campaign.json``.

    The locations to compute run ``in_flight`` at once, their tasks interleaved on the cluster
    and ranked by the locations' order (each location's tasks have a higher Dask priority than
    the next one's), so that locations finish one after another, each one's analysis starting
    as soon as its tiles are written, while the next ones fill the workers' idle slots. Only
    ``in_flight`` locations' graphs and results are held at once, whatever their number.

    ``campaign.json`` is rewritten as locations end, at most every few seconds
    (:data:`~vegdask.pipeline._record.EVERY`), and when the campaign ends or stops; a rerun
    resumes from the locations' run.json. A location whose job fails is recorded as ``failed``
    with its one-line error and the others go on; a location whose stages are complete and
    unchanged is skipped (``done``), so a rerun retries only the failed and unfinished ones.
    Then ``summary/`` is written from the done locations (:func:`vegdask.analysis.summarise_runs`)
    when any was computed or it is missing.

    Parameters
    ----------
    campaign : Campaign
        From :func:`validate_campaign`.
    client : distributed.Client or None
        Where the work runs; None will do when :func:`campaign_to_compute` is empty.
    force, verify, progress, log, until
        As :func:`~vegdask.pipeline.run_job`'s, for every location.
    to_compute : list of Site, optional
        :func:`campaign_to_compute`'s answer when the caller has it (it reads every output).
        Pass it ``campaign`` as :func:`check_campaign` returned it so that the complete
        locations' run.json is not read again either.
    plan : dict, optional
        The campaign's plan (``vegdask plan``), stored as ``plan``; made here when not given.
    in_flight : int, optional
        Locations running at once (``vegdask.campaign.in-flight``, 3 by default). With more
        than one, a location reports lines instead of progress bars.
    store : RunStore, optional
        The campaign output's store, when the caller made sure of its container already.

    Returns
    -------
    dict
        The content of ``campaign.json``.
    """
    store = store or RunStore(campaign.output)
    store.ensure_container()
    started = time.perf_counter()
    last = store.read_json("campaign.json") if store.exists("campaign.json") else {}
    if to_compute is None:
        campaign = check_campaign(campaign, until, force, verify, store=store)
        to_compute = campaign_to_compute(campaign, until, force, verify, store=store)
    todo = {site.id for site in to_compute}
    # each location as its run.json was read for the plan: not read again
    read = {site.id: site for site in to_compute}
    campaign = replace(campaign, sites=tuple(read.get(s.id, s) for s in campaign.sites))
    previous = last.get("locations", {})
    entries = {
        site.id: _entry(site, previous.get(site.id), site.id in todo) for site in campaign.sites
    }
    for number, site in enumerate(campaign.sites, start=1):
        if site.id not in todo:
            manifest = site.read.run.manifest if site.read else None  # as read for the plan
            entries[site.id].update(_outcome(site, until, manifest))
            log(f"location {site.id} ({number}/{len(entries)}): complete; skipped")
    if plan is None:
        from vegdask.pipeline._plan import plan_job

        plan = plan_job(campaign)
    record = {"locations": entries, "plan": plan}
    written = Record(store, "campaign.json", record)
    written.save()
    in_flight = max(1, int(settings.get("campaign.in-flight", in_flight)))
    numbers = {site.id: number for number, site in enumerate(campaign.sites, start=1)}
    # progress bars of locations running at once would overwrite each other: lines instead
    options = {"force": force, "verify": verify, "progress": progress and in_flight == 1}

    def run(site: Site, rank: int, stopped: threading.Event) -> dict[str, Any]:
        log(f"location {site.id} ({numbers[site.id]}/{len(entries)}): running")
        return _run_site(site, client, until, rank, stopped, log=log, **options)

    sites = [site for site in campaign.sites if site.id in todo]
    # One meter for the whole campaign: a location's own stage figures overlap the others' when
    # several run at once (each counts every process during its stage)
    meter = CpuMeter(client) if sites else None
    try:
        for site, outcome in interleave(sites, run, in_flight):
            entries[site.id].update(outcome)
            written.changed()  # every few seconds: rewritten whole, it grows with the locations
    except BaseException:  # the campaign stops (workers lost, interrupted): its outcomes so far
        written.save_if_changed()
        raise
    campaign_cpu = meter.seconds() if meter is not None else None
    if until == "analyse" and (todo or not store.exists("summary/summary.csv")):
        record["summary"] = _summary(campaign, entries)
    elif "summary" in last:
        record["summary"] = last["summary"]
    actual = _actual(entries, time.perf_counter() - started, campaign_cpu)
    if not todo and "actual" in last:  # a rerun that computed nothing keeps the last measures
        actual = {**last["actual"], **{k: actual[k] for k in ("done", "failed", "pending")}}
    record["actual"] = actual
    written.save()
    from vegdask.analysis import write_campaign_index  # index.html: the record's map and table

    synthetic = campaign.config["source"]["kind"] == "synthetic"
    write_campaign_index(campaign.output, record, synthetic=synthetic)
    return record


def _run_site(
    site: Site,
    client: Any,
    until: str,
    rank: int,
    stopped: threading.Event,
    **options: Any,
) -> dict[str, Any]:
    """Run one location's job at the Dask priority of its ``rank``; its outcome, or its error.

    Its one-line messages name the location, and stop once the campaign is ``stopped``.
    """
    from vegdask.cluster import WorkersLostError

    log = options["log"]

    def tell(line: str) -> None:
        if not stopped.is_set():
            log(f"location {site.id}: {line}")

    options["log"] = tell
    started = time.perf_counter()
    try:
        manifest = run_location(site.config, client, rank, until, read=site.read, **options)
    except WorkersLostError:  # the cluster, not the location: the campaign stops
        raise
    except Exception as err:  # isolated: recorded, and the other locations go on
        outcome = {"status": "failed", "error": _error_line(site, err, until), "verdict": None}
        tell(f"failed: {outcome['error']}")
    else:
        outcome = _outcome(site, until, manifest)  # the run's own: not read again
        tell(f"done in {time.perf_counter() - started:.1f} s")
    return {**outcome, "seconds": round(time.perf_counter() - started, 2)}


def _entry(site: Site, previous: dict[str, Any] | None, to_compute: bool) -> dict[str, Any]:
    """A location's campaign.json entry before this run.

    A location to compute is ``pending``, or still ``failed`` with its last error until retried;
    a complete one gets its outcome from its output (:func:`_outcome`).
    """
    place = site.config["location"]
    entry = {
        "status": "pending",
        "error": None,
        "output": f"locations/{site.id}",
        "verdict": None,
        "synthetic_rainfall": site.synthetic_rainfall,
        "longitude": place["longitude"],
        "latitude": place["latitude"],
        "size": place["size"],
    }
    previous = previous or {}
    if to_compute and previous.get("status") == "failed":  # until retried
        entry.update(status="failed", error=previous.get("error"))
    if "seconds" in previous:  # of the run that computed it
        entry["seconds"] = previous["seconds"]
    return entry


def _outcome(site: Site, until: str, manifest: Manifest | None = None) -> dict[str, Any]:
    """A done location's entry: its stages' timings, tiles and verdict; run.json notes the truth.

    ``manifest`` is its run.json when the caller has it (read here otherwise).
    """
    store = RunStore(site.output)
    manifest = read_manifest(store) if manifest is None else manifest
    if manifest.get("synthetic_rainfall") != site.synthetic_rainfall:
        manifest["synthetic_rainfall"] = site.synthetic_rainfall
        store.write_json("run.json", manifest)
    stages = manifest.get("stages", {})
    fetch, process = stages.get("fetch"), stages.get("process")
    return {
        "status": "done",
        "error": None,
        "stage_seconds": {name: stages[name].get("seconds") for name in STAGES if name in stages},
        "stage_cpu_seconds": {
            name: stages[name].get("cpu_seconds") for name in STAGES if name in stages
        },
        "periods": len(fetch["periods_completed"]) if fetch else 0,
        "valid_tiles": process.get("valid_tiles") if process else None,
        "verdict": _verdict(store) if until == "analyse" else None,
    }


def _verdict(store: RunStore) -> dict[str, Any] | None:
    """The location's verdict (:func:`vegdask.analysis.location_verdict`) from resilience.json."""
    if not store.exists("analysis/resilience.json"):
        return None  # analysis disabled, or the pyveg preset's summary only
    from vegdask.analysis import location_verdict

    alpha = settings.get("analysis.alpha")
    verdict = location_verdict(store.read_json("analysis/resilience.json"), alpha)
    test = verdict.headline
    if test is None:
        return None
    return {
        "series": test.series,
        "indicator": test.indicator,
        "test": test.test,
        "kendall_tau": test.kendall_tau,
        "p_value": test.p_value,
        "significant": verdict.significant,
        "alpha": alpha,
        "level": verdict.level,  # alpha shared by the headline tests
        "sentence": verdict.sentence,
    }


def _error_line(site: Site, err: BaseException, until: str) -> str:
    """One line: the stage that failed (the first incomplete one) and the error's first line."""
    stages: dict[str, StageEntry] = (
        read_manifest(site.output).get("stages", {}) if _readable(site) else {}
    )
    stage = next(
        (s for s in STAGES[: STAGES.index(until) + 1] if not _complete(stages.get(s))),
        until,
    )
    lines = str(err).strip().splitlines()
    return f"{stage}: {type(err).__name__}: {lines[0] if lines else 'no message'}"


def _complete(entry: StageEntry | None) -> bool:
    return bool(entry and entry.get("complete"))


def _readable(site: Site) -> bool:
    try:
        return RunStore(site.output).exists("run.json")
    except OSError:
        return False


def _summary(campaign: Campaign, entries: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``summary/`` from the analysed done locations, or why there is none."""
    analysed = [s.output for s in campaign.sites if entries[s.id].get("verdict")]
    if not analysed:
        return {"locations": 0, "error": "no analysed location to summarise"}
    from vegdask.analysis import summarise_runs

    table = summarise_runs(analysed, join_url(campaign.output, "summary"))
    return {"locations": len(table), "error": None, "output": "summary"}


def _actual(
    entries: dict[str, dict[str, Any]], seconds: float, campaign_cpu: float | None
) -> dict[str, Any]:
    """Measured totals: the run's wall time, the stages' seconds summed over locations, counts.

    Wall (``stage_seconds``) and CPU seconds: ``campaign_cpu_seconds`` is the driver's and the
    workers' CPU while its locations ran, one meter; ``cpu_seconds`` splits it over the stages
    in proportion to the locations' own stage figures (which, summed, count a stage's CPU once
    per location running at the same time), to set beside the plan's ``total.cpu_seconds``.
    """

    def summed(key: str) -> dict[str, float]:
        totals = dict.fromkeys(STAGES, 0.0)
        for entry in entries.values():
            for name, value in (entry.get(key) or {}).items():
                totals[name] += value or 0.0
        return {k: round(v, 2) for k, v in totals.items()}

    counts = {
        s: sum(e["status"] == s for e in entries.values()) for s in ("done", "failed", "pending")
    }
    stage_cpu = summed("stage_cpu_seconds")
    measured = sum(stage_cpu.values()) if campaign_cpu is None else campaign_cpu
    share = measured / sum(stage_cpu.values()) if sum(stage_cpu.values()) else 0.0
    return {
        "wall_seconds": round(seconds, 2),
        "stage_seconds": summed("stage_seconds"),
        "campaign_cpu_seconds": round(measured, 2),
        "cpu_seconds": {name: round(value * share, 2) for name, value in stage_cpu.items()},
        **counts,
    }
