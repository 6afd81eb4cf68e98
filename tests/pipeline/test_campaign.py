"""Campaigns: many locations in one config, run on one cluster, failures isolated, resumable."""

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from distributed import Client, LocalCluster

from vegdask.cli import main
from vegdask.data import RunStore, location, locations
from vegdask.data.storage import ensure_container
from vegdask.pipeline import (
    Campaign,
    ConfigError,
    load_job,
    output_lock,
    read_manifest,
    run_campaign,
    validate_campaign,
)

ROOT = Path(__file__).resolve().parents[2]
SMALL = """
[location]
size = 100
[time]
start = "2016-01-01"
end = "2016-04-01"
[cluster]
workers = 1
[analysis]
enabled = false
"""


@pytest.fixture(scope="module")
def client():
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False) as cluster, Client(
        cluster
    ) as client:  # fmt: skip
        yield client


def write(path, text):
    path.write_text(text)
    return path


def index_classes(out):
    """The class of each site's marker on the campaign's index.html."""
    page = (out / "index.html").read_text()
    return dict(re.findall(r'<circle class="site" data-id="([^"]+)" data-verdict="([^"]+)"', page))


# --- config -------------------------------------------------------------------------------------


def test_ids_all_and_tables_expand_to_one_job_config_each():
    campaign = validate_campaign(
        {
            "campaign": {
                "locations": [
                    "17",
                    {"id": "site-a", "longitude": 10.5, "latitude": 12.25, "size": 120},
                    {"id": "03", "size": 200, "start": "2017-01-01", "end": "2018-01-01"},
                ]
            },
            "location": {"size": 150},
            "time": {"start": "2016-01-01", "end": "2020-01-01"},
            "output": {"url": "abfs://runs/camp"},
        }
    )
    by_id = {site.id: site.config for site in campaign.sites}
    assert list(by_id) == ["17", "site-a", "03"]
    catalogue = locations()
    assert by_id["17"]["location"] == {
        "id": "17", "longitude": catalogue["17"].longitude,
        "latitude": catalogue["17"].latitude, "size": 150,
    }  # fmt: skip
    assert by_id["site-a"]["location"] == {"longitude": 10.5, "latitude": 12.25, "size": 120}
    assert by_id["03"]["location"]["size"] == 200
    assert by_id["03"]["time"]["start"] == "2017-01-01"
    assert by_id["17"]["time"]["start"] == "2016-01-01"  # the shared dates elsewhere
    assert [s.output for s in campaign.sites] == [
        "abfs://runs/camp/locations/17", "abfs://runs/camp/locations/site-a",
        "abfs://runs/camp/locations/03",
    ]  # fmt: skip
    assert campaign.output == "abfs://runs/camp"


def test_all_names_the_67_catalogue_locations():
    campaign = validate_campaign({"campaign": {"locations": ["all"]}})
    assert [s.id for s in campaign.sites] == [f"{i:02d}" for i in range(67)]


def test_synthetic_sites_get_their_own_rainfall_path_and_pattern():
    campaign = validate_campaign({"campaign": {"locations": ["all"]}})
    paths = {s.synthetic_rainfall for s in campaign.sites}
    assert paths == {"declining", "stable"}
    for site in campaign.sites:
        source = site.config["source"]
        # the recorded truth is the rainfall the source gets
        declining = source["rainfall_end"] < source["rainfall_start"]
        assert site.synthetic_rainfall == ("declining" if declining else "stable")
    assert len({s.config["source"]["seed"] for s in campaign.sites}) == 67
    # rainfall given in [source] applies to every location, as every other section
    given = validate_campaign(
        {"campaign": {"locations": ["00", "01"]}, "source": {"rainfall_end": 1.0}}
    )
    assert {s.config["source"]["rainfall_end"] for s in given.sites} == {1.0}
    assert {s.synthetic_rainfall for s in given.sites} == {None}
    # the rain's other options given in [source] apply too, the sites keeping their own paths
    seasonal = validate_campaign(
        {"campaign": {"locations": ["00", "04"]}, "source": {"rainfall_seasonality": 0.3}}
    )
    assert {s.config["source"]["rainfall_seasonality"] for s in seasonal.sites} == {0.3}
    assert {s.synthetic_rainfall for s in seasonal.sites} == {"stable", "declining"}


