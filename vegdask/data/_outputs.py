"""What a stage wrote, recorded in run.json, and the cheap check that the outputs still match.

A Zarr store is recorded as its files' paths and sizes, grouped by period (the chunks of its data
variables along time, in the periods each holds: one, or a task's group of a small scene's) and
the rest (metadata, coordinates): one digest a group, so a changed, truncated or deleted chunk
names its periods and only those periods are recomputed. Other
outputs (tables, the report, ``analysis/``) are recorded file by file with size and SHA-256.

The cheap check lists the files and compares sizes (no data read); the full check
(``verify=True``) also decodes every chunk of every Zarr array and compares the files' SHA-256,
which finds a chunk overwritten with garbage of the same size.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fsspec.implementations.local import LocalFileSystem

from vegdask.data._run_store import RunStore
from vegdask.data._storage import open_zarr_group

__all__ = [
    "Damage",
    "ManifestError",
    "check_outputs",
    "load_manifest",
    "record_outputs",
    "remove_outputs",
    "snapshot",
    "unanalysable",
]


class ManifestError(ValueError):
    """A run.json that is not a vegdask run's manifest (or not whole): the message names it."""


# stage entry key -> (type, what is allowed)
_ENTRY_FIELDS: dict[str, tuple[Any, str]] = {
    "params_hash": (str, "a string"),
    "periods_completed": (list, "a list of dates"),
    "complete": (bool, "true or false"),
    "outputs": (dict, "a table of outputs"),
}


def load_manifest(store: RunStore) -> dict[str, Any]:
    """The run manifest ``run.json`` of ``store``, checked to be a vegdask run's (``{}`` if none).

    Raises
    ------
    ManifestError
        Naming the file and what is wrong: not JSON, not an object, no ``stages`` (not written
        by vegdask), or a stage entry of the wrong shape.

    Examples
    --------
    >>> import tempfile
    >>> store = RunStore(tempfile.mkdtemp())
    >>> store.write_json("run.json", {"stages": "x"})
    >>> try:
    ...     load_manifest(store)
    ... except ManifestError as err:
    ...     print(str(err).split("run.json", 1)[1])
    : "stages" is 'x', expected a table of stages; it was not written by vegdask
    """
    if not store.exists("run.json"):
        return {}
    where = store.url_of("run.json")
    try:
        manifest = json.loads(store.read_bytes("run.json"))
    except (ValueError, RecursionError) as err:  # JSONDecodeError, UnicodeDecodeError, too deep
        raise ManifestError(f"{where} is not valid JSON ({type(err).__name__})") from None
    _check_manifest(manifest, where)
    return manifest


def _check_manifest(manifest: Any, where: str) -> None:
    problem: str | None
    if not isinstance(manifest, dict):
        problem = f"is a JSON {type(manifest).__name__}, expected an object"
    elif "stages" not in manifest:
        problem = 'has no "stages"'
    elif not isinstance(manifest["stages"], dict):
        problem = f'"stages" is {manifest["stages"]!r:.40}, expected a table of stages'
    else:
        problem = next(
            (p for name, e in manifest["stages"].items() if (p := _entry_problem(name, e))), None
        )
    if problem:
        raise ManifestError(f"{where}: {problem}; it was not written by vegdask")


def _entry_problem(name: str, entry: Any) -> str | None:
    if not isinstance(entry, dict):
        return f"stages.{name} is {entry!r:.40}, expected a table"
    for key, (kind, allowed) in _ENTRY_FIELDS.items():
        if key in entry and not isinstance(entry[key], kind):
            return f"stages.{name}.{key} is {entry[key]!r:.40}, expected {allowed}"
    if not all(isinstance(p, str) for p in entry.get("periods_completed", [])):
        return f"stages.{name}.periods_completed holds a value that is not a date"
    return None


