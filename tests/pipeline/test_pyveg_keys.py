"""results_summary.json keys: pyveg's analysis finds vegdask's series, vegdask reads old and new.

pyveg's rule (docs/analysis.md, "The pyveg preset", step 1), written out here: vegetation = keys
containing "COPERNICUS/S2" or "LANDSAT", weather = keys starting "ECMWF/ERA5/".
"""

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from vegdask.analysis import load_results
from vegdask.data import EARTHENGINE_COLLECTIONS, results_summary
from vegdask.data.earthengine import ERA5_LAND_MONTHLY
from vegdask.data.stac import COLLECTIONS as STAC_COLLECTIONS
from vegdask.pipeline import DEMO_CONFIG

# what results_summary records of the job: its dates and centre (the demo's)
JOB = {
    **{key: DEMO_CONFIG["time"][key] for key in ("start", "end", "period")},
    "centre": (DEMO_CONFIG["location"]["longitude"], DEMO_CONFIG["location"]["latitude"]),
}


def pyveg_vegetation(summary):
    return [k for k in summary if "COPERNICUS/S2" in k or "LANDSAT" in k]


def pyveg_weather(summary):
    return [k for k in summary if k.startswith("ECMWF/ERA5/")]


def _tiles(source, collection, n_time=3):
    rng = np.random.default_rng(0)
    dims = ("time", "tile_y", "tile_x")
    shape = (n_time, 2, 2)
    data = {
        name: (dims, rng.normal(size=shape))
        for name in ("slope", "offset", "offset50", "fv_mean", "fv_std")
    }
    data["ndvi_uint8_mean"] = (dims, rng.uniform(0, 255, shape))
    data["ndvi_veg_uint8_mean"] = (dims, rng.uniform(0, 255, shape))
    data["feature_vec"] = ((*dims, "quantile"), rng.normal(size=(*shape, 20)))
    data["valid"] = (dims, np.ones(shape, bool))
    return xr.Dataset(
        data,
        coords={
            "time": pd.date_range("2016-01-01", periods=n_time, freq="MS") + pd.Timedelta(days=15),
            "latitude": (("tile_y", "tile_x"), [[11.6, 11.6], [11.59, 11.59]]),
            "longitude": (("tile_y", "tile_x"), [[27.9, 27.91], [27.9, 27.91]]),
        },
        attrs={"source": source, "collection": collection, "location": "27.9,11.6"},
    )


def _weather(collection, n_time=3):
    return xr.Dataset(
        {
            "total_precipitation": ("time", np.arange(n_time, dtype=float)),
            "mean_2m_air_temperature": ("time", np.full(n_time, 300.0)),
        },
        coords={
            "time": pd.date_range("2016-01-01", periods=n_time, freq="MS") + pd.Timedelta(days=15)
        },
        attrs={"collection": collection},
    )


# Every source kind with the collections it records (weather: synthetic and Earth Engine only).
SOURCES = [
    ("synthetic", "vegdask/rietkerk-synthetic", "vegdask/rietkerk-synthetic"),
    *[("earthengine", c, ERA5_LAND_MONTHLY) for c in EARTHENGINE_COLLECTIONS],
    *[("stac", c, None) for c in STAC_COLLECTIONS],
    ("local", "local", None),
]


@pytest.mark.parametrize(("source", "collection", "weather"), SOURCES)
def test_pyveg_finds_the_series_of_every_source(source, collection, weather):
    tiles = _tiles(source, collection)
    summary = results_summary(tiles, weather and _weather(weather), **JOB)
    veg = pyveg_vegetation(summary)
    assert len(veg) == 1
    assert summary[veg[0]]["type"] == "vegetation"
    assert len(summary[veg[0]]["time-series-data"]["2016-01-16"]) == 4
    assert summary["metadata"]["collection"] == collection  # the exact name
    assert summary["metadata"]["source"] == source
    assert summary["metadata"]["synthetic"] is (source == "synthetic")
    if "COPERNICUS/S2" in collection or "LANDSAT" in collection:
        assert veg == [collection]  # an Earth Engine id is the key itself
    else:
        assert collection in veg[0]
    if weather is None:
        assert pyveg_weather(summary) == []
        return
    (wx,) = pyveg_weather(summary)
    assert summary[wx]["type"] == "weather"
    assert summary[wx]["time-series-data"]["2016-02-16"]["total_precipitation"] == 1.0
    assert summary["metadata"]["weather_collection"] == weather


def test_landsat_collection_names_get_the_landsat_marker():
    summary = results_summary(_tiles("stac", "landsat-c2-l2"), None, **JOB)
    assert pyveg_vegetation(summary) == ["LANDSAT/landsat-c2-l2"]


@pytest.mark.parametrize("keys", ["old", "new"])
def test_vegdask_reads_old_and_new_files(tmp_path, keys):
    tiles = _tiles("synthetic", "vegdask/rietkerk-synthetic")
    summary = results_summary(tiles, _weather("vegdask/rietkerk-synthetic"), **JOB)
    if keys == "old":  # as vegdask wrote it before: its own collection names as keys
        summary = {
            {"vegetation": "vegdask/rietkerk-synthetic", "weather": "vegdask/weather"}.get(
                v.get("type"), k
            ): v
            for k, v in summary.items()
        }
        assert not pyveg_vegetation(summary)
    path = tmp_path / "results_summary.json"
    path.write_text(json.dumps(summary))
    res = load_results(str(path))
    np.testing.assert_allclose(res.tiles.offset50.values, tiles.offset50.values)
    np.testing.assert_allclose(res.weather.total_precipitation.values, [0.0, 1.0, 2.0])
