"""Tile metrics: one dask task per chunk of the Scene, calling the numba kernel for each 50x50 tile.

For every period and tile: pyveg's feature vector and its metrics (on the graph of bare-soil pixels
by default, pyveg's choice, or of vegetation pixels), offset50's tie sensitivity (from the same
centralities), the mean NDVI over the tile and over its vegetation pixels, the share of masked
(cloud or no-data) pixels, whether the tile passes the quality gate, and the tile centre's
longitude and latitude.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from typing import Any, Literal

import dask.array as da
import numpy as np
import xarray as xr
from dask.base import is_dask_collection, tokenize
from dask.highlevelgraph import HighLevelGraph
from dask.task_spec import List, Task, TaskRef

from vegdask import config
from vegdask._options import GRAPH_CLASSES
from vegdask.compute._mask import _binary_data
from vegdask.kernels import ndvi_to_uint8, tile_feature_vectors

__all__ = ["GRAPH_CLASSES", "METRICS", "check_tile_fits", "tile_metrics"]

METRICS = ("offset50", "slope", "offset", "fv_mean", "fv_std")
# NDVI means in real units, and as pyveg reported them (means of the 8-bit image, 0-255).
_PER_TILE = (
    "ndvi_mean",
    "ndvi_veg_mean",
    "ndvi_uint8_mean",
    "ndvi_veg_uint8_mean",
    "masked_fraction",
)
# What a tile's metrics are, by name, in the order of a block's last axis after the quantiles;
# the centrality ones (and the feature vector) are NaN where the tile is invalid.
_CENTRALITY = (*METRICS, "tie_sensitivity")
_COLUMNS = (*_CENTRALITY, *_PER_TILE, "valid")


def check_tile_fits(tile_size: int, height: int, width: int) -> None:
    """A ``tile_size`` tile fits in a ``height`` x ``width`` scene (or a ValueError saying so).

    The one check of the tile's size against the scene's: the job config's (a scene of
    ``location.size``), a run's (the scene its source opened) and :func:`tile_metrics`'.

    Examples
    --------
    >>> check_tile_fits(50, 100, 60)
    >>> try:
    ...     check_tile_fits(100, 60, 60)
    ... except ValueError as err:
    ...     print(err)
    tile_size = 100 is larger than the scene (60 x 60 pixels); expected an integer in [4, 60]
    """
    smaller = min(height, width)
    if tile_size > smaller:
        raise ValueError(
            f"tile_size = {tile_size} is larger than the scene ({height} x {width} pixels); "
            f"expected an integer in [4, {smaller}]"
        )


def _tile_means(values: np.ndarray, weights: np.ndarray, tile: int) -> np.ndarray:
    """Weighted means over the full tiles of a 2-D block (NaN where the weights sum to 0)."""
    ty, tx = values.shape[0] // tile, values.shape[1] // tile
    v = (values[: ty * tile, : tx * tile] * weights[: ty * tile, : tx * tile]).reshape(
        ty, tile, tx, tile
    )
    w = weights[: ty * tile, : tx * tile].reshape(ty, tile, tx, tile)
    sums = w.sum(axis=(1, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sums > 0, v.sum(axis=(1, 3)) / sums, np.nan)


def _block_metrics(
    image: np.ndarray,
    ndvi: np.ndarray,
    cloud: np.ndarray,
    period_ok: np.ndarray,
    *,
    tile: int,
    diagonal: bool,
    num_quantiles: int,
    graph_class: str,
    max_masked: float,
) -> np.ndarray:
    """All metrics of the tiles of one block of one period: (ty, tx, Q + 12) float64.

    The feature vector's ``Q`` values, then the columns named in ``_COLUMNS``, in that order.

    ``period_ok`` (1, 1, 1) is False when the whole period is masked beyond its threshold: then
    every tile is invalid.
    """
    image, ndvi, cloud = image[0], ndvi[0], cloud[0]
    nodes = image == 255 if graph_class == "bare" else image == 0
    fv, ties = tile_feature_vectors(
        nodes,
        tile_size=tile,
        diagonal=diagonal,
        num_quantiles=num_quantiles,
        with_tie_sensitivity=True,
    )
    q = num_quantiles
    clear = ~cloud & np.isfinite(ndvi)
    ndvi0 = np.where(clear, ndvi, 0.0).astype(np.float64)
    veg_weights = (clear & (image == 0)).astype(np.float64)
    ndvi8 = ndvi_to_uint8(ndvi).astype(np.float64)
    masked = _tile_means((~clear).astype(np.float64), np.ones(cloud.shape), tile)
    valid = (masked < max_masked) & bool(period_ok.item())
    columns = {
        "offset50": fv[..., -1] - fv[..., q // 2],
        "slope": (fv[..., -1] - fv[..., 0]) / q,
        "offset": fv[..., -1] - fv[..., 0],
        "fv_mean": fv.mean(axis=-1),
        "fv_std": fv.std(axis=-1),
        "tie_sensitivity": ties,
        "ndvi_mean": _tile_means(ndvi0, clear.astype(np.float64), tile),
        "ndvi_veg_mean": _tile_means(ndvi0, veg_weights, tile),
        "ndvi_uint8_mean": _tile_means(ndvi8, clear.astype(np.float64), tile),
        "ndvi_veg_uint8_mean": _tile_means(ndvi8, veg_weights, tile),
        "masked_fraction": masked,
        "valid": valid,
    }
    out = np.concatenate([fv, np.stack([columns[name] for name in _COLUMNS], -1)], axis=-1)
    out[~valid, : q + len(_CENTRALITY)] = np.nan
    return out[None]


def tile_metrics(
    scene: xr.Dataset,
    *,
    tile_size: int | None = None,
    num_quantiles: int | None = None,
    diagonal: bool | None = None,
    graph_class: Literal["bare", "vegetation"] | None = None,
    max_masked_fraction: float | None = None,
    max_masked_period_fraction: float | None = None,
) -> xr.Dataset:
    """Per-tile network-centrality and NDVI metrics of every period of a Scene, lazily.

    Every keyword left as None takes its ``vegdask.processing`` setting (``vegdask.yaml``; the
    packaged default in brackets).

    Parameters
    ----------
    scene : xarray.Dataset
        A Scene (``ndvi`` and ``cloud_mask``, a CRS), chunked ``time=1`` and y/x in multiples of
        ``tile_size``.
    tile_size : int, optional
        Tile side in pixels (50); partial tiles at the lower and right edges are dropped.
    num_quantiles : int, optional
        Length of the feature vector (20).
    diagonal : bool, optional
        8-neighbour graph instead of 4-neighbour (False).
    graph_class : {"bare", "vegetation"}, optional
        Which pixels are the graph's nodes: pyveg's white (bare soil) pixels, or vegetation
        ("bare").
    max_masked_fraction : float, optional
        A tile with this share of masked pixels or more is invalid (pyveg's gate: 5 %, 0.05);
        its centrality metrics are NaN.
    max_masked_period_fraction : float, optional
        A period whose whole scene has this share of masked pixels or more is empty: every tile is
        invalid. The default (1.0) empties only entirely masked periods.

    Returns
    -------
    xarray.Dataset
        Dims (time, tile_y, tile_x[, quantile]): ``feature_vec``, ``offset50``, ``slope``,
        ``offset``, ``fv_mean``, ``fv_std``, ``tie_sensitivity`` (how far offset50 can move over
        the orderings of tied pixels, :func:`vegdask.kernels.tie_sensitivity`; 0 where no cut
        splits a tie), ``ndvi_mean``, ``ndvi_veg_mean`` (NDVI units),
        ``ndvi_uint8_mean``, ``ndvi_veg_uint8_mean`` (pyveg's 0-255 units), ``masked_fraction``,
        ``valid``; coordinates ``longitude``/``latitude`` of the tile centres.

    Raises
    ------
    ValueError
        For an unknown ``graph_class``, a fraction outside (0, 1], a Scene without CRS or smaller
        than a tile (:func:`check_tile_fits`), or chunks that are not multiples of the tile size.
    """
    tile_size = config.get("processing.tile-size", tile_size)
    num_quantiles = config.get("processing.num-quantiles", num_quantiles)
    diagonal = config.flag("processing.diagonal", diagonal)
    graph_class = config.get("processing.graph-class", graph_class)
    max_masked_fraction = config.get("processing.max-masked-fraction", max_masked_fraction)
    max_masked_period_fraction = config.get(
        "processing.max-masked-period-fraction", max_masked_period_fraction
    )
    if graph_class not in GRAPH_CLASSES:
        raise ValueError(f"graph_class must be one of {GRAPH_CLASSES}, got {graph_class!r}")
    for name, value in (
        ("max_masked_fraction", max_masked_fraction),
        ("max_masked_period_fraction", max_masked_period_fraction),
    ):
        if not 0 < value <= 1:
            raise ValueError(f"{name} must be in (0, 1], got {value}")
    missing = [v for v in ("ndvi", "cloud_mask") if v not in scene.data_vars]
    if missing:
        raise ValueError(f"the Scene lacks {missing}; tile metrics need 'ndvi' and 'cloud_mask'")
    crs = scene.rio.crs
    if crs is None:
        raise ValueError(
            "the Scene has no CRS, so tile longitude/latitude cannot be computed; open a run's "
            "scene.zarr with vegdask.data.open_store, or set one: scene.rio.write_crs(...)"
        )
    check_tile_fits(tile_size, scene.sizes["y"], scene.sizes["x"])
    ty, tx = scene.sizes["y"] // tile_size, scene.sizes["x"] // tile_size
    chunks = dict(zip(scene["ndvi"].dims, scene["ndvi"].chunks or (), strict=False))
    if not chunks:
        raise ValueError("the Scene is not chunked; open it lazily or call scene.chunk(...)")
    for dim in ("y", "x"):
        if any(c % tile_size for c in chunks[dim][:-1]):
            raise ValueError(f"Scene {dim} chunks {chunks[dim]} are not multiples of {tile_size}")
    if any(size != 1 for size in chunks["time"]):  # e.g. xr.open_zarr's "auto" chunks
        scene = scene.chunk({"time": 1})  # one period a task
    # The mask comes from the whole scene (CLAHE's grid is relative to it); then the partial tiles
    # at the lower and right edges are dropped.
    window = (slice(None), slice(0, ty * tile_size), slice(0, tx * tile_size))
    image = _binary_data(scene["ndvi"].data)[window]
    ndvi = scene["ndvi"].data[window]
    cloud = scene["cloud_mask"].data[window]
    per_tile = num_quantiles + len(_COLUMNS)
    blocks = image.map_blocks(
        _block_metrics,
        ndvi,
        cloud,
        _usable_periods(ndvi, cloud, max_masked_period_fraction),
        tile=tile_size,
        diagonal=diagonal,
        num_quantiles=num_quantiles,
        graph_class=graph_class,
        max_masked=max_masked_fraction,
        chunks=(
            image.chunks[0],
            tuple(c // tile_size for c in image.chunks[1]),
            tuple(c // tile_size for c in image.chunks[2]),
            (per_tile,),
        ),
        new_axis=3,
        dtype=np.float64,
        meta=np.array((), dtype=np.float64),
    )
    dims = ("time", "tile_y", "tile_x")
    q = num_quantiles
    data: dict[str, tuple[tuple[str, ...], Any]] = {
        "feature_vec": ((*dims, "quantile"), _column(blocks, "feature_vec", slice(None, q)))
    }
    for i, name in enumerate(_COLUMNS, start=q):
        data[name] = (dims, _column(blocks, name, i))
    lon, lat = _tile_centres(
        scene["x"].values[window[2]], scene["y"].values[window[1]], crs, tile_size
    )
    coords = {
        "time": scene["time"].values,
        **{
            name: ("time", _like_time_chunks(scene[name].data, image.chunks[0]))
            for name in ("period_start", "period_end")
            if name in scene.coords
        },
        "tile_y": np.arange(ty),
        "tile_x": np.arange(tx),
        "quantile": np.arange(q),
        "longitude": (("tile_y", "tile_x"), lon),
        "latitude": (("tile_y", "tile_x"), lat),
    }
    attrs = {
        **{k: scene.attrs[k] for k in ("source", "collection", "location") if k in scene.attrs},
        "tile_size": tile_size,
        "num_quantiles": num_quantiles,
        "diagonal": int(diagonal),
        "graph_class": graph_class,
        "max_masked_fraction": max_masked_fraction,
        "max_masked_period_fraction": max_masked_period_fraction,
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)


def _like_time_chunks(values: Any, time_chunks: tuple[int, ...]) -> Any:
    """A lazy per-period coordinate chunked like the data (xarray needs consistent chunks)."""
    return values.rechunk((time_chunks,)) if is_dask_collection(values) else values


def _usable_periods(ndvi: da.Array, cloud: da.Array, threshold: float) -> da.Array:
    """(time, 1, 1) bool: whether each period's share of masked pixels is below ``threshold``.

    A period masked beyond it is empty: all its tiles are invalid. One task a period, on all of
    the period's blocks.
    """
    name = f"usable-periods-{tokenize(ndvi.name, cloud.name, threshold)}"
    blocks = list(itertools.product(*(range(n) for n in ndvi.numblocks[1:])))
    tasks = {
        (name, t, 0, 0): Task(
            (name, t, 0, 0),
            _period_ok,
            List(*(TaskRef((ndvi.name, t, *b)) for b in blocks)),
            List(*(TaskRef((cloud.name, t, *b)) for b in blocks)),
            threshold,
        )
        for t in range(ndvi.numblocks[0])
    }
    return _array_of(name, tasks, [ndvi, cloud], (ndvi.chunks[0], (1,), (1,)), bool)


def _period_ok(ndvi: list[np.ndarray], cloud: list[np.ndarray], threshold: float) -> np.ndarray:
    """(1, 1, 1): whether the share of masked pixels of a period's blocks is below ``threshold``."""
    masked = sum(int((c | ~np.isfinite(n)).sum()) for n, c in zip(ndvi, cloud, strict=True))
    return np.full((1, 1, 1), masked / sum(c.size for c in cloud) < threshold)


def _column(blocks: da.Array, name: str, index: int | slice) -> da.Array:
    """Column(s) ``index`` of the metrics' last axis, as ``blocks[..., index]`` (``> 0`` for valid).

    One task a block, its keys made here: dask's slicing (and a comparison for ``valid``)
    tokenized and normalised its arguments, half of a tiny location's graph building.
    """
    out = f"{name}-{blocks.name}"
    pick: Callable[..., np.ndarray] = _is_valid if name == "valid" else _last_axis
    chunks = blocks.chunks[:3]
    tail: tuple[int, ...] = ()
    if isinstance(index, slice):  # the feature vector keeps the axis, as one chunk
        chunks, tail = (*chunks, (len(range(blocks.shape[3])[index]),)), (0,)
    tasks = {
        (out, *b, *tail): Task((out, *b, *tail), pick, TaskRef((blocks.name, *b, 0)), index)
        for b in itertools.product(*(range(n) for n in blocks.numblocks[:3]))
    }
    return _array_of(out, tasks, [blocks], chunks, bool if name == "valid" else blocks.dtype)


def _last_axis(block: np.ndarray, index: int | slice) -> np.ndarray:
    """``block[..., index]``: a metric (or the feature vector) of a block's tiles."""
    return block[..., index]


def _is_valid(block: np.ndarray, index: int) -> np.ndarray:
    """Whether each tile of a block is valid, from its metrics' ``valid`` column (1.0 or 0.0)."""
    return block[..., index] > 0


def _array_of(
    name: str, tasks: dict, dependencies: list[Any], chunks: tuple, dtype: Any
) -> da.Array:
    """A dask array of ``tasks`` (one a block, keyed ``(name, *block index)``) reading others."""
    graph = HighLevelGraph.from_collections(name, tasks, dependencies=dependencies)
    return da.Array(graph, name, chunks, meta=np.empty((0,) * len(chunks), dtype=dtype))


def _tile_centres(
    x: np.ndarray, y: np.ndarray, crs: Any, tile: int
) -> tuple[np.ndarray, np.ndarray]:
    """Longitude/latitude of each tile centre, from the pixels' x/y in ``crs`` (any CRS)."""
    x = x.reshape(-1, tile).mean(axis=1)
    y = y.reshape(-1, tile).mean(axis=1)
    xx, yy = np.meshgrid(x, y)
    lon, lat = _to_lonlat(crs.to_wkt()).transform(xx, yy)
    return np.asarray(lon), np.asarray(lat)


@functools.lru_cache(maxsize=64)
def _to_lonlat(crs: str) -> Any:
    """The transformer from ``crs`` (WKT) to longitude/latitude, made once a CRS (~1 ms each).

    Shared by threads: pyproj's transformers are thread-safe (each thread gets its own PROJ
    objects).
    """
    from pyproj import Transformer

    return Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
