"""The Earth Engine source, offline: only Earth Engine's servers are faked.

The real earthengine-api client builds and serializes every request; a fake Cloud API resource
records the request bodies (asserted: expression graph, file format, grid) and answers with
arrays computed from a known field, so the assembled Scene and weather are checked exactly.
"""

from __future__ import annotations

import io
import json
import re
import threading
from typing import Any
from unittest import mock

import numpy as np
import pandas as pd
import pytest

ee = pytest.importorskip("ee")
from ee import apitestcase  # noqa: E402

from vegdask.data import (  # noqa: E402
    EARTHENGINE_COLLECTIONS,
    EarthEngineAuthError,
    earthengine_scene,
    initialize_earthengine,
    make_periods,
    scene_grid,
    validate_scene,
    validate_weather,
)
from vegdask.data.earthengine import CLOUD_SCORE_PLUS, ERA5_LAND_MONTHLY  # noqa: E402
from vegdask.data.earthengine._session import redact as _redact  # noqa: E402

LOCATION = (27.94, 11.58)
PROJECT = "test-project"
EMPTY_PERIOD_START = "2020-02-01"  # the fake server has no clear observation in this period


# ---------------------------------------------------------------------------------------------
# Expression graph helpers


def resolve(encoded: dict[str, Any]) -> Any:
    """The serialized expression as one nested tree (value references inlined)."""
    values = encoded["values"]

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(v) for v in node]
        if not isinstance(node, dict):
            return node
        if set(node) == {"valueReference"}:
            return walk(values[node["valueReference"]])
        if "functionDefinitionValue" in node:
            definition = node["functionDefinitionValue"]
            return {
                "functionDefinitionValue": {
                    "argumentNames": definition["argumentNames"],
                    "body": walk(values[definition["body"]]),
                }
            }
        return {k: walk(v) for k, v in node.items()}

    return walk(values[encoded["result"]])


def calls(tree: Any, name: str) -> list[dict[str, Any]]:
    """Arguments of every distinct invocation of ``name`` in the tree.

    Distinct: a shared sub-expression (a value referenced twice) counts once.
    """
    unique = {json.dumps(a, sort_keys=True): a for a in _calls(tree, name)}
    return list(unique.values())


def _calls(tree: Any, name: str) -> list[dict[str, Any]]:
    found = []
    if isinstance(tree, dict):
        invocation = tree.get("functionInvocationValue")
        if invocation and invocation["functionName"] == name:
            found.append(invocation["arguments"])
        for value in tree.values():
            found.extend(_calls(value, name))
    elif isinstance(tree, list):
        for value in tree:
            found.extend(_calls(value, name))
    return found


def const(node: Any) -> Any:
    """The constant in a node: ``constantValue``, a list of them, or ``Image.constant(v)``."""
    if "constantValue" in node:
        return node["constantValue"]
    if "arrayValue" in node:
        return [const(v) for v in node["arrayValue"]["values"]]
    inv = node.get("functionInvocationValue")
    if inv and inv["functionName"] == "Image.constant":
        return const(inv["arguments"]["value"])
    raise AssertionError(f"not a constant: {node}")


def loaded_ids(tree: Any) -> set[str]:
    return {const(a["id"]) for a in calls(tree, "ImageCollection.load")}


def date_ranges(tree: Any) -> list[tuple[str, str]]:
    return [(const(a["start"]), const(a["end"])) for a in calls(tree, "DateRange")]


