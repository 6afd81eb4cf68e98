"""vegdask plan: a job's or campaign's work, CPU time, wall time and cost, before it runs."""

import json
import math
import re
from datetime import date
from pathlib import Path

import dask.config
import pytest
import yaml

from vegdask.cli import main
from vegdask.pipeline import VM_PRICES, vm_price
from vegdask.pipeline._plan import machine_key

ROOT = Path(__file__).resolve().parents[2]

CAMPAIGN = """
[campaign]
locations = [
    "00",
    { id = "big", longitude = 10.5, latitude = 12.25, size = 330, start = "2017-01-01" },
]
[location]
size = 120
[time]
start = "2016-01-01"
end = "2019-01-01"
period = "1m"
[source]
kind = "synthetic"
[analysis]
enabled = true
n_surrogates = 40
sensitivity_surrogates = 20
tile_surrogates = 10
spatial_permutations = 9
[cluster]
workers = 3
"""
# A calibration written by hand: CPU seconds per location, period and tile-period by stage (for
# the analysis, per period squared and per tile-period times periods).
CALIBRATION = {
    "per_location": {"fetch": 0.5, "process": 0.25, "analyse": 3.0},
    "per_period": {"fetch": 0.05, "process": 0.02, "analyse": 0.1},
    "per_tile": {"fetch": 0.001, "process": 0.004, "analyse": 0.002},
    "machine": "a test machine",
    "date": "2026-01-02",
}


@pytest.fixture
def cache(tmp_path):
    folder = tmp_path / "cache"
    with dask.config.set({"vegdask.plan.calibration-dir": str(folder)}):
        yield folder


