"""The STAC source against real COGs, a real static catalogue and a private container in Azurite."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import logging
import pickle
import threading
import urllib.error
import urllib.parse
import urllib.request
import warnings
from pathlib import Path

import dask
import numpy as np
import pytest

pystac = pytest.importorskip("pystac")
pytest.importorskip("odc.stac")
azure_blob = pytest.importorskip("azure.storage.blob")

from pystac.extensions.projection import ProjectionExtension  # noqa: E402

from vegdask.data import (  # noqa: E402  # noqa: E402
    azure_sas_signer,
    reflectance_offset,
    resolve_signer,
    sas_signer,
    scene_grid,
    stac_scene,
    validate_scene,
)
from vegdask.testing import CountingScheduler  # noqa: E402

LOCATION = (27.94, 11.58)  # UTM zone 35N
SIZE, RES, MARGIN = 100, 10.0, 10
COG_SIZE = SIZE + 2 * MARGIN  # 120 x 120 px around the scene
START, END = "2022-01-01", "2022-05-01"  # Jan, Feb, Mar (no item), Apr (all cloud)
CONTAINER = "stac-private"
BANDS = {"red": "B04", "green": "B03", "blue": "B02", "nir": "B08"}
CLEAR = [2, 4, 5, 6, 7]  # SCL classes that count as clear (independent of the module's list)

# (id, date, processing baseline, eo:cloud_cover, kind)
ACQUISITIONS = [
    ("S2A_20211220", "2021-12-20", "03.01", 10.0, "before"),  # outside the range: never read
    ("S2A_20220105", "2022-01-05", "03.01", 20.0, "normal"),
    ("S2B_20220120", "2022-01-20", "03.01", 30.0, "normal"),
    ("S2A_20220204", "2022-02-04", "04.00", 10.0, "normal"),
    ("S2B_20220219", "2022-02-19", "04.00", 20.0, "normal"),
    ("S2A_20220224", "2022-02-24", "04.00", 95.0, "normal"),  # dropped by max_cloud=50
    ("S2A_20220410", "2022-04-10", "04.00", 100.0, "cloud"),  # no clear pixel
    ("S2B_FARAWAY", "2022-02-10", "04.00", 0.0, "faraway"),  # another place: never read
]


def _grid():
    epsg, x, y = scene_grid(LOCATION, SIZE, RES)
    west = x[0] - RES / 2 - MARGIN * RES
    north = y[0] + RES / 2 + MARGIN * RES
    return epsg, west, north


def _dn(seed: int, kind: str) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    shape = (COG_SIZE, COG_SIZE)
    out = {name: rng.integers(1100, 5000, shape).astype(np.uint16) for name in BANDS.values()}
    out["B08"][rng.random(shape) < 0.03] = 0  # band no data
    classes = np.array([0, 1, 2, 3, 4, 4, 4, 5, 5, 6, 7, 8, 9, 10, 11], dtype=np.uint8)
    out["SCL"] = rng.choice(classes, shape).astype(np.uint8)
    if kind == "cloud":
        out["SCL"][:] = 9
    return out


def _write_cog(path: Path, data: np.ndarray, epsg: int, west: float, north: float) -> None:
    import rasterio
    import rasterio.shutil
    from affine import Affine

    profile = {
        "driver": "GTiff",
        "height": data.shape[0],
        "width": data.shape[1],
        "count": 1,
        "dtype": data.dtype.name,
        "crs": f"EPSG:{epsg}",
        "transform": Affine(RES, 0, west, 0, -RES, north),
        "nodata": 0,
    }
    plain = path.with_suffix(".plain.tif")
    with rasterio.open(plain, "w", **profile) as dst:
        dst.write(data, 1)
    rasterio.shutil.copy(plain, path, driver="COG", blocksize=128)
    plain.unlink()


def _item(ident, when, baseline, cover, hrefs, epsg, west, north, faraway=False):
    bbox_utm = (west, north - COG_SIZE * RES, west + COG_SIZE * RES, north)
    from pyproj import Transformer

    to_ll = Transformer.from_crs(f"EPSG:{epsg}", "EPSG:4326", always_xy=True)
    lons, lats = to_ll.transform([bbox_utm[0], bbox_utm[2]], [bbox_utm[1], bbox_utm[3]])
    bbox = [min(lons), min(lats), max(lons), max(lats)]
    if faraway:
        bbox = [100.0, 40.0, 100.1, 40.1]
    geometry = {
        "type": "Polygon",
        "coordinates": [
            [
                [bbox[0], bbox[1]],
                [bbox[2], bbox[1]],
                [bbox[2], bbox[3]],
                [bbox[0], bbox[3]],
                [bbox[0], bbox[1]],
            ]
        ],
    }
    when = dt.datetime.fromisoformat(when).replace(hour=8, minute=30, tzinfo=dt.UTC)
    item = pystac.Item(
        ident,
        geometry,
        bbox,
        when,
        {"eo:cloud_cover": cover, "s2:processing_baseline": baseline},
    )
    proj = ProjectionExtension.ext(item, add_if_missing=True)
    proj.epsg = epsg
    proj.shape = [COG_SIZE, COG_SIZE]
    proj.transform = [RES, 0.0, west, 0.0, -RES, north]
    for key, href in hrefs.items():
        item.add_asset(key, pystac.Asset(href, media_type=pystac.MediaType.COG, roles=["data"]))
    return item


def _save_catalog(root: Path, items) -> Path:
    collection = pystac.Collection(
        "sentinel-2-l2a",
        "test imagery",
        pystac.Extent(
            pystac.SpatialExtent([[-180.0, -90.0, 180.0, 90.0]]),
            pystac.TemporalExtent([[None, None]]),
        ),
    )
    for item in items:
        collection.add_item(item)
    catalog = pystac.Catalog("vegdask-test", "test catalogue")
    catalog.add_child(collection)
    catalog.normalize_hrefs(str(root))
    catalog.make_all_asset_hrefs_relative()  # only those under root; URLs stay absolute
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    return root / "catalog.json"


def _upload_tree(container_client, folder: Path, prefix: str) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            name = f"{prefix}/{path.relative_to(folder).as_posix()}"
            container_client.upload_blob(name, path.read_bytes(), overwrite=True)


@pytest.fixture(scope="module")
def imagery(tmp_path_factory, azurite):
    """COGs on disk and in a private Azurite container, and catalogues pointing at them."""
    root = tmp_path_factory.mktemp("stac")
    epsg, west, north = _grid()
    dns = {}
    local_items, remote_items = [], []
    service = azure_blob.BlobServiceClient.from_connection_string(azurite.connection_string)
    container = service.get_container_client(CONTAINER)
    if not container.exists():
        container.create_container()  # private: no public access
    base = f"{azurite.blob_endpoint}/{CONTAINER}"
    tree = root / "tree"
    cogs = tree / "cogs"
    cogs.mkdir(parents=True)
    for seed, (ident, when, baseline, cover, kind) in enumerate(ACQUISITIONS):
        local, remote = {}, {}
        for key in (*BANDS.values(), "SCL"):
            name = f"{ident}_{key}.tif"
            if kind in ("before", "faraway"):  # never written: reading them would fail
                local[key], remote[key] = str(cogs / f"missing-{name}"), f"{base}/missing/{name}"
                continue
            if ident not in dns:
                dns[ident] = _dn(seed, kind)
            _write_cog(cogs / name, dns[ident][key], epsg, west, north)
            local[key], remote[key] = str(cogs / name), f"{base}/tree/cogs/{name}"
        args = (ident, when, baseline, cover)
        local_items.append(_item(*args, local, epsg, west, north, faraway=kind == "faraway"))
        remote_items.append(_item(*args, remote, epsg, west, north, faraway=kind == "faraway"))
    local_catalog = _save_catalog(tree, local_items)
    _upload_tree(container, tree, "tree")
    # A local catalogue whose assets are in the private container.
    remote_assets_catalog = _save_catalog(root / "remote-assets", remote_items)
    return {
        "dns": dns,
        "local_catalog": local_catalog,
        "remote_assets_catalog": remote_assets_catalog,
        "remote_items": [item.to_dict(transform_hrefs=False) for item in remote_items],
        "remote_catalog": f"{base}/tree/catalog.json",
        "base": base,
        "root": root,
        "azurite": azurite,
        "container": container,
        "grid": (epsg, west, north),
    }


def _signer(imagery, **kwargs):
    azurite = imagery["azurite"]
    return azure_sas_signer(
        azurite.blob_endpoint,
        CONTAINER,
        credential=azurite.account_key,
        expiry=dt.timedelta(minutes=10),
        **kwargs,
    )


def _golden(dns, max_cloud=None):
    """Independent numpy composite: median of clear reflectances per period, the scene window."""
    window = np.s_[MARGIN : MARGIN + SIZE, MARGIN : MARGIN + SIZE]
    months = {1: [], 2: [], 3: [], 4: []}
    for ident, when, baseline, cover, _kind in ACQUISITIONS:
        if ident not in dns or (max_cloud is not None and cover > max_cloud):
            continue
        months[int(when[5:7])].append((ident, baseline))
    out = {name: [] for name in (*BANDS, "ndvi", "cloud_mask")}
    for members in months.values():
        stacks = {name: [] for name in BANDS}
        clears = []
        for ident, baseline in members:
            dn = {key: value[window].astype(np.float64) for key, value in dns[ident].items()}
            offset = -1000.0 if float(baseline) >= 4 else 0.0
            clear = np.isin(dn["SCL"], CLEAR) & np.all([dn[k] > 0 for k in BANDS.values()], axis=0)
            clears.append(clear)
            for name, key in BANDS.items():
                stacks[name].append(np.where(clear, (dn[key] + offset) / 10000.0, np.nan))
        for name in BANDS:
            if stacks[name]:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels
                    out[name].append(np.nanmedian(np.array(stacks[name]), axis=0))
            else:
                out[name].append(np.full((SIZE, SIZE), np.nan))
        with np.errstate(invalid="ignore"):
            out["ndvi"].append(
                (out["nir"][-1] - out["red"][-1]) / (out["nir"][-1] + out["red"][-1])
            )
        any_clear = np.any(clears, axis=0) if clears else np.zeros((SIZE, SIZE), bool)
        out["cloud_mask"].append(~any_clear)
    return {name: np.array(value) for name, value in out.items()}


def _assert_matches(scene, golden):
    for name in (*BANDS, "ndvi"):
        got = scene[name].values
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, golden[name], rtol=0, atol=2e-6, err_msg=name)
    np.testing.assert_array_equal(scene["cloud_mask"].values, golden["cloud_mask"])


def test_signed_load_from_a_private_container_matches_numpy(imagery):
    sign = _signer(imagery)
    scene, weather = stac_scene(
        START,
        END,
        location=LOCATION,
        size=SIZE,
        catalog=imagery["remote_catalog"],
        sign=sign,
        chunks={"y": 50, "x": 50},
    )
    assert weather is None
    validate_scene(scene)
    golden = _golden(imagery["dns"])
    _assert_matches(scene, golden)
    # The golden is not trivial: clouds and no data in Jan/Feb, an offset that matters in Feb.
    assert 0 < golden["cloud_mask"][0].mean() < 0.5
    assert golden["cloud_mask"][2].all()
    assert golden["cloud_mask"][3].all()
    assert np.isnan(scene["red"].values[2:]).all()
    # Grid, CRS, chunks and attributes.
    epsg, x, y = scene_grid(LOCATION, SIZE, RES)
    assert scene.rio.crs.to_epsg() == epsg == 32635
    np.testing.assert_array_equal(scene["x"].values, x)
    np.testing.assert_array_equal(scene["y"].values, y)
    assert scene.chunks["time"] == (1, 1, 1, 1)
    assert scene.chunks["y"] == (50, 50)
    assert scene.chunks["x"] == (50, 50)
    assert [str(t)[:10] for t in scene["time"].values] == [
        "2022-01-16",
        "2022-02-15",
        "2022-03-16",
        "2022-04-16",  # April has 30 days: start + 15
    ]
    assert scene.attrs == {
        "source": "stac",
        "collection": "sentinel-2-l2a",
        "location": "27.9400,11.5800",
        "resolution": 10.0,
        "catalog": imagery["remote_catalog"],
    }


def test_catalog_url_with_a_sas_reads_catalogue_and_assets_and_keeps_no_token(imagery):
    sas = azure_blob.generate_container_sas(
        imagery["azurite"].account_name,
        CONTAINER,
        account_key=imagery["azurite"].account_key,
        permission=azure_blob.ContainerSasPermissions(read=True),
        expiry=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10),
    )
    scene, _ = stac_scene(
        "2022-02-01",
        "2022-03-01",
        location=LOCATION,
        size=SIZE,
        catalog=f"{imagery['remote_catalog']}?{sas}",
    )
    golden = _golden(imagery["dns"])
    np.testing.assert_allclose(scene["nir"].values[0], golden["nir"][1], atol=2e-6)
    assert scene.attrs["catalog"] == imagery["remote_catalog"]
    assert "sig=" not in repr(scene)
    assert "sig=" not in str(scene.attrs)


def test_unsigned_reads_of_a_private_container_fail_clearly(imagery):
    with pytest.raises(
        ValueError, match=r"cannot read the STAC catalogue file .*catalog\.json.*403"
    ):
        stac_scene(START, END, location=LOCATION, size=SIZE, catalog=imagery["remote_catalog"])
    scene, _ = stac_scene(
        START, END, location=LOCATION, size=SIZE, catalog=str(imagery["remote_assets_catalog"])
    )
    with pytest.raises(
        ValueError, match=r"cannot read the STAC asset http://.*/stac-private/.*\.tif"
    ) as err:
        scene["red"].load()
    assert "sign=" in str(err.value)


def test_local_file_catalogue_matches_numpy_and_honours_max_cloud(imagery):
    catalog = imagery["local_catalog"].as_uri()
    assert catalog.startswith("file://")
    scene, _ = stac_scene(START, END, location=LOCATION, size=SIZE, catalog=catalog, max_cloud=50)
    golden = _golden(imagery["dns"], max_cloud=50)
    _assert_matches(scene, golden)
    everything = _golden(imagery["dns"])
    assert not np.allclose(golden["red"][1], everything["red"][1], equal_nan=True)


def test_nothing_is_read_before_compute(imagery):
    inner = _signer(imagery)
    reads = []

    def sign(href):
        reads.append(href)
        return inner(href)

    counter = CountingScheduler()
    with dask.config.set(scheduler=counter):
        scene, _ = stac_scene(
            START,
            END,
            location=LOCATION,
            size=SIZE,
            catalog=str(imagery["remote_assets_catalog"]),
            sign=sign,
        )
        assert counter.calls == 0
        assert reads == []
        mean = float(scene["nir"].isel(time=0).mean())
    assert counter.calls == 1
    # Only the January items' five assets are read for January: no other period, no header early.
    assert sorted({Path(h).name for h in reads}) == sorted(
        f"{ident}_{key}.tif"
        for ident in ("S2A_20220105", "S2B_20220120")
        for key in (*BANDS.values(), "SCL")
    )
    assert mean == pytest.approx(np.nanmean(_golden(imagery["dns"])["nir"][0]), abs=1e-6)


def test_signer_is_read_only_short_lived_and_keeps_its_token_out_of_repr(imagery):
    sign = _signer(imagery)
    href = f"{imagery['base']}/tree/cogs/S2A_20220105_SCL.tif"
    signed = sign(href)
    assert signed.startswith(href + "?")
    assert "sp=r&" in signed
    with urllib.request.urlopen(signed) as response:
        assert response.status == 200
    # Writing with the token is refused.
    request = urllib.request.Request(
        signed.replace("S2A_20220105_SCL.tif", "new.tif"),
        data=b"x",
        method="PUT",
        headers={"x-ms-blob-type": "BlockBlob"},
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request)
    assert err.value.code == 403
    expiry = dict(p.split("=", 1) for p in signed.split("?", 1)[1].split("&"))["se"]
    expires = dt.datetime.fromisoformat(urllib.parse.unquote(expiry).replace("Z", "+00:00"))
    assert expires - dt.datetime.now(dt.UTC) < dt.timedelta(minutes=11)
    # Other hosts and already-signed URLs are left alone; the token is not in repr; it pickles.
    assert sign("https://elsewhere.example/c/x.tif") == "https://elsewhere.example/c/x.tif"
    assert sign(signed) == signed
    token = signed.split("?", 1)[1]
    assert token not in repr(sign)
    assert pickle.loads(pickle.dumps(sign))(href) == signed
    assert sas_signer("?" + token)(href) == signed


def _corrupt_catalog(imagery, name: str, data: bytes, tmp_path: Path) -> str:
    """A one-item catalogue whose B04 asset is ``data`` in the private container."""
    imagery["container"].upload_blob(f"broken/{name}", data, overwrite=True)
    epsg, west, north = imagery["grid"]
    base = imagery["base"]
    hrefs = {key: f"{base}/tree/cogs/S2A_20220105_{key}.tif" for key in (*BANDS.values(), "SCL")}
    hrefs["B04"] = f"{base}/broken/{name}"
    item = _item("S2A_20220105", "2022-01-05", "03.01", 1.0, hrefs, epsg, west, north)
    return str(_save_catalog(tmp_path / f"catalog-{Path(name).stem}", [item]))


@pytest.mark.parametrize("kind", ["corrupt", "truncated"])
def test_a_corrupt_or_truncated_cog_names_the_asset_without_the_token(
    imagery, tmp_path, caplog, kind
):
    good = (imagery["root"] / "tree" / "cogs" / "S2A_20220105_B04.tif").read_bytes()
    data = (
        np.random.default_rng(1).bytes(len(good)) if kind == "corrupt" else good[: len(good) // 2]
    )
    name = f"{kind}.tif"
    catalog = _corrupt_catalog(imagery, name, data, tmp_path)
    sign = _signer(imagery)
    token = sign(imagery["base"] + "/a").split("?", 1)[1]
    scene, _ = stac_scene(
        "2022-01-01", "2022-02-01", location=LOCATION, size=SIZE, catalog=catalog, sign=sign
    )
    caplog.set_level(logging.DEBUG)
    with pytest.raises(
        ValueError, match=rf"cannot read the STAC asset {imagery['base']}/broken/{name}"
    ) as err:
        scene["red"].load()
    assert "?" not in str(err.value).split(name)[1][:1]
    assert token not in str(err.value)
    assert "sig=" not in str(err.value)
    assert token not in caplog.text
    reason = "not recognized as being in a supported file format" if kind == "corrupt" else "fail"
    assert reason in str(err.value)


def test_offset_rule():
    def item(when, assets=None, **props):
        it = pystac.Item("a", None, None, dt.datetime.fromisoformat(when), props)
        for key, fields in (assets or {}).items():
            it.add_asset(key, pystac.Asset("x.tif", extra_fields=fields))
        return it

    pb = "s2:processing_baseline"
    assert reflectance_offset(item("2023-01-01", **{pb: "05.09"})) == -0.1
    assert reflectance_offset(item("2023-01-01", **{pb: "04.00"})) == -0.1
    # A reprocessed old acquisition follows its baseline, not its date; and vice versa.
    assert reflectance_offset(item("2018-01-01", **{pb: "05.00"})) == -0.1
    assert reflectance_offset(item("2023-01-01", **{pb: "03.01"})) == 0.0
    applied = {pb: "05.09", "earthsearch:boa_offset_applied": True}
    assert reflectance_offset(item("2023-01-01", **applied)) == 0.0
    raster = {"B04": {"raster:bands": [{"scale": 0.0001, "offset": -0.2}]}}
    assert reflectance_offset(item("2023-01-01", raster), "B04") == -0.2
    assert reflectance_offset(item("2022-01-24")) == 0.0
    assert reflectance_offset(item("2022-01-25")) == -0.1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"collection": "landsat-c2-l2"},
            r"collection 'landsat-c2-l2' has no band mapping; "
            r"known collections: \['sentinel-2-l2a'\]",
        ),
        (
            {"assets": {"swir": "B11"}},
            r"unknown band\(s\) \['swir'\]; the bands are \['red', 'green', 'blue', 'nir', 'scl'\]",
        ),
        ({"size": 0}, r"size 0 gives a region of zero size"),
        ({"resolution": 0.0}, r"resolution 0.0 gives a region of zero size"),
        (
            {"location": (190.0, 11.0)},
            r"longitude 190.0 is out of range; allowed -180..180",
        ),
        ({"location": (27.0, 86.0)}, r"latitude 86.0 is out of range; allowed -80..84"),
        ({"max_cloud": 150}, r"max_cloud must be a percentage within 0..100"),
    ],
)
def test_bad_arguments_raise_before_any_read(imagery, kwargs, message):
    args = {"location": LOCATION, "size": SIZE, "catalog": str(imagery["local_catalog"]), **kwargs}
    with pytest.raises(ValueError, match=message):
        stac_scene(START, END, **args)


def test_a_band_missing_from_the_items_names_their_assets(imagery):
    with pytest.raises(
        ValueError,
        match=r"no asset for band 'red' \(looked for \['B04_10m'\]\); "
        r"their assets are \['B02', 'B03', 'B04', 'B08', 'SCL'\]",
    ):
        stac_scene(
            START,
            END,
            location=LOCATION,
            size=SIZE,
            catalog=str(imagery["local_catalog"]),
            assets={"red": "B04_10m"},
        )


def test_catalogues_that_cannot_be_read(imagery, tmp_path):
    with pytest.raises(ValueError, match=r"cannot read the STAC catalogue file .*nowhere\.json"):
        stac_scene(START, END, location=LOCATION, size=SIZE, catalog=str(tmp_path / "nowhere.json"))
    missing = f"{imagery['base']}/tree/missing.json"
    with pytest.raises(
        ValueError, match=rf"cannot read the STAC catalogue file {missing}: HTTP 404"
    ):
        stac_scene(START, END, location=LOCATION, size=SIZE, catalog=missing, sign=_signer(imagery))
    (tmp_path / "bad.json").write_text('{"type": "Feature"')
    with pytest.raises(ValueError, match=r"is not a STAC catalogue"):
        stac_scene(START, END, location=LOCATION, size=SIZE, catalog=str(tmp_path / "bad.json"))
    # A STAC API URL where nothing answers as a STAC API (Azurite's blob service).
    api = f"{imagery['azurite'].blob_endpoint}/stac-api?sig=secret"
    with pytest.raises(ValueError, match=r"cannot search the STAC API .*/stac-api: ") as err:
        stac_scene(START, END, location=LOCATION, size=SIZE, catalog=api, timeout=5)
    assert "secret" not in str(err.value)


def test_no_item_at_all_gives_empty_periods(imagery):
    scene, _ = stac_scene(
        "2023-01-01",
        "2023-03-01",
        location=LOCATION,
        size=SIZE,
        catalog=str(imagery["local_catalog"]),
    )
    validate_scene(scene)
    assert scene.sizes == {"time": 2, "y": SIZE, "x": SIZE}
    assert bool(scene["cloud_mask"].all())
    assert bool(scene["ndvi"].isnull().all())


class _StacApi(http.server.BaseHTTPRequestHandler):
    """A minimal STAC API (landing page + POST /search) answering with fixed items."""

    features: list = []
    searches: list = []

    def log_message(self, *args):  # keep test output quiet
        pass

    def _send(self, body: dict, content_type: str = "application/json") -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        base = f"http://{self.headers['Host']}"
        self._send(
            {
                "type": "Catalog",
                "id": "test-api",
                "description": "test STAC API",
                "stac_version": "1.0.0",
                "conformsTo": [
                    "https://api.stacspec.org/v1.0.0/core",
                    "https://api.stacspec.org/v1.0.0/item-search",
                    "https://api.stacspec.org/v1.0.0/item-search#query",
                ],
                "links": [
                    {"rel": "self", "href": base, "type": "application/json"},
                    {"rel": "root", "href": base, "type": "application/json"},
                    {
                        "rel": "search",
                        "href": f"{base}/search",
                        "type": "application/geo+json",
                        "method": "POST",
                    },
                ],
            }
        )

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).searches.append(body)
        # Every item, wherever and whenever: stac_scene must filter what a server does not.
        self._send(
            {"type": "FeatureCollection", "features": self.features, "links": []},
            "application/geo+json",
        )


def test_stac_api_search_then_signed_load(imagery):
    pytest.importorskip("pystac_client")
    _StacApi.features = imagery["remote_items"]
    _StacApi.searches = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _StacApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/api/v1"
        scene, _ = stac_scene(
            START,
            END,
            location=LOCATION,
            size=SIZE,
            catalog=url,
            sign=_signer(imagery),
            max_cloud=50,
        )
        _assert_matches(scene, _golden(imagery["dns"], max_cloud=50))
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    (search,) = _StacApi.searches
    assert search["collections"] == ["sentinel-2-l2a"]
    assert search["query"] == {"eo:cloud_cover": {"lte": 50}}
    assert search["datetime"].startswith("2022-01-01T00:00:00")
    assert "2022-05-01T00:00:00" in search["datetime"]
    west, south, east, north = search["bbox"]
    assert west < LOCATION[0] < east
    assert south < LOCATION[1] < north
    assert east - west < 0.02  # the 1 km scene, not the world
    assert scene.attrs["catalog"] == url


def test_the_lazy_scene_pickles_with_its_signer_for_remote_workers(imagery):
    scene, _ = stac_scene(
        "2022-02-01",
        "2022-03-01",
        location=LOCATION,
        size=SIZE,
        catalog=str(imagery["remote_assets_catalog"]),
        sign=_signer(imagery),
    )
    copy = pickle.loads(pickle.dumps(scene))  # plain pickle: no cloudpickle by-value fallback
    np.testing.assert_allclose(
        copy["red"].values[0], _golden(imagery["dns"])["red"][1], rtol=0, atol=2e-6
    )


def test_a_config_string_signer_reads_the_token_from_the_environment(imagery, monkeypatch):
    sas = _signer(imagery)(imagery["base"] + "/x").split("?", 1)[1]
    monkeypatch.setenv("VEGDASK_TEST_STAC_SAS", sas)
    scene, _ = stac_scene(
        "2022-01-01",
        "2022-02-01",
        location=LOCATION,
        size=SIZE,
        catalog=imagery["remote_catalog"],
        sign="sas:VEGDASK_TEST_STAC_SAS",
    )
    np.testing.assert_allclose(
        scene["blue"].values[0], _golden(imagery["dns"])["blue"][0], rtol=0, atol=2e-6
    )
    monkeypatch.delenv("VEGDASK_TEST_STAC_SAS")
    with pytest.raises(ValueError, match="'VEGDASK_TEST_STAC_SAS' holds no SAS token"):
        resolve_signer("sas:VEGDASK_TEST_STAC_SAS")
    with pytest.raises(ValueError, match=r"sign 'aws' is not known; use 'none', 'planetary-comp"):
        resolve_signer("aws")