# ---------------------------------------------------------------------------------------------
# The fake server


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def field(body: dict[str, Any], grid_x: np.ndarray, grid_y: np.ndarray, res: float) -> dict:
    """The known field on a request's grid: per-pixel values from scene row/column and period."""
    tree = resolve(body["expression"])
    (start, _end), *_ = date_ranges(tree)
    month = pd.Timestamp(start).month
    t = body["grid"]["affineTransform"]
    dims = body["grid"]["dimensions"]
    xs = t["translateX"] + (np.arange(dims["width"]) + 0.5) * t["scaleX"]
    ys = t["translateY"] + (np.arange(dims["height"]) + 0.5) * t["scaleY"]
    col = np.rint((xs - grid_x[0]) / res).astype(int)[None, :]
    row = np.rint((grid_y[0] - ys) / res).astype(int)[:, None]
    col, row = np.broadcast_arrays(col, row)
    values = expected_values(row, col, month)
    if start == EMPTY_PERIOD_START:
        values["valid"] = np.zeros_like(values["valid"])
    for band in ("red", "green", "blue", "nir"):  # masked pixels come back as 0 (unmask(0))
        values[band] = np.where(values["valid"] > 0, values[band], 0.0)
    return values


def expected_values(row: np.ndarray, col: np.ndarray, month: int) -> dict[str, np.ndarray]:
    """Independent definition of the field (float32 as the server sends it)."""
    f32 = np.float32
    return {
        "red": (0.02 + 0.0005 * col + 0.01 * month).astype(f32),
        "green": (0.1 + 0.0001 * (row + col)).astype(f32),
        "blue": np.full(row.shape, 0.05, dtype=f32),
        "nir": (0.3 + 0.0007 * row).astype(f32),
        "valid": ((row + 2 * col) % 7 != 0).astype(f32),
    }


