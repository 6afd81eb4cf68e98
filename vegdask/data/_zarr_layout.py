"""The files of a new Zarr (format 3) store, built in memory: metadata and in-memory arrays' chunks.

:func:`store_files` gives, for a Dataset, the files xarray's ``to_zarr(compute=False,
consolidated=True)`` writes: every array's ``zarr.json``, the group's ``zarr.json`` with the
consolidated metadata, and the encoded chunks of the variables held in memory (coordinates); lazy
(dask) variables get their metadata only. It uses xarray's own encoding (CF conventions, the
``coordinates`` attribute, fill values, chunks) and zarr's own metadata classes, codecs and
defaults, but no zarr store: xarray's write creates each array through zarr's sync-over-async
wrapper, writes its ``zarr.json`` twice (created, then its attributes), reads them all back to
consolidate, and builds a dask graph to store data it never computes; here the files are made
once and written together (:func:`~vegdask.data.create_store`).

:func:`region_chunks` encodes, the same way, the chunks of a region of an existing store's array
(whole chunks): the period writes put them with one batch of file writes a task
(:func:`~vegdask.data._storage.write_regions`) instead of zarr's write of a region, which takes
~85 ms of CPU for a tiny location's 360 chunks (an event-loop hop, decoding chunks it overwrites
whole, one store call a chunk).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import pickle
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from itertools import product
from typing import Any, cast

import numpy as np
import xarray as xr
import zarr
from dask.base import is_dask_collection
from xarray import coding, conventions
from xarray.backends.zarr import (
    FillValueCoder,
    encode_zarr_attr_value,
    encode_zarr_variable,
    extract_zarr_variable_encoding,
)
from zarr.core.array import AsyncArray, _parse_chunk_encoding_v3, _parse_chunk_key_encoding
from zarr.core.array_spec import ArrayConfig
from zarr.core.buffer import default_buffer_prototype
from zarr.core.chunk_grids import _auto_partition
from zarr.core.dtype import parse_dtype
from zarr.core.group import ConsolidatedMetadata, GroupMetadata
from zarr.core.metadata.v3 import ArrayV3Metadata

__all__ = ["region_chunks", "store_files"]


def store_files(dataset: xr.Dataset) -> dict[str, bytes]:
    """The files (path in the store -> content) of a new Zarr store of ``dataset``.

    Lazy variables' encoding ``chunks`` must be set (:func:`~vegdask.data.create_store` sets
    them from their dask chunks).

    Raises
    ------
    ValueError
        If a lazy variable is not numeric or boolean (xarray would infer its encoding, a
        datetime's units for example, from its values), or a variable asks for shards.

    Examples
    --------
    >>> import json
    >>> files = store_files(xr.Dataset({"a": ("x", [1.5, 2.5])}, attrs={"site": "demo"}))
    >>> sorted(files)
    ['a/c/0', 'a/zarr.json', 'zarr.json']
    >>> json.loads(files["zarr.json"])["attributes"]
    {'site': 'demo'}
    """
    variables, attributes = conventions.encode_dataset_coordinates(dataset)
    files: dict[str, bytes] = {}
    for name, variable in variables.items():
        files.update((f"{name}/{key}", content) for key, content in _array_files(name, variable))
    arrays = {str(name): files[f"{name}/zarr.json"] for name in variables}
    files["zarr.json"] = _group_json(
        {k: encode_zarr_attr_value(v) for k, v in attributes.items()}, arrays
    )
    return files


def _group_json(attributes: dict[str, Any], arrays: dict[str, bytes]) -> bytes:
    """The group's ``zarr.json``, its consolidated metadata those of ``arrays`` (their zarr.json).

    What zarr's ``GroupMetadata.to_buffer_dict`` writes; an array's metadata in it is the JSON of
    its own zarr.json indented one level deeper, so zarr writes the group with a stand-in for
    each array, which its text then replaces (JSON written with an indent is pure Python: it was
    60 % of a tiny location's :func:`store_files`).
    """
    group = GroupMetadata(
        attributes=attributes,
        consolidated_metadata=ConsolidatedMetadata(
            metadata=cast(Any, {name: _StandIn(name) for name in arrays})
        ),
    )
    text = group.to_buffer_dict(default_buffer_prototype())["zarr.json"].to_bytes().decode()
    # Each stand-in's place (the consolidated metadata come after the attributes), last first.
    stand_ins = [
        (json.dumps(_StandIn(name).to_dict()), content) for name, content in arrays.items()
    ]
    for at, stand_in, content in sorted(
        ((text.rindex(stand_in), stand_in, content) for stand_in, content in stand_ins),
        reverse=True,
    ):
        line = text[text.rfind("\n", 0, at) + 1 : at]
        indent = line[: len(line) - len(line.lstrip())]
        array = content.decode().replace("\n", "\n" + indent)
        text = text[:at] + array + text[at + len(stand_in) :]
    return text.encode()


@dataclasses.dataclass(frozen=True)
class _StandIn:
    """Stands for an array's metadata in its group's consolidated ones (:func:`_group_json`).

    zarr takes it for a group without consolidated metadata of its own.
    """

    name: str
    consolidated_metadata: None = None

    def to_dict(self) -> str:
        return f"\x00{self.name}"


#: An array's files (key in the array, content): ``zarr.json``, then its chunks.
ArrayFiles = tuple[tuple[str, bytes], ...]

#: The files :func:`_array_files` keeps (the last 256 arrays made; in-memory ones up to 1 MiB).
_KEPT: OrderedDict[bytes, ArrayFiles] = OrderedDict()
_KEPT_ARRAYS, _KEPT_NBYTES = 256, 1 << 20
_KEPT_LOCK = threading.Lock()


def _array_files(name: Hashable, variable: xr.Variable) -> ArrayFiles:
    """``variable``'s Zarr files, made once for every equal variable.

    The same variable is often written again: the datetime coordinates of every store of a run
    (and of every location of a campaign over the same periods), the lazy variables of every
    tiles.zarr. Their files are kept under the pickle of zarr's settings (its JSON indent, its
    default codecs) and the variable (name, dims, dtype, shape, attributes, encoding, and the
    values of one in memory): equal pickles give what the same call gave, so their encoding (a
    datetime's through pandas), metadata and JSON are made once.
    """
    key = _pickled(name, variable)
    if key is None:
        return _made_array_files(name, variable)
    with _KEPT_LOCK:
        kept = _KEPT.get(key)
        if kept is not None:
            _KEPT.move_to_end(key)
            return kept
    made = _made_array_files(name, variable)
    with _KEPT_LOCK:
        _KEPT[key] = made
        while len(_KEPT) > _KEPT_ARRAYS:
            _KEPT.popitem(last=False)
    return made


def _pickled(name: Hashable, variable: xr.Variable) -> bytes | None:
    """What :func:`_array_files` keeps ``variable``'s files under; None if not kept."""
    lazy = is_dask_collection(variable.data)
    if not lazy and variable.nbytes > _KEPT_NBYTES:
        return None
    parts = (name, variable.dims, variable.dtype, variable.shape, variable.attrs, variable.encoding)
    try:
        values = None if lazy else variable.values
        return pickle.dumps((zarr.config.config, lazy, *parts, values), protocol=5)
    except (pickle.PicklingError, TypeError, AttributeError):  # attributes pickle cannot take
        return None


def _made_array_files(name: Hashable, variable: xr.Variable) -> ArrayFiles:
    metadata, data, write_empty = _array(name, variable)
    prototype = default_buffer_prototype()
    files = [("zarr.json", metadata.to_buffer_dict(prototype)["zarr.json"].to_bytes())]
    if data is not None:
        files.extend(
            (key, chunk) for key, chunk in _chunks(metadata, data, write_empty) if chunk is not None
        )
    return tuple(files)


def _array(name: Hashable, variable: xr.Variable) -> tuple[ArrayV3Metadata, Any, bool | None]:
    """``variable``'s Zarr metadata, its encoded data (None if lazy) and write_empty_chunks.

    As xarray's ``ZarrStore.set_variables`` and zarr's ``init_array`` make them.
    """
    lazy = is_dask_collection(variable.data)
    if lazy:
        _check_lazy(name, variable)
        # Encoding must not touch the data: a read-only view of one fill-like value stands in.
        stand_in = np.broadcast_to(np.zeros((), variable.dtype), variable.shape)
        variable = variable.copy(deep=False, data=stand_in)
    encoded = encode_zarr_variable(variable, name=name, zarr_format=3)
    attrs = encoded.attrs.copy()
    fill_value = encoded.encoding.pop("fill_value", None)
    if fill_value is None and encoded.dtype.kind == "f":
        fill_value = np.nan  # xarray's default for floats (zarr's is zero): pydata/xarray#10646
    fill_attr = attrs.pop("_FillValue", None)  # encoded, and last, as xarray writes it
    if fill_attr is not None:
        attrs["_FillValue"] = FillValueCoder.encode(fill_attr, encoded.dtype)
    if encoded.encoding.get("_FillValue", None) is not None:
        raise ValueError(f"{name}: Zarr does not support _FillValue in encoding")
    encoding = extract_zarr_variable_encoding(encoded, name=name, zarr_format=3)
    if encoding.get("shards") is not None:
        raise ValueError(f"{name}: sharded arrays (encoding 'shards') are not supported")
    # variable-length strings (object arrays of str) are zarr's "string", as xarray gives them
    vlen_str = coding.strings.check_vlen_dtype(encoded.dtype) is str
    dtype = _zarr_dtype(str if vlen_str else encoded.dtype)
    item_size = getattr(dtype, "item_size", 1)
    _, chunks = _auto_partition(
        array_shape=encoded.shape,
        chunk_shape=encoding["chunks"],
        shard_shape=None,
        item_size=item_size,
    )
    filters, serializer, compressors = _parse_chunk_encoding_v3(
        compressors=encoding.get("compressors", "auto"),
        filters=encoding.get("filters", "auto"),
        serializer=encoding.get("serializer", "auto"),
        dtype=dtype,
    )
    metadata = AsyncArray._create_metadata_v3(
        shape=encoded.shape,
        dtype=dtype,
        chunk_shape=chunks,
        fill_value=fill_value,
        chunk_key_encoding=_parse_chunk_key_encoding(
            encoding.get("chunk_key_encoding"), zarr_format=3
        ),
        codecs=(*filters, serializer, *compressors),
        dimension_names=encoded.dims,
        attributes={k: encode_zarr_attr_value(v) for k, v in attrs.items()},
    )
    write_empty = encoding.get("write_empty_chunks")
    data = None if lazy else np.asarray(encoded.values)
    return metadata, data, write_empty


@functools.lru_cache(maxsize=64)
def _zarr_dtype(dtype: Any) -> Any:
    """Zarr's (immutable) data type of a numpy one, looked up once (its registry: 0.1 ms)."""
    return parse_dtype(dtype, zarr_format=3)


def _check_lazy(name: Hashable, variable: xr.Variable) -> None:
    if variable.dtype.kind not in "biuf":
        raise ValueError(
            f"{name}: a store is created from lazy variables of numeric or boolean dtype only, "
            f"not {variable.dtype} (xarray would encode it from its values); load it first"
        )


def region_chunks(
    metadata: ArrayV3Metadata,
    region: tuple[slice, ...],
    data: np.ndarray,
    write_empty: bool | None = None,
) -> Iterator[tuple[str, bytes | None]]:
    r"""The chunks of ``data`` written at ``region`` of ``metadata``'s array, as zarr writes them.

    Each is (key in the array, encoded bytes); the bytes are None if the chunk is all fill value
    and ``write_empty`` is false (default: zarr's ``array.write_empty_chunks``): zarr stores no
    such chunk, and deletes any stored one.

    Raises
    ------
    ValueError
        If ``region`` (slices, steps of 1) is not made of whole chunks (each bound a multiple of
        the chunk size, or the array's end) or its shape is not ``data``'s.

    Examples
    --------
    >>> import zarr
    >>> array = zarr.create_array(
    ...     {}, shape=(4, 3), chunks=(2, 2), dtype="int8", fill_value=0, compressors=None
    ... )
    >>> [(key, chunk) for key, chunk in region_chunks(
    ...     array.metadata, (slice(2, 4), slice(0, 3)), np.array([[1, 0, 0], [2, 0, 0]], "int8"))]
    [('c/1/0', b'\x01\x00\x02\x00'), ('c/1/1', None)]
    """
    shape, chunks = metadata.shape, metadata.chunks
    data = np.asarray(data).astype(metadata.data_type.to_native_dtype(), copy=False)
    bounds = [where.indices(end) for where, end in zip(region, shape, strict=False)]
    if len(region) != len(shape) or any(
        step != 1 or start % size or (stop % size and stop != end) or stop - start != length
        for (start, stop, step), size, end, length in zip(
            bounds, chunks, shape, data.shape, strict=False
        )
    ):
        raise ValueError(
            f"region {region} of an array of shape {shape} is not made of whole chunks of "
            f"{chunks} (each bound a multiple of the chunk size or the array's end) or does not "
            f"fit values of shape {data.shape}"
        )
    origin = tuple(start // size for (start, _, _), size in zip(bounds, chunks, strict=True))
    return _chunks(metadata, data, write_empty, origin)


def _chunks(
    metadata: ArrayV3Metadata,
    data: np.ndarray,
    write_empty: bool | None,
    origin: tuple[int, ...] | None = None,
) -> Iterator[tuple[str, bytes | None]]:
    """``data``'s chunks (key, encoded bytes) with ``metadata``'s codecs, as zarr writes them.

    ``data`` starts at chunk ``origin`` (default the first). Edge chunks are padded with the fill
    value; a chunk all fill value has None for bytes unless ``write_empty`` (default: zarr's
    ``array.write_empty_chunks``).
    """
    prototype = default_buffer_prototype()
    config = ArrayConfig.from_dict(
        {} if write_empty is None else {"write_empty_chunks": write_empty}
    )
    shape = metadata.chunks
    origin = origin or (0,) * len(shape)
    # The same spec every chunk (a regular grid): each codec's input spec, made once.
    spec = metadata.get_chunk_spec(origin, config, prototype)
    fill = spec.fill_value
    stages = []
    for codec in metadata.codecs:
        stages.append((cast(Any, codec), spec))
        spec = codec.resolve_metadata(spec)
    data = _padded(data, shape, fill)
    maybe_fill = _maybe_fill(data, shape, fill) if not config.write_empty_chunks else None
    for coords in product(
        *(range(size // chunk) for size, chunk in zip(data.shape, shape, strict=True))
    ):
        region = tuple(slice(c * s, (c + 1) * s) for c, s in zip(coords, shape, strict=True))
        chunk: Any = prototype.nd_buffer.from_numpy_array(np.ascontiguousarray(data[region]))
        key = metadata.encode_chunk_key(tuple(c + o for c, o in zip(coords, origin, strict=True)))
        if maybe_fill is not None and maybe_fill[coords] and chunk.all_equal(fill):
            yield key, None
            continue
        for codec, codec_spec in stages:
            chunk = codec._encode_sync(chunk, codec_spec)  # zarr's codecs, here: no event loop
        yield key, chunk.to_bytes()


def _padded(data: np.ndarray, shape: tuple[int, ...], fill: Any) -> np.ndarray:
    """``data`` padded at its ends with ``fill`` to whole chunks of ``shape``."""
    whole = tuple(-(-size // chunk) * chunk for size, chunk in zip(data.shape, shape, strict=True))
    if whole == data.shape:
        return data
    padded = np.full(whole, fill, dtype=data.dtype)
    padded[tuple(slice(0, size) for size in data.shape)] = data
    return padded


def _maybe_fill(data: np.ndarray, shape: tuple[int, ...], fill: Any) -> np.ndarray:
    """Per chunk of ``data`` (whole chunks of ``shape``), whether it may be all ``fill``.

    At once for all chunks, and never false for a chunk that zarr's ``NDBuffer.all_equal`` finds
    all fill value (every value equal to it, NaN to NaN); that test decides for the others.
    """
    grid = [size // chunk for size, chunk in zip(data.shape, shape, strict=True)]
    if data.dtype.kind not in "biuf":
        return np.ones(grid, dtype=bool)
    same = data == fill
    if data.dtype.kind == "f" and np.isnan(fill):
        same |= np.isnan(data)
    split = [n for pair in zip(grid, shape, strict=True) for n in pair]
    return same.reshape(split).all(axis=tuple(range(1, len(split), 2)))
