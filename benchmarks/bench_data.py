"""Data layer: the Rietkerk kernel's speed, and Scene writes/reads to local Zarr and Azurite.

Targets: >= 100 M cell-updates/s on one core; a 48-period 1000x1000 Scene written and read;
a tiny location's tiles.zarr and mask.zarr created (metadata and coordinates) in <= 15 and <= 10
ms of CPU; ``vegdask run`` on storage that cannot be reached fails in < 15 s with the default
``vegdask.storage.retries``.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr

from vegdask.compute import binary_image, tile_metrics, write_period
from vegdask.data import create_store, open_store, synthetic_scene
from vegdask.data.storage import storage_options
from vegdask.kernels import PUBLISHED_PARAMETERS, rietkerk_evolve


class Rietkerk:
    def setup(self):
        rng = np.random.default_rng(0)
        self.state = (
            np.where(rng.random((250, 250)) > 0.9, 90.0, 0.0),
            np.full((250, 250), 5.0),
            np.full((250, 250), 30.0),
        )
        rietkerk_evolve(*self.state, rainfall=1.0, steps=1, parameters=PUBLISHED_PARAMETERS)

    def time_100_steps_250x250(self):
        rietkerk_evolve(*self.state, rainfall=1.0, steps=100, parameters=PUBLISHED_PARAMETERS)

    def track_million_cell_updates_per_second(self):
        import time

        start = time.perf_counter()
        rietkerk_evolve(*self.state, rainfall=1.0, steps=200, parameters=PUBLISHED_PARAMETERS)
        return 250 * 250 * 200 / (time.perf_counter() - start) / 1e6

    track_million_cell_updates_per_second.unit = "M cell-updates/s"


def scene_like(periods=48, size=1000):
    """A Scene-shaped Dataset of random data (generation is cheap, so I/O dominates)."""
    time = pd.date_range("2016-01-16", periods=periods, freq="MS") + pd.Timedelta(days=15)
    shape, chunks = (periods, size, size), (1, 500, 500)
    bands = {
        name: (("time", "y", "x"), da.random.random(shape, chunks=chunks).astype(np.float32))
        for name in ("red", "green", "blue", "nir", "ndvi")
    }
    bands["cloud_mask"] = (("time", "y", "x"), da.zeros(shape, chunks=chunks, dtype=bool))
    coords = {"time": time, "y": np.arange(size) * -10.0, "x": np.arange(size) * 10.0}
    return xr.Dataset(bands, coords=coords).rio.write_crs("EPSG:32635")


class LocalZarr:
    timeout = 600

    def setup(self):
        self.scene = scene_like()
        self.folder = tempfile.mkdtemp()
        self.url = f"{self.folder}/written.zarr"
        self.read_url = f"{self.folder}/read.zarr"
        write(self.scene, self.read_url, storage_options(self.read_url))

    def teardown(self):
        shutil.rmtree(self.folder)

    def time_write_48_periods_1000x1000(self):
        write(self.scene, self.url, {})

    def time_read_48_periods_1000x1000(self):
        open_store(self.read_url)["ndvi"].data.sum().compute()


class CreateStore:
    """create_store of a tiny location's process stores (100x100 px, 24 periods, 4 tiles).

    Fixed cost paid once a location, so it counts in a campaign of many small locations
    (benchmarks/bench_campaign.py).
    """

    def setup(self):
        scene = synthetic_scene("2016-01-01", "2018-01-01", size=100, spinup_steps=10)[0]
        self.tiles = tile_metrics(scene, tile_size=50)
        self.mask = binary_image(scene).to_dataset(name="binary_image")
        self.folder = tempfile.mkdtemp()
        self.stores = 0

    def teardown(self):
        shutil.rmtree(self.folder)

    def new_url(self):
        """A new store each time, as a location's first run (replacing one costs its removal)."""
        self.stores += 1
        return f"{self.folder}/{self.stores}.zarr"

    def time_create_tiles_store(self):
        create_store(self.tiles, self.new_url())

    def time_create_mask_store(self):
        create_store(self.mask, self.new_url())


class AzuriteZarr:
    timeout = 900
    number = 1
    repeat = (1, 3, 120.0)  # one write moves ~1 GB through Azurite: a few repeats suffice

    def setup(self):
        from azure.storage.blob import BlobServiceClient

        from vegdask.testing import Azurite

        # asv runs benchmarks from elsewhere: look for Azurite next to the repository too.
        local = Path(__file__).resolve().parents[1] / ".azurite/node_modules/.bin/azurite-blob"
        try:
            self.azurite = Azurite(str(local) if local.is_file() else None).start()
        except FileNotFoundError as err:
            raise NotImplementedError(str(err)) from err
        service = BlobServiceClient.from_connection_string(self.azurite.connection_string)
        service.create_container("bench")
        self.options = {
            "connection_string": self.azurite.connection_string,
            **storage_options("abfs://bench"),
        }
        self.scene = scene_like()
        self.url = "abfs://bench/written.zarr"
        self.read_url = "abfs://bench/read.zarr"
        write(self.scene, self.read_url, self.options)

    def teardown(self):
        self.azurite.stop()

    def time_write_48_periods_1000x1000(self):
        write(self.scene, self.url, self.options)

    def time_read_48_periods_1000x1000(self):
        open_store(self.read_url, options=self.options)["ndvi"].data.sum().compute()


def write(scene, url, options):
    create_store(scene, url, options=options)
    dask.compute(
        *[
            write_period(scene.isel(time=[i]), url, i, options=options)
            for i in range(scene.sizes["time"])
        ]
    )


class UnreachableStorage:
    """``vegdask run`` to an account whose endpoint does not answer: the CLI's whole run."""

    timeout = 60
    number = 1
    repeat = 3

    def setup(self):
        self.env = dict(
            os.environ,
            AZURE_STORAGE_CONNECTION_STRING=(
                "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey="
                "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBe"
                "ksoGMGw==;BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;"  # nothing on port 1
            ),
        )

    def time_cli_run_fails(self):
        command = [sys.executable, "-m", "vegdask.cli", "run", "--output", "abfs://runs/site"]
        done = subprocess.run(command, env=self.env, capture_output=True, check=False)
        assert done.returncode == 2, done.stderr
