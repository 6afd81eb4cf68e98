import tomllib

from vegdask.cli import main
from vegdask.pipeline import DEMO_CONFIG, validate_config
from vegdask.testing import wait_until


def test_config_demo_round_trips_through_toml(capsys):
    assert main(["config", "demo"]) == 0
    assert validate_config(tomllib.loads(capsys.readouterr().out)) == validate_config(DEMO_CONFIG)


def test_config_show_merges_the_file_over_defaults(tmp_path, capsys):
    path = tmp_path / "job.toml"
    path.write_text('[time]\nperiod = "2m"\n[output]\nurl = "abfs://runs/x"\n')
    assert main(["config", "show", str(path)]) == 0
    shown = tomllib.loads(capsys.readouterr().out)
    assert shown["time"]["period"] == "2m"
    assert shown["output"]["url"] == "abfs://runs/x"
    assert shown["processing"]["graph_class"] == "bare"


def test_config_show_reports_bad_fields(tmp_path, capsys):
    path = tmp_path / "job.toml"
    path.write_text("[cluster]\nworkers = 0\n")
    assert main(["config", "show", str(path)]) == 2
    assert "cluster.workers = 0" in capsys.readouterr().err


def test_config_new_from_flags(tmp_path, capsys):
    target = tmp_path / "site.toml"
    args = ["config", "new", "--longitude", "-0.97", "--latitude", "15.23", "--start",
            "2017-01-01", "--end", "2018-01-01", "--output", "abfs://runs/site-17", "--to",
            str(target)]  # fmt: skip
    assert main(args) == 0
    written = validate_config(tomllib.loads(target.read_text()))
    assert written["location"]["longitude"] == -0.97
    assert written["output"]["url"] == "abfs://runs/site-17"
    assert "vegdask run" in capsys.readouterr().out
    assert main(args) == 2  # no silent overwrite
    assert "exists" in capsys.readouterr().err


def test_config_new_without_a_terminal_names_missing_flags(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["config", "new", "--longitude", "1"]) == 2
    assert "missing --latitude, --start, --end, --output" in capsys.readouterr().err


def test_config_new_prompts_on_a_terminal(tmp_path):
    import os
    import pty
    import subprocess
    import sys

    target = tmp_path / "asked.toml"
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "vegdask.cli", "config", "new", "--longitude", "27.94",
         "--to", str(target)],
        stdin=follower, stdout=follower, stderr=follower, close_fds=True,
    )  # fmt: skip
    os.close(follower)
    output = bytearray()

    def prompted():  # the next question has arrived (read as it comes)
        output.extend(os.read(leader, 1024))
        return output.rstrip().endswith(b":")

    for answer in ["11.58", "2016-01-01", "2017-01-01", str(tmp_path / "out")]:
        wait_until(prompted, timeout=60, interval=0)
        os.write(leader, (answer + "\n").encode())
        output.clear()
    assert process.wait(timeout=30) == 0
    os.close(leader)
    config = validate_config(tomllib.loads(target.read_text()))
    assert config["location"]["latitude"] == 11.58
    assert config["time"]["end"] == "2017-01-01"


def test_config_new_from_a_location_id_needs_no_coordinates(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    target = tmp_path / "site17.toml"
    args = ["config", "new", "--location-id", "17", "--start", "2017-01-01", "--end",
            "2018-01-01", "--output", "runs/17", "--to", str(target)]  # fmt: skip
    assert main(args) == 0
    written = validate_config(tomllib.loads(target.read_text()))
    assert (written["location"]["longitude"], written["location"]["latitude"]) == (-0.97, 15.23)
    assert written["location"]["id"] == "17"
    assert main(["config", "new", "--location-id", "99", "--start", "2017-01-01", "--end",
                 "2018-01-01", "--output", "x"]) == 2  # fmt: skip
    assert "location.id = '99' is not valid" in capsys.readouterr().err


def test_config_locations_lists_the_catalogue(capsys):
    assert main(["config", "locations"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["id", "longitude", "latitude"]
    row17 = next(line.split() for line in lines if line.startswith("17 "))
    assert row17[:5] == ["17", "-0.97", "15.23", "Niger", "declining"]


def test_config_new_with_an_earth_engine_collection(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    base = ["config", "new", "--location-id", "00", "--start", "2019-01-01", "--end",
            "2020-01-01", "--output", "runs/00"]  # fmt: skip
    target = tmp_path / "s2.toml"
    extra = ["--source", "earthengine", "--collection", "LANDSAT/LC08/C02/T1_L2"]
    assert main([*base, *extra, "--to", str(target)]) == 0
    written = validate_config(tomllib.loads(target.read_text()))
    assert written["source"]["kind"] == "earthengine"
    assert written["source"]["collection"] == "LANDSAT/LC08/C02/T1_L2"
    assert written["location"]["size"] == 296  # pyveg's 0.08-degree region at Landsat's 30 m
    assert main([*base, "--collection", "COPERNICUS/S2_SR_HARMONIZED"]) == 2
    assert "unknown key source.collection for kind 'synthetic'" in capsys.readouterr().err