def unanalysable(store: RunStore, manifest: dict[str, Any]) -> str | None:
    """Why the run's tiles.zarr cannot be analysed as run.json says it is (None: it can).

    The process stage must be complete, and the stores it and fetch recorded (tiles.zarr,
    weather.zarr) must match their records (sizes, the cheap check).
    """
    stages = manifest.get("stages", {})
    process = stages.get("process", {})
    if not process.get("complete"):
        done = len(process.get("periods_completed", []))
        return f"its process stage is not complete in run.json ({done} periods done)"
    for stage, name in (("process", "tiles.zarr"), ("fetch", "weather.zarr")):
        record = stages.get(stage, {}).get("outputs", {})
        damage = check_outputs(store, {name: record[name]}) if name in record else []
        if damage:
            return f"{damage[0].describe()} disagrees with run.json"
    return None if store.exists("tiles.zarr") else "its tiles.zarr is missing"


@dataclass
class Damage:
    """An output that no longer matches its record: the periods to recompute, or all of it."""

    name: str
    periods: list[str] = field(default_factory=list)
    whole: bool = False
    reason: str = "missing or changed"

    def describe(self) -> str:
        """One phrase, e.g. ``tiles.zarr (periods 2016-03-16)``.

        Examples
        --------
        >>> Damage("tiles.zarr", ["2016-03-16"]).describe()
        'tiles.zarr (period 2016-03-16 missing or changed)'
        >>> Damage("report.html", whole=True, reason="missing").describe()
        'report.html (missing)'
        """
        if self.whole or not self.periods:
            return f"{self.name} ({self.reason})"
        shown = ", ".join(self.periods[:3]) + (" ..." if len(self.periods) > 3 else "")
        word = "period" if len(self.periods) == 1 else f"{len(self.periods)} periods"
        return f"{self.name} ({word} {shown} {self.reason})"


