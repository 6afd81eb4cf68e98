"""Zarr stores at fsspec URLs: local paths and ``abfs://container/prefix`` on Azure Blob Storage.

Stores are written period by period: :func:`create_store` writes the metadata of a lazy template
(every period, no data), :func:`~vegdask.compute.period_writes` writes its periods' data by region
(idempotent: a rerun overwrites the same region; :func:`write_regions` puts a task's chunks
together), and :func:`open_store` opens a store lazily
(:func:`load_store` reads a small one whole).

Azure credentials come from explicit arguments or the settings (``vegdask.azure.storage-*`` in
dask config, else ``AZURE_STORAGE_CONNECTION_STRING``, or ``AZURE_STORAGE_ACCOUNT_NAME`` +
``AZURE_STORAGE_ACCOUNT_KEY``, else adlfs' DefaultAzureCredential). adlfs' listing cache is
switched off: its invalidation bug (adlfs 2026.8) makes reopened stores look empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import uuid
import warnings
from collections.abc import Iterable
from typing import Any, Literal

import dask
import fsspec
import fsspec.asyn
import numpy as np
import xarray as xr
from dask.base import is_dask_collection, tokenize
from fsspec.implementations.local import LocalFileSystem
from xarray import conventions
from xarray.backends.zarr import ZarrStore
from xarray.core.utils import FrozenDict
from zarr.core.sync import sync as zarr_sync

from vegdask import config as settings
from vegdask.data._azure import is_azure, storage_answer, storage_options
from vegdask.data._zarr_layout import region_chunks, store_files

__all__ = [
    "create_store",
    "ensure_container",
    "filesystem",
    "is_remote",
    "join_url",
    "load_store",
    "open_store",
    "open_zarr_group",
    "sanitise_container_name",
    "split_container",
    "write_dataset",
    "write_regions",
]

#: A write of :func:`write_regions`: array name, the array's metadata (``zarr.Array.metadata``),
#: the region (whole chunks) and its values.
RegionWrite = tuple[str, Any, tuple[slice, ...], Any]

_CONTAINER = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){1,61}[a-z0-9]$")


def is_remote(url: str) -> bool:
    """Whether ``url`` names blob storage rather than a local path."""
    return "://" in str(url) and not str(url).startswith("file://")


def join_url(base: str, *parts: str) -> str:
    """Join path parts onto a local path or URL with ``/``.

    Examples
    --------
    >>> join_url("abfs://runs/demo/", "tiles.zarr")
    'abfs://runs/demo/tiles.zarr'
    """
    return "/".join([str(base).rstrip("/"), *(p.strip("/") for p in parts)])


def split_container(url: str) -> tuple[str, str]:
    """The container and the path inside it (no slashes at its ends) of a blob storage URL.

    Examples
    --------
    >>> split_container("abfs://runs/site/a/")
    ('runs', 'site/a')
    >>> split_container("abfs://runs")
    ('runs', '')
    """
    container, _, prefix = str(url).split("://", 1)[-1].partition("/")
    return container, prefix.strip("/")


def sanitise_container_name(name: str) -> str:
    """Turn ``name`` into a valid Azure container name, or explain why it cannot be.

    Lowercases, turns other characters into dashes, collapses repeated dashes and trims dashes at
    the ends; the result must have 3-63 characters.

    Examples
    --------
    >>> sanitise_container_name("Gee_27.94_11.58__Sentinel2")
    'gee-27-94-11-58-sentinel2'
    """
    cleaned = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:63].strip("-")
    if not _CONTAINER.match(cleaned):
        raise ValueError(
            f"{name!r} cannot be made an Azure container name (3-63 lowercase letters, digits "
            "and single dashes, starting and ending with a letter or digit)"
        )
    return cleaned


def ensure_container(
    url: str, *, options: dict[str, Any] | None = None, create: bool = True
) -> None:
    """Create the Azure container of an ``abfs://container/...`` URL if it does not exist.

    With ``create=False`` only check that storage answers and accepts the credentials (a
    missing container is then left to the caller).

    Raises
    ------
    ValueError
        If ``url`` is neither local nor Azure's (``s3://``, ``memory://``, ...), or the container
        name breaks Azure's rules (the message suggests a valid one if it can).
    PermissionError
        If blob storage refuses the credentials.
    ConnectionError
        If blob storage cannot be reached.
    """
    if not is_remote(url):
        return
    if not is_azure(url):
        scheme = str(url).split("://", 1)[0]
        raise ValueError(
            f"{url!r}: {scheme}:// storage is not supported; give a local folder or an Azure Blob "
            "Storage URL abfs://container/prefix"
        )
    container, _ = split_container(url)
    if not _CONTAINER.match(container):
        try:
            hint = f"; for example {sanitise_container_name(container)!r}"
        except ValueError:
            hint = ""
        raise ValueError(
            f"{container!r} is not a valid Azure container name (3-63 lowercase letters, digits "
            f"and single dashes, starting and ending with a letter or digit){hint}"
        )
    fs, _ = filesystem(url, options=options)
    if not _container_exists(fs, container, url) and create:
        try:
            fs.mkdir(container)
        except ValueError as err:  # adlfs calls any refusal a bad name; storage's answer: cause
            answer = storage_answer(err.__context__) if err.__context__ else str(err)
            raise ValueError(f"cannot create the container of {url}: {answer}") from None


def _container_exists(fs: fsspec.AbstractFileSystem, container: str, url: str) -> bool:
    """Whether the container exists; refused credentials and unreachable storage are errors.

    adlfs' ``exists`` answers False (or "assume it exists") to a refused key, so list instead.
    The messages name the URL and what to check, never a credential.
    """
    from azure.core.exceptions import HttpResponseError, ServiceRequestError

    try:
        fs.ls(container, detail=False)
    except FileNotFoundError:
        return False
    except HttpResponseError as err:
        if err.status_code is None and "base64" in str(err):  # the SDK could not sign at all
            raise PermissionError(
                f"the storage account key for {url} is not valid base64 (an account key is the "
                "88-character base64 string of the portal's Access keys); check "
                "AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCOUNT_KEY"
            ) from None
        if err.status_code not in (401, 403):
            raise
        raise PermissionError(
            f"blob storage refused the credentials for {url} ({storage_answer(err)}); check "
            "AZURE_STORAGE_CONNECTION_STRING, the account name and key, or the SAS token and its "
            "permissions"
        ) from None
    except ServiceRequestError as err:
        raise ConnectionError(
            f"cannot reach the blob storage of {url} ({type(err).__name__}, gave up after "
            f"{settings.get('storage.retries')} retries); check the account name or endpoint and "
            "the network"
        ) from None
    return True


def filesystem(
    url: str, *, options: dict[str, Any] | None = None
) -> tuple[fsspec.AbstractFileSystem, str]:
    """The fsspec filesystem of ``url`` (credentials as :func:`storage_options`) and its path.

    Azure Blob Storage gets adlfs' filesystem with vegdask's client (:func:`blob_service`:
    ``vegdask.storage.retries`` retries, the account's endpoint).
    """
    options = storage_options(url) if options is None else options
    if is_azure(url):
        from vegdask.data._azure_fs import AzureBlobFileSystem

        return AzureBlobFileSystem(**options), AzureBlobFileSystem._strip_protocol(url)
    return fsspec.core.url_to_fs(url, **options)


def write_dataset(dataset: xr.Dataset, url: str, *, options: dict[str, Any] | None = None) -> None:
    """Write a whole (small) Dataset as a new Zarr store at ``url``, replacing any store there.

    Its metadata are consolidated (one read opens the store; xarray warns without them; the
    arrays' shapes never change after this write, so they cannot go stale).
    """
    with warnings.catch_warnings():
        # zarr 3 writes consolidated metadata in zarr.json, as xarray and zarr read them.
        warnings.filterwarnings("ignore", "Consolidated metadata is currently not part")
        _with_crs_coordinate(dataset).to_zarr(_mapper(url, options), mode="w", consolidated=True)


def _with_crs_coordinate(dataset: xr.Dataset) -> xr.Dataset:
    """``dataset`` whose variables list their CRS variable among their CF ``coordinates``.

    The CRS variable (``spatial_ref``, named by a variable's ``grid_mapping``) is then a
    coordinate of any reader's ``xr.open_zarr(url)``, without ``decode_coords="all"``.
    """
    dataset = dataset.copy()
    for name, var in dataset.data_vars.items():
        grid_mapping = var.encoding.get("grid_mapping") or var.attrs.get("grid_mapping")
        if grid_mapping in dataset.coords:
            coords = [c for c in var.coords if c not in var.dims and c != grid_mapping]
            dataset[name].encoding["coordinates"] = " ".join(map(str, [*coords, grid_mapping]))
    return dataset


def _mapper(url: str, options: dict[str, Any] | None) -> Any:
    if not is_remote(url):
        return url
    fs, path = filesystem(url, options=options)
    return fs.get_mapper(path)


def create_store(template: xr.Dataset, url: str, *, options: dict[str, Any] | None = None) -> None:
    """Write the metadata (and coordinates) of ``template`` to a new Zarr store at ``url``.

    Data variables are not computed; :func:`~vegdask.compute.period_writes` fills them in.
    Coordinates are written now (computed first if lazy: they are small), the per-period ones
    included. Any store at ``url`` is replaced. The store is the one xarray's
    ``to_zarr(compute=False, consolidated=True)`` writes (as :func:`write_dataset`'s), its files
    made in memory and written together (:func:`~vegdask.data._zarr_layout.store_files`): a tiny
    location's tiles.zarr takes ~14 ms of CPU, against ~100 ms through xarray.

    Raises
    ------
    ValueError
        If a lazy variable's dask chunks do not fit its Zarr chunks (its encoding's ``chunks``,
        else its first dask chunks), or the template holds what
        :func:`~vegdask.data._zarr_layout.store_files` does not write; nothing is written then.

    Examples
    --------
    >>> import tempfile, dask.array
    >>> template = xr.Dataset(
    ...     {"ndvi": (("time", "x"), dask.array.zeros((3, 4), chunks=(1, 4)))},
    ...     coords={"time": [0, 1, 2]},
    ... )
    >>> url = f"{tempfile.mkdtemp()}/demo.zarr"
    >>> create_store(template, url)
    >>> store = open_store(url)
    >>> store["ndvi"].encoding["chunks"], store["time"].values.tolist()
    ((1, 4), [0, 1, 2])
    """
    variables = {
        name: _chunked(template[name]) if is_dask_collection(var.data) else var
        for name, var in template.data_vars.variables.items()
    }
    # One Dataset made at once (no merge a variable): a tiny location's two stores took 0.2 s.
    dataset = xr.Dataset(variables, coords=loaded_coords(template), attrs=template.attrs)
    _write_files(url, options, store_files(_with_crs_coordinate(dataset)))


def _chunked(var: xr.DataArray) -> xr.Variable:
    """``var``'s variable, its Zarr chunks set in its encoding (:func:`_zarr_chunks`)."""
    variable = var.variable.copy(deep=False)
    variable.encoding["chunks"] = _zarr_chunks(var)
    return variable


def _zarr_chunks(var: xr.DataArray) -> tuple[int, ...]:
    """The Zarr chunks of ``var``: its encoding's, else its first dask chunks.

    Checked as xarray checks them: every dask chunk but the last a whole number of Zarr chunks, so
    that no two tasks ever write the same Zarr chunk. Along ``time`` a Zarr chunk may also be
    whole dask chunks: :func:`~vegdask.compute.grouped_period_writes` writes a chunk's periods
    in one task.
    """
    chunks = var.encoding.get("chunks") or tuple(sizes[0] for sizes in var.data.chunks)
    for dim, size, sizes in zip(var.dims, chunks, var.data.chunks, strict=True):
        if dim == "time" and _whole_blocks(sizes, size):
            continue
        if any(block % size for block in sizes[:-1]):
            also = ", or along time each Zarr chunk whole dask chunks" if dim == "time" else ""
            raise ValueError(
                f"{var.name}: dask chunks {sizes} along {dim} do not fit Zarr chunks of {size}; "
                f"each but the last must be a multiple of it{also} (rechunk the data)"
            )
    return tuple(chunks)


def _whole_blocks(sizes: tuple[int, ...], size: int) -> bool:
    """Whether every chunk of ``size`` along dask chunks ``sizes`` is whole chunks of them."""
    return set(range(size, sum(sizes), size)) <= set(itertools.accumulate(sizes))


def _write_files(url: str, options: dict[str, Any] | None, files: dict[str, bytes]) -> None:
    """Replace any store at ``url`` by ``files`` (path in the store -> content), in one batch."""
    fs, root = filesystem(url, options=options)
    if fs.exists(root):
        fs.rm(root, recursive=True)
    _put(fs, {f"{root}/{key}": data for key, data in files.items()})


def write_regions(
    url: str, writes: Iterable[RegionWrite], *, options: dict[str, Any] | None = None
) -> None:
    """Write regions of the store's arrays: the chunks zarr's ``array[region] = values`` writes.

    The regions are made of whole chunks (:func:`~vegdask.data._zarr_layout.region_chunks`);
    each chunk is encoded with its array's codecs and all are put together: one fsspec ``pipe``
    on a remote store, files written atomically (a temporary file renamed, as zarr's
    ``LocalStore``) in a local one. A chunk all fill value is not stored and any stored one is
    deleted, as zarr does (``array.write_empty_chunks`` false, its default).

    Raises
    ------
    ValueError
        If a region is not made of whole chunks; nothing is written then.

    Examples
    --------
    >>> import tempfile, zarr
    >>> url = f"{tempfile.mkdtemp()}/demo.zarr"
    >>> array = zarr.create_array(url, name="v", shape=(2, 4), chunks=(1, 2), dtype="float64")
    >>> write_regions(url, [("v", array.metadata, (slice(1, 2), slice(0, 4)), [[1, 2, 3, 4]])])
    >>> zarr.open_array(f"{url}/v")[:].tolist()
    [[0.0, 0.0, 0.0, 0.0], [1.0, 2.0, 3.0, 4.0]]
    """
    fs, root = filesystem(url, options=options)
    puts: dict[str, bytes] = {}
    deletes: list[str] = []
    for name, metadata, region, values in writes:
        for key, chunk in region_chunks(metadata, region, values):
            if chunk is None:
                deletes.append(f"{root}/{name}/{key}")
            else:
                puts[f"{root}/{name}/{key}"] = chunk
    _put(fs, puts)
    _delete(fs, deletes)


def _delete(fs: fsspec.AbstractFileSystem, paths: list[str]) -> None:
    """Delete those of ``paths`` that exist: concurrently on an async filesystem (as zarr does)."""
    if not fs.async_impl:
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                fs.rm_file(path)
        return
    for outcome in fsspec.asyn.sync(fs.loop, _rm_files, fs, paths):
        if isinstance(outcome, BaseException) and not isinstance(outcome, FileNotFoundError):
            raise outcome


async def _rm_files(fs: Any, paths: list[str]) -> list[Any]:
    return await asyncio.gather(*(fs._rm_file(path) for path in paths), return_exceptions=True)


def _put(fs: fsspec.AbstractFileSystem, files: dict[str, bytes]) -> None:
    """Write ``files`` (path -> content): one ``pipe`` on a remote store, atomically locally."""
    if isinstance(fs, LocalFileSystem):
        _put_local(files)
    elif files:
        fs.pipe(files)


def _put_local(files: dict[str, bytes]) -> None:
    """Write each of ``files`` (local path -> content) as zarr's ``LocalStore`` does: atomically."""
    for folder in {os.path.dirname(path) for path in files}:
        os.makedirs(folder, exist_ok=True)
    for path, content in files.items():
        partial = f"{path}.{uuid.uuid4().hex}.partial"
        try:
            with open(partial, "wb") as file:
                file.write(content)
            os.replace(partial, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(partial)
            raise


def open_zarr_group(
    url: str, options: dict[str, Any] | None = None, mode: Literal["r", "r+"] = "r+"
) -> Any:
    """The Zarr group of the store at ``url``, open for writing its arrays (or ``mode="r"``)."""
    import zarr

    return zarr.open_group(_mapper(url, options), mode=mode)


def open_store(url: str, *, options: dict[str, Any] | None = None) -> xr.Dataset:
    """Open a Zarr store lazily.

    Its data variables are dask arrays of their Zarr chunks (as ``xr.open_zarr(url, chunks={})``
    makes them), its coordinates in memory.

    Raises
    ------
    FileNotFoundError
        If there is no store at ``url``.
    """
    dataset = _open(url, options)
    for name in dataset.coords:  # small, read with the store's metadata: decoded here
        dataset.variables[name].load()
    # Each data variable a dask array of its Zarr chunks, as xr.open_zarr(url, chunks={}) makes
    # (not its 0-d ones) and named as xarray names them: by the store's path and time.
    token = tokenize(url, None if "://" in str(url) else os.path.getmtime(url))
    return dataset.assign(
        {
            name: var.variable.chunk(
                var.encoding["preferred_chunks"], name=f"open_dataset-{name}-{token}"
            )
            for name, var in dataset.data_vars.items()
            if var.ndim
        }
    )


def loaded_coords(dataset: xr.Dataset) -> dict[str, xr.Variable]:
    """``dataset``'s coordinates in memory (the lazy ones read here in one pass: they are small).

    The dask ones in one synchronous compute, not one threaded compute each (~1 ms each);
    ``dataset`` is left as it was.
    """
    coords = {str(name): dataset.variables[name] for name in dataset.coords}
    lazy = {name: v for name, v in coords.items() if is_dask_collection(v)}
    values = dask.compute(*(v.data for v in lazy.values()), scheduler="sync")
    loaded = {name: v.copy(data=data) for (name, v), data in zip(lazy.items(), values, strict=True)}
    return {name: loaded[name] if name in lazy else v.compute() for name, v in coords.items()}


def load_store(url: str, *, options: dict[str, Any] | None = None) -> xr.Dataset:
    """Read a (small) Zarr store whole into memory, here: no dask graph, no cluster.

    Zarr reads each array's chunks concurrently; for a store of many small chunks (tiles.zarr)
    this is a few times faster than computing :func:`open_store`'s dask arrays.

    Raises
    ------
    FileNotFoundError
        If there is no store at ``url``.
    """
    return _open(url, options, whole=True).load()


def _open(url: str, options: dict[str, Any] | None, whole: bool = False) -> xr.Dataset:
    """``xr.open_zarr(url, decode_coords="all", chunks=None)``, read in fewer zarr calls.

    The store's consolidated metadata, if it has them, give its arrays (one read), and its
    coordinates (``whole``: all its arrays) are read in one batch (:class:`_BatchRead`): xarray
    otherwise reads each array's metadata, then each coordinate two or three times (a datetime's
    first and last values to check its units, the whole for its index), one zarr call (an
    event-loop hop) each.
    """
    mapper = _mapper(url, options)
    try:
        store = _BatchRead.opened(mapper, whole)
    except (FileNotFoundError, KeyError) as err:
        raise FileNotFoundError(f"no Zarr store at {url}") from err
    return xr.open_dataset(
        mapper, engine="zarr", store=store, chunks=None, cache=False, decode_coords="all"
    )


class _BatchRead(ZarrStore):
    """xarray's store of a Zarr group whose coordinates (or all arrays) :meth:`load` reads at once.

    Which variables are coordinates xarray decides (its CF decoding, ``decode_coords="all"``, on
    the metadata alone), as it will again when it decodes them, now from memory.
    """

    #: Whether :meth:`load` reads every array, not only the coordinates.
    whole = False

    @classmethod
    def opened(cls, store: Any, whole: bool) -> _BatchRead:
        """The store at ``store`` (a path or mapper), from its consolidated metadata if any."""
        try:
            opened = cls.open_group(store, mode="r", consolidated=True)
        except FileNotFoundError:  # no group there: zarr's error is a ValueError too
            raise
        except ValueError:  # no consolidated metadata: each array's own, as zarr reads them
            opened = cls.open_group(store, mode="r", consolidated=False)
        opened.whole = whole
        return opened

    def load(self) -> tuple[Any, Any]:
        variables, attributes = super().load()
        if self.whole:
            return self._read(variables, list(variables)), attributes
        *_, coords = conventions.decode_cf_variables(
            variables,
            attributes,
            concat_characters=False,
            mask_and_scale=False,
            decode_times=False,
            decode_coords="all",
            decode_timedelta=False,
        )
        names = [n for n, var in variables.items() if n in coords or var.dims == (n,)]
        return self._read(variables, names), attributes

    def _read(self, variables: Any, names: list[Any]) -> Any:
        """``variables``, those ``names`` read (concurrently, one zarr call)."""
        values = zarr_sync(_read_whole([self.members[name] for name in names]))
        read = {  # in the dtype xarray reads (zarr's, its byte order explicit): a 0-d one too
            name: xr.Variable(var.dims, np.asarray(value, var.dtype), var.attrs, var.encoding)
            for name, value in zip(names, values, strict=True)
            for var in [variables[name]]
        }
        return FrozenDict({**variables, **read})

    def __dask_tokenize__(self) -> str:
        # xarray names the dask arrays by the path and options it opens, this among them
        return type(self).__name__


async def _read_whole(arrays: list[Any]) -> list[Any]:
    """The values of zarr's ``arrays``, read concurrently."""
    return await asyncio.gather(*(array.async_array.getitem(...) for array in arrays))
