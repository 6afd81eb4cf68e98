"""A run's outputs at a local path or fsspec URL: paths, JSON, Zarr and Parquet in one place.

A :class:`RunStore` carries the storage options of its URL (credentials as
:func:`~vegdask.data.storage.storage_options`: adlfs' listing cache off), so the pipeline, the
analysis and the command line reach a run's files the same way, local or on Azure Blob Storage.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from typing import Any

import fsspec
import numpy as np
import xarray as xr

from vegdask.data._azure import storage_options
from vegdask.data._storage import (
    create_store,
    ensure_container,
    filesystem,
    is_remote,
    join_url,
    load_store,
    open_store,
    write_dataset,
)

__all__ = ["RunStore", "to_strict_json"]

# What a reader of a run needs (its summary, tables and report); Zarr stores stay where they are.
_READER_FILES = ("run.json", "results_summary.json", "tiles.parquet", "report.html")
_READER_ANALYSIS_SUFFIXES = (".csv", ".json", ".png", ".svg", ".html")


def to_strict_json(obj: Any) -> Any:
    """Convert numpy scalars/arrays to Python and NaN/inf to None (strict JSON).

    Examples
    --------
    >>> to_strict_json({"a": np.float64("nan"), "b": np.arange(2), "c": (1.5, np.int64(2))})
    {'a': None, 'b': [0, 1], 'c': [1.5, 2]}
    """
    kind = type(obj)
    if kind is float:  # the common cases first: a results summary is thousands of numbers
        return obj if math.isfinite(obj) else None
    if kind is int or kind is str or obj is None:
        return obj
    if isinstance(obj, dict):
        return {str(k): to_strict_json(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        obj = obj.tolist()  # Python numbers and nested lists, as each element's item() gives
    if isinstance(obj, list | tuple):
        return [to_strict_json(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


class RunStore:
    """The outputs under ``url`` (a local path or ``abfs://container/prefix``).

    Parameters
    ----------
    url : str or path-like
        The run's output folder.
    options : dict, optional
        fsspec storage options; default :func:`~vegdask.data.storage.storage_options` of ``url``
        (credentials from the settings). Never log them: they hold secrets.
    container_ready : bool, default False
        Whether the caller made sure of the container already (a campaign's, which holds this
        location's folder): :meth:`ensure_container` then does nothing.

    Examples
    --------
    >>> import tempfile
    >>> store = RunStore(tempfile.mkdtemp())
    >>> store.write_json("run.json", {"tau": float("nan"), "n": np.int64(3)})
    >>> store.read_json("run.json"), store.exists("tiles.zarr"), store.remote
    ({'tau': None, 'n': 3}, False, False)
    >>> store.url_of("tiles.zarr") == store.url.rstrip("/") + "/tiles.zarr"
    True
    """

    def __init__(
        self, url: Any, *, options: dict[str, Any] | None = None, container_ready: bool = False
    ):
        self.url = str(url)
        self.options = storage_options(self.url) if options is None else options
        self._container_ready = container_ready

    @functools.cached_property
    def path(self) -> str:
        """The run's folder on :attr:`fs`.

        Found when first needed: a store of an unsupported URL fails in
        :meth:`ensure_container` with its one line, not when made.
        """
        return filesystem(self.url, options=self.options)[1].rstrip("/")

    @property
    def fs(self) -> fsspec.AbstractFileSystem:
        """The run's filesystem, made for each use as before (adlfs' instances are not cached).

        Holding one adlfs instance for a whole run would leave its client session open until the
        run object goes, which after a storage failure prints aiohttp's "Unclosed client session".
        """
        return filesystem(self.url, options=self.options)[0]

    @property
    def remote(self) -> bool:
        """Whether the run is in blob storage rather than on a local disk."""
        return is_remote(self.url)

    def url_of(self, name: str) -> str:
        """The URL of ``name`` (e.g. ``"tiles.zarr"``), for Zarr and xarray."""
        return join_url(self.url, name)

    def path_of(self, name: str) -> str:
        """The path of ``name`` on :attr:`fs`."""
        return f"{self.path}/{name.strip('/')}"

    def exists(self, name: str) -> bool:
        """Whether ``name`` exists in the run."""
        return self.fs.exists(self.path_of(name))

    def ensure_container(self) -> None:
        """Create the Azure container of a blob-storage run if it does not exist.

        Once a store: its later calls return at once (the run's checks and its start share it).
        """
        if not self._container_ready:
            ensure_container(self.url, options=self.options)
            self._container_ready = True

    def stamp(self, name: str) -> tuple[Any, ...] | None:
        """What changes when the file ``name`` is written again (None if there is none).

        Its size, modification time, inode or ETag: cheaper than reading it.
        """
        try:
            info = self.fs.info(self.path_of(name))
        except FileNotFoundError:
            return None
        return tuple(info.get(key) for key in ("size", "mtime", "ino", "etag", "last_modified"))

    def makedirs(self, name: str = "") -> None:
        """Create the folder ``name`` (default the run's own) if it does not exist."""
        self.fs.makedirs(self.path_of(name) if name else self.path, exist_ok=True)

    def read_bytes(self, name: str) -> bytes:
        """The content of the file ``name``."""
        return self.fs.cat_file(self.path_of(name))

    def reader_files(self) -> list[str]:
        """The run's summary, tables, report and analysis files (paths relative to the run).

        Raises
        ------
        FileNotFoundError
            If the folder holds neither ``run.json`` nor ``results_summary.json``.
        """
        if not self.exists("run.json") and not self.exists("results_summary.json"):
            raise FileNotFoundError(
                f"{self.url} is not a vegdask run: it has neither run.json nor results_summary.json"
            )
        wanted, fs = [], self.fs
        for name in _READER_FILES:  # tiles.parquet may be a file or a directory of parts
            if fs.exists(self.path_of(name)):
                wanted += [p[len(self.path) + 1 :] for p in fs.find(self.path_of(name))]
        if fs.isdir(self.path_of("analysis")):
            for path in fs.ls(self.path_of("analysis"), detail=False):
                if path.endswith(_READER_ANALYSIS_SUFFIXES) and fs.isfile(path):
                    wanted.append(path.rstrip("/")[len(self.path) + 1 :])
        return wanted

    def read_json(self, name: str) -> Any:
        """The content of the JSON file ``name``."""
        with self.fs.open(self.path_of(name)) as f:
            return json.loads(f.read())

    def write_json(self, name: str, content: Any, *, indent: int | None = 2) -> None:
        """Write ``content`` as strict JSON (NaN becomes null), indented unless ``indent=None``.

        Locally through a temporary file and a rename, so a reader never sees half a file.
        """
        text = json.dumps(to_strict_json(content), indent=indent, allow_nan=False)
        fs = self.fs
        fs.makedirs(self.path, exist_ok=True)
        target = self.path_of(name)
        if self.remote:
            fs.pipe_file(target, text.encode())
        else:
            fs.pipe_file(target + ".tmp", text.encode())
            fs.mv(target + ".tmp", target)

    def write_bytes(self, name: str, data: bytes) -> None:
        """Write the file ``name`` (its folder must exist: :meth:`makedirs`)."""
        with self.fs.open(self.path_of(name), "wb") as f:
            f.write(data)

    def write_parquet(self, name: str, columns: Mapping[str, Any]) -> None:
        """Write ``columns`` (name -> 1-D values, in order) as the Parquet file ``name``.

        A DataFrame is written without its index; pandas reads the file back with a default one.
        Through pyarrow directly: pandas' ``to_parquet`` took 3 ms of a tiny location's 4.
        """
        import pyarrow as pa  # here: importing it takes longer than most commands need it
        import pyarrow.parquet as pq

        table = pa.table({str(k): np.asarray(v) for k, v in columns.items()})
        with self.fs.open(self.path_of(name), "wb") as f:
            pq.write_table(table, f)

    def open_zarr(self, name: str) -> xr.Dataset:
        """Open the Zarr store ``name`` lazily (:func:`~vegdask.data.open_store`)."""
        return open_store(self.url_of(name), options=self.options)

    def load_zarr(self, name: str) -> xr.Dataset:
        """Read the (small) Zarr store ``name`` whole, here (:func:`~vegdask.data.load_store`)."""
        return load_store(self.url_of(name), options=self.options)

    def write_zarr(self, name: str, dataset: xr.Dataset) -> None:
        """Write a whole (small) Dataset as the Zarr store ``name``, replacing any there."""
        write_dataset(dataset, self.url_of(name), options=self.options)

    def create_zarr(self, name: str, template: xr.Dataset) -> None:
        """Write the metadata of ``template`` as the store ``name`` (:func:`create_store`)."""
        create_store(template, self.url_of(name), options=self.options)