def plan_json(capsys, *args):
    assert main(["plan", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_plan_figures_follow_the_closed_form(tmp_path, cache, capsys):
    cache.mkdir()
    (cache / f"calibration-{machine_key()}.json").write_text(json.dumps(CALIBRATION))
    config = tmp_path / "c.toml"
    config.write_text(CAMPAIGN)
    plan = plan_json(capsys, str(config), "--vm-size", "Standard_A2_v2")
    # periods from the dates: 36 months 2016-2018, 24 from 2017; tiles from size // 50
    expected = {"00": (36, (120 // 50) ** 2, 120), "big": (24, (330 // 50) ** 2, 330)}
    here = {"fetch": 0.0, "process": 0.0, "analyse": 0.0}
    for name, (periods, tiles_a_period, size) in expected.items():
        site = plan["locations"][name]
        tiles = periods * tiles_a_period
        assert (site["periods"], site["tiles"]) == (periods, tiles)
        # a stage's task takes as many consecutive periods as fit 500x500 px of values
        per_task = max(1, 500 * 500 // (size * size))
        assert site["tasks"] == 2 * -(-periods // per_task) + 1
        assert site["bytes"] == size * size * periods * (5 * 4 + 1)
        cost = {
            "fetch": 0.5 + 0.05 * periods + 0.001 * tiles,
            "process": 0.25 + 0.02 * periods + 0.004 * tiles,
            "analyse": 3.0 + 0.1 * periods**2 + 0.002 * tiles * periods,
        }
        for stage, seconds in cost.items():
            assert site["cpu_seconds"][stage] == pytest.approx(seconds, abs=0.01)
            here[stage] += seconds
    assert plan["total"]["periods"] == 60
    assert plan["total"]["tiles"] == 36 * 4 + 24 * 36
    vm = VM_PRICES["sizes"]["Standard_A2_v2"]
    slower = 2.0 / vm["speed"]  # vegdask.plan.machine-speed's default: this core 2x an A1 v2's
    cpu_hours = {s: v * slower / 3600 for s, v in here.items()}
    for stage in here:
        assert plan["total"]["cpu_hours"][stage] == pytest.approx(cpu_hours[stage], rel=1e-6)
    wall_hours = sum(cpu_hours.values()) / 3  # the config's 3 workers
    nodes = math.ceil(3 / vm["vcpus"])
    assert plan["nodes"] == nodes == 2
    assert plan["wall_hours"] == pytest.approx(wall_hours, rel=1e-6)
    assert plan["cost_usd"]["dedicated"] == pytest.approx(nodes * wall_hours * vm["dedicated"])
    assert plan["cost_usd"]["spot"] == pytest.approx(nodes * wall_hours * vm["spot"])
    assert plan["calibration"] == {
        "label": "cached", "date": "2026-01-02", "machine": "a test machine",
    }  # fmt: skip
    # --workers overrides the config's; the wall time spreads over them
    wider = plan_json(capsys, str(config), "--workers", "10", "--vm-size", "Standard_A2_v2")
    assert wider["wall_hours"] == pytest.approx(sum(cpu_hours.values()) / 10, rel=1e-6)
    assert wider["nodes"] == 5


def test_plan_of_a_single_location_config(tmp_path, cache, capsys):
    config = tmp_path / "one.toml"
    config.write_text('[location]\nid = "17"\nsize = 260\n[time]\nstart = "2016-01-01"\n'
                      'end = "2016-07-01"\n')  # fmt: skip
    assert main(["plan", str(config)]) == 0
    out = capsys.readouterr().out
    # 6 periods x 25 tiles, 3 periods of 260x260 px a task: 2 tasks a stage; no cached
    # calibration: the bundled one, labelled so
    assert out.startswith("plan: 1 location, 6 periods, 150 tiles, 5 tasks, ")
    assert "calibration: bundled default, " in out
    assert "Standard_A1_v2" in out  # vegdask.azure.vm-size's default
    assert "\n  17: 6, 150, 5, " in out


def test_a_vm_size_from_settings_adds_to_the_table(tmp_path, cache, capsys):
    extra = {"Standard_Test": {"vcpus": 4, "speed": 4.0, "dedicated": 1.0, "spot": 0.5}}
    with dask.config.set(
        {"vegdask.plan.vm-prices": extra, "vegdask.azure.vm-size": "standard_test"}
    ):
        plan = plan_json(capsys, "--workers", "8")
    assert plan["vm"]["name"] == "Standard_Test"
    assert plan["vm"]["source"] == "setting vegdask.plan.vm-prices"
    assert plan["nodes"] == 2
    assert plan["cost_usd"]["dedicated"] == pytest.approx(2 * plan["wall_hours"] * 1.0)


@pytest.mark.parametrize("where", ["option", "setting"])
def test_an_unknown_vm_size_is_one_line_and_exit_2(where, cache, capsys):
    args = ["plan", "--vm-size", "Standard_Nope"] if where == "option" else ["plan"]
    with dask.config.set({"vegdask.azure.vm-size": "Standard_Nope"}):
        assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert (
        "unknown VM size 'Standard_Nope'; allowed: Standard_A1_v2, Standard_A2_v2" in captured.err
    )


@pytest.mark.slow
def test_calibrate_writes_the_cache_that_plan_then_uses(cache, capsys):
    assert main(["plan", "--calibrate"]) == 0
    assert "cached in" in capsys.readouterr().out
    path = cache / f"calibration-{machine_key()}.json"
    fields = json.loads(path.read_text())
    assert fields["date"] == date.today().isoformat()
    assert fields["machine"] == machine_key()
    for costs in ("per_location", "per_period", "per_tile"):
        assert set(fields[costs]) == {"fetch", "process", "analyse"}
        assert all(v >= 0 for v in fields[costs].values())
    # the stages cost something: some CPU per period or tile was measured for each
    assert all(fields["per_location"][s] + fields["per_period"][s] + fields["per_tile"][s] > 0
               for s in ("fetch", "process", "analyse"))  # fmt: skip
    assert main(["plan"]) == 0
    assert f"calibration: cached, measured {date.today().isoformat()} on {machine_key()}" in (
        capsys.readouterr().out
    )


def test_a_campaign_prints_its_plan_first_and_records_plan_and_actual(tmp_path, cache, capsys):
    config = tmp_path / "c.toml"
    config.write_text(
        '[campaign]\nlocations = ["00", "01"]\n[location]\nsize = 100\n'
        '[time]\nstart = "2016-01-01"\nend = "2016-04-01"\n[cluster]\nworkers = 1\n'
        f'[analysis]\nenabled = false\n[output]\nurl = "{tmp_path / "camp"}"\n'
    )
    assert main(["plan", str(config)]) == 0
    planned = capsys.readouterr().out
    assert main(["run", str(config), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(planned)  # the plan, as vegdask plan prints it, comes first
    record = json.loads((tmp_path / "camp" / "campaign.json").read_text())
    plan, actual = record["plan"], record["actual"]
    assert plan["total"]["periods"] == 6
    assert plan["total"]["tiles"] == 6 * 4
    assert set(plan["cost_usd"]) == {"dedicated", "spot"}
    assert all(isinstance(v, float) and v > 0 for v in plan["cost_usd"].values())
    assert plan["total"]["cpu_seconds"]["analyse"] == 0  # disabled
    # measured: the driver's and the workers' CPU seconds over the campaign, split over the
    # stages as the locations' own stage figures are
    assert set(actual["cpu_seconds"]) == {"fetch", "process", "analyse"}
    assert actual["cpu_seconds"]["fetch"] > 0
    assert actual["cpu_seconds"]["process"] > 0
    assert sum(actual["cpu_seconds"].values()) == pytest.approx(
        actual["campaign_cpu_seconds"], abs=0.05
    )
    per_location = [e["stage_cpu_seconds"] for e in record["locations"].values()]
    stages = ("fetch", "process", "analyse")
    by_stage = {s: sum(e.get(s) or 0.0 for e in per_location) for s in stages}  # None: not run
    share = actual["campaign_cpu_seconds"] / sum(by_stage.values())
    for stage, seconds in by_stage.items():
        # each figure is rounded to 0.01 s, and fetch is a few tenths of a second here, so a
        # ratio of two of them can move by a few per cent: compare each to its rounding
        assert actual["cpu_seconds"][stage] == pytest.approx(seconds * share, abs=0.011)


def test_a_campaign_on_batch_is_planned_on_the_pool_it_adapts_to(tmp_path, cache, capsys):
    config = tmp_path / "c.toml"
    config.write_text('[campaign]\nlocations = ["00", "01"]\n[time]\nstart = "2016-01-01"\n'
                      'end = "2016-07-01"\n[cluster]\nkind = "azure-batch"\n')  # fmt: skip
    # 2 locations x (6 periods of 500 px x 2 stages + 1 analysis) = 26 tasks, capped by max-nodes
    with dask.config.set({"vegdask.azure.max-nodes": 5}):
        assert plan_json(capsys, str(config))["workers"] == 5
    with dask.config.set({"vegdask.azure.max-nodes": 50}):
        assert plan_json(capsys, str(config))["workers"] == 26


def azure_section():
    text = (ROOT / "docs" / "azure.md").read_text()
    return text.split("### Planning pyveg's study: `vegdask plan`", 1)[1].split("\n## ", 1)[0]


def test_docs_azure_plan_of_pyvegs_study_as_written(tmp_path, cache, capsys, monkeypatch):
    """docs/azure.md's config and command, and the output it shows (the bundled calibration)."""
    section = azure_section()
    config = re.search(r"```toml\n(.*?)```", section, re.S).group(1)
    console = re.search(r"```console\n(.*?)```", section, re.S).group(1).splitlines()
    assert console[0] == "$ vegdask plan pyveg.toml --workers 100"
    (tmp_path / "pyveg.toml").write_text(config)
    monkeypatch.chdir(tmp_path)
    assert main(console[0].split()[2:]) == 0
    assert capsys.readouterr().out.splitlines() == console[1:]
    plan = plan_json(capsys, "pyveg.toml", "--workers", "100")
    # pyveg's study: 67 locations x 48 periods x 17 x 17 tiles
    assert len(plan["locations"]) == 67
    assert plan["total"]["tiles"] == 67 * 48 * (890 // 50) ** 2


def test_docs_azure_vm_prices_setting_as_written():
    block = re.search(r"```yaml\n(.*?)```", azure_section(), re.S).group(1)
    with dask.config.set(yaml.safe_load(block)):
        entry = vm_price("Standard_D2s_v5")
    assert (entry["vcpus"], entry["speed"], entry["dedicated"], entry["spot"]) == (
        2, 1.95, 0.096, 0.0192,
    )  # fmt: skip
