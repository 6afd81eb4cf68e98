"""The computation layer against independent references: OpenCV on whole scenes, the kernel on each
tile, numpy means, and pyproj for the tile centres."""

import cv2
import dask
import numpy as np
import pytest
from pyproj import Transformer

from vegdask.compute import binary_image, tile_metrics, vegetation_mask
from vegdask.data import synthetic_scene
from vegdask.kernels import feature_vector, feature_vector_metrics, tie_sensitivity
from vegdask.testing import CountingScheduler


@pytest.fixture(scope="module")
def scene():
    """Non-square, with chunks that cross tiles oddly (multiples of 50, uneven)."""
    scene, _ = synthetic_scene(
        "2016-01-01", "2016-04-01", size=300, spinup_steps=800, cloud_chance=0.0,
        chunks={"time": 1, "y": 150, "x": 100},
    )  # fmt: skip
    return scene.isel(y=slice(0, 250), x=slice(0, 280)).chunk(
        {"y": (150, 100), "x": (100, 150, 30)}
    )


def opencv_image(ndvi):
    """pyveg's recipe with OpenCV itself, on the whole period."""
    scaled = np.array([[int((v + 1) / 2 * 255) for v in row] for row in ndvi], dtype=np.uint8)
    equalised = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(11, 11)).apply(scaled)
    binary = cv2.adaptiveThreshold(
        equalised, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 51, -5
    )
    return cv2.medianBlur(binary, 3)


def test_chunked_binary_image_equals_opencv_on_the_whole_scene(scene):
    image = binary_image(scene).values
    for t in range(scene.sizes["time"]):
        np.testing.assert_array_equal(image[t], opencv_image(scene["ndvi"][t].values))
    assert (vegetation_mask(scene).values == (image == 0)).all()


def test_building_tile_metrics_computes_nothing(scene):
    counter = CountingScheduler()
    with dask.config.set(scheduler=counter):
        tiles = tile_metrics(scene)
    assert counter.calls == 0
    assert tiles["offset50"].chunks is not None


@pytest.mark.parametrize("graph_class", ["bare", "vegetation"])
def test_tile_metrics_equal_the_kernel_on_each_tile(scene, graph_class):
    tiles = tile_metrics(scene, graph_class=graph_class).compute()
    assert dict(tiles.sizes) == {"time": 3, "tile_y": 5, "tile_x": 5, "quantile": 20}
    t = 1
    image = opencv_image(scene["ndvi"][t].values)
    ndvi = scene["ndvi"][t].values.astype(np.float64)
    for a in range(5):
        for b in range(5):
            window = (slice(50 * a, 50 * a + 50), slice(50 * b, 50 * b + 50))
            nodes = image[window] == (255 if graph_class == "bare" else 0)
            fv = feature_vector(nodes)
            tile = tiles.isel(time=t, tile_y=a, tile_x=b)
            np.testing.assert_array_equal(tile["feature_vec"].values, fv)
            assert float(tile["offset50"]) == feature_vector_metrics(fv)["offset50"]
            assert float(tile["tie_sensitivity"]) == tie_sensitivity(nodes)
            assert float(tile["ndvi_mean"]) == pytest.approx(ndvi[window].mean(), rel=1e-12)
            veg = image[window] == 0
            assert float(tile["ndvi_veg_mean"]) == pytest.approx(
                ndvi[window][veg].mean(), rel=1e-12
            )
            pyveg_units = np.array([int((v + 1) / 2 * 255) for v in ndvi[window].ravel()])
            assert float(tile["ndvi_uint8_mean"]) == pytest.approx(pyveg_units.mean(), rel=1e-12)
            assert bool(tile["valid"])
    ties = tiles["tie_sensitivity"][t].values
    assert (ties == 0).any()  # tiles where no cut splits a tie group
    if graph_class == "vegetation":
        assert (ties > 0).any()  # and, on this scene, one where a cut does


def test_tile_centres_on_a_non_square_scene(scene):
    tiles = tile_metrics(scene)
    to_lonlat = Transformer.from_crs(scene.rio.crs, "EPSG:4326", always_xy=True)
    x, y = scene["x"].values, scene["y"].values
    for a, b in [(0, 0), (4, 0), (0, 4), (2, 3)]:
        lon, lat = to_lonlat.transform(
            x[50 * b : 50 * b + 50].mean(), y[50 * a : 50 * a + 50].mean()
        )
        assert float(tiles["longitude"][a, b]) == pytest.approx(lon, abs=1e-9)
        assert float(tiles["latitude"][a, b]) == pytest.approx(lat, abs=1e-9)
    assert tiles["longitude"][0, 4] > tiles["longitude"][0, 0]  # east along x
    assert tiles["latitude"][4, 0] < tiles["latitude"][0, 0]  # south along y


