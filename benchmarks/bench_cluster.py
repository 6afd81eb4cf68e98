"""AzureBatchCluster on the local Batch emulator: scale-up latency and tile-stage speed-up.

Run: ``.venv/bin/python benchmarks/bench_cluster.py`` (prints medians), or through asv.
"""

import statistics
import sys
import time

import dask.array as da
import numpy as np
from distributed import Client

from vegdask.cluster import AzureBatchCluster
from vegdask.kernels import tile_feature_vectors
from vegdask.testing import BatchEmulator


def tile_stage(size=3000):
    """Feature vectors of the 50x50 tiles of a labyrinth-like mask, one task per 500x500 chunk.

    The mask is computed lazily per chunk (cheap), so the kernel dominates: ~0.35 s per chunk.
    36 chunks, so that the fixed cost of a compute (graph submission, ~0.5 s) weighs about as
    little as in a real job (a location's 48 periods are hundreds of chunks).
    """
    y = da.arange(size, chunks=500)[:, None]
    x = da.arange(size, chunks=500)[None, :]
    mask = da.sin(x / 4.0 + da.sin(y / 9.0) * 3) > 0
    tiles = ((10,) * (size // 500),) * 2 + ((20,),)
    return mask.map_blocks(tile_feature_vectors, new_axis=2, chunks=tiles, dtype="f8")


class _EmulatedCluster:
    def setup(self, n):
        self.emu = BatchEmulator(allocation_delay=0.0).start()
        self.cluster = AzureBatchCluster(
            self.emu.url,
            self.emu.account_name,
            self.emu.account_key,
            "bench",
            worker_python=sys.executable,
        )
        self.client = Client(self.cluster)

    def teardown(self, n):
        self.client.close()
        self.cluster.close()
        self.emu.stop()


class ScaleUp(_EmulatedCluster):
    """Seconds from ``scale(n)`` to ``n`` registered workers (processes start on the emulator)."""

    params = [1, 2]
    param_names = ["workers"]
    timeout = 120

    def time_scale_to_registered(self, n):
        self.cluster.scale(n)
        self.client.wait_for_workers(n, timeout=60)


class TileStage(_EmulatedCluster):
    """Tile stage (36 chunks x 100 tiles) on 1 or 2 emulated Batch workers."""

    params = [1, 2]
    param_names = ["workers"]
    timeout = 180

    def setup(self, n):
        super().setup(n)
        self.cluster.scale(n)
        self.client.wait_for_workers(n, timeout=60)
        # compile the numba kernels on every worker before timing
        self.client.run(tile_feature_vectors, np.zeros((50, 50), dtype=bool))
        self.graph = tile_stage()

    def time_tile_stage(self, n):
        self.graph.compute()


def _median(bench, method, n, repeat):
    times = []
    for _ in range(repeat):
        bench.setup(n)
        try:
            start = time.perf_counter()
            getattr(bench, method)(n)
            times.append(time.perf_counter() - start)
        finally:
            bench.teardown(n)
    return statistics.median(times)


if __name__ == "__main__":
    for n in (1, 2):
        seconds = _median(ScaleUp(), "time_scale_to_registered", n, 3)
        print(f"scale({n}) -> {n} workers: {seconds:.2f} s")
    one = _median(TileStage(), "time_tile_stage", 1, 3)
    two = _median(TileStage(), "time_tile_stage", 2, 3)
    print(f"tile stage: 1 worker {one:.2f} s, 2 workers {two:.2f} s, speed-up {one / two:.2f}x")
