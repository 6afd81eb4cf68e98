import dask
import pytest

from vegdask import config


def test_defaults_survive_a_dask_config_block_on_first_use():
    with dask.config.set({"vegdask.analysis.window": 0.3}):
        assert config.get("analysis.window") == 0.3
    assert config.get("analysis.window") == 0.5  # the packaged default, after the block


def test_explicit_value_wins_and_unknown_keys_are_named():
    assert config.get("tile-size", 10) == 10
    with pytest.raises(KeyError, match=r"vegdask\.no-such-key"):
        config.get("no-such-key")