def test_quality_gate_honours_its_threshold(scene):
    clouded = scene.copy()
    cloud = np.zeros((3, 250, 280), bool)
    cloud[0, :50, :5] = True  # 250 of 2500 pixels = 10 % of tile (0, 0)
    cloud[0, 60:62, 50:60] = True  # 20 pixels = 0.8 % of tile (1, 1)
    cloud[2] = True  # the whole period is masked
    clouded["cloud_mask"] = (("time", "y", "x"), cloud)
    clouded = clouded.chunk({"time": 1, "y": (150, 100), "x": (100, 150, 30)})
    strict = tile_metrics(clouded).compute()
    assert not bool(strict["valid"][0, 0, 0])
    assert np.isnan(strict["offset50"][0, 0, 0])
    assert float(strict["masked_fraction"][0, 0, 0]) == pytest.approx(0.1)
    assert bool(strict["valid"][0, 1, 1])
    assert not strict["valid"][2].any()
    lenient = tile_metrics(clouded, max_masked_fraction=0.2).compute()
    assert bool(lenient["valid"][0, 0, 0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"graph_class": "trees"}, "graph_class"),
        ({"max_masked_fraction": 0.0}, "max_masked_fraction"),
        ({"tile_size": 40}, "multiples"),
    ],
)
def test_bad_parameters(scene, kwargs, message):
    with pytest.raises(ValueError, match=message):
        tile_metrics(scene, **kwargs)


def test_scene_without_crs_is_rejected(scene):
    with pytest.raises(ValueError, match="no CRS"):
        tile_metrics(scene.drop_vars("spatial_ref"))


def test_period_threshold_empties_a_mostly_clouded_period(scene):
    clouded = scene.copy()
    cloud = np.zeros((3, 250, 280), bool)
    cloud[1, :150] = True  # 60 % of period 1 is masked; the lower two tile rows stay clear
    clouded["cloud_mask"] = (("time", "y", "x"), cloud)
    clouded = clouded.chunk({"time": 1, "y": (150, 100), "x": (100, 150, 30)})
    default = tile_metrics(clouded).compute()
    assert default["valid"][1, 3:].all()  # only entirely masked periods are empty by default
    strict = tile_metrics(clouded, max_masked_period_fraction=0.5).compute()
    assert not strict["valid"][1].any()
    assert np.isnan(strict["offset50"][1]).all()
    assert strict["valid"][0].all()
    assert float(strict["ndvi_mean"][1, 4, 0]) == float(default["ndvi_mean"][1, 4, 0])


def test_period_gate_counts_clouds_and_missing_ndvi_across_chunks(scene):
    """A period's masked share is its cloudy or non-finite pixels over all its chunks."""
    whole = scene.isel(x=slice(0, 250))  # whole tiles only: the scene is what the tiles cover
    cloud = np.zeros((3, 250, 250), bool)
    cloud[1, 140:160] = True  # across the y chunk boundary (150)
    ndvi = whole["ndvi"].values.copy()
    ndvi[1, :, 95:105] = np.nan  # across the x chunk boundary (100)
    masked = whole.assign(
        cloud_mask=(("time", "y", "x"), cloud),
        ndvi=(("time", "y", "x"), ndvi, whole["ndvi"].attrs),
    ).chunk({"time": 1, "y": (150, 100), "x": (100, 150)})
    share = float((cloud[1] | ~np.isfinite(ndvi[1])).mean())
    at_share = tile_metrics(masked, max_masked_period_fraction=share).compute()
    assert not at_share["valid"][1].any()  # a share at the threshold empties the period
    assert at_share["valid"][0, 0, 0]  # the other periods are clear
    assert at_share["valid"][2, 0, 0]
    above = tile_metrics(masked, max_masked_period_fraction=np.nextafter(share, 1)).compute()
    assert above["valid"][1, 0, 0]  # a tile clear of both stripes
    assert not above["valid"][1, 2, 1]  # the stripes cross this tile


def test_scene_missing_bands_is_rejected(scene):
    with pytest.raises(ValueError, match="lacks \\['cloud_mask'\\]"):
        tile_metrics(scene.drop_vars("cloud_mask"))
