import tomllib

from vegdask.cli import main
from vegdask.pipeline import DEMO_CONFIG, validate_config


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
