"""The local-files source: pyveg's GeoTIFF folders and Zarr Scenes, values vs plain numpy."""

from pathlib import Path

import dask
import numpy as np
import pytest
import rasterio

from vegdask.compute import write_period
from vegdask.data import create_store, local_scene, synthetic_scene
from vegdask.testing import CountingScheduler

SHAPE = (120, 130)  # not square, not a multiple of 50
TRANSFORM = rasterio.Affine(10, 0, 500_000, 0, -10, 1_280_000)


def write_tif(
    path: Path, values: np.ndarray, *, crs="EPSG:32635", transform=TRANSFORM, nodata=None
):
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = dict(
        driver="GTiff", width=values.shape[1], height=values.shape[0], count=1,
        dtype=values.dtype, crs=crs, transform=transform, nodata=nodata,
    )  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(values[None])


def pyveg_folder(root: Path, dates, rng, *, nir=False):
    """pyveg's RAW layout (B4, B3, B2, NDVI as DN-like floats); returns the arrays written."""
    written = {}
    for date in dates:
        bands = {b: rng.uniform(200, 3000, SHAPE).astype(np.float32) for b in ("B4", "B3", "B2")}
        bands["NDVI"] = rng.uniform(-0.2, 0.8, SHAPE).astype(np.float32)
        if nir:
            bands["B8"] = rng.uniform(1000, 5000, SHAPE).astype(np.float32)
        for band, values in bands.items():
            write_tif(root / date / "RAW" / f"download.{band}.tif", values)
        written[date] = bands
    return written


def test_pyveg_layout_one_date_per_period(tmp_path):
    written = pyveg_folder(tmp_path, ["2016-01-16", "2016-02-15"], np.random.default_rng(0))
    scene, weather = local_scene("2016-01-01", "2016-03-01", path=tmp_path, scale=1e-4)
    assert weather is None
    assert scene.rio.crs.to_epsg() == 32635
    assert dict(scene.sizes) == {"time": 2, "y": 120, "x": 130}
    np.testing.assert_allclose(scene["x"].values[:2], [500_005, 500_015])
    np.testing.assert_allclose(scene["y"].values[:2], [1_279_995, 1_279_985])
    assert [str(t)[:10] for t in scene["time"].values] == ["2016-01-16", "2016-02-15"]
    for i, date in enumerate(written):
        red = written[date]["B4"].astype(np.float64) * 1e-4
        np.testing.assert_allclose(scene["red"][i].values, red, rtol=1e-6)
        # NDVI is the file's, and NIR is recovered so that (nir - red) / (nir + red) gives it back.
        np.testing.assert_array_equal(scene["ndvi"][i].values, written[date]["NDVI"])
        nir = scene["nir"][i].values.astype(np.float64)
        np.testing.assert_allclose((nir - red) / (nir + red), written[date]["NDVI"], atol=1e-5)
    assert not scene["cloud_mask"].values.any()
    assert scene.attrs["source"] == "local"
    assert scene.attrs["resolution"] == 10.0


def test_several_dates_per_period_are_a_median_and_missing_periods_are_empty(tmp_path):
    rng = np.random.default_rng(1)
    dates = ["2016-01-05", "2016-01-12", "2016-01-30"]
    written = pyveg_folder(tmp_path, dates, rng, nir=True)
    # A nodata hole in one date: the median of that pixel is over the other two.
    hole = written[dates[0]]["B4"].copy()
    hole[:10, :10] = -1
    write_tif(tmp_path / dates[0] / "RAW" / "download.B4.tif", hole, nodata=-1)
    scene, _ = local_scene("2016-01-01", "2016-04-01", path=tmp_path)
    red = np.stack([written[d]["B4"] for d in dates]).astype(np.float64)
    red[0, :10, :10] = np.nan
    np.testing.assert_allclose(scene["red"][0].values, np.nanmedian(red, axis=0), rtol=1e-6)
    nir = np.median(np.stack([written[d]["B8"] for d in dates]).astype(np.float64), axis=0)
    np.testing.assert_allclose(scene["nir"][0].values, nir, rtol=1e-6)
    assert np.isnan(scene["red"][1].values).all()
    assert scene["cloud_mask"][1].values.all()
    assert np.isnan(scene["ndvi"][2].values).all()
    assert scene["cloud_mask"][2].values.all()


def test_building_the_scene_reads_no_pixels(tmp_path):
    pyveg_folder(tmp_path, ["2016-01-16"], np.random.default_rng(2))
    counter = CountingScheduler()
    with dask.config.set(scheduler=counter):
        scene, _ = local_scene("2016-01-01", "2016-02-01", path=tmp_path)
        assert counter.calls == 0
        scene["ndvi"].sum().compute()
    assert counter.calls == 1
    assert scene.chunks["time"] == (1,)


