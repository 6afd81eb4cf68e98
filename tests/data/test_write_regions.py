"""write_regions writes the chunk files zarr's ``array[region] = values`` writes.

Golden: zarr itself, writing the same regions into a twin store (same arrays, created by zarr).
Compared: every file of both stores, byte for byte, and ``zarr.open_array(...)[:]``. Arrays are
like a run's: tiles.zarr's (float64 with NaN fill and bool, chunks (1, 2, 2), an edge chunk),
mask.zarr's (uint8, one chunk a period) and scene.zarr's (float32, edge chunks); regions hold
chunks all fill value (not stored; a stored one deleted when rewritten so).
"""

import numpy as np
import pytest
import zarr
from azure.storage.blob import BlobServiceClient

from vegdask.data.storage import filesystem, storage_options, write_regions

# name -> shape, chunks, dtype, fill value
ARRAYS = {
    "tile_mean": ((4, 3, 2), (1, 2, 2), "float64", np.nan),
    "tile_valid": ((4, 3, 2), (1, 2, 2), "bool", False),
    "binary_image": ((4, 6, 5), (1, 6, 5), "uint8", 0),
    "band": ((4, 6, 5), (1, 4, 4), "float32", np.nan),
}


def values(name, region, seed):
    """Values for ``region`` of array ``name``: its first chunk all fill value, the rest not."""
    shape, chunks, dtype, fill = ARRAYS[name]
    rng = np.random.default_rng(seed)
    size = tuple(len(range(*where.indices(n))) for where, n in zip(region, shape, strict=True))
    data = (rng.random(size) * 200).astype(dtype)
    if dtype == "bool":
        data = rng.random(size) < 0.5
    data[tuple(slice(0, c) for c in chunks)] = fill
    return data


def files(url, options):
    fs, root = filesystem(url, options=options)
    return {path[len(root) + 1 :]: fs.cat_file(path) for path in fs.find(root)}


def group_of(url, options):
    fs, root = filesystem(url, options=options)
    return zarr.open_group(fs.get_mapper(root) if "://" in url else url, mode="r+")


def create(url, options):
    group = zarr.create_group(group_of_store(url, options))
    for name, (shape, chunks, dtype, fill) in ARRAYS.items():
        group.create_array(name, shape=shape, chunks=chunks, dtype=dtype, fill_value=fill)


def group_of_store(url, options):
    fs, root = filesystem(url, options=options)
    return fs.get_mapper(root) if "://" in url else url


def check_against_zarr(url, twin, options):
    create(url, options)
    create(twin, options)
    metadata = {name: array.metadata for name, array in group_of(url, options).arrays()}
    # periods 0-1 whole, then 1-2 of the first rows (rewriting period 1: chunks deleted), then 3
    steps = [
        (slice(0, 2), slice(None), slice(None)),
        (slice(1, 3), slice(0, 2), slice(None)),
        (slice(3, 4), slice(None), slice(None)),
    ]
    for seed, step in enumerate(steps):
        writes = []
        for name, (_, chunks, _, _) in ARRAYS.items():
            rows = step[1] if chunks[1] == 2 else slice(None)  # whole chunks of every array
            region = (step[0], rows, step[2])
            data = values(name, region, seed)
            writes.append((name, metadata[name], region, data))
            group_of(twin, options)[name][region] = data
        write_regions(url, writes, options=options)
        written, expected = files(url, options), files(twin, options)
        assert sorted(written) == sorted(expected)
        for key, content in expected.items():
            assert written[key] == content, key
        for name in ARRAYS:
            np.testing.assert_array_equal(
                group_of(url, options)[name][:], group_of(twin, options)[name][:]
            )
    # chunks all fill value: none stored, and period 1's first chunks deleted by the rewrite
    assert "tile_mean/c/0/0/0" not in written
    assert "tile_mean/c/1/0/0" not in written
    assert "tile_mean/c/1/1/0" in written
    assert "binary_image/c/1/0/0" not in written
    assert "binary_image/c/2/0/0" in written


def test_regions_written_are_the_chunks_zarr_writes(tmp_path):
    check_against_zarr(str(tmp_path / "ours.zarr"), str(tmp_path / "zarr.zarr"), None)


def test_on_azurite_regions_written_are_the_chunks_zarr_writes(azurite, monkeypatch):
    BlobServiceClient.from_connection_string(azurite.connection_string).create_container("regions")
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    url = "abfs://regions/run/ours.zarr"
    check_against_zarr(url, "abfs://regions/run/zarr.zarr", storage_options(url))


@pytest.mark.parametrize(
    "region",
    [
        (slice(0, 1), slice(1, 3), slice(None)),  # not at a chunk's start
        (slice(0, 1), slice(0, 1), slice(None)),  # ends inside a chunk
        (slice(0, 2, 2), slice(None), slice(None)),  # a step
    ],
)
def test_a_region_of_part_chunks_is_refused_and_nothing_written(tmp_path, region):
    url = str(tmp_path / "ours.zarr")
    create(url, None)
    before = files(url, None)
    array = group_of(url, None)["tile_mean"]
    data = np.ones(
        tuple(len(range(*w.indices(n))) for w, n in zip(region, array.shape, strict=True))
    )
    good = (slice(0, 1), slice(None), slice(None))
    with pytest.raises(ValueError, match="not made of whole chunks"):
        write_regions(
            url,
            [
                ("tile_mean", array.metadata, good, np.ones((1, 3, 2))),
                ("tile_mean", array.metadata, region, data),
            ],
        )
    assert files(url, None) == before
