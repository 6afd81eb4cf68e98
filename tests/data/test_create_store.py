"""create_store writes the store xarray's ``to_zarr(compute=False, consolidated=True)`` writes.

Golden: xarray's own writer on the same template (with the CRS listed among each variable's CF
``coordinates``, as vegdask documents), for every kind of store a run creates: scene.zarr (its
CRS ``spatial_ref``), then tiles.zarr and mask.zarr made, as the process stage makes them, from
the scene read back (its coordinates carrying the encodings of a store). Compared: the files
(every file byte for byte), every array's decoded values, and
what ``xr.open_zarr`` reads, before and after the period writes fill the data.
"""

import json
import warnings

import dask
import dask.array as da
import numpy as np
import pytest
import xarray as xr
import zarr
from azure.storage.blob import BlobServiceClient

from vegdask.compute import binary_image, period_writes, tile_metrics
from vegdask.data import create_store, open_store, synthetic_scene
from vegdask.data.storage import filesystem, storage_options

TILE = 25


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    scene = synthetic_scene("2016-01-01", "2016-04-01", size=50, spinup_steps=20)[0]
    url = str(tmp_path_factory.mktemp("fetched") / "scene.zarr")
    create_store(scene, url)
    dask.compute(*period_writes({url: scene}))
    stored = open_store(url)
    bands = stored.chunk({"time": 1, "y": TILE * 2, "x": TILE * 2})
    image = binary_image(bands).to_dataset(name="binary_image")
    image["binary_image"].attrs["meaning"] = "255 = bare soil, 0 = vegetation"
    tiles = tile_metrics(bands, tile_size=TILE)
    return {"scene.zarr": scene, "tiles.zarr": tiles, "mask.zarr": image}


def xarray_store(template, url, options):
    """The golden store: xarray's writer, each variable listing its CRS last in its coordinates.

    Its coordinates computed first, as create_store documents (xarray defers lazy ones).
    """
    coords = {name: template.variables[name].compute() for name in template.coords}
    reference = template.assign_coords(coords)
    for name, var in reference.data_vars.items():
        crs = var.encoding.get("grid_mapping")
        if crs in reference.coords:
            others = [str(c) for c in var.coords if c not in var.dims and c != crs]
            reference[name].encoding["coordinates"] = " ".join([*others, crs])
    fs, root = filesystem(url, options=options)
    store = fs.get_mapper(root) if "://" in url else url  # vegdask's Azure client, as its reads
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Consolidated metadata is currently not part")
        reference.to_zarr(store, mode="w", compute=False, consolidated=True)


def files(url, options):
    fs, root = filesystem(url, options=options)
    return {path[len(root) + 1 :]: fs.cat_file(path) for path in fs.find(root)}


def assert_same_files(url, expected_url, options):
    written, expected = files(url, options), files(expected_url, options)
    assert sorted(written) == sorted(expected)
    for key, content in expected.items():
        if key.endswith("zarr.json"):  # the difference shown, if any
            assert json.loads(written[key]) == json.loads(content), key
        assert written[key] == content, key
    fs, root = filesystem(url, options=options)
    fs_expected, root_expected = filesystem(expected_url, options=options)
    group = zarr.open_group(fs.get_mapper(root), mode="r")
    group_expected = zarr.open_group(fs_expected.get_mapper(root_expected), mode="r")
    assert sorted(group.array_keys()) == sorted(group_expected.array_keys())
    for name in group_expected.array_keys():  # coordinates' chunks decoded; data: fill values
        np.testing.assert_array_equal(group[name][...], group_expected[name][...])


def plain_open(url, options):
    fs, root = filesystem(url, options=options)
    return xr.open_zarr(fs.get_mapper(root) if "://" in url else url)


def assert_same_datasets(url, expected_url, options):
    written, expected = plain_open(url, options), plain_open(expected_url, options)
    xr.testing.assert_identical(written.load(), expected.load())
    for name, var in expected.variables.items():
        assert repr(written[name].encoding) == repr(var.encoding), name  # nan != nan in dicts


def check_against_xarray(template, url, expected_url, options=None):
    create_store(template, url, options=options)
    xarray_store(template, expected_url, options)
    assert_same_files(url, expected_url, options)
    assert_same_datasets(url, expected_url, options)
    for store in (url, expected_url):  # two of the periods, the others left to their fill
        dask.compute(*period_writes({store: template}, [0, 2], options=options))
    assert_same_datasets(url, expected_url, options)
    written = plain_open(url, options)
    assert written[next(iter(template.data_vars))][0].notnull().any()  # data really written


@pytest.mark.parametrize("name", ["scene.zarr", "tiles.zarr", "mask.zarr"])
def test_a_store_is_the_one_xarray_writes(tmp_path, templates, name):
    check_against_xarray(templates[name], str(tmp_path / name), str(tmp_path / "xarray.zarr"))