def test_own_band_names_and_a_custom_mapping(tmp_path):
    rng = np.random.default_rng(3)
    values = {b: rng.uniform(0.05, 0.4, SHAPE).astype(np.float32) for b in ("SR_B4", "SR_B5")}
    for band, array in values.items():
        write_tif(tmp_path / "2020-06-15" / f"{band}.tif", array)
    scene, _ = local_scene(
        "2020-06-01", "2020-07-01", path=tmp_path, bands={"SR_B4": "red", "SR_B5": "nir"}
    )
    red, nir = (values[b].astype(np.float64) for b in ("SR_B4", "SR_B5"))
    np.testing.assert_allclose(scene["ndvi"][0].values, (nir - red) / (nir + red), rtol=1e-5)
    assert np.isnan(scene["green"][0].values).all()  # absent bands are NaN, not invented


def test_zarr_scene_keeps_the_periods_in_range(tmp_path):
    source, _ = synthetic_scene("2016-01-01", "2016-05-01", size=100, spinup_steps=20)
    url = str(tmp_path / "scene.zarr")
    create_store(source, url)
    dask.compute(*[write_period(source.isel(time=[i]), url, i) for i in range(4)])
    scene, _ = local_scene("2016-02-01", "2016-04-01", path=url)
    assert [str(t)[:10] for t in scene["time"].values] == ["2016-02-15", "2016-03-16"]
    np.testing.assert_array_equal(scene["ndvi"].values, source["ndvi"][1:3].values)
    with pytest.raises(ValueError, match="no period between 2018-01-01 and 2018-02-01"):
        local_scene("2018-01-01", "2018-02-01", path=url)


def test_corrupt_geotiff_is_named(tmp_path):
    pyveg_folder(tmp_path, ["2016-01-16"], np.random.default_rng(4))
    bad = tmp_path / "2016-01-16" / "RAW" / "download.B3.tif"
    bad.write_bytes(b"this is not a tiff")
    with pytest.raises(ValueError, match=r"download\.B3\.tif is not a readable GeoTIFF"):
        local_scene("2016-01-01", "2016-02-01", path=tmp_path)


def test_truncated_geotiff_fails_the_period_naming_the_file(tmp_path):
    rng = np.random.default_rng(5)
    pyveg_folder(tmp_path, ["2016-01-16"], rng)
    tif = tmp_path / "2016-01-16" / "RAW" / "download.B4.tif"
    write_tif(tif, rng.uniform(0, 1, (600, 600)).astype(np.float32))  # bigger: data after header
    for other in ("B3", "B2", "NDVI"):
        write_tif(tif.with_name(f"download.{other}.tif"), np.ones((600, 600), np.float32))
    tif.write_bytes(tif.read_bytes()[: tif.stat().st_size // 2])
    scene, _ = local_scene("2016-01-01", "2016-02-01", path=tmp_path)  # the header is intact
    with pytest.raises(ValueError, match=r"download\.B4\.tif could not be read"):
        scene["red"].compute()


def test_files_on_different_grids_or_without_crs_are_refused(tmp_path):
    rng = np.random.default_rng(6)
    pyveg_folder(tmp_path, ["2016-01-16"], rng)
    moved = rasterio.Affine(10, 0, 500_100, 0, -10, 1_280_000)
    write_tif(
        tmp_path / "2016-02-15" / "RAW" / "download.B4.tif", np.ones(SHAPE, "f4"), transform=moved
    )
    write_tif(tmp_path / "2016-02-15" / "RAW" / "download.NDVI.tif", np.ones(SHAPE, "f4"))
    with pytest.raises(ValueError, match="on another grid"):
        local_scene("2016-01-01", "2016-03-01", path=tmp_path)
    other = tmp_path / "nocrs"
    write_tif(other / "2016-01-16" / "red.tif", np.ones(SHAPE, "f4"), crs=None)
    write_tif(other / "2016-01-16" / "nir.tif", np.ones(SHAPE, "f4"), crs=None)
    with pytest.raises(ValueError, match="has no CRS"):
        local_scene("2016-01-01", "2016-02-01", path=other)


def test_folders_without_usable_files_are_explained(tmp_path):
    with pytest.raises(ValueError, match="not a folder"):
        local_scene("2016-01-01", "2016-02-01", path=tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("nothing here")
    with pytest.raises(ValueError, match="no GeoTIFFs of known bands under a YYYY-MM-DD folder"):
        local_scene("2016-01-01", "2016-02-01", path=tmp_path)
    write_tif(tmp_path / "2016-01-16" / "download.B3.tif", np.ones(SHAPE, "f4"))
    with pytest.raises(ValueError, match="needs a red band and a NIR or NDVI band"):
        local_scene("2016-01-01", "2016-02-01", path=tmp_path)
