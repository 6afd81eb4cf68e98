"""Sources and catalogue locations in job configs, and a job on local GeoTIFFs end to end."""

import json

import numpy as np
import pytest
import rasterio
import xarray as xr
from distributed import Client, LocalCluster

from vegdask.data import location, region_pixels
from vegdask.pipeline import ConfigError, read_manifest, run_job, validate_config


def test_a_catalogue_id_gives_its_coordinates_and_pyvegs_region():
    config = validate_config({"location": {"id": "17"}})
    assert config["location"]["longitude"] == -0.97
    assert config["location"]["latitude"] == 15.23
    assert config["location"]["size"] == 890  # 0.08 degrees at 10 m
    landsat = validate_config(
        {
            "location": {"id": "17"},
            "source": {"kind": "earthengine", "collection": "LANDSAT/LC08/C02/T1_L2"},
        }
    )
    assert landsat["location"]["size"] == region_pixels(0.08, 30.0)
    assert validate_config(config) == config  # an effective config validates to itself
    sized = validate_config({"location": {"id": "44", "size": 200}})
    assert sized["location"]["size"] == 200
    assert (sized["location"]["longitude"], sized["location"]["latitude"]) == location(
        "30"
    ).coordinates


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"location": {"id": "99"}}, "location.id = '99' is not valid; expected a catalogue id"),
        ({"location": {"id": "17", "longitude": 1.0}}, "location.longitude = 1.0 contradicts"),
        ({"source": {"kind": "stac"}}, "source kind 'stac' needs source.catalog"),
        ({"source": {"kind": "local"}}, "source kind 'local' needs source.path"),
        ({"source": {"kind": "local", "path": "x", "seed": 1}},
         "unknown key source.seed for kind 'local'; allowed: ['bands', 'collection'"),
        ({"source": {"kind": "earthengine", "cloud_threshold": 2}},
         "source.cloud_threshold = 2 is not valid; expected a number in [0, 1]"),
        ({"source": {"kind": "stac", "catalog": "x", "sign": "sv=2025&sig=abc"}},
         "expected 'planetary-computer', 'sas:<ENV_VAR>' or 'none'"),
        ({"source": {"kind": "local", "path": "x", "bands": {"B4": "rouge"}}},
         "source.bands = {'B4': 'rouge'} is not valid"),
    ],
)  # fmt: skip
def test_bad_source_and_location_settings_name_the_field(raw, message):
    with pytest.raises(ConfigError) as info:
        validate_config(raw)
    assert message in str(info.value)


def test_an_earthengine_config_builds_its_lazy_scene_without_a_request():
    from vegdask.pipeline._stages import open_job_source

    config = validate_config({
        "location": {"id": "17", "size": 120},
        "time": {"start": "2019-01-01", "end": "2019-03-01"},
        "source": {"kind": "earthengine", "collection": "COPERNICUS/S2_SR_HARMONIZED"},
    })  # fmt: skip
    scene, weather = open_job_source(config)  # offline: nothing is sent while building
    assert dict(scene.sizes) == {"time": 2, "y": 120, "x": 120}
    assert scene.attrs["source"] == "earthengine"
    assert scene.attrs["location"] == "-0.9700,15.2300"
    assert weather is not None


def test_each_kind_gets_its_own_defaults_not_the_demos():
    config = validate_config({"source": {"kind": "stac", "catalog": "https://example.org/stac"}})
    assert config["source"] == {
        "kind": "stac", "collection": "sentinel-2-l2a", "resolution": 10.0,
        "catalog": "https://example.org/stac",
    }  # fmt: skip


def write_pyveg_folder(root, dates, shape, rng):
    """pyveg's RAW layout: Sentinel-2 B4/B3/B2 digital numbers and NDVI, in UTM 35N."""
    transform = rasterio.Affine(10, 0, 500_000, 0, -10, 1_280_000)
    ndvi = {}
    for date in dates:
        # Stripes of vegetation so the mask and the centrality have something to see.
        stripes = (np.arange(shape[1]) // 7 % 2).astype(np.float32)
        ndvi[date] = (0.1 + 0.5 * stripes + rng.uniform(0, 0.05, shape)).astype(np.float32)
        bands = {"NDVI": ndvi[date]}
        bands |= {b: rng.uniform(500, 2500, shape).astype(np.float32) for b in ("B4", "B3", "B2")}
        for band, values in bands.items():
            path = root / date / "RAW" / f"download.{band}.tif"
            path.parent.mkdir(parents=True, exist_ok=True)
            with rasterio.open(
                path, "w", driver="GTiff", width=shape[1], height=shape[0], count=1,
                dtype="float32", crs="EPSG:32635", transform=transform,
            ) as dst:  # fmt: skip
                dst.write(values[None])
    return ndvi


def test_job_on_a_local_pyveg_folder(tmp_path):
    dates = ["2016-01-16", "2016-02-15", "2016-03-16"]
    ndvi = write_pyveg_folder(tmp_path / "pyveg", dates, (120, 160), np.random.default_rng(0))
    config = validate_config({
        "source": {"kind": "local", "path": str(tmp_path / "pyveg"), "scale": 1e-4},
        "time": {"start": "2016-01-01", "end": "2016-05-01"},
        "output": {"url": str(tmp_path / "out")},
        "analysis": {"enabled": False},
    })  # fmt: skip
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False) as cluster, Client(
        cluster
    ) as client:  # fmt: skip
        manifest = run_job(config, client=client, progress=False, log=lambda m: None)
    tiles = xr.open_zarr(tmp_path / "out" / "tiles.zarr", consolidated=False)
    assert dict(tiles.sizes) == {"time": 4, "tile_y": 2, "tile_x": 3, "quantile": 20}
    # Mean NDVI of each 50x50 tile, straight from the files (edge strips dropped, as pyveg).
    for i, date in enumerate(dates):
        expected = ndvi[date][:100, :150].reshape(2, 50, 3, 50).mean(axis=(1, 3))
        np.testing.assert_allclose(tiles["ndvi_mean"][i].values, expected, rtol=1e-5)
    assert not tiles["valid"][3].values.any()  # April has no files: an empty period
    assert manifest["stages"]["fetch"]["empty_periods"] == ["2016-04-16"]
    process = manifest["stages"]["process"]
    assert process["empty_periods"] == ["2016-04-16"]
    assert process["dropped_edge_pixels"] == {"y": 20, "x": 10}
    assert not (tmp_path / "out" / "weather.zarr").exists()
    summary = json.loads((tmp_path / "out" / "results_summary.json").read_text())
    assert [v["type"] for v in summary.values() if isinstance(v, dict) and "type" in v] == [
        "vegetation"
    ]
    # The metadata gives the files' centre (UTM 35N grid above), not the config's demo location.
    from pyproj import Transformer

    centre = Transformer.from_crs("EPSG:32635", "EPSG:4326", always_xy=True).transform(
        500_000 + 160 * 10 / 2, 1_280_000 - 120 * 10 / 2
    )
    metadata = summary["metadata"]
    assert (metadata["longitude"], metadata["latitude"]) == pytest.approx(centre, abs=1e-4)
    assert read_manifest(str(tmp_path / "out"))["stages"]["fetch"]["complete"]


def test_a_bad_local_source_fails_before_anything_is_written(tmp_path):
    config = validate_config({
        "source": {"kind": "local", "path": str(tmp_path / "nowhere")},
        "output": {"url": str(tmp_path / "out")},
    })  # fmt: skip
    with pytest.raises(ValueError, match="is not a folder"):
        run_job(config, client=None, progress=False, log=lambda m: None)
    assert not (tmp_path / "out").exists()