def variants(template):
    """``template``, then copies differing in one thing each: what a store made earlier shares."""
    x = template["x"].variable
    time = template["time"].variable.copy(deep=False)
    time.encoding = {**time.encoding, "units": "hours since 2000-01-01"}
    start = template["period_start"].variable.copy(deep=False)
    start.attrs = {**start.attrs, "note": "changed"}
    image = template["binary_image"].variable.copy(deep=False)
    image.attrs = {**image.attrs, "meaning": "changed"}
    image.encoding = {**image.encoding, "chunks": (1, 25, 25)}
    yield template
    yield template.assign_coords(x=x.copy(data=x.values + 1))
    yield template.assign_coords(time=time)
    yield template.assign_coords(period_start=start)
    yield template.assign(binary_image=image)


def test_a_store_differing_from_an_earlier_one_in_one_array_is_what_xarray_writes(
    tmp_path, templates
):
    """store_files keeps the files of an array written before: a changed one is not among them."""
    for i, template in enumerate(variants(templates["mask.zarr"])):
        url, expected_url = str(tmp_path / f"{i}.zarr"), str(tmp_path / f"xarray{i}.zarr")
        create_store(template, url)
        xarray_store(template, expected_url, None)
        assert_same_files(url, expected_url, None)
        assert_same_datasets(url, expected_url, None)


def test_on_azurite_a_scene_store_replacing_one_is_what_xarray_writes(
    azurite, templates, monkeypatch
):
    BlobServiceClient.from_connection_string(azurite.connection_string).create_container("create")
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    url = "abfs://create/run/scene.zarr"
    options = storage_options(url)
    create_store(templates["mask.zarr"], url, options=options)  # replaced: nothing of it stays
    check_against_xarray(templates["scene.zarr"], url, "abfs://create/xarray.zarr", options)


def odd_datasets():
    """Coordinates of other kinds, edge chunks, array attributes: each as xarray writes them."""
    lazy = da.zeros((2, 5), chunks=(1, 5), dtype="int16")
    dates = np.array(["2020-01-01", "2020-03-01"], dtype="datetime64[ns]")
    return {
        "unicode": {"s": ["ab", "c"]},
        "object strings": {"s": np.array(["ab", "cde"], dtype=object)},
        "bytes": {"s": np.array([b"ab", b"c"])},
        "dates and durations": {"s": dates, "lag": ("s", np.array([1, 2], dtype="m8[s]"))},
        "an edge chunk": {"x": ("x", np.arange(5.0), {}, {"chunks": (2,)})},
        "nan and small ints": {"x": [1.0, np.nan, 3, 4, 5], "s": np.array([0, 7], "u1")},
    }, xr.Dataset({"a": (("s", "x"), lazy)}, attrs={"sizes": np.arange(3), "f": np.float32(1)})


@pytest.mark.parametrize("kind", sorted(odd_datasets()[0]))
def test_other_coordinates_are_written_as_xarray_writes_them(tmp_path, kind):
    coords, base = odd_datasets()
    template = base.assign_coords(coords[kind])
    url, expected_url = str(tmp_path / "store.zarr"), str(tmp_path / "xarray.zarr")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The data type .* does not have a Zarr V3")
        create_store(template, url)
        xarray_store(template, expected_url, None)
        assert_same_files(url, expected_url, None)
        assert_same_datasets(url, expected_url, None)


@pytest.mark.parametrize("indent", [None, 4])
def test_the_group_metadata_are_zarrs_whatever_its_json_indent(tmp_path, indent):
    """store_files puts each array's zarr.json text into the group's: at any indent, zarr's bytes.

    Names sort as zarr sorts them (case-folded); attributes hold what the stand-ins look like.
    """
    data = {
        name: ("x", [1.5, np.nan], {"s": "\x00b"}) for name in ("b", "A", f"indent {indent}", "é")
    }
    dataset = xr.Dataset(data, coords={"x": [0, 1]}, attrs={"s": "\x00b", "l": [1, {"k": "\n"}]})
    url, expected_url = str(tmp_path / "store.zarr"), str(tmp_path / "xarray.zarr")
    with zarr.config.set({"json_indent": indent}):
        create_store(dataset, url)
        xarray_store(dataset, expected_url, None)
    assert_same_files(url, expected_url, None)


def test_a_store_replaces_the_store_there(tmp_path, templates):
    url = str(tmp_path / "store.zarr")
    create_store(templates["scene.zarr"], url)
    create_store(templates["mask.zarr"], url)
    assert set(xr.open_zarr(url).data_vars) == {"binary_image"}
    assert not (tmp_path / "store.zarr" / "ndvi").exists()


def test_a_lazy_variable_xarray_would_encode_from_its_values_is_refused(tmp_path):
    dates = da.zeros(3, chunks=1).astype("datetime64[ns]")
    dataset = xr.Dataset({"seen": ("time", dates)}, coords={"time": [0, 1, 2]})
    url = tmp_path / "dates.zarr"
    with pytest.raises(ValueError, match=r"seen: .* numeric or boolean dtype only, not datetime"):
        create_store(dataset, str(url))
    assert not url.exists()