class FakeEarthEngine:
    """Cloud API resources that record requests and answer from the known field."""

    def __init__(self) -> None:
        self.pixel_requests: list[dict[str, Any]] = []
        self.value_requests: list[dict[str, Any]] = []
        self.grid: tuple[np.ndarray, np.ndarray, float] | None = None
        self.weather_months: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self.raw = mock.MagicMock(name="cloud_api_resource_raw")
        self.raw.projects.return_value.image.return_value.computePixels.side_effect = (
            self._compute_pixels
        )
        self.api = mock.MagicMock(name="cloud_api_resource")
        self.api.projects.return_value.value.return_value.compute.side_effect = self._compute

    def _compute_pixels(self, project: str, body: dict[str, Any], **_: Any) -> Any:
        with self._lock:
            self.pixel_requests.append({"project": project, **body})
        assert self.grid is not None, "the test must set the scene grid"
        values = field(body, *self.grid)
        names = body["bandIds"]
        shape = values["red"].shape
        out = np.zeros(shape, dtype=[(n, "<f4") for n in names])
        for n in names:
            out[n] = values[n]
        return mock.Mock(execute=mock.Mock(return_value=npy(out)))

    def _compute(self, body: dict[str, Any], project: str, **_: Any) -> Any:
        with self._lock:
            self.value_requests.append({"project": project, **body})
        features = [
            {
                "type": "Feature",
                "geometry": None,
                "id": month,
                "properties": {
                    "total_precipitation_sum": precipitation,
                    "temperature_2m": temperature,
                    "start_millis": int(pd.Timestamp(month).value // 1_000_000),
                },
            }
            for month, (precipitation, temperature) in self.weather_months.items()
        ]
        result = {"type": "FeatureCollection", "columns": {}, "features": features}
        return mock.Mock(execute=mock.Mock(return_value={"result": result}))


@pytest.fixture(scope="module")
def ee_offline():
    """Earth Engine initialised offline with the client's own test algorithm list."""
    with (
        mock.patch.object(ee.data, "_install_cloud_api_resource"),
        mock.patch.object(ee.data, "getAlgorithms", apitestcase.GetAlgorithms),
        mock.patch.object(ee.deprecation, "_FetchDataCatalogStac", return_value={}),
    ):
        ee.Initialize(None, "", project=PROJECT)
    yield ee
    ee.Reset()


@pytest.fixture
def server(ee_offline):
    fake = FakeEarthEngine()
    with apitestcase.UsingCloudApi(cloud_api_resource=fake.api, cloud_api_resource_raw=fake.raw):
        yield fake


def make_scene(server: FakeEarthEngine, **kwargs: Any):
    args = {"location": LOCATION, "size": 100, "project": PROJECT} | kwargs
    start = args.pop("start", "2020-01-01")
    end = args.pop("end", "2020-04-01")
    collection = args.get("collection", "COPERNICUS/S2_SR_HARMONIZED")
    res = args.get("resolution") or EARTHENGINE_COLLECTIONS[collection].resolution
    _, x, y = scene_grid(LOCATION, args["size"], res)
    server.grid = (x, y, res)
    return earthengine_scene(start, end, **args)


# ---------------------------------------------------------------------------------------------
# Requests


def test_sentinel2_request_graph_and_grid(server):
    scene, _ = make_scene(server, chunks={"time": 1, "y": 50, "x": 50}, weather=False)
    assert server.pixel_requests == []  # lazy: nothing sent while building
    scene["red"].isel(time=0).compute(scheduler="sync")
    assert len(server.pixel_requests) == 4  # one per chunk of the first period
    epsg, x, y = scene_grid(LOCATION, 100, 10.0)
    assert epsg == 32635
    corners = set()
    for body in server.pixel_requests:
        assert body["project"] == f"projects/{PROJECT}"
        assert body["fileFormat"] == "NPY"  # what the client sends for NUMPY_NDARRAY
        assert body["bandIds"] == ["red", "green", "blue", "nir", "valid"]
        grid = body["grid"]
        assert grid["crsCode"] == "EPSG:32635"
        assert grid["dimensions"] == {"width": 50, "height": 50}
        t = grid["affineTransform"]
        assert (t["scaleX"], t["scaleY"], t["shearX"], t["shearY"]) == (10.0, -10.0, 0.0, 0.0)
        corners.add((t["translateX"], t["translateY"]))

        tree = resolve(body["expression"])
        assert loaded_ids(tree) == {"COPERNICUS/S2_SR_HARMONIZED", CLOUD_SCORE_PLUS}
        assert ("2020-01-01", "2020-02-01") in date_ranges(tree)
        (link,) = calls(tree, "Image.linkCollection")
        assert const(link["linkedBands"]) == ["cs_cdf"]
        assert const(calls(link, "ImageCollection.load")[0]["id"]) == CLOUD_SCORE_PLUS
        (gte,) = calls(tree, "Image.gte")
        assert const(calls(gte["image1"], "Image.select")[0]["bandSelectors"]) == ["cs_cdf"]
        assert const(gte["image2"]) == 0.6
        selects = [const(a["bandSelectors"]) for a in calls(tree, "Image.select")]
        assert ["B4", "B3", "B2", "B8"] in selects
        renames = [const(a["names"]) for a in calls(tree, "Image.rename")]
        assert ["red", "green", "blue", "nir"] in renames
        assert [const(a["image2"]) for a in calls(tree, "Image.multiply")] == [0.0001]
        assert len(calls(tree, "reduce.median")) == 1
        # filterBounds: the scene footprint, in the scene's UTM CRS
        (bounds,) = calls(tree, "Filter.intersects")
        (rect,) = calls(bounds, "GeometryConstructors.Rectangle")
        assert const(rect["coordinates"]) == pytest.approx(
            [x[0] - 5, y[-1] - 5, x[-1] + 5, y[0] + 5]
        )
        assert "EPSG:32635" in str(rect["crs"])
        # the placeholder that keeps an empty period's bands: a fully masked 4-band constant
        assert [0, 0, 0, 0] in [const(a["value"]) for a in calls(tree, "Image.constant")]
        assert calls(tree, "ImageCollection.merge")
        assert calls(tree, "Image.unmask")
    assert corners == {(x[0] - 5 + dx, y[0] + 5 - dy) for dx in (0.0, 500.0) for dy in (0.0, 500.0)}


@pytest.mark.parametrize(
    ("collection", "bands", "bits"),
    [
        # fill 1 + dilated 2 + cirrus 4 + cloud 8 + shadow 16 + snow 32
        ("LANDSAT/LC08/C02/T1_L2", ["SR_B4", "SR_B3", "SR_B2", "SR_B5"], 63),
        ("LANDSAT/LC09/C02/T1_L2", ["SR_B4", "SR_B3", "SR_B2", "SR_B5"], 63),
        # no cirrus bit on TM/ETM+: 1 + 2 + 8 + 16 + 32
        ("LANDSAT/LE07/C02/T1_L2", ["SR_B3", "SR_B2", "SR_B1", "SR_B4"], 59),
        ("LANDSAT/LT05/C02/T1_L2", ["SR_B3", "SR_B2", "SR_B1", "SR_B4"], 59),
        ("LANDSAT/LT04/C02/T1_L2", ["SR_B3", "SR_B2", "SR_B1", "SR_B4"], 59),
    ],
)
def test_landsat_request_graph(server, collection, bands, bits):
    start = {"LANDSAT/LT04/C02/T1_L2": "1990-01-01", "LANDSAT/LT05/C02/T1_L2": "2000-01-01"}.get(
        collection, "2022-01-01"
    )
    end = str(pd.Timestamp(start) + pd.DateOffset(months=1))[:10]
    scene, _ = make_scene(server, collection=collection, start=start, end=end, weather=False)
    assert scene.attrs["resolution"] == 30.0
    assert scene.attrs["collection"] == collection
    scene["nir"].compute(scheduler="sync")
    (body,) = server.pixel_requests
    assert body["grid"]["affineTransform"]["scaleX"] == 30.0
    tree = resolve(body["expression"])
    assert loaded_ids(tree) == {collection}
    assert (start, end) in date_ranges(tree)
    (qa,) = calls(tree, "Image.bitwiseAnd")
    assert const(qa["image2"]) == bits
    assert const(calls(qa["image1"], "Image.select")[0]["bandSelectors"]) == ["QA_PIXEL"]
    eqs = calls(tree, "Image.eq")
    assert sorted(const(e["image2"]) for e in eqs) == [0, 0]  # QA bits clear, QA_RADSAT 0
    selects = [const(a["bandSelectors"]) for a in calls(tree, "Image.select")]
    assert bands in selects
    assert ["QA_RADSAT"] in selects
    assert [const(a["image2"]) for a in calls(tree, "Image.multiply")] == [0.0000275]
    assert [const(a["image2"]) for a in calls(tree, "Image.add")] == [-0.2]
    assert len(calls(tree, "reduce.median")) == 1
    assert not calls(tree, "Image.linkCollection")


def test_landsat_snow_can_stay_unmasked(server):
    scene, _ = make_scene(
        server,
        collection="LANDSAT/LC08/C02/T1_L2",
        mask_snow=False,
        end="2020-02-01",
        weather=False,
    )
    scene["red"].compute(scheduler="sync")
    (qa,) = calls(resolve(server.pixel_requests[0]["expression"]), "Image.bitwiseAnd")
    assert const(qa["image2"]) == 31


def test_cloud_score_threshold_and_band_are_options(server):
    scene, _ = make_scene(
        server, cloud_threshold=0.45, cloud_score_band="cs", end="2020-02-01", weather=False
    )
    scene["red"].compute(scheduler="sync")
    tree = resolve(server.pixel_requests[0]["expression"])
    (gte,) = calls(tree, "Image.gte")
    assert const(gte["image2"]) == 0.45
    assert const(calls(tree, "Image.linkCollection")[0]["linkedBands"]) == ["cs"]
    assert scene.attrs["cloud_masking"] == "Cloud Score+ cs >= 0.45"


def test_large_chunks_are_split_into_requests_under_the_byte_limit(server):
    # 20 bytes a pixel (5 float32 bands): 50 columns x 20 rows = 20000 bytes per request.
    scene, _ = make_scene(
        server,
        size=50,
        chunks={"time": 1, "y": 50, "x": 50},
        max_request_bytes=20_000,
        end="2020-02-01",
        weather=False,
    )
    values = scene["red"].values
    heights = [b["grid"]["dimensions"]["height"] for b in server.pixel_requests]
    assert sorted(heights) == [10, 20, 20]
    tops = sorted(b["grid"]["affineTransform"]["translateY"] for b in server.pixel_requests)
    _, _x, y = scene_grid(LOCATION, 50, 10.0)
    assert tops == pytest.approx([y[0] + 5 - 400, y[0] + 5 - 200, y[0] + 5])
    row, col = np.mgrid[0:50, 0:50]
    exp = expected_values(row, col, 1)
    np.testing.assert_array_equal(values[0], np.where(exp["valid"] > 0, exp["red"], np.nan))


# ---------------------------------------------------------------------------------------------
# The assembled Scene


def test_round_trip_values_crs_coords_chunks(server):
    scene, _ = make_scene(server, chunks={"time": 1, "y": 50, "x": 50}, weather=False)
    validate_scene(scene)
    assert scene.chunks == {"time": (1, 1, 1), "y": (50, 50), "x": (50, 50)}
    assert scene.rio.crs.to_epsg() == 32635
    _epsg, x, y = scene_grid(LOCATION, 100, 10.0)
    np.testing.assert_array_equal(scene["x"].values, x)
    np.testing.assert_array_equal(scene["y"].values, y)
    periods = make_periods("2020-01-01", "2020-04-01", "1m")
    np.testing.assert_array_equal(scene["time"].values, periods["mid"].to_numpy())
    np.testing.assert_array_equal(scene["period_start"].values, periods["start"].to_numpy())
    assert scene.attrs["source"] == "earthengine"
    assert scene.attrs["collection"] == "COPERNICUS/S2_SR_HARMONIZED"
    assert scene.attrs["location"] == "27.9400,11.5800"
    assert scene.attrs["resolution"] == 10.0
    # the transform rioxarray derives is the one the requests used
    t = scene.rio.transform()
    assert (t.a, t.e, t.c, t.f) == pytest.approx((10.0, -10.0, x[0] - 5, y[0] + 5))

    computed = scene.compute(scheduler="threads")
    assert len(server.pixel_requests) == 3 * 4  # one request per (period, chunk)
    row, col = np.mgrid[0:100, 0:100]
    for t_index, month in ((0, 1), (2, 3)):
        exp = expected_values(row, col, month)
        valid = exp["valid"] > 0
        assert (~valid).any()
        assert valid.any()
        for band in ("red", "green", "blue", "nir"):
            got = computed[band].values[t_index]
            assert got.dtype == np.float32
            np.testing.assert_array_equal(got, np.where(valid, exp[band], np.nan))
        np.testing.assert_array_equal(computed["cloud_mask"].values[t_index], ~valid)
        red64 = exp["red"].astype(np.float64)
        nir64 = exp["nir"].astype(np.float64)
        ndvi = computed["ndvi"].values[t_index]
        np.testing.assert_allclose(ndvi[valid], ((nir64 - red64) / (nir64 + red64))[valid], 1e-6)
        assert np.isnan(ndvi[~valid]).all()
    assert computed["cloud_mask"].dtype == bool


def test_period_without_clear_images_is_explicitly_empty(server):
    scene, _ = make_scene(server, weather=False)
    computed = scene.compute(scheduler="sync")
    empty = computed.sel(time=computed["period_start"] == np.datetime64(EMPTY_PERIOD_START))
    assert empty.sizes["time"] == 1
    for band in ("red", "green", "blue", "nir", "ndvi"):
        assert np.isnan(empty[band].values).all()
    assert empty["cloud_mask"].values.all()
    others = computed.sel(time=computed["period_start"] != np.datetime64(EMPTY_PERIOD_START))
    assert np.isfinite(others["red"].values).mean() > 0.8


def test_default_chunks_one_request_per_period(server):
    scene, _ = make_scene(server, size=120, weather=False)
    assert scene.chunks == {"time": (1, 1, 1), "y": (120,), "x": (120,)}
    scene["ndvi"].compute(scheduler="sync")
    assert len(server.pixel_requests) == 3
    assert {b["grid"]["dimensions"]["width"] for b in server.pixel_requests} == {120}


def test_drop_partial_and_period_length(server):
    scene, _ = make_scene(
        server, start="2020-01-01", end="2020-04-15", drop_partial=True, weather=False
    )
    assert scene.sizes["time"] == 3
    scene, _ = make_scene(server, start="2020-01-01", end="2020-04-15", weather=False)
    assert scene.sizes["time"] == 4
    scene["red"].isel(time=3).compute(scheduler="sync")
    (body,) = server.pixel_requests
    assert ("2020-04-01", "2020-04-15") in date_ranges(resolve(body["expression"]))


# ---------------------------------------------------------------------------------------------
# Weather


def test_weather_units_and_per_period_aggregation(server):
    server.weather_months = {
        "2020-01-01": (0.012, 300.0),
        "2020-02-01": (0.030, 302.0),
        "2020-03-01": (0.045, 305.5),
        "2020-04-01": (0.000, 299.0),
    }
    scene, weather = make_scene(server, start="2020-01-01", end="2020-05-01", period="2m")
    assert server.value_requests == []  # lazy
    validate_weather(weather, scene["time"])
    computed = weather.compute(scheduler="sync")
    assert len(server.value_requests) == 1
    assert server.pixel_requests == []
    # 2-month periods: Jan+Feb, Mar+Apr; precipitation m -> mm, temperature day-weighted mean
    np.testing.assert_allclose(computed["total_precipitation"].values, [42.0, 45.0])
    np.testing.assert_allclose(
        computed["mean_2m_air_temperature"].values,
        [(31 * 300.0 + 29 * 302.0) / 60, (31 * 305.5 + 30 * 299.0) / 61],
    )
    assert computed["total_precipitation"].attrs["units"] == "mm"
    assert computed["mean_2m_air_temperature"].attrs["units"] == "K"

    body = server.value_requests[0]
    tree = resolve(body["expression"])
    assert loaded_ids(tree) == {ERA5_LAND_MONTHLY}
    assert ("2020-01-01", "2020-05-01") in date_ranges(tree)
    selects = [const(a["bandSelectors"]) for a in calls(tree, "Image.select")]
    assert ["total_precipitation_sum", "temperature_2m"] in selects
    (reduce,) = calls(tree, "Image.reduceRegion")
    assert const(reduce["scale"]) == 11132.0  # ERA5-Land's own ~11 km grid, not 10 m
    assert calls(reduce["reducer"], "Reducer.mean")
    assert calls(reduce["geometry"], "GeometryConstructors.Rectangle")


def test_weather_partial_months_and_missing_months(server):
    server.weather_months = {"2020-01-01": (0.031, 290.0), "2020-02-01": (0.029, 300.0)}
    _, weather = make_scene(server, start="2020-01-16", end="2020-03-16", period="1m")
    computed = weather.compute(scheduler="sync")
    # 2020-01-16..02-16: 16/31 of January + 15/29 of February; 02-16..03-16: March is missing
    precipitation = computed["total_precipitation"].values
    assert precipitation[0] == pytest.approx((16 / 31 * 0.031 + 15 / 29 * 0.029) * 1000)
    assert np.isnan(precipitation[1])
    temperature = computed["mean_2m_air_temperature"].values
    assert temperature[0] == pytest.approx((16 * 290.0 + 15 * 300.0) / 31)
    assert temperature[1] == pytest.approx(300.0)  # only February's 14 covered days
    # the request starts at the first month touched
    tree = resolve(server.value_requests[0]["expression"])
    assert ("2020-01-01", "2020-03-16") in date_ranges(tree)


def test_weather_can_be_skipped(server):
    scene, weather = make_scene(server, weather=False)
    assert weather is None
    assert scene.sizes["time"] == 3


# ---------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"collection": "LANDSAT/XX/C02"}, "allowed: COPERNICUS/S2_SR_HARMONIZED"),
        ({"collection": "COPERNICUS/S2"}, "use 'COPERNICUS/S2_HARMONIZED'"),
        ({"collection": "LANDSAT/LC08/C01/T1_SR"}, "LANDSAT/LC09/C02/T1_L2"),
        ({"size": 0}, "zero size"),
        ({"size": -5}, "zero size"),
        ({"resolution": 0.0}, "zero size"),
        ({"resolution": -10.0}, "metres > 0"),
        ({"location": (190.0, 10.0)}, "longitude 190.0 is out of range; allowed -180..180"),
        ({"location": (10.0, -91.0)}, "latitude -91.0 is out of range; allowed -80..84"),
        ({"location": (10.0, 85.0)}, "latitude 85.0 is out of range"),
        ({"location": "nowhere"}, "not a (longitude, latitude) pair"),
        ({"cloud_threshold": 1.5}, "cloud_threshold 1.5 is out of range; allowed 0..1"),
        ({"cloud_score_band": "probability"}, "'cs_cdf', 'cs'"),
        ({"cloudy_pix_frac": 50}, "allowed: cloud_threshold, cloud_score_band"),
    ],
)
def test_bad_input_is_a_clear_value_error(kwargs, message):
    args = {"location": LOCATION} | kwargs
    with pytest.raises(ValueError, match=re.escape(message)):
        earthengine_scene("2020-01-01", "2020-03-01", **args)


