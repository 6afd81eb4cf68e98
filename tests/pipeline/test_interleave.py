"""A campaign's locations interleaved on one cluster: bounded, ranked, and the outputs unchanged."""

import copy
import json
import threading
import tomllib
import warnings

import dask
import numpy as np
import psutil
import pytest
import xarray as xr
from distributed import Client, LocalCluster
from distributed.diagnostics.plugin import SchedulerPlugin

from vegdask.pipeline import run_campaign, run_job, validate_campaign
from vegdask.pipeline._interleave import RANK_STEP, interleave, ranked
from vegdask.testing import wait_until

# 12 monthly periods of a 100x100-pixel scene (4 tiles), analysed with few surrogates and no
# figures: enough for every analysis output, small enough for a test.
SMALL = """
[location]
size = 100
[time]
start = "2016-01-01"
end = "2017-01-01"
[analysis]
enabled = true
report = false
n_surrogates = 10
sensitivity_surrogates = 5
tile_surrogates = 5
spatial_permutations = 3
"""


def test_a_stopped_campaign_leaves_no_scheduler_setting_behind():
    # A location's thread still running when Ctrl-C stops the campaign ends after its client
    # has closed: the process' scheduler setting must then be as before the client.
    entered, release = threading.Event(), threading.Event()

    def run(item, rank, stopped):
        with ranked(client, rank):
            if item == "first":
                entered.wait(60)
                raise KeyboardInterrupt
            entered.set()
            release.wait(60)  # still inside when the client closes
        return item

    before = dask.config.get("scheduler", None)
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
        pytest.raises(KeyboardInterrupt),
    ):
        list(interleave(["first", "second"], run, in_flight=2))
    release.set()
    wait_until(
        lambda: not [t for t in threading.enumerate() if t.name.startswith("vegdask-interleave")],
        timeout=60,
    )
    assert dask.config.get("scheduler", None) == before


def test_at_most_in_flight_items_run_at_once_each_with_its_rank():
    barrier = threading.Barrier(2, timeout=120)  # two must run at once to pass it
    lock = threading.Lock()
    active, most = [0], [0]

    def run(item, rank, stopped):
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        barrier.wait()
        with lock:
            active[0] -= 1
        return rank

    outcomes = dict(interleave(["a", "b", "c", "d"], run, in_flight=2))
    assert outcomes == {"a": 0, "b": 1, "c": 2, "d": 3}
    assert most[0] == 2


def test_an_error_escaping_a_run_is_raised_and_stops_the_others():
    seen = []

    def run(item, rank, stopped):
        if item == "b":
            raise RuntimeError("the cluster is gone")
        seen.append(stopped)
        return item

    with pytest.raises(RuntimeError, match="the cluster is gone"):
        list(interleave(["a", "b", "c", "d"], run, in_flight=1))
    assert len(seen) == 1  # "a" only: nothing starts after the error
    assert seen[0].is_set()  # and the threads are told the campaign stopped


def test_the_warnings_a_job_silences_stay_silent_while_locations_run_at_once():
    # Warning filters are the process's: a location leaving its catch_warnings() block would
    # drop the filter another location's block set.
    barrier = threading.Barrier(2, timeout=120)

    def run(item, rank, stopped):
        barrier.wait()
        warnings.warn(
            "Consolidated metadata is currently not part of the spec", UserWarning, stacklevel=2
        )
        warnings.warn("Mean of empty slice", RuntimeWarning, stacklevel=2)
        return item

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert sorted(item for item, _ in interleave(["a", "b"], run, in_flight=2)) == ["a", "b"]
        warnings.warn("after the campaign", UserWarning, stacklevel=2)
    assert [str(w.message) for w in caught] == ["after the campaign"]


class Priorities(SchedulerPlugin):
    """The user priority of every task the scheduler ran (its priority tuple's first item)."""

    def __init__(self, scheduler):
        self.scheduler = scheduler
        self.seen = set()
        self.jobs = []  # the priorities of the tasks that ran a location's job

    def transition(self, key, start, finish, *args, **kwargs):
        if start == "processing" and finish == "memory":
            self.seen.add(-self.scheduler.tasks[key].priority[0])
            if str(key).startswith("vegdask-location-"):
                self.jobs.append(-self.scheduler.tasks[key].priority[0])


def stores(folder):
    """The arrays and JSON the analysis wrote, read back."""
    tiles = xr.open_zarr(folder / "tiles.zarr", consolidated=False).load()
    resilience = json.loads((folder / "analysis" / "resilience.json").read_text())
    series = (folder / "analysis" / "timeseries.csv").read_text()
    return tiles, resilience, series


def assert_close(got, expected, where=""):
    """JSON values equal, floats to a tolerance."""
    if isinstance(expected, dict):
        assert got.keys() == expected.keys(), where
        for key in expected:
            assert_close(got[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert len(got) == len(expected), where
        for i, (a, b) in enumerate(zip(got, expected, strict=True)):
            assert_close(a, b, f"{where}[{i}]")
    elif isinstance(expected, float):
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-12), where
    else:
        assert got == expected, where


def test_interleaved_campaign_equals_each_location_alone(tmp_path):
    campaign = validate_campaign(
        {
            "campaign": {"locations": ["01", "04"]},  # stable and declining rainfall
            **tomllib.loads(SMALL),
            "output": {"url": str(tmp_path / "camp")},
        }
    )
    with LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0"
    ) as cluster, Client(cluster) as client:  # fmt: skip
        priorities = Priorities(cluster.scheduler)
        cluster.scheduler.add_plugin(priorities)
        before = psutil.Process().cpu_times()  # the cluster is in this process
        record = run_campaign(campaign, client=client, progress=False, log=lambda m: None)
        after = psutil.Process().cpu_times()
        # every task of location k ran at its rank's priority, its analysis' statistics one above
        assert {0, 1, -RANK_STEP, -RANK_STEP + 1} <= priorities.seen
        assert priorities.seen <= {0, 1, -RANK_STEP, -RANK_STEP + 1, 10}  # 10: start_imports
        # a local campaign's location is one task of the driver's: its job runs on a worker
        assert sorted(priorities.jobs) == [-RANK_STEP, 0]
        alone = {}
        for site in campaign.sites:
            config = copy.deepcopy(site.config)
            config["output"]["url"] = str(tmp_path / "alone" / site.id)
            run_job(config, client=client, progress=False, log=lambda m: None)
            alone[site.id] = stores(tmp_path / "alone" / site.id)
    assert [e["status"] for e in record["locations"].values()] == ["done", "done"]
    # the campaign's CPU is measured once, not summed over the locations' overlapping stages
    spent = after.user + after.system - before.user - before.system
    actual = record["actual"]
    assert 0 < actual["campaign_cpu_seconds"] <= spent + 0.05
    assert sum(actual["cpu_seconds"].values()) == pytest.approx(
        actual["campaign_cpu_seconds"], abs=0.05
    )
    for site in campaign.sites:
        tiles, resilience, series = stores(tmp_path / "camp" / "locations" / site.id)
        expected_tiles, expected_resilience, expected_series = alone[site.id]
        assert tiles.sizes == expected_tiles.sizes
        assert tiles["valid"].values.any()
        for name, variable in expected_tiles.data_vars.items():
            np.testing.assert_allclose(tiles[name].values, variable.values, rtol=1e-9)
        assert_close(resilience, expected_resilience, site.id)
        assert series.splitlines()[0] == expected_series.splitlines()[0]
        assert len(series.splitlines()) == len(expected_series.splitlines()) == 1 + 12
