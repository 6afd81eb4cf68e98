import dask
import pytest

from vegdask import config


def test_defaults_survive_a_dask_config_block_on_first_use():
    with dask.config.set({"vegdask.analysis.window": 0.3}):
        assert config.get("analysis.window") == 0.3
    assert config.get("analysis.window") == 0.5  # the packaged default, after the block


def test_explicit_value_wins_and_unknown_keys_are_named():
    assert config.get("analysis.window", 10) == 10
    with pytest.raises(KeyError, match=r"vegdask\.no-such-key"):
        config.get("no-such-key")


def test_environment_variable_comes_after_dask_config_and_before_the_default(monkeypatch):
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    assert config.get("azure.storage-connection-string") is None  # declared, no default
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", "from-env")
    assert config.get("azure.storage-connection-string") == "from-env"
    with dask.config.set({"vegdask.azure.storage-connection-string": "from-dask"}):
        assert config.get("azure.storage-connection-string") == "from-dask"
    assert config.get("azure.storage-connection-string", "given") == "given"


def test_every_setting_read_by_the_package_is_declared():
    import re
    from pathlib import Path

    import vegdask

    root = Path(vegdask.__file__).parent
    keys = {
        key
        for path in root.rglob("*.py")
        for key in re.findall(
            r'(?<!dask\.)(?:config|settings)\.get\(\s*"(\w[\w-]*\.[\w.-]+)"', path.read_text()
        )
    }
    assert keys, "no settings read: the pattern no longer matches the code"
    for key in sorted(keys):
        config.get(key)  # raises KeyError for an undeclared key
