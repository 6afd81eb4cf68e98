"""A small demo run's outputs against a stored digest: restructuring must not change any number.

The digest holds one SHA-256 per output (per array of each Zarr store, per table, per JSON/CSV
file), taken over the decoded content (values, dtypes, dims, attributes, column order; a JSON
file's parsed content), so a library's version stamp inside a file format or a JSON file's layout
does not count as a change while any value, name or order does. Only commits that mean to change
outputs update it, with ``VEGDASK_UPDATE_DIGEST=1 pytest tests/test_output_digest.py``, and say
why in their message.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from distributed import Client, LocalCluster

from vegdask.pipeline import run_job, validate_config

DIGEST_FILE = Path(__file__).with_name("output_digest.json")
# The demo's science on a smaller scene: 36 monthly periods so that every indicator has values.
CONFIG = {
    "location": {"size": 150},
    "time": {"start": "2016-01-01", "end": "2019-01-01", "period": "1m"},
}
# Not the science: timings and versions (run.json), figures and the page that shows them.
NOT_DIGESTED = ("run.json", "report.html", ".png", ".svg", ".pdf")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, default=str).encode()


def _zarr_digests(path: Path) -> dict[str, str]:
    ds = xr.open_zarr(path, consolidated=False)
    digests = {".attrs": _sha(_canonical(ds.attrs))}
    for name, var in {**ds.coords, **ds.data_vars}.items():
        values = np.ascontiguousarray(var.values)
        header = _canonical([var.dims, str(values.dtype), values.shape, var.attrs])
        digests[str(name)] = _sha(header + values.tobytes())
    return digests


def _parquet_digest(path: Path) -> str:
    table = pd.read_parquet(path)
    header = _canonical([list(table.columns), [str(t) for t in table.dtypes]])
    return _sha(header + table.to_csv(index=False, float_format="%.17g").encode())


def output_digests(root: Path) -> dict[str, str]:
    """One digest per output below ``root``: per Zarr array, per table, per other file."""
    digests: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.suffix == ".zarr" and path.is_dir():
            digests.update({f"{rel}/{k}": v for k, v in _zarr_digests(path).items()})
        elif ".zarr/" in rel or not path.is_file() or rel.endswith(NOT_DIGESTED):
            continue
        elif path.suffix == ".parquet":
            digests[rel] = _parquet_digest(path)
        elif path.suffix == ".json":  # key order kept: it is part of the content
            digests[rel] = _sha(json.dumps(json.loads(path.read_bytes())).encode())
        else:
            digests[rel] = _sha(path.read_bytes())
    return digests


@pytest.fixture(scope="module")
def run_output(tmp_path_factory):
    output = tmp_path_factory.mktemp("digest-run")
    config = validate_config({**CONFIG, "output": {"url": str(output)}})
    with (
        LocalCluster(n_workers=1, threads_per_worker=2, processes=False) as cluster,
        Client(cluster) as client,
    ):
        run_job(config, client=client, progress=False, log=lambda message: None)
    return output


@pytest.mark.slow
def test_outputs_match_the_stored_digest(run_output):
    digests = output_digests(run_output)
    if os.environ.get("VEGDASK_UPDATE_DIGEST") == "1":
        DIGEST_FILE.write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n")
    stored = json.loads(DIGEST_FILE.read_text())
    changed = sorted(k for k in stored.keys() & digests.keys() if stored[k] != digests[k])
    assert not changed, f"outputs changed: {changed}"
    assert sorted(digests) == sorted(stored), "outputs added or removed"


def test_digest_sees_a_changed_value(run_output, tmp_path):
    """The digest is not blind: one changed offset50 value changes the tiles.zarr entry only."""
    copy = tmp_path / "tiles.zarr"
    tiles = xr.open_zarr(run_output / "tiles.zarr", consolidated=False).load()
    before = _zarr_digests(run_output / "tiles.zarr")
    tiles["offset50"][0, 0, 0] = tiles["offset50"][0, 0, 0] + 1e-9
    tiles.to_zarr(copy, consolidated=False)
    after = _zarr_digests(copy)
    assert {k for k in before if before[k] != after[k]} == {"offset50"}
