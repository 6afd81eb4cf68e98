"""Reprocess imagery that pyveg downloaded: its GeoTIFF folders as a Scene, then tile metrics.

pyveg kept, per period, ``<folder>/<YYYY-MM-DD>/RAW/download.B4.tif`` (and B3, B2, NDVI).

Run: python examples/pyveg_folder.py PYVEG_FOLDER START END
     python examples/pyveg_folder.py            (writes a small pyveg-style folder first)
"""

import sys
import tempfile
from pathlib import Path

import numpy as np
import rasterio

import vegdask.compute  # noqa: F401  (registers the scene.veg accessor)
from vegdask.data import local_scene, synthetic_scene


def write_pyveg_style_folder(root: Path) -> None:
    """Six months of synthetic Sentinel-2 imagery in pyveg's RAW layout (digital numbers)."""
    scene, _ = synthetic_scene("2016-01-01", "2016-07-01", size=250, spinup_steps=500)
    transform = rasterio.Affine(10, 0, float(scene.x[0]) - 5, 0, -10, float(scene.y[0]) + 5)
    profile = {"driver": "GTiff", "count": 1, "dtype": "float32", "crs": scene.rio.crs}
    profile |= {"height": 250, "width": 250, "transform": transform}
    for i, date in enumerate(str(t)[:10] for t in scene.time.values):
        for band, name in (("red", "B4"), ("green", "B3"), ("blue", "B2"), ("ndvi", "NDVI")):
            values = scene[band][i].values * (1 if band == "ndvi" else 10_000)
            path = root / date / "RAW" / f"download.{name}.tif"
            path.parent.mkdir(parents=True, exist_ok=True)
            with rasterio.open(path, "w", **profile) as dst:
                dst.write(values.astype(np.float32)[None])


if len(sys.argv) == 4:
    folder, start, end = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
else:
    folder = Path(tempfile.mkdtemp()) / "gee_27.94_11.58_Sentinel2"
    start, end = "2016-01-01", "2016-07-01"
    write_pyveg_style_folder(folder)

# pyveg's Sentinel-2 digital numbers -> reflectance; NIR comes back from pyveg's NDVI and red.
scene, _ = local_scene(start, end, "1m", path=folder, scale=1e-4)
tiles = scene.veg.tile_metrics().compute()
n_tiles = tiles.sizes["tile_y"] * tiles.sizes["tile_x"]
print(f"{folder}: {scene.sizes['time']} periods, {n_tiles} tiles")
offset50 = tiles["offset50"].where(tiles["valid"]).mean(("tile_y", "tile_x"))
for date, value in zip(tiles.time.values, offset50.values, strict=True):
    print(f"{str(date)[:10]}  offset50 {value:8.1f}")
