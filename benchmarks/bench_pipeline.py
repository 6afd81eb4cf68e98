"""The tile-metrics stage against the bare kernel on the same cores, and the processing stage.

Targets: tile-stage throughput >= 70 % of the bare kernel's tiles/s on 2 threads; one chunk's
task within 1 GiB; the processing stage on a 1000x1000, 12-period scene into local Zarr.
"""

import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor

import dask
import numpy as np

from vegdask.compute import binary_image, tile_metrics
from vegdask.data import synthetic_scene
from vegdask.kernels import tile_feature_vectors

THREADS = 2


class TileStage:
    """4 periods of a 1000x1000 scene: 16 chunk tasks, 1600 tiles."""

    timeout = 600

    def setup(self):
        scene, _ = synthetic_scene("2016-01-01", "2016-05-01", size=1000, cloud_chance=0.0)
        self.scene = scene.persist()
        image = binary_image(self.scene).values
        self.blocks = [
            image[t, y : y + 500, x : x + 500] == 255
            for t in range(image.shape[0])
            for y in (0, 500)
            for x in (0, 500)
        ]
        tile_feature_vectors(self.blocks[0][:50, :50])

    def time_bare_kernel_1600_tiles(self):
        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(tile_feature_vectors, self.blocks))

    def time_tile_metrics_stage_1600_tiles(self):
        with dask.config.set(scheduler="threads", num_workers=THREADS):
            tile_metrics(self.scene).compute()


class OneChunk:
    """Memory of one chunk's task (mask + metrics of 10 x 10 tiles): an A1v2 node has 2 GiB."""

    def setup(self):
        scene, _ = synthetic_scene("2016-01-01", "2016-02-01", size=500, spinup_steps=500)
        self.scene = scene.persist()

    def peakmem_one_chunk_tile_metrics(self):
        with dask.config.set(scheduler="synchronous"):
            tile_metrics(self.scene).compute()


class ProcessingStage:
    """Mask and tile metrics of a 1000x1000, 12-period scene, written to local Zarr."""

    timeout = 900

    def setup(self):
        scene, _ = synthetic_scene("2016-01-01", "2017-01-01", size=1000)
        self.folder = tempfile.mkdtemp()
        scene.to_zarr(f"{self.folder}/scene.zarr", consolidated=False)
        from vegdask.data import open_store

        self.scene = open_store(f"{self.folder}/scene.zarr")

    def teardown(self):
        shutil.rmtree(self.folder)

    def time_process_12_periods_1000x1000(self):
        with dask.config.set(scheduler="threads", num_workers=THREADS):
            tiles = tile_metrics(self.scene)
            tiles.to_zarr(f"{self.folder}/tiles.zarr", mode="w", consolidated=False)
            binary_image(self.scene).to_dataset(name="binary_image").to_zarr(
                f"{self.folder}/mask.zarr", mode="w", consolidated=False
            )


def ratio():
    """Print the tile stage's throughput as a share of the bare kernel's (one run, same cores)."""
    import time

    stage = TileStage()
    stage.setup()
    times = {}
    for name in ("time_bare_kernel_1600_tiles", "time_tile_metrics_stage_1600_tiles"):
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            getattr(stage, name)()
            runs.append(time.perf_counter() - start)
        times[name] = float(np.median(runs))
    print(
        times,
        "stage/bare throughput:",
        times["time_bare_kernel_1600_tiles"] / times["time_tile_metrics_stage_1600_tiles"],
    )


if __name__ == "__main__":
    ratio()
