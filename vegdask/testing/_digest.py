"""A portable digest of a run's outputs: exact where exactness is portable, a tolerance for floats.

Numba compiles for the host CPU and numpy dispatches SIMD kernels by CPU, so a float computed on a
machine without AVX-512 may differ from this one in its last bits. The digest therefore keeps
everything that is not a float exactly (a SHA-256 of integers, booleans, strings, dates, shapes,
dims, dtypes, attributes, column names and order, a JSON file's keys and non-float values, and
the positions of NaN and infinite values) and summarises each float array by a few projections
that are compared to a tolerance:

- ``min``, ``max`` and ``max_abs`` (largest magnitude) of the finite values;
- the array, flattened, cut into at most `BLOCKS` contiguous blocks, and per block the sum, the
  sum weighted by fixed seeded weights in [-1, 1] (so swapped or compensating changes are seen
  too) and the L1 norm.

Two projections agree when they differ by at most ``rtol * scale``, where ``scale`` is the larger
of the array's ``max_abs`` and (for block projections) the block's L1 norm, and ``rtol`` is 1e-9
for float64 and ``4 * eps`` of the dtype for narrower floats (4.8e-7 for float32). So a change of
one value by more than ``2 * rtol * max(block L1 norm, max |x|)`` is always detected; an array of
at most `BLOCKS` values has one value per block, where that bound is ``2 * rtol * max |x|``.
Changes in the last bits (a few ulp, as between CPUs) are far below it.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

__all__ = ["BLOCKS", "RTOL", "digest_differences", "float_summary", "output_digest"]

BLOCKS = 32
"""Most blocks a float array is cut into (an array of fewer values has one value per block)."""
RTOL = 1e-9
"""Relative tolerance of float64 projections (narrower floats: 4 eps of their dtype)."""
# Not the science: timings and versions (run.json), figures and the page that shows them.
NOT_DIGESTED = ("run.json", "report.html", ".png", ".svg", ".pdf")
_SEED = 20261207
_FLOAT = "<float>"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, default=str).encode()


def _rtol(dtype: np.dtype) -> float:
    return max(RTOL, 4 * float(np.finfo(dtype).eps))


def float_summary(values: np.ndarray) -> dict[str, Any]:
    """Summarise a float array by projections that a tolerance can compare (see the module).

    Parameters
    ----------
    values : ndarray of float
        Any shape; it is flattened in C order.

    Returns
    -------
    dict
        ``rtol`` and, for at most `BLOCKS` values, the ``values`` themselves; for more,
        ``nonfinite`` (SHA-256 of where NaN, +inf and -inf are), ``min``, ``max``, ``max_abs``
        and ``blocks`` (per block: sum, weighted sum, L1 norm).

    Examples
    --------
    >>> float_summary(np.array([1.0, np.nan, -3.0]))
    {'rtol': 1e-09, 'values': [1.0, nan, -3.0]}
    >>> summary = float_summary(np.linspace(-1.0, 2.0, 100))
    >>> summary["min"], summary["max"], summary["max_abs"], len(summary["blocks"])
    (-1.0, 2.0, 2.0, 32)
    """
    flat = np.ravel(values)
    if flat.size <= BLOCKS:
        return {"rtol": _rtol(flat.dtype), "values": [float(v) for v in flat]}
    kinds = np.select([np.isnan(flat), flat == np.inf, flat == -np.inf], [1, 2, 3], 0)
    finite = np.where(kinds == 0, flat, 0).astype(np.float64)
    weights = np.random.default_rng(_SEED).uniform(-1.0, 1.0, finite.size)
    blocks = [
        [float(part.sum()), float(part @ w), float(np.abs(part).sum())]
        for part, w in zip(
            np.array_split(finite, BLOCKS), np.array_split(weights, BLOCKS), strict=True
        )
    ]
    valid = finite[kinds == 0]
    return {
        "rtol": _rtol(flat.dtype),
        "nonfinite": _sha(kinds.astype(np.uint8).tobytes()),
        "min": float(valid.min()) if valid.size else None,
        "max": float(valid.max()) if valid.size else None,
        "max_abs": float(np.abs(valid).max()) if valid.size else 0.0,
        "blocks": blocks,
    }


def _values_record(values: np.ndarray) -> dict[str, Any]:
    if np.issubdtype(values.dtype, np.floating):
        return {"floats": float_summary(values)}
    if values.dtype.kind in "OTU":  # strings: their text, not their in-memory layout
        return {"sha": _sha(_canonical([str(v) for v in np.ravel(values)]))}
    return {"sha": _sha(np.ascontiguousarray(values).tobytes())}


def _zarr_records(path: Path) -> dict[str, dict[str, Any]]:
    with xr.open_zarr(path, consolidated=False) as ds:
        records = {".attrs": {"sha": _sha(_canonical(ds.attrs))}}
        for name, var in {**ds.coords, **ds.data_vars}.items():
            values = np.asarray(var.values)
            header = _canonical([var.dims, str(values.dtype), values.shape, var.attrs])
            records[str(name)] = {"header": _sha(header), **_values_record(values)}
    return records


def _table_records(table: pd.DataFrame) -> dict[str, dict[str, Any]]:
    header = _canonical([list(table.columns), [str(t) for t in table.dtypes], len(table)])
    records = {".columns": {"sha": _sha(header)}}
    for column in table.columns:
        records[str(column)] = _values_record(table[column].to_numpy())
    return records


def _json_floats(value: object, keys: tuple[str, ...] = ()) -> Iterator[tuple[str, float]]:
    """Each float leaf of parsed JSON, in document order, named by its first and last key.

    Values of one quantity so share a name (``offset50_mean/p_value``, every tile's ``offset50``
    under a collection), and a tolerance scaled to their magnitude.
    """
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _json_floats(item, (*keys, str(key)))
    elif isinstance(value, list):
        for item in value:
            yield from _json_floats(item, keys)
    elif isinstance(value, float):
        yield "/".join(dict.fromkeys(keys[:1] + keys[-1:])), value


def _json_skeleton(value: object) -> object:
    """Parsed JSON with every float replaced by a marker: what must match exactly."""
    if isinstance(value, dict):
        return [[key, _json_skeleton(item)] for key, item in value.items()]  # key order kept
    if isinstance(value, list):
        return [_json_skeleton(item) for item in value]
    return _FLOAT if isinstance(value, float) else value


def _json_records(path: Path) -> dict[str, dict[str, Any]]:
    content = json.loads(path.read_bytes())
    records: dict[str, dict[str, Any]] = {
        ".structure": {"sha": _sha(json.dumps(_json_skeleton(content)).encode())}
    }
    groups: dict[str, list[float]] = {}
    for name, number in _json_floats(content):
        groups.setdefault(name, []).append(number)
    for name, numbers in groups.items():
        records[name] = {"floats": float_summary(np.array(numbers, dtype=np.float64))}
    return records


def _file_records(path: Path) -> dict[str, dict[str, Any]]:
    if path.suffix == ".parquet":
        return _table_records(pd.read_parquet(path))
    if path.suffix == ".csv":
        return _table_records(pd.read_csv(path))
    if path.suffix == ".json":
        return _json_records(path)
    return {"": {"sha": _sha(path.read_bytes())}}


def output_digest(root: str | Path) -> dict[str, dict[str, Any]]:
    """A portable digest of the outputs below ``root``: one record per array, column or quantity.

    Zarr stores give one record per variable (``scene.zarr/ndvi``) and one for their attributes;
    Parquet and CSV tables one per column and one for the column names, dtypes and length; JSON
    files one for their structure and one per quantity (the floats under one first and last key:
    ``summary_stats.json/ndvi_mean/std``, every ``offset50`` of a collection in
    ``results_summary.json``); other files a SHA-256 of their bytes. Run records, reports and
    figures (`NOT_DIGESTED`) are left out. Compare two digests with `digest_differences`.

    Parameters
    ----------
    root : str or Path
        A run's output folder.

    Returns
    -------
    dict
        Record per name: ``sha`` (exact content), ``header`` (exact dims, dtype, shape, attrs) and
        ``floats`` (`float_summary`) where they apply.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> _ = (root / "stats.json").write_text('{"n": 3, "a": {"mean": 0.5, "acf": [1.0, 0.25]}}')
    >>> sorted(output_digest(root))
    ['stats.json/.structure', 'stats.json/a/acf', 'stats.json/a/mean']
    """
    root = Path(root)
    digest: dict[str, dict[str, Any]] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.suffix == ".zarr" and path.is_dir():
            records = _zarr_records(path)
        elif ".zarr/" in rel or not path.is_file() or rel.endswith(NOT_DIGESTED):
            continue
        else:
            records = _file_records(path)
        digest.update({f"{rel}/{key}".rstrip("/"): record for key, record in records.items()})
    return digest


def _close(a: float | None, b: float | None, tolerance: float) -> bool:
    if a is None or b is None or math.isnan(a) or math.isnan(b) or math.isinf(a) or math.isinf(b):
        return a == b or (a is not None and b is not None and math.isnan(a) and math.isnan(b))
    return abs(a - b) <= tolerance


def _max_abs(values: list[float]) -> float:
    return max((abs(v) for v in values if math.isfinite(v)), default=0.0)


def _value_differences(old: list[float], new: list[float], rtol: float) -> list[str]:
    if len(old) != len(new):
        return ["number of values differs"]
    tolerance = rtol * max(_max_abs(old), _max_abs(new))
    return [
        f"value {index} {a!r} != {b!r} (tolerance {tolerance:.3g})"
        for index, (a, b) in enumerate(zip(old, new, strict=True))
        if not _close(a, b, tolerance)
    ]


def _block_differences(old: Mapping[str, Any], new: Mapping[str, Any], rtol: float) -> list[str]:
    if old["nonfinite"] != new["nonfinite"] or len(old["blocks"]) != len(new["blocks"]):
        return ["NaN/inf positions differ"]
    max_abs = max(old["max_abs"], new["max_abs"])
    found = [
        f"{key} {old[key]!r} != {new[key]!r}"
        for key in ("min", "max", "max_abs")
        if not _close(old[key], new[key], rtol * max_abs)
    ]
    names = ("sum", "weighted sum", "L1 norm")
    for index, (a_block, b_block) in enumerate(zip(old["blocks"], new["blocks"], strict=True)):
        tolerance = rtol * max(max_abs, a_block[2], b_block[2])
        found += [
            f"block {index} {name} {a!r} != {b!r} (tolerance {tolerance:.3g})"
            for name, a, b in zip(names, a_block, b_block, strict=True)
            if not _close(a, b, tolerance)
        ]
    return found


def _float_differences(old: Mapping[str, Any], new: Mapping[str, Any], rtol: float) -> list[str]:
    rtol = max(rtol, old["rtol"], new["rtol"])
    if "values" in old and "values" in new:
        return _value_differences(old["values"], new["values"], rtol)
    if "blocks" in old and "blocks" in new:
        return _block_differences(old, new, rtol)
    return ["number of values differs"]


def _nonfinite(summary: Mapping[str, Any]) -> object:
    if "values" in summary:
        return [str(v) if not math.isfinite(v) else "" for v in summary["values"]]
    return summary["nonfinite"]


def _rtol_for(name: str, tolerances: Mapping[str, float | None]) -> float | None:
    matches = [rtol for pattern, rtol in tolerances.items() if fnmatch.fnmatchcase(name, pattern)]
    return matches[-1] if matches else RTOL


def digest_differences(
    stored: Mapping[str, Mapping[str, Any]],
    current: Mapping[str, Mapping[str, Any]],
    tolerances: Mapping[str, float | None] | None = None,
) -> list[str]:
    """What differs between two `output_digest` results, one line per difference.

    Parameters
    ----------
    stored, current : dict
        Digests from `output_digest` (``stored`` may come from a JSON file).
    tolerances : dict, optional
        Per-output relative tolerance instead of `RTOL`, by name pattern (``fnmatch``; the last
        matching pattern wins). ``None`` compares only what is exact (presence, NaN positions,
        structure), for values that the data do not determine.

    Returns
    -------
    list of str
        Empty when every exact record is equal and every float projection is within tolerance.

    Examples
    --------
    >>> a = {"x": {"floats": float_summary(np.array([1.0, 2.0]))}}
    >>> b = {"x": {"floats": float_summary(np.array([1.0, 2.0 + 1e-15]))}}
    >>> digest_differences(a, b)
    []
    >>> c = {"x": {"floats": float_summary(np.array([1.0, 2.001]))}}
    >>> digest_differences(a, c)
    ['x: value 1 2.0 != 2.001 (tolerance 2e-09)']
    >>> digest_differences(a, c, tolerances={"x": 1e-3})
    []
    """
    found = [f"{name}: removed" for name in stored if name not in current]
    found += [f"{name}: added" for name in current if name not in stored]
    for name in stored.keys() & current.keys():
        old, new = stored[name], current[name]
        if {k: v for k, v in old.items() if k != "floats"} != {
            k: v for k, v in new.items() if k != "floats"
        }:
            found.append(f"{name}: content differs")
            continue
        if "floats" not in old:
            continue
        rtol = _rtol_for(name, tolerances or {})
        if rtol is None:  # not determined by the data: only where values are NaN or infinite
            same = _nonfinite(old["floats"]) == _nonfinite(new["floats"])
            found += [] if same else [f"{name}: NaN/inf positions differ"]
            continue
        found += [
            f"{name}: {line}" for line in _float_differences(old["floats"], new["floats"], rtol)
        ]
    return sorted(found)