def test_unknown_collection_lists_every_allowed_one():
    with pytest.raises(ValueError, match="'MODIS' is not supported") as info:
        earthengine_scene("2020-01-01", "2020-03-01", location=LOCATION, collection="MODIS")
    for collection in EARTHENGINE_COLLECTIONS:
        assert collection in str(info.value)


@pytest.mark.parametrize(
    ("collection", "start", "end", "expected"),
    [
        ("COPERNICUS/S2_SR_HARMONIZED", "2016-01-01", "2017-01-01", "from 2017-03-28"),
        ("COPERNICUS/S2_HARMONIZED", "2015-01-01", "2015-08-01", "from 2015-06-27"),
        ("LANDSAT/LC08/C02/T1_L2", "2013-01-01", "2013-06-01", "from 2013-03-18"),
        ("LANDSAT/LC09/C02/T1_L2", "2021-01-01", "2022-01-01", "from 2021-10-31"),
        ("LANDSAT/LT05/C02/T1_L2", "2012-01-01", "2013-01-01", "1984-03-16 to 2012-05-05"),
        ("LANDSAT/LE07/C02/T1_L2", "2023-06-01", "2024-06-01", "1999-05-28 to 2024-01-19"),
        ("LANDSAT/LT04/C02/T1_L2", "1981-01-01", "1983-01-01", "1982-08-22 to 1993-06-24"),
    ],
)
def test_dates_outside_availability(collection, start, end, expected):
    with pytest.raises(ValueError, match="outside the availability") as info:
        earthengine_scene(start, end, location=LOCATION, collection=collection)
    text = str(info.value)
    assert f"outside the availability of {collection} ({expected})" in text
    # every collection's dates are listed, retired ones with their last date
    assert "COPERNICUS/S2_HARMONIZED from 2015-06-27" in text
    assert "LANDSAT/LT05/C02/T1_L2 1984-03-16 to 2012-05-05" in text