def _digest(lines: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()[:16]


def _listing(store: RunStore, name: str, *, stamps: bool = False) -> dict[str, Any]:
    """Relative path -> size of every file under ``name`` (the file itself if it is one).

    With ``stamps``, -> (size, modification time) instead.
    """
    root, fs = store.path_of(name), store.fs
    if isinstance(fs, LocalFileSystem):
        return {rel: stamp if stamps else stamp[0] for rel, stamp in _local_listing(root).items()}
    found = fs.find(root, detail=True)
    if isinstance(found, list):  # adlfs: [] for nothing, [path] for a file, even with detail
        found = {path: fs.info(path) for path in found}
    return {
        (path[len(root) + 1 :] if path != root else ""): (
            (int(info.get("size") or 0), str(info.get("mtime", info.get("last_modified"))))
            if stamps
            else int(info.get("size") or 0)
        )
        for path, info in found.items()
        if info.get("type", "file") == "file"
    }


def _local_listing(root: str) -> dict[str, tuple[int, str]]:
    """:func:`_listing` of a local folder (or file) with stamps: one ``os.scandir`` a folder.

    fsspec's ``find`` lists each folder and then stats every file again (10 ms for a tiny
    location's tiles.zarr, every time a stage's outputs are recorded or checked).
    """
    try:
        status = os.stat(root)
    except FileNotFoundError:
        return {}
    if not stat.S_ISDIR(status.st_mode):
        return {"": (status.st_size, str(status.st_mtime))}
    found, folders = {}, [("", root)]
    while folders:
        prefix, folder = folders.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                relative = f"{prefix}{entry.name}"
                if entry.is_dir():
                    folders.append((f"{relative}/", entry.path))
                else:
                    status = entry.stat()
                    found[relative] = (status.st_size, str(status.st_mtime))
    return found


def snapshot(store: RunStore, names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The files under ``names`` with sizes and modification times, for :func:`record_outputs`."""
    return {name: _listing(store, name, stamps=True) for name in names}


def _chunk_periods(relative: str, timed: dict[str, int]) -> range | None:
    """The periods of the chunk file ``relative`` (of ``timed``: array -> periods a chunk).

    None for any other file. Zarr v3's default chunk keys (``var/c/3/0/1``) and v2's
    (``var/3.0.1``, ``var/3/0/1``).
    """
    array, _, key = relative.partition("/")
    if array not in timed:
        return None
    for prefix in ("c/", "c."):
        key = key.removeprefix(prefix)
    first = key.replace(".", "/").split("/")[0]
    if not first.isdigit():
        return None
    return range(int(first) * timed[array], (int(first) + 1) * timed[array])


def _timed_arrays(store: RunStore, name: str) -> dict[str, int]:
    """The store ``name``'s arrays chunked by period, and their periods a chunk.

    Those chunked one period a chunk along their first dim ``time``, and the data variables
    (xarray's: neither a dimension nor a variable's coordinate) chunked along it.
    """
    group = open_zarr_group(store.url_of(name), store.options, mode="r")
    arrays = {array_name: (_dims(array), array) for array_name, array in group.arrays()}
    coords = {dim for dims, _ in arrays.values() for dim in dims}
    for _, array in arrays.values():
        coords.update(str(array.attrs.get("coordinates", "")).split())
    return {
        array_name: array.chunks[0]
        for array_name, (dims, array) in sorted(arrays.items())
        if dims[:1] == ("time",) and (array.chunks[0] == 1 or array_name not in coords)
    }


def _dims(array: Any) -> tuple[str, ...]:
    """The dimension names of a Zarr array (v3's metadata, v2's ``_ARRAY_DIMENSIONS``)."""
    dims = getattr(array.metadata, "dimension_names", None) or array.attrs.get("_ARRAY_DIMENSIONS")
    return tuple(dims or ())


def _timed(entry: dict[str, Any]) -> dict[str, int]:
    """The record ``entry``'s arrays chunked by period, and their periods a chunk."""
    chunks = entry.get("time_chunks", {})
    return {name: chunks.get(name, 1) for name in entry["timed"]}


def _group_zarr(
    files: dict[str, int], timed: dict[str, int], times: Sequence[str]
) -> dict[str, Any]:
    periods: dict[str, list[str]] = {t: [] for t in times}
    rest = []
    for relative, size in files.items():
        indices = _chunk_periods(relative, timed)
        line = f"{relative}:{size}"
        if indices is not None and indices.start < len(times):
            for index in indices[: len(times) - indices.start]:
                periods[times[index]].append(line)
        else:
            rest.append(line)
    return {"periods": {t: _digest(lines) for t, lines in periods.items()}, "rest": _digest(rest)}


def _sha256(store: RunStore, name: str) -> str:
    return hashlib.sha256(store.read_bytes(name)).hexdigest()


def record_outputs(
    store: RunStore,
    names: Iterable[str],
    times: Sequence[str] = (),
    *,
    before: dict[str, dict[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """The record of the outputs ``names`` of a run (those that exist), for run.json.

    Parameters
    ----------
    store : RunStore
        The run.
    names : iterable of str
        Top-level names: ``*.zarr`` stores, files or folders.
    times : sequence of str
        The period dates of the stores' time dimension, in order.
    before : dict, optional
        A :func:`snapshot` taken before the stage wrote: a file (not a Zarr store) it holds
        unchanged was not written by the stage and is left out of the record.

    Examples
    --------
    >>> import tempfile
    >>> store = RunStore(tempfile.mkdtemp())
    >>> store.write_json("a.json", [1])
    >>> record_outputs(store, ["a.json", "missing.json"])["a.json"]["files"][""][0]  # bytes
    7
    """
    record = {}
    for name in names:
        files = _listing(store, name)
        if not name.endswith(".zarr") and before is not None:
            now = _listing(store, name, stamps=True)
            files = {r: s for r, s in files.items() if before.get(name, {}).get(r) != now.get(r)}
        if not files:
            continue
        if name.endswith(".zarr"):
            timed = _timed_arrays(store, name)
            chunks = {array: chunk for array, chunk in timed.items() if chunk != 1}
            record[name] = {
                "kind": "zarr",
                "timed": list(timed),
                **({"time_chunks": chunks} if chunks else {}),
                "files": len(files),
                "bytes": sum(files.values()),
                **_group_zarr(files, timed, list(times)),
            }
        else:
            record[name] = {
                "kind": "files",
                "files": {
                    rel: [size, _sha256(store, f"{name}/{rel}" if rel else name)]
                    for rel, size in sorted(files.items())
                },
            }
    return record


def check_outputs(
    store: RunStore, record: dict[str, dict[str, Any]], *, verify: bool = False
) -> list[Damage]:
    """The outputs of ``record`` that are missing or no longer match it (empty: all match).

    Sizes and file lists only, unless ``verify``: then every Zarr chunk is decoded and every
    other file's SHA-256 compared too.

    Examples
    --------
    >>> import tempfile
    >>> store = RunStore(tempfile.mkdtemp())
    >>> store.write_json("a.json", [1])
    >>> record = record_outputs(store, ["a.json"])
    >>> check_outputs(store, record)
    []
    >>> store.write_json("a.json", [2])  # same size, other content
    >>> check_outputs(store, record), check_outputs(store, record, verify=True)[0].describe()
    ([], 'a.json (changed)')
    """
    damaged = []
    for name, entry in record.items():
        files = _listing(store, name)
        if not files:
            damaged.append(Damage(name, whole=True, reason="missing"))
        elif entry.get("kind") == "zarr":
            damage = _check_zarr(store, name, entry, files, verify)
            if damage is not None:
                damaged.append(damage)
        else:
            reason = _check_files(store, name, entry["files"], files, verify)
            if reason:
                damaged.append(Damage(name, whole=True, reason=reason))
    return damaged


def _check_files(
    store: RunStore, name: str, recorded: dict[str, list], files: dict[str, int], verify: bool
) -> str | None:
    """Why the recorded files of ``name`` no longer match (None if they do)."""
    for rel, (size, sha) in recorded.items():
        shown = f"{name}/{rel}" if rel else name
        if rel not in files:
            return "missing" if not rel else f"{shown} missing"
        if files[rel] != size:
            return "changed size" if not rel else f"{shown} changed size"
        if verify and _sha256(store, shown) != sha:
            return "changed" if not rel else f"{shown} changed"
    return None


def _check_zarr(
    store: RunStore, name: str, entry: dict[str, Any], files: dict[str, int], verify: bool
) -> Damage | None:
    times = sorted(entry["periods"])
    grouped = _group_zarr(files, _timed(entry), times)
    if grouped["rest"] != entry["rest"]:
        return Damage(name, whole=True, reason="metadata or coordinates missing or changed")
    bad = {t for t in times if grouped["periods"][t] != entry["periods"][t]}
    if verify:
        try:
            bad |= _undecodable_periods(store, name, entry["timed"], times)
        except Exception:  # the store's own metadata or a coordinate cannot be read
            return Damage(name, whole=True, reason="not readable")
    if not bad:
        return None
    return Damage(name, sorted(bad))


def _undecodable_periods(
    store: RunStore, name: str, timed: list[str], times: list[str]
) -> set[str]:
    """Periods of which a chunk of the store ``name`` does not decode (reads every chunk)."""
    group = open_zarr_group(store.url_of(name), store.options, mode="r")
    bad = set()
    for array_name, array in group.arrays():
        if array_name not in timed:
            array[...]  # metadata and coordinates: an error here is the whole store's
            continue
        for index, when in enumerate(times[: array.shape[0]]):
            try:
                array[index]
            except Exception:  # a truncated or garbage chunk fails to decode in many ways
                bad.add(when)
    return bad


def remove_outputs(store: RunStore, record: dict[str, dict[str, Any]]) -> list[str]:
    """Delete what ``record`` accounts for (a file another tool put beside it stays).

    Returns the names of the outputs removed.
    """
    fs, removed = store.fs, []
    for name, entry in record.items():
        path = store.path_of(name)
        if not fs.exists(path):
            continue
        if entry.get("kind") == "zarr":
            fs.rm(path, recursive=True)
        else:
            for rel in entry["files"]:
                with contextlib.suppress(FileNotFoundError):
                    fs.rm(f"{path}/{rel}" if rel else path)
            if not store.remote:  # blob storage has no folders of its own
                _remove_empty_folders(fs, path)
        removed.append(name)
    return removed


def _remove_empty_folders(fs: Any, path: str) -> None:
    """Remove the folders under ``path`` (itself included) left empty, deepest first."""
    if not fs.isdir(path):
        return
    folders = sorted(
        (
            p
            for p, info in fs.find(path, withdirs=True, detail=True).items()
            if info["type"] == "directory"
        ),
        key=len,
        reverse=True,
    )
    for folder in [*folders, path]:
        with contextlib.suppress(OSError):
            if not fs.ls(folder):
                fs.rmdir(folder)
