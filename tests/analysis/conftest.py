"""Small run outputs in the contract's layout (tiles.zarr, weather.zarr, run.json, scene.zarr)."""

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr


def _make_tiles(n_time=60, ny=4, nx=5, seed=0, ramp=True):
    """Monthly tiles whose offset50 has an annual cycle plus AR(1) noise (ramping if ``ramp``)."""
    rng = np.random.default_rng(seed)
    time = pd.date_range("2016-01-01", periods=n_time, freq="MS") + pd.Timedelta(days=15)
    phi = np.linspace(0.1, 0.9, n_time) if ramp else np.full(n_time, 0.3)
    noise = np.zeros((ny, nx, n_time))
    for t in range(1, n_time):
        noise[..., t] = phi[t] * noise[..., t - 1] + rng.standard_normal((ny, nx))
    season = 40 * np.sin(2 * np.pi * np.arange(n_time) / 12)
    offset50 = -800 + season + 20 * noise + rng.normal(0, 5, (ny, nx, 1))
    offset50 = np.moveaxis(offset50, -1, 0)
    ndvi = 0.3 + 0.1 * np.sin(2 * np.pi * np.arange(n_time) / 12)[:, None, None]
    ndvi = ndvi + 0.02 * rng.standard_normal((n_time, ny, nx))
    valid = np.ones((n_time, ny, nx), bool)
    valid[5, 0, :] = False  # a cloudy row of tiles in one period
    valid[min(17, n_time - 1)] = False  # a fully cloudy period
    dims = ("time", "tile_y", "tile_x")
    ds = xr.Dataset(
        {
            "offset50": (dims, np.where(valid, offset50, np.nan)),
            "ndvi_mean": (dims, np.where(valid, ndvi, np.nan)),
            "ndvi_veg_mean": (dims, np.where(valid, ndvi + 0.2, np.nan)),
            "masked_fraction": (dims, np.where(valid, 0.0, 1.0)),
            "valid": (dims, valid),
        },
        coords={
            "time": time,
            "tile_y": np.arange(ny),
            "tile_x": np.arange(nx),
            "latitude": (
                ("tile_y", "tile_x"),
                11.6 - 0.0045 * np.repeat(np.arange(ny), nx).reshape(ny, nx),
            ),
            "longitude": (
                ("tile_y", "tile_x"),
                27.9 + 0.0045 * np.tile(np.arange(nx), ny).reshape(ny, nx),
            ),
        },
        attrs={
            "location": "test-spots",
            "collection": "COPERNICUS/S2",
            "source": "synthetic",
            "tile_size": 50,
            "num_quantiles": 20,
            "diagonal": 0,
            "graph_class": "bare",
        },
    )
    return ds


def _make_weather(time, seed=1):
    rng = np.random.default_rng(seed)
    n = len(time)
    precip = np.clip(
        50 + 40 * np.sin(2 * np.pi * (np.arange(n) - 2) / 12) + rng.normal(0, 5, n), 0, None
    )
    temp = 300 + 3 * np.cos(2 * np.pi * np.arange(n) / 12)
    return xr.Dataset(
        {"total_precipitation": ("time", precip), "mean_2m_air_temperature": ("time", temp)},
        coords={"time": time},
    )


def _write_run(root, n_time=60, with_scene=True):
    tiles = _make_tiles(n_time)
    tiles.to_zarr(root / "tiles.zarr", mode="w", consolidated=False)
    _make_weather(tiles.time.values).to_zarr(root / "weather.zarr", mode="w", consolidated=False)
    run = {
        "vegdask_version": "0.1.0",
        "config": {
            "location": {"id": "test-spots", "longitude": 27.9, "latitude": 11.6},
            "collection": "COPERNICUS/S2",
        },
        "packages": {"numpy": np.__version__},
        "stages": {"process": {"params_hash": "abc", "periods_completed": [], "complete": True}},
    }
    (root / "run.json").write_text(json.dumps(run))
    if with_scene:
        rng = np.random.default_rng(2)
        dims = ("time", "y", "x")
        shape = (n_time, 40, 50)
        scene = xr.Dataset(
            {
                b: (dims, rng.uniform(0, 0.3, shape).astype("float32"))
                for b in ("red", "green", "blue", "ndvi")
            },
            coords={"time": tiles.time.values, "y": np.arange(40), "x": np.arange(50)},
        )
        scene.to_zarr(root / "scene.zarr", mode="w", consolidated=False)
    return root


@pytest.fixture
def run_dir(tmp_path):
    return _write_run(tmp_path / "run")


@pytest.fixture
def tiles():
    return _make_tiles()


@pytest.fixture
def make_tiles():
    return _make_tiles


@pytest.fixture
def make_weather():
    return _make_weather


@pytest.fixture
def write_run():
    return _write_run
