"""RunStore: one way to a run's files, local or on Azurite, with its storage options."""

import json

import dask
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from azure.storage.blob import BlobServiceClient

from vegdask.data import RunStore


def small_dataset():
    return xr.Dataset(
        {"offset50": (("time", "tile_y"), np.arange(6.0).reshape(3, 2))},
        coords={"time": pd.date_range("2016-01-01", periods=3, freq="MS"), "tile_y": [0, 1]},
    )


def test_json_is_strict_and_replaces_atomically(tmp_path):
    store = RunStore(tmp_path / "run")
    store.write_json("run.json", {"tau": np.float32(0.5), "p": float("nan"), "n": np.int64(3)})
    text = (tmp_path / "run" / "run.json").read_text()
    assert json.loads(text) == {"tau": 0.5, "p": None, "n": 3}  # strict: no NaN token
    assert "NaN" not in text
    assert not (tmp_path / "run" / "run.json.tmp").exists()
    assert store.read_json("run.json") == json.loads(text)


def test_local_zarr_parquet_and_reader_files(tmp_path):
    store = RunStore(str(tmp_path))
    store.write_zarr("tiles.zarr", small_dataset())
    xr.testing.assert_identical(
        xr.open_zarr(tmp_path / "tiles.zarr", consolidated=False).load(),
        store.open_zarr("tiles.zarr").load(),
    )
    store.write_parquet("tiles.parquet", small_dataset().to_dataframe().reset_index())
    store.makedirs("analysis")
    store.write_bytes("analysis/timeseries.csv", b"a,b\n")
    store.write_bytes("analysis/notes.txt", b"not for readers")
    with pytest.raises(FileNotFoundError, match=r"neither run\.json nor results_summary\.json"):
        store.reader_files()
    store.write_json("run.json", {})
    assert sorted(store.reader_files()) == [
        "analysis/timeseries.csv",
        "run.json",
        "tiles.parquet",
    ]
    assert store.read_bytes("analysis/timeseries.csv") == b"a,b\n"


def test_zarr_outputs_take_the_connection_string_from_dask_config(azurite, monkeypatch):
    """vegdask.azure.storage-connection-string reaches Zarr outputs, as it reaches Batch files."""
    BlobServiceClient.from_connection_string(azurite.connection_string).create_container("store")
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    monkeypatch.delenv("AZURE_STORAGE_ACCOUNT_NAME", raising=False)
    setting = {"vegdask.azure.storage-connection-string": azurite.connection_string}
    with dask.config.set(setting):
        store = RunStore("abfs://store/run")
        assert store.remote
        store.write_zarr("tiles.zarr", small_dataset())
        store.write_json("run.json", {"ok": True})
        again = RunStore("abfs://store/run")  # a new filesystem: no listing cache to hide it
        assert again.exists("tiles.zarr")
        assert again.read_json("run.json") == {"ok": True}
        np.testing.assert_array_equal(
            again.open_zarr("tiles.zarr")["offset50"].values, small_dataset()["offset50"].values
        )
    blobs = BlobServiceClient.from_connection_string(azurite.connection_string)
    names = [b.name for b in blobs.get_container_client("store").list_blobs()]
    assert "run/run.json" in names
    assert any(n.startswith("run/tiles.zarr/") for n in names)