def test_locations_file_is_read_beside_the_config(tmp_path):
    write(tmp_path / "sites.csv", "id,longitude,latitude,size\na,10.0,12.0,\nb,11.5,-3.25,120\n")
    config = write(tmp_path / "c.toml", '[campaign]\nlocations_file = "sites.csv"\n')
    campaign = load_job(config)
    assert isinstance(campaign, Campaign)
    assert [(s.id, s.config["location"]) for s in campaign.sites] == [
        ("a", {"longitude": 10.0, "latitude": 12.0, "size": 500}),
        ("b", {"longitude": 11.5, "latitude": -3.25, "size": 120}),
    ]


@pytest.mark.parametrize(
    ("campaign", "message"),
    [
        ({"locations": ["99"]}, "campaign.locations[0] = '99' is not a catalogue id"),
        (
            {"locations": [{"id": "x", "longitude": 1.0, "latitude": 91}]},
            "campaign location 'x': location.latitude = 91 is not valid; expected a number in "
            "[-90, 90]",
        ),
        (
            {"locations": [{"id": "x", "longitude": 1.0, "latitude": 1.0, "size": 10}]},
            "campaign location 'x': location.size = 10 is not valid",
        ),
        (
            {"locations": [{"id": "x", "longitude": 1.0, "latitude": 1.0, "end": "2015-01-01"}]},
            "campaign location 'x': time: ",
        ),
        ({"locations": [{"id": "y", "longitude": 1.0}]}, "campaign location 'y': latitude is"),
        ({"locations": [{"id": "z"}]}, "campaign location 'z': not a catalogue id"),
        ({"locations": [{"id": "a/b", "longitude": 1, "latitude": 1}]}, ".id = 'a/b' is not"),
        ({"locations": [{"id": "q", "colour": 1}]}, "campaign location 'q': unknown key colour"),
        ({"locations": ["01", "01"]}, "campaign location '01' is named twice"),
        ({"locations": []}, "[campaign] names no locations"),
        ({"locations": "17"}, "campaign.locations = '17' is not valid"),
        ({"sites": ["17"]}, "unknown key campaign.sites"),
        ({"locations": ["17"], "locations_file": "s.csv"}, "needs either campaign.locations"),
    ],
)
def test_bad_campaign_names_the_location_and_the_field(campaign, message):
    with pytest.raises(ConfigError) as err:
        validate_campaign({"campaign": campaign})
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_a_campaign_places_its_locations_only_in_campaign():
    with pytest.raises(ConfigError, match=r"location\.longitude: a campaign names its locations"):
        validate_campaign({"campaign": {"locations": ["17"]}, "location": {"longitude": 1.0}})


def test_bad_locations_file_names_its_line_location_and_field(tmp_path):
    write(tmp_path / "sites.csv", "id,longitude,latitude\na,10.0,12.0\nb,east,3\n")
    with pytest.raises(
        ConfigError, match=r"sites\.csv line 3 \(location 'b'\): longitude = 'east'"
    ):
        validate_campaign({"campaign": {"locations_file": "sites.csv"}}, tmp_path)
    write(tmp_path / "sites.csv", "id,lon,latitude\na,10.0,12.0\n")
    with pytest.raises(ConfigError, match="has no column longitude"):
        validate_campaign({"campaign": {"locations_file": "sites.csv"}}, tmp_path)
    with pytest.raises(ConfigError, match="cannot be read"):
        validate_campaign({"campaign": {"locations_file": "none.csv"}}, tmp_path)