def test_dates_at_the_edges_of_availability_are_allowed():
    scene, _ = earthengine_scene(
        "2012-04-01",
        "2012-05-06",
        location=LOCATION,
        collection="LANDSAT/LT05/C02/T1_L2",
        weather=False,
    )
    assert scene.sizes["time"] == 2
    with pytest.raises(ValueError, match="outside the availability"):
        earthengine_scene(
            "2012-04-01", "2012-05-07", location=LOCATION, collection="LANDSAT/LT05/C02/T1_L2"
        )


def test_bad_period_and_dates_come_from_make_periods():
    with pytest.raises(ValueError, match="period '1x' is not valid"):
        earthengine_scene("2020-01-01", "2020-03-01", "1x", location=LOCATION)
    with pytest.raises(ValueError, match="must be after start"):
        earthengine_scene("2020-03-01", "2020-01-01", location=LOCATION)


@pytest.fixture
def no_credentials(monkeypatch, tmp_path):
    """A fresh, uninitialised client on a machine without any Google credentials."""
    import google.auth.compute_engine._metadata as metadata

    monkeypatch.setattr(ee._state, "_state", None)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setattr(metadata, "_NO_GCE_CHECK", True)  # no metadata-server probe


def test_no_credentials_message_says_how_to_authenticate(ee_offline, no_credentials):
    scene, _ = earthengine_scene(
        "2020-01-01", "2020-02-01", location=LOCATION, size=50, project=PROJECT, weather=False
    )  # building needs no credentials
    with pytest.raises(EarthEngineAuthError) as info:
        scene["red"].compute(scheduler="sync")
    text = str(info.value)
    assert "earthengine authenticate" in text
    assert "ee.Authenticate()" in text
    assert "GOOGLE_APPLICATION_CREDENTIALS" in text
    assert "project=" in text
    assert "Please authorize access" in text  # the client's own reason is kept


