"""Campaigns on one cluster: the demo campaign, and 67 tiny locations against one large one.

Targets (issue 19): a 67-location campaign of tiny scenes (100x100 px, 4 tiles, 24 monthly
periods) on 2 local single-threaded workers runs its process stage at >= 85 % of the tiles per
second of a single location with as many tiles (800x800 px: 256 tiles a period, 24 periods, 6,144
tiles against the campaign's 6,432), the driver's own CPU (the process that runs the campaign,
the scheduler included) is <= 10 % of the workers', and a worker's peak memory <= 1 GiB. The
scenes are fetched first; the figures are of the process stage alone, both on the same cluster.
Run ``.venv/bin/python benchmarks/bench_campaign.py [demo]`` to print the figures, or through
asv (``track_*``: measured once, in ``setup_cache``).
"""

import resource
import shutil
import sys
import tempfile
import time

from vegdask.pipeline import (
    DEMO_CAMPAIGN,
    job_client,
    load_config,
    run_campaign,
    run_job,
    validate_campaign,
    validate_config,
)

WORKERS = 2
TINY = {
    "location": {"size": 100},
    "time": {"start": "2016-01-01", "end": "2018-01-01", "period": "1m"},  # 24 periods
    "source": {"kind": "synthetic"},
    "analysis": {"enabled": False},
}


def usage(client):
    """Wall clock, the driver's CPU seconds, the workers' summed and their largest peak (MiB)."""
    driver = resource.getrusage(resource.RUSAGE_SELF)
    # Only functions of installed modules go to the workers: under asv this module is
    # benchmarks.bench_campaign, which a worker process cannot import.
    workers = client.run(resource.getrusage, resource.RUSAGE_SELF).values()
    return {
        "wall": time.perf_counter(),
        "driver": driver.ru_utime + driver.ru_stime,
        "workers": sum(w.ru_utime + w.ru_stime for w in workers),
        "peak_mib": max(w.ru_maxrss for w in workers) / 1024,
    }


def measured(client, run):
    """``run()``'s wall and CPU seconds (driver, workers); the workers' peak since they started."""
    before = usage(client)
    run()
    after = usage(client)
    figures = {k: after[k] - before[k] for k in ("wall", "driver", "workers")}
    share = figures["driver"] / figures["workers"]
    return {**figures, "driver_share": share, "peak_mib": after["peak_mib"]}


def tiny_campaign(folder, locations=67):
    """The campaign of ``locations`` catalogue sites of tiny scenes, into ``folder``."""
    names = ["all"] if locations == 67 else [f"{i:02d}" for i in range(locations)]
    raw = {"campaign": {"locations": names}, **TINY, "output": {"url": folder}}
    return validate_campaign(raw)


def single_location(folder, size=800):
    """One location as large as the campaign together, the same periods, into ``folder``."""
    config = load_config(None)
    config.update({k: {**config[k], **v} for k, v in TINY.items()})
    config["location"]["size"] = size
    config["output"]["url"] = folder
    return validate_config(config)


def campaign_against_single(locations=67, size=800, in_flight=None):
    """The process stage of a campaign and of one location on one cluster: tiles/s, CPU, memory."""
    folder = tempfile.mkdtemp()
    quiet = {"progress": False, "log": lambda line: None}
    campaign = tiny_campaign(f"{folder}/campaign", locations)
    single = single_location(f"{folder}/single", size)
    try:
        with job_client("local", WORKERS, folder) as client:
            run_campaign(campaign, client=client, until="fetch", **quiet)

            def process():
                return run_campaign(
                    campaign, client=client, until="process", in_flight=in_flight, **quiet
                )

            many = measured(client, process)  # the workers' peak: the campaign's only
            run_job(single, client=client, until="fetch", **quiet)
            one = measured(client, lambda: run_job(single, client=client, until="process", **quiet))
    finally:
        shutil.rmtree(folder)
    tiles = {
        "campaign": locations * 4 * 24,  # 4 tiles of 50 px a location, 24 periods
        "single": (size // 50) ** 2 * 24,
    }
    rates = {k: tiles[k] / f["wall"] for k, f in (("campaign", many), ("single", one))}
    return {
        "tiles_per_second": rates,
        "rate_share": rates["campaign"] / rates["single"],
        "driver_share": many["driver_share"],
        "single_driver_share": one["driver_share"],
        "worker_peak_mib": many["peak_mib"],
        "seconds": {"campaign": many["wall"], "single": one["wall"]},
        "cpu_seconds": {
            "campaign": {"driver": many["driver"], "workers": many["workers"]},
            "single": {"driver": one["driver"], "workers": one["workers"]},
        },
    }


def demo_campaign():
    """``vegdask config demo --campaign`` end to end on 2 local workers: wall time, CPU, memory."""
    folder = tempfile.mkdtemp()
    campaign = validate_campaign({**DEMO_CAMPAIGN, "output": {"url": folder}})
    try:
        with job_client("local", WORKERS, folder) as client:
            figures = measured(
                client,
                lambda: run_campaign(campaign, client=client, progress=False, log=lambda m: None),
            )
    finally:
        shutil.rmtree(folder)
    return {
        "seconds": figures["wall"],
        "driver_share": figures["driver_share"],
        "worker_peak_mib": figures["peak_mib"],
    }


class Campaign:
    """67 tiny locations' process stage against one location of as many tiles; the demo campaign."""

    timeout = 3600

    def setup_cache(self):
        return {"tiny": campaign_against_single(), "demo": demo_campaign()}

    def track_process_rate_share_of_single_location(self, result):
        return result["tiny"]["rate_share"]

    def track_driver_cpu_share_of_workers(self, result):
        return result["tiny"]["driver_share"]

    def track_worker_peak_mib(self, result):
        return result["tiny"]["worker_peak_mib"]

    def track_demo_campaign_seconds(self, result):
        return result["demo"]["seconds"]

    def track_demo_driver_cpu_share_of_workers(self, result):
        return result["demo"]["driver_share"]

    def track_demo_worker_peak_mib(self, result):
        return result["demo"]["worker_peak_mib"]

    track_worker_peak_mib.unit = "MiB"
    track_demo_campaign_seconds.unit = "s"
    track_demo_worker_peak_mib.unit = "MiB"


if __name__ == "__main__":
    print(demo_campaign() if sys.argv[1:] == ["demo"] else campaign_against_single())