def test_bad_campaign_on_the_command_line_is_one_line_and_exit_2(tmp_path, capsys):
    config = write(
        tmp_path / "c.toml",
        f'[campaign]\nlocations = ["00", {{ id = "x", longitude = 1.0, latitude = 95.0 }}]\n'
        f'[output]\nurl = "{tmp_path / "out"}"\n',
    )
    assert main(["run", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "campaign location 'x': location.latitude = 95.0 is not valid" in err
    assert not (tmp_path / "out").exists()  # nothing written


def test_demo_campaign_config_is_8_catalogue_locations_half_declining(capsys):
    assert main(["config", "demo", "--campaign"]) == 0
    raw = tomllib.loads(capsys.readouterr().out)
    campaign = validate_campaign(raw)
    assert len(campaign.sites) == 8
    assert all(location(s.id).id == s.id for s in campaign.sites)
    assert {s.config["source"]["kind"] for s in campaign.sites} == {"synthetic"}
    paths = [s.synthetic_rainfall for s in campaign.sites]
    assert paths.count("declining") == 4
    assert paths.count("stable") == 4
    # 48 monthly periods: enough for the indicators' half-length rolling window
    assert {(s.config["time"]["start"], s.config["time"]["end"]) for s in campaign.sites} == {
        ("2016-01-01", "2020-01-01")
    }


def test_config_show_lists_a_campaigns_locations(tmp_path, capsys):
    config = write(
        tmp_path / "c.toml", '[campaign]\nlocations = ["04", "17"]\n[location]\nsize = 120\n'
    )
    assert main(["config", "show", str(config)]) == 0
    out = capsys.readouterr().out
    rows = [
        line.split()
        for line in out.splitlines()
        if line.startswith("# 04") or line.startswith("# 17")
    ]
    assert [(r[1], float(r[2]), float(r[3]), int(r[4]), r[-1]) for r in rows] == [
        ("04", location("04").longitude, location("04").latitude, 120, "(declining)"),
        ("17", location("17").longitude, location("17").latitude, 120, "(stable)"),
    ]
    shared = tomllib.loads(out)  # the rest is the shared config, as TOML
    assert shared["output"]["url"] == "vegdask-demo"
    assert "location" not in shared


# --- running ------------------------------------------------------------------------------------


def test_failing_location_is_isolated_and_a_rerun_retries_only_it(tmp_path, capsys):
    out = tmp_path / "camp"
    config = write(
        tmp_path / "c.toml",
        SMALL
        + '[campaign]\nlocations = ["00", "04", { id = "far", longitude = 20.0, latitude = 5.0 }]\n'
        + f'[output]\nurl = "{out}"\n',
    )
    # The output of location 04 is taken by a file: that location cannot be written.
    (out / "locations").mkdir(parents=True)
    (out / "locations" / "04").write_text("not a folder")
    assert main(["run", str(config), "--no-progress"]) == 3
    printed = capsys.readouterr().out
    assert "2 of 3 locations done, 1 failed: see campaign.json" in printed
    assert f"map and table: {out}/index.html" in printed
    record = json.loads((out / "campaign.json").read_text())
    entries = record["locations"]
    assert list(entries) == ["00", "04", "far"]
    assert entries["04"]["status"] == "failed"
    assert "is a file" in entries["04"]["error"]
    assert "\n" not in entries["04"]["error"]
    for name in ("00", "far"):
        assert entries[name]["status"] == "done"
        assert entries[name]["error"] is None
        assert entries[name]["output"] == f"locations/{name}"
        manifest = read_manifest(str(out / entries[name]["output"]))
        assert manifest["stages"]["process"]["complete"]
        assert entries[name]["periods"] == 3
        assert manifest["stages"]["process"]["valid_tiles"] == entries[name]["valid_tiles"]
    assert entries["00"]["synthetic_rainfall"] == "stable"
    assert read_manifest(str(out / "locations/00"))["synthetic_rainfall"] == "stable"
    assert entries["far"]["synthetic_rainfall"] == "stable"  # id "far": an even CRC-32
    assert record["actual"]["done"] == 2
    assert record["actual"]["failed"] == 1
    assert not (out / "run.lock").exists()  # the campaign's one lock, released
    # index.html maps the sites by their class (no analysis here: no verdicts)
    assert index_classes(out) == {"00": "no verdict", "04": "failed", "far": "no verdict"}

    tiles_00 = out / "locations/00/tiles.zarr/zarr.json"
    before = tiles_00.stat().st_mtime_ns
    (out / "locations" / "04").unlink()
    assert main(["run", str(config), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "1 to compute" in printed
    assert "3 of 3 locations done" in printed
    assert "location 00 (1/3): complete; skipped" in printed
    assert tiles_00.stat().st_mtime_ns == before
    entries = json.loads((out / "campaign.json").read_text())["locations"]
    assert [e["status"] for e in entries.values()] == ["done"] * 3
    assert entries["04"]["synthetic_rainfall"] == "declining"
    assert index_classes(out) == {"00": "no verdict", "04": "no verdict", "far": "no verdict"}
    assert read_manifest(str(out / "locations/04"))["synthetic_rainfall"] == "declining"

    measured = json.loads((out / "campaign.json").read_text())["actual"]
    assert main(["run", str(config), "--no-progress"]) == 0  # done: no cluster at all
    assert "nothing to compute" in capsys.readouterr().out
    # a rerun that computes nothing keeps the measures of the run that computed
    assert json.loads((out / "campaign.json").read_text())["actual"] == measured


def test_one_lock_covers_the_campaign(tmp_path, capsys):
    out = tmp_path / "camp"
    config = write(
        tmp_path / "c.toml", SMALL + f'[campaign]\nlocations = ["01"]\n[output]\nurl = "{out}"\n'
    )
    out.mkdir()
    with output_lock(str(out)):  # another run holds the campaign's output
        assert main(["run", str(config), "--no-progress"]) == 2
    assert "is in use by another run" in capsys.readouterr().err
    assert not (out / "campaign.json").exists()
    assert not (out / "locations").exists()


def test_fetch_acquires_every_location_only(tmp_path, capsys):
    out = tmp_path / "camp"
    config = write(
        tmp_path / "c.toml",
        SMALL + f'[campaign]\nlocations = ["01", "06"]\n[output]\nurl = "{out}"\n',
    )
    assert main(["fetch", str(config), "--no-progress"]) == 0
    assert "2 of 2 locations done" in capsys.readouterr().out
    entries = json.loads((out / "campaign.json").read_text())["locations"]
    for name in ("01", "06"):
        assert entries[name]["status"] == "done"
        assert entries[name]["verdict"] is None
        assert (out / "locations" / name / "scene.zarr").is_dir()
        assert not (out / "locations" / name / "tiles.zarr").exists()
    assert not (out / "summary").exists()


def test_location_output_is_a_single_run_that_other_commands_read(tmp_path, client, monkeypatch):
    campaign = validate_campaign(
        {
            "campaign": {"locations": ["05"]},
            **tomllib.loads(SMALL),
            "output": {"url": str(tmp_path)},
        }
    )
    reads, read_bytes = [], RunStore.read_bytes

    def counted(store, name):
        reads.append(name)
        return read_bytes(store, name)

    monkeypatch.setattr(RunStore, "read_bytes", counted)
    record = run_campaign(campaign, client=client, progress=False, log=lambda m: None)
    monkeypatch.undo()
    assert "run.json" not in reads  # none before the run; after it, its manifest is at hand
    assert record["locations"]["05"]["status"] == "done"
    site = tmp_path / "locations" / "05"
    assert main(["analyse", str(site)]) == 0  # an existing command, on a location's output
    assert (site / "analysis" / "resilience.json").exists()
    manifest = read_manifest(str(site))
    assert manifest["config"]["location"]["id"] == "05"
    assert manifest["config"]["output"]["url"] == str(site)
    # a single run's layout: the same stores as vegdask run writes
    assert {"scene.zarr", "weather.zarr", "mask.zarr", "tiles.zarr", "tiles.parquet"} <= {
        p.name for p in site.iterdir()
    }


def test_a_run_json_written_after_the_plan_fails_its_location_unwritten(tmp_path, client):
    """A location runs what the plan read: another run writing its run.json in between stops
    that location (one line in campaign.json, nothing written beside run.json)."""
    from vegdask.pipeline import campaign_to_compute, check_campaign

    campaign = check_campaign(
        validate_campaign(
            {
                "campaign": {"locations": ["05"]},
                **tomllib.loads(SMALL),
                "output": {"url": str(tmp_path)},
            }
        )
    )
    site = tmp_path / "locations" / "05"
    site.mkdir(parents=True)
    (site / "run.json").write_text('{"stages": {}}')  # another run's start, after the plan
    record = run_campaign(
        campaign,
        client=client,
        progress=False,
        log=lambda m: None,
        to_compute=campaign_to_compute(campaign),
    )
    entry = record["locations"]["05"]
    assert entry["status"] == "failed"
    assert "OutputInUseError" in entry["error"]
    assert "changed after this run checked it" in entry["error"]
    assert [p.name for p in site.iterdir()] == ["run.json"]


def test_campaign_on_blob_storage(client, azurite, monkeypatch):
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    remote = "abfs://runs-campaign/study"
    campaign = validate_campaign(
        {"campaign": {"locations": ["02", "07"]}, **tomllib.loads(SMALL), "output": {"url": remote}}
    )
    assert [s.output for s in campaign.sites] == [
        f"{remote}/locations/02",
        f"{remote}/locations/07",
    ]
    ensure_container(remote)  # as vegdask run does, before the lock
    with output_lock(remote):
        record = run_campaign(campaign, client=client, progress=False, log=lambda m: None)
    assert [e["status"] for e in record["locations"].values()] == ["done", "done"]

    fs = azurite.filesystem()
    stored = json.loads(fs.cat("runs-campaign/study/campaign.json"))
    assert stored["locations"]["07"]["synthetic_rainfall"] == "declining"
    assert read_manifest(f"{remote}/locations/07")["synthetic_rainfall"] == "declining"
    assert read_manifest(f"{remote}/locations/02")["stages"]["process"]["complete"]
    assert azurite.account_key not in json.dumps(stored)


# --- the documented commands --------------------------------------------------------------------


def documented_commands():
    text = (ROOT / "docs" / "pipeline.md").read_text()
    section = text.split("\n## Campaigns", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```bash\n(.*?)```", section, re.S).group(1)


def test_docs_campaign_config_example_is_valid():
    text = (ROOT / "docs" / "pipeline.md").read_text()
    section = text.split("\n## Campaigns", 1)[1].split("\n## ", 1)[0]
    example = re.search(r"```toml\n(.*?)```", section, re.S).group(1)
    campaign = validate_campaign(tomllib.loads(example))
    assert [s.id for s in campaign.sites] == ["17", "site-a", "03"]
    assert campaign.sites[2].config["location"]["size"] == 200


def test_docs_campaign_commands_as_written(tmp_path, expected_headline):
    """The demo campaign, as docs/pipeline.md runs it; its verdicts against resilience.json."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", "-e", "-c", documented_commands()],
        cwd=tmp_path, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads((tmp_path / "camp" / "campaign.json").read_text())
    entries = record["locations"]
    assert len(entries) == 8
    assert {e["status"] for e in entries.values()} == {"done"}
    assert "0 to compute" in done.stdout  # the rerun
    assert "nothing to compute" in done.stdout
    counts = {}
    for entry in entries.values():
        res = json.loads(
            (tmp_path / "camp" / entry["output"] / "analysis/resilience.json").read_text()
        )
        pooled = "location" in res
        series, expected, significant = expected_headline(res)
        verdict = entry["verdict"]
        assert verdict["test"] == ("pooled" if pooled else "mean-series")
        assert (verdict["series"], verdict["indicator"]) == (series, "ar1")
        assert verdict["kendall_tau"] == pytest.approx(expected["kendall_tau"])
        assert verdict["p_value"] == pytest.approx(expected["p_value"])
        assert verdict["significant"] == significant
        truth = read_manifest(str(tmp_path / "camp" / entry["output"]))["synthetic_rainfall"]
        assert truth == entry["synthetic_rainfall"]
        key = (truth, verdict["significant"])
        counts[key] = counts.get(key, 0) + 1
    assert sum(counts.values()) == 8
    expected = {  # index.html's classes: significant, not, no verdict (no p-value)
        site: "no verdict"
        if e["verdict"]["p_value"] is None
        else ("significant" if e["verdict"]["significant"] else "not significant")
        for site, e in entries.items()
    }
    assert index_classes(tmp_path / "camp") == expected
    assert "map and table: " in done.stdout
    summary = (tmp_path / "camp" / "summary" / "summary.csv").read_text().splitlines()
    assert len(summary) == 1 + 8
    print("verdicts (truth, significant):", counts)
    # the verdicts separate the synthetic truth: no stable site significant, the declining
    # sites found (15 of 16 declining, 1 of 16 stable over sites 00-31: campaign_truth.py sites)
    assert counts.get(("stable", True), 0) == 0, counts
    assert counts.get(("declining", True), 0) >= 3, counts
    # the counts docs/pipeline.md gives (the synthetic truth against the verdicts)
    text = " ".join((ROOT / "docs" / "pipeline.md").read_text().split())
    documented = re.search(
        r"significant for (\d) of the 4 declining locations .*? and for (\d) of the 4 stable", text
    )
    assert documented, "docs/pipeline.md no longer gives the demo campaign's counts"
    assert counts.get(("declining", True), 0) == int(documented.group(1))
    assert counts.get(("stable", True), 0) == int(documented.group(2))


def test_a_campaign_checks_each_location_once(tmp_path, azurite, monkeypatch, capsys):
    """`vegdask fetch` then `vegdask run` then the rerun of a 2-location campaign: each
    location's run.json read once a command (was twice: the plan, then the run or the outcome),
    and the campaign output's container made sure of once a command (was once by the CLI, once
    by run_campaign and once a location)."""
    import vegdask.data._run_store as run_store
    import vegdask.data.storage as storage

    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    remote = "abfs://runs-checks/study"
    reads: dict[str, int] = {}
    containers = []
    read_bytes, ensure = RunStore.read_bytes, {m: m.ensure_container for m in (run_store, storage)}

    def counted_read(store, name):
        if name == "run.json":
            where = store.url.rsplit("/", 1)[-1]
            reads[where] = reads.get(where, 0) + 1
        return read_bytes(store, name)

    def counted_ensure(module):
        def wrapped(*args, **kwargs):
            containers.append(args[0])
            return ensure[module](*args, **kwargs)

        return wrapped

    monkeypatch.setattr(RunStore, "read_bytes", counted_read)
    for module in ensure:
        monkeypatch.setattr(module, "ensure_container", counted_ensure(module))
    # a running scheduler in this process: the locations' reads happen here, counted
    with LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, protocol="tcp", dashboard_address=":0"
    ) as cluster:
        small = SMALL.replace("[cluster]\n", f'[cluster]\nkind = "{cluster.scheduler_address}"\n')
        config = write(
            tmp_path / "campaign.toml",
            f'[campaign]\nlocations = ["02", "07"]\n{small}[output]\nurl = "{remote}"\n',
        )
        counts = []
        for command in ("fetch", "run", "run"):
            reads.clear(), containers.clear()
            assert main([command, str(config), "--no-progress"]) == 0
            counts.append((dict(reads), len(containers)))
    assert "nothing to compute" in capsys.readouterr().out  # the rerun
    assert counts == [({}, 1), ({"02": 1, "07": 1}, 1), ({"02": 1, "07": 1}, 1)]