def test_initialisation_errors_never_show_tokens(ee_offline, monkeypatch):
    monkeypatch.setattr(ee._state, "_state", None)
    secret = "ya29.a0AfH6SMBsecretsecret"
    monkeypatch.setattr(
        ee, "Initialize", mock.Mock(side_effect=ee.EEException(f"bad token {secret} refused"))
    )
    with pytest.raises(EarthEngineAuthError) as info:
        initialize_earthengine("p")
    assert secret not in str(info.value)
    assert "<redacted>" in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_initialize_is_idempotent(server):
    with mock.patch.object(ee, "Initialize") as initialize:
        initialize_earthengine(PROJECT)
        initialize_earthengine(None)
    initialize.assert_not_called()  # already initialised for this project
    with mock.patch.object(ee, "Initialize") as initialize:
        initialize_earthengine("another-project")
    initialize.assert_called_once_with(project="another-project")


def test_uninitialised_worker_initialises_itself(ee_offline, monkeypatch):
    monkeypatch.setattr(ee._state, "_state", None)  # a fresh worker process
    with mock.patch.object(ee, "Initialize") as initialize:
        initialize_earthengine(None)
    initialize.assert_called_once_with(project=None)


def test_redact():
    text = (
        '{"refresh_token": "1//0gabc-DEF", "client_secret": "xyz", "access_token": "ya29.q-w"} '
        "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY----- plain"
    )
    out = _redact(text)
    for secret in ("1//0gabc", "xyz", "ya29.q", "MIIE"):
        assert secret not in out
    assert out.endswith("plain")


def test_server_errors_name_the_block_without_secrets(server):
    scene, _ = make_scene(server, end="2020-02-01", weather=False)
    server.raw.projects.return_value.image.return_value.computePixels.side_effect = None
    server.raw.projects.return_value.image.return_value.computePixels.return_value = mock.Mock(
        execute=mock.Mock(side_effect=ee.EEException("Quota exceeded for ya29.token"))
    )
    with pytest.raises(RuntimeError) as info:
        scene["red"].compute(scheduler="sync")
    text = str(info.value)
    assert "COPERNICUS/S2_SR_HARMONIZED, period 2020-01-01..2020-02-01" in text
    assert "Quota exceeded" in text
    assert "ya29.token" not in text


def test_missing_earthengine_api_names_the_extra(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "ee", None)
    with pytest.raises(ImportError, match=r"pip install 'vegdask\[gee\]'"):
        earthengine_scene("2020-01-01", "2020-02-01", location=LOCATION)
