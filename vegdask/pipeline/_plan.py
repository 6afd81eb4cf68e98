"""The plan of a job or campaign before it runs: its work, CPU time, wall time and cost.

Per location the plan counts periods (from the dates), tiles (``(size // tile_size)**2`` a
period), tasks (fetch's and process's, consecutive periods of a small scene sharing one as the
stages group them, and one analysis) and the bytes of the Scene to fetch. Each stage's CPU
seconds on this machine are

    per_location + per_period * periods + per_tile * tiles

(``tiles``: tile-periods; for the analysis, both terms times the periods) with the costs of a
:class:`Calibration`, which ``vegdask plan --calibrate`` measures here with the default analysis
settings (lighter ones cost less: measured, a 500-px 48-period location's analysis took 16.7 s
of CPU with the defaults, 12.0 s with the demo campaign's lighter surrogate counts).
On a Batch VM size they are multiplied by ``machine_speed / vm_speed`` (relative core speeds,
Azure compute units / 100: A1 v2 = 1.0); the wall time spreads them over N one-core workers,
and the cost is the node-hours of that wall time times the size's hourly price.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import platform
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

from vegdask import config as settings
from vegdask.compute import grouped_task_count
from vegdask.data import make_periods
from vegdask.pipeline._campaign_cluster import campaign_workers
from vegdask.pipeline._manifest import STAGES
from vegdask.pipeline._types import Manifest

__all__ = [
    "BUNDLED_CALIBRATION",
    "VM_PRICES",
    "Calibration",
    "calibrate",
    "format_plan",
    "load_calibration",
    "location_workload",
    "machine_key",
    "make_plan",
    "plan_job",
    "vm_price",
]

#: Batch VM sizes: vCPUs, core speed relative to A1 v2 (Azure compute units / 100, the lower
#: end of a range) and USD an hour a node, dedicated and Spot (low-priority).
VM_PRICES: dict[str, Any] = {
    "date": "2025-01",
    "source": (
        "Azure pay-as-you-go list prices, Linux, East US (azure.microsoft.com/pricing/details/"
        "virtual-machines/linux/); Spot taken as 80 % off, Azure's usual Linux Spot discount "
        "(Spot prices vary by region and hour); speeds: learn.microsoft.com/azure/"
        "virtual-machines/acu. Not fetched at run time: set vegdask.plan.vm-prices for yours"
    ),
    "sizes": {
        "Standard_A1_v2": {"vcpus": 1, "speed": 1.0, "dedicated": 0.043, "spot": 0.0086},
        "Standard_A2_v2": {"vcpus": 2, "speed": 1.0, "dedicated": 0.091, "spot": 0.0182},
        "Standard_A4_v2": {"vcpus": 4, "speed": 1.0, "dedicated": 0.191, "spot": 0.0382},
        "Standard_A8_v2": {"vcpus": 8, "speed": 1.0, "dedicated": 0.40, "spot": 0.08},
        "Standard_D2s_v3": {"vcpus": 2, "speed": 1.6, "dedicated": 0.096, "spot": 0.0192},
        "Standard_D4s_v3": {"vcpus": 4, "speed": 1.6, "dedicated": 0.192, "spot": 0.0384},
        "Standard_F2s_v2": {"vcpus": 2, "speed": 1.95, "dedicated": 0.0846, "spot": 0.0169},
    },
}
_PRICE_FIELDS = ("vcpus", "speed", "dedicated", "spot")


def vm_price(name: str | None = None) -> dict[str, Any]:
    """The table entry of a VM size (``vegdask.azure.vm-size`` by default), with its source.

    Sizes in the setting ``vegdask.plan.vm-prices`` (a mapping of size to ``vcpus``, ``speed``,
    ``dedicated``, ``spot`` and optionally ``date`` and ``source``) add to or replace the table's.
    Names are matched without regard to case, as Batch does.

    Raises
    ------
    ValueError
        One line naming the size and the allowed ones.

    Examples
    --------
    >>> entry = vm_price("standard_a4_v2")
    >>> entry["name"], entry["vcpus"], entry["dedicated"], entry["date"]
    ('Standard_A4_v2', 4, 0.191, '2025-01')
    >>> import dask.config
    >>> with dask.config.set({"vegdask.plan.vm-prices": {"Standard_X": {
    ...         "vcpus": 2, "speed": 2.0, "dedicated": 0.1, "spot": 0.02}}}):
    ...     vm_price("Standard_X")["source"]
    'setting vegdask.plan.vm-prices'
    """
    name = settings.get("azure.vm-size", name)
    table = {
        size: {**entry, "date": VM_PRICES["date"], "source": VM_PRICES["source"]}
        for size, entry in VM_PRICES["sizes"].items()
    }
    for size, entry in (settings.get("plan.vm-prices") or {}).items():
        missing = [k for k in _PRICE_FIELDS if not isinstance((entry or {}).get(k), int | float)]
        if missing:
            raise ValueError(
                f"vegdask.plan.vm-prices: {size} has no number {missing[0]}; each size needs "
                f"{', '.join(_PRICE_FIELDS)}"
            )
        table[size] = {"date": None, "source": "setting vegdask.plan.vm-prices", **entry}
    found = {size.lower(): size for size in table}.get(str(name).lower())
    if found is None:
        raise ValueError(
            f"unknown VM size {name!r}; allowed: {', '.join(sorted(table))} (or add it to the "
            "setting vegdask.plan.vm-prices)"
        )
    return {"name": found, **table[found]}


@dataclass(frozen=True)
class Calibration:
    """CPU seconds of each stage on one machine: per location, per period and per tile-period.

    The analysis grows faster than the periods (rolling windows of a fixed share of the series,
    over a sensitivity grid): its ``per_period`` is a cost per period squared and its
    ``per_tile`` one per tile-period times periods.
    """

    per_location: dict[str, float]
    per_period: dict[str, float]
    per_tile: dict[str, float]
    machine: str
    date: str
    label: str

    def stage_seconds(self, periods: int, tiles: int) -> dict[str, float]:
        """CPU seconds of each stage of one location (``tiles``: tile-periods) on this machine.

        Examples
        --------
        >>> cal = Calibration({"fetch": 1.0, "process": 0.0, "analyse": 2.0},
        ...                   {"fetch": 0.1, "process": 0.2, "analyse": 0.01},
        ...                   {"fetch": 0.0, "process": 0.01, "analyse": 0.001},
        ...                   "m", "2026-01-01", "test")
        >>> cal.stage_seconds(10, 100)
        {'fetch': 2.0, 'process': 3.0, 'analyse': 4.0}
        """
        return {
            stage: self.per_location[stage]
            + (self.per_period[stage] * periods + self.per_tile[stage] * tiles)
            * (periods if stage == "analyse" else 1)
            for stage in STAGES
        }


#: Measured with ``vegdask plan --calibrate`` on this project's 2-core machine (an Intel Xeon
#: virtual machine shared with other jobs); used until this machine has its own calibration.
BUNDLED_CALIBRATION = Calibration(
    per_location={"fetch": 0.0, "process": 0.09, "analyse": 0.0},
    per_period={"fetch": 0.008913889, "process": 0.000333333, "analyse": 0.003347443},
    per_tile={"fetch": 0.000419444, "process": 0.00425, "analyse": 5.6356e-05},
    machine="this project's 2-core machine (Intel Xeon)",
    date="2026-12-07",
    label="bundled default",
)


# --- calibration ----------------------------------------------------------------------------

# The small synthetic runs (scene side in pixels, months), analysed with the default settings:
# three unknowns per stage. The analysis skips tests on short series, so they are 2 to 4 years.
# One scene is 200 px: with 100 px the fetch's cost per tile was lost in the noise (fitted as 0;
# measured, the plan then gave 0.29 s for a 250-px location's fetch that took 1.55 s).
_CALIBRATION_RUNS = ((50, 48), (200, 48), (50, 24))


def machine_key() -> str:
    """The CPU of this machine: architecture, model and core count (the calibration cache's key).

    Examples
    --------
    >>> machine_key().count("-") >= 2
    True
    """
    model = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1]
                break
    except OSError:
        pass
    words = "".join(c if c.isalnum() else " " for c in model).split()
    return "-".join([platform.machine() or "cpu", *words, f"{os.cpu_count()}cores"])


def _cache_file() -> Path:
    folder = settings.get("plan.calibration-dir")
    if folder is None:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        folder = Path(base) / "vegdask"
    return Path(folder) / f"calibration-{machine_key()}.json"


def load_calibration() -> Calibration:
    """The cached calibration of this machine, else :data:`BUNDLED_CALIBRATION`.

    The cache is ``calibration-<machine>.json`` in the setting ``vegdask.plan.calibration-dir``
    (default: the user's cache folder, ``~/.cache/vegdask``).
    """
    path = _cache_file()
    try:
        fields = json.loads(path.read_text())
        return Calibration(**{**fields, "label": "cached"})
    except (OSError, ValueError, TypeError):
        return BUNDLED_CALIBRATION


@contextlib.contextmanager
def _quiet_distributed() -> Iterator[None]:
    """The calibration's own small cluster says nothing (its teardown notes included)."""
    logger = logging.getLogger("distributed")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _calibration_run(client: Any, output: str, size: int, months: int) -> Manifest:
    """One small synthetic job with the calibration's analysis; its manifest."""
    from vegdask.pipeline._config import validate_config
    from vegdask.pipeline._run import run_job

    config = validate_config(
        {
            "location": {"longitude": 27.94, "latitude": 11.58, "size": size},
            "time": {"start": "2016-01-01", "end": f"{2016 + months // 12}-01-01"},
            "output": {"url": output},
            "analysis": {"enabled": True},
        }
    )
    return run_job(config, client=client, progress=False, log=lambda line: None)


def _warm_up() -> None:
    """Import what a run imports on first use, so that no calibration run pays for it."""
    import matplotlib.pyplot  # noqa: F401
    import statsmodels.api  # noqa: F401

    import vegdask.analysis
    import vegdask.compute  # noqa: F401


def calibrate(log: Any = print) -> tuple[Calibration, Path]:
    """Measure the stages' CPU costs here with small synthetic runs; cache and return them.

    Three runs (:data:`_CALIBRATION_RUNS`) on a local cluster of one single-threaded worker
    process (as ``vegdask run``'s, so that the CPU of its Dask machinery counts too) give each
    stage's per-location, per-period and per-tile costs (none negative: with noise, the
    non-negative least-squares fit). What a first run alone would pay (imports) is paid before.
    """
    import numpy as np
    from scipy.optimize import nnls

    from vegdask.pipeline._dask_client import job_client

    rows, seconds = [], []
    with (
        _quiet_distributed(),
        tempfile.TemporaryDirectory(prefix="vegdask-calibrate-") as folder,
        job_client("local", 1, folder) as client,
    ):
        _warm_up()
        for number, (size, months) in enumerate(_CALIBRATION_RUNS, start=1):
            started = time.perf_counter()
            manifest = _calibration_run(client, str(Path(folder) / f"run{number}"), size, months)
            log(f"calibration run {number}: {size} px, {months} periods, "
                f"{time.perf_counter() - started:.1f} s")  # fmt: skip
            rows.append((months, (size // 50) ** 2 * months))
            seconds.append([manifest["stages"][s]["cpu_seconds"] for s in STAGES])
    costs = []
    for column, stage in enumerate(STAGES):
        scale = [months if stage == "analyse" else 1 for months, _ in rows]
        terms = np.array([(1.0, m * k, t * k) for (m, t), k in zip(rows, scale, strict=True)])
        costs.append(nnls(terms, np.array(seconds)[:, column])[0])
    per_location, per_period, per_tile = (
        {s: round(float(c[i]), 9) for s, c in zip(STAGES, costs, strict=True)} for i in range(3)
    )
    result = Calibration(
        per_location,
        per_period,
        per_tile,
        machine=machine_key(),
        date=date.today().isoformat(),
        label="cached",
    )
    path = _cache_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = {k: v for k, v in asdict(result).items() if k != "label"}
    path.write_text(json.dumps(fields, indent=2) + "\n")
    return result, path


# --- the plan -------------------------------------------------------------------------------

_BYTES_PER_PIXEL = 5 * 4 + 1  # red, green, blue, nir, ndvi as float32, cloud_mask as bool


def location_workload(config: dict[str, Any]) -> dict[str, int]:
    """Periods, tiles (tile-periods), tasks and Scene bytes of one validated job config.

    ``tasks`` counts the fetch and process stages' tasks (consecutive periods of a small scene
    share one: :func:`~vegdask.compute.grouped_task_count`) and the analysis' one;
    ``stage_tasks`` is one stage's.

    Examples
    --------
    >>> from vegdask.pipeline import validate_config
    >>> location_workload(validate_config({"location": {"size": 120}, "time": {
    ...     "start": "2016-01-01", "end": "2016-07-01"}}))
    {'periods': 6, 'tiles': 24, 'stage_tasks': 1, 'tasks': 3, 'bytes': 1814400}
    """
    when, size = config["time"], config["location"]["size"]
    drop = bool(config["source"].get("drop_partial", False))
    periods = len(make_periods(when["start"], when["end"], when["period"], drop_partial=drop))
    side = size // config["processing"]["tile_size"]
    analysed = 1 if config["analysis"]["enabled"] else 0
    stage_tasks = grouped_task_count(periods, size * size)
    return {
        "periods": periods,
        "tiles": side * side * periods,
        "stage_tasks": stage_tasks,
        "tasks": 2 * stage_tasks + analysed,
        "bytes": size * size * periods * _BYTES_PER_PIXEL,
    }


def make_plan(
    sites: Sequence[tuple[str, dict[str, Any]]],
    *,
    workers: int,
    vm_size: str | None = None,
    calibration: Calibration | None = None,
) -> dict[str, Any]:
    """The plan of the locations ``sites`` (id, validated job config) on ``workers`` workers.

    Costed on ``vm_size`` (None: the setting ``vegdask.azure.vm-size``), with ``calibration``
    (None: this machine's cached one, else the bundled one).

    Returns
    -------
    dict
        ``locations`` (per id: its workload and ``cpu_seconds`` per stage on this machine),
        ``total`` (the sums, and ``cpu_hours`` per stage on the VM size), ``workers``,
        ``nodes``, ``wall_hours``, ``node_hours``, ``vm`` (the table entry), ``calibration`` and
        ``cost_usd`` (``dedicated``, ``spot``).

    Raises
    ------
    ValueError
        An unknown VM size, or ``workers`` < 1.
    """
    if workers < 1:
        raise ValueError(f"workers = {workers} is not valid; expected an integer >= 1")
    vm = vm_price(vm_size)
    cal = calibration or load_calibration()
    machine_speed = float(settings.get("plan.machine-speed"))
    per_site: dict[str, dict[str, Any]] = {}
    here = dict.fromkeys(STAGES, 0.0)
    for name, config in sites:
        work = location_workload(config)
        enabled = config["analysis"]["enabled"]
        seconds = cal.stage_seconds(work["periods"], work["tiles"])
        if not enabled:
            seconds["analyse"] = 0.0
        per_site[name] = {**work, "cpu_seconds": {s: round(v, 2) for s, v in seconds.items()}}
        here = {s: here[s] + seconds[s] for s in STAGES}
    total: dict[str, Any] = {
        key: sum(site[key] for site in per_site.values())
        for key in ("periods", "tiles", "tasks", "bytes")
    }
    slower = machine_speed / vm["speed"]
    total["cpu_seconds"] = {s: round(v, 2) for s, v in here.items()}
    total["cpu_hours"] = {s: v * slower / 3600 for s, v in here.items()}
    wall_hours = sum(total["cpu_hours"].values()) / workers
    nodes = math.ceil(workers / vm["vcpus"])
    node_hours = nodes * wall_hours
    return {
        "locations": per_site,
        "total": total,
        "workers": workers,
        "nodes": nodes,
        "wall_hours": wall_hours,
        "node_hours": node_hours,
        "vm": vm,
        "machine_speed": machine_speed,
        "sources": sorted({config["source"]["kind"] for _, config in sites}),
        "calibration": {
            "label": cal.label,
            "date": cal.date,
            "machine": cal.machine,
        },
        "cost_usd": {
            "dedicated": node_hours * vm["dedicated"],
            "spot": node_hours * vm["spot"],
        },
    }


def plan_job(job: Any, *, workers: int | None = None, vm_size: str | None = None) -> dict[str, Any]:
    """:func:`make_plan` of a validated job config or a campaign (its sites).

    ``workers`` defaults to the config's ``cluster.workers``; a campaign on Azure Batch, to the
    workers its pool adapts to (:func:`~vegdask.pipeline.campaign_workers`); ``vm_size`` to the
    setting ``vegdask.azure.vm-size``.

    Examples
    --------
    >>> from vegdask.pipeline import load_job
    >>> plan = plan_job(load_job(None))  # the demo: one location, 2 workers
    >>> list(plan["locations"]), plan["workers"], plan["total"]["tiles"]
    (['location'], 2, 4800)
    """
    if isinstance(job, dict):
        return make_plan(
            [(job["location"].get("id") or "location", job)],
            workers=workers or job["cluster"]["workers"],
            vm_size=vm_size,
        )
    if workers is None and job.config["cluster"]["kind"] == "azure-batch":
        # the pool the campaign would adapt to (vegdask.pipeline.campaign_client)
        cap = int(settings.get("azure.max-nodes"))
        workers = campaign_workers(job.sites, max_workers=cap)
    sites = [(site.id, site.config) for site in job.sites]
    return make_plan(sites, workers=workers or job.config["cluster"]["workers"], vm_size=vm_size)


def _size(count: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if count < 1000 or unit == "TB":
            return f"{count:.3g} {unit}" if unit != "B" else f"{count:.0f} B"
        count /= 1000
    raise AssertionError  # unreachable


def _usd(amount: float) -> str:
    return f"{amount:,.2f}" if amount >= 1 else f"{amount:.2g}"


def _duration(hours: float) -> str:
    seconds = hours * 3600
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{hours:.1f} h"


def format_plan(plan: dict[str, Any]) -> list[str]:
    """The plan as lines for the terminal: the totals, then the locations (alike ones grouped).

    Examples
    --------
    >>> from vegdask.pipeline import validate_config
    >>> costs = {"fetch": 0.5, "process": 0.5, "analyse": 0.01}
    >>> cal = Calibration(costs, costs, costs, machine="m", date="2026-01-01", label="test")
    >>> plan = make_plan([("a", validate_config({}))], workers=2, calibration=cal)
    >>> for line in format_plan(plan)[:3]:
    ...     print(line)
    plan: 1 location, 48 periods, 4,800 tiles, 97 tasks, 252 MB to fetch
    calibration: test, measured 2026-01-01 on m
    CPU-hours here: fetch 0.673, process 0.673, analyse 0.646, total 1.99
    """
    total, vm = plan["total"], plan["vm"]
    count = len(plan["locations"])
    cal = plan["calibration"]
    faster = vm["speed"] / plan["machine_speed"]
    price_date = f", prices of {vm['date']}" if vm.get("date") else ""
    cost = plan["cost_usd"]

    def hours(values: dict[str, float]) -> str:
        listed = ", ".join(f"{s} {values[s]:.3g}" for s in STAGES)
        return f"{listed}, total {sum(values.values()):.3g}"

    lines = [
        f"plan: {count} location{'s' if count != 1 else ''}, {total['periods']:,} periods, "
        f"{total['tiles']:,} tiles, {total['tasks']:,} tasks, {_size(total['bytes'])} to fetch",
        f"calibration: {cal['label']}, measured {cal['date']} on {cal['machine']}",
        f"CPU-hours here: {hours({s: v / 3600 for s, v in total['cpu_seconds'].items()})}",
        f"CPU-hours on {vm['name']}: {hours(total['cpu_hours'])} (its core {faster:.2g}x as "
        "fast as this machine's)",
        f"wall time on {plan['workers']} workers ({plan['nodes']} {vm['name']} nodes): "
        f"{_duration(plan['wall_hours'])}, {plan['node_hours']:.3g} node-hours",
        f"cost: US${_usd(cost['dedicated'])} dedicated, US${_usd(cost['spot'])} Spot "
        f"(US${vm['dedicated']:g} and US${vm['spot']:g} a node-hour{price_date}); pool "
        "allocation and idle nodes not included",
    ]
    downloaded = sorted(set(plan.get("sources", [])) - {"synthetic"})
    if downloaded:
        lines.append(
            "note: fetch is costed as the synthetic source's CPU; the time to download "
            f"{_size(total['bytes'])} from {' and '.join(downloaded)} is not in the estimate"
        )
    groups: dict[tuple[Any, ...], list[str]] = {}
    for name, site in plan["locations"].items():
        key = (site["periods"], site["tiles"], site["tasks"], site["bytes"])
        groups.setdefault(key, []).append(name)
    lines.append(
        "per location: periods, tiles, tasks, bytes to fetch, CPU seconds here "
        "(fetch/process/analyse)"
    )
    for (periods, tiles, tasks, nbytes), names in groups.items():
        seconds = plan["locations"][names[0]]["cpu_seconds"]
        alike = f"{names[0]} ... {names[-1]} ({len(names)} alike, each)"
        lines.append(
            f"  {names[0] if len(names) == 1 else alike}: {periods}, {tiles:,}, {tasks}, "
            f"{_size(nbytes)}, " + "/".join(f"{seconds[s]:.3g}" for s in STAGES)
        )
    return lines
