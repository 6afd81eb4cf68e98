"""From a Scene to per-tile offset50 with the Python API: open -> process -> tile metrics.

Run: python examples/tile_metrics.py
"""

import vegdask.compute  # noqa: F401  (registers the scene.veg accessor)
from vegdask.data import synthetic_scene

# A lazy 12-month synthetic Scene (swap in any other source's Scene, or open_store(url)).
scene, weather = synthetic_scene("2016-01-01", "2017-01-01", size=500)

# The vegetation mask and the per-tile metrics, still lazy: nothing has been computed yet.
tiles = scene.veg.tile_metrics(graph_class="bare", max_masked_fraction=0.05)

# One compute for the whole stage; Dask runs one task per chunk of 10 x 10 tiles.
tiles = tiles.compute()
monthly = tiles["offset50"].where(tiles["valid"]).mean(("tile_y", "tile_x"))
for date, value, rain in zip(
    monthly["time"].values, monthly.values, weather["total_precipitation"].values, strict=True
):
    print(f"{str(date)[:10]}  offset50 {value:8.1f}  rainfall {rain:6.1f} mm")
