"""load_config with overrides, and dump_config as its inverse (read back by tomllib)."""

import tomllib

import pytest

from vegdask.pipeline import ConfigError, dump_config, load_config


def test_dump_config_is_the_inverse_of_load_config(tmp_path):
    config = load_config(None, overrides={"source": {"kind": "local", "path": "a \"quoted\" dir",
                                                     "bands": {"B4": "red"}}})  # fmt: skip
    path = tmp_path / "job.toml"
    path.write_text(dump_config(config))
    assert tomllib.loads(path.read_text()) == config  # standard TOML, not only ours
    assert load_config(path) == config


def test_overrides_merge_over_the_file_key_by_key(tmp_path):
    path = tmp_path / "job.toml"
    path.write_text('[cluster]\nkind = "tcp://host:8786"\nworkers = 3\n[time]\nperiod = "2m"\n')
    config = load_config(path, overrides={"cluster": {"workers": 5}, "output": {}})
    assert config["cluster"] == {"kind": "tcp://host:8786", "workers": 5}
    assert config["time"]["period"] == "2m"
    assert config["output"]["url"] == "vegdask-demo"  # an empty override changes nothing


def test_a_bad_override_is_named():
    with pytest.raises(ConfigError, match=r"cluster\.workers = 0"):
        load_config(None, overrides={"cluster": {"workers": 0}})


def test_a_config_without_source_follows_the_source_settings_like_one_that_names_it():
    import dask.config

    from vegdask.pipeline import validate_config

    with dask.config.set({"vegdask.source.synthetic.seed": 3}):
        implied = validate_config({})["source"]
        named = validate_config({"source": {"kind": "synthetic"}})["source"]
    assert implied == named
    assert implied["seed"] == 3
    assert validate_config({})["source"]["seed"] == 0  # the packaged setting
