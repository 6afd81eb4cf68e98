"""Composites as Earth Engine expressions, fetched block by block with computePixels."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import dask
import dask.array as da
import numpy as np
import numpy.typing as npt
import pandas as pd

from vegdask.data._scene import BANDS
from vegdask.data.earthengine._collections import (
    CLOUD_SCORE_PLUS,
    EARTHENGINE_COLLECTIONS,
    LANDSAT_OFFSET,
    LANDSAT_SCALE,
    QA_CIRRUS,
    QA_CLOUD,
    QA_CLOUD_SHADOW,
    QA_DILATED_CLOUD,
    QA_FILL,
    QA_SNOW,
    SENTINEL2_SCALE,
    Collection,
)
from vegdask.data.earthengine._session import import_ee, initialize_earthengine, redact

__all__ = [
    "BYTES_PER_PIXEL",
    "FETCHED",
    "MAX_REQUEST_SIDE",
    "ImageSpec",
    "block_stack",
    "fetch_block",
    "masking_description",
]


logger = logging.getLogger(__name__)

# Request limits of computePixels: about 48 MB a response and 32768 pixels a side. The default
# bytes a request (the setting vegdask.source.earthengine.max-request-bytes) stay well under the
# byte limit.
MAX_REQUEST_SIDE = 32768

# Bands fetched for a composite: the four reflectances and the clear-observation flag.
_VALID = "valid"

FETCHED = (*BANDS, _VALID)

BYTES_PER_PIXEL = 4 * len(FETCHED)  # float32


@dataclass(frozen=True)
class ImageSpec:
    """Everything a task needs to build and send its requests (picklable, tokenizable)."""

    collection: str
    epsg: int
    resolution: float
    footprint: tuple[float, float, float, float]  # xmin, ymin, xmax, ymax in the UTM CRS
    cloud_threshold: float
    cloud_score_band: str
    mask_snow: bool
    project: str | None
    max_request_bytes: int


def _landsat_mask_bits(collection: Collection, mask_snow: bool) -> int:
    bits = QA_FILL | QA_DILATED_CLOUD | QA_CLOUD | QA_CLOUD_SHADOW
    if collection.cirrus:
        bits |= QA_CIRRUS
    if mask_snow:
        bits |= QA_SNOW
    return bits


def _footprint(ee: Any, spec: ImageSpec) -> Any:
    return ee.Geometry.Rectangle(list(spec.footprint), f"EPSG:{spec.epsg}", False)


def _masked_collection(ee: Any, spec: ImageSpec, start: str, end: str) -> Any:
    """The period's images, bands renamed to red/green/blue/nir, reflectance 0..1, masked."""
    collection = EARTHENGINE_COLLECTIONS[spec.collection]
    images = (
        ee.ImageCollection(collection.id).filterDate(start, end).filterBounds(_footprint(ee, spec))
    )
    sources = list(collection.sources)
    if collection.family == "sentinel2":
        band = spec.cloud_score_band
        threshold = spec.cloud_threshold
        images = images.linkCollection(ee.ImageCollection(CLOUD_SCORE_PLUS), [band])

        def prepare(image: Any) -> Any:
            clear = image.select(band).gte(threshold)
            return (
                image.select(sources)
                .multiply(SENTINEL2_SCALE)
                .rename(list(BANDS))
                .updateMask(clear)
            )

    else:
        bits = _landsat_mask_bits(collection, spec.mask_snow)

        def prepare(image: Any) -> Any:
            clear = image.select("QA_PIXEL").bitwiseAnd(bits).eq(0)
            unsaturated = image.select("QA_RADSAT").eq(0)
            return (
                image.select(sources)
                .multiply(LANDSAT_SCALE)
                .add(LANDSAT_OFFSET)
                .rename(list(BANDS))
                .updateMask(clear)
                .updateMask(unsaturated)
            )

    return images.map(prepare)


def _composite(ee: Any, spec: ImageSpec, start: str, end: str) -> Any:
    """The period's median composite plus a ``valid`` band (1 where any clear observation).

    A fully masked placeholder image is merged in, so a period without images still has the
    four bands (all masked) instead of failing on the server.
    """
    empty = ee.Image.constant([0, 0, 0, 0]).rename(list(BANDS)).toFloat().updateMask(ee.Image(0))
    images = _masked_collection(ee, spec, start, end).merge(ee.ImageCollection([empty]))
    median = images.median().select(list(BANDS))
    valid = median.mask().reduce(ee.Reducer.min()).gt(0).rename(_VALID)
    return median.unmask(0).addBands(valid.unmask(0)).toFloat()


def _grid(spec: ImageSpec, left: float, top: float, height: int, width: int) -> dict[str, Any]:
    return {
        "dimensions": {"width": int(width), "height": int(height)},
        "affineTransform": {
            "scaleX": float(spec.resolution),
            "shearX": 0.0,
            "translateX": float(left),
            "shearY": 0.0,
            "scaleY": -float(spec.resolution),
            "translateY": float(top),
        },
        "crsCode": f"EPSG:{spec.epsg}",
    }


def _windows(height: int, width: int, max_bytes: int) -> list[tuple[int, int, int, int]]:
    """Split a block into request windows ``(row0, row1, col0, col1)`` under the limits."""
    cols = max(1, min(width, MAX_REQUEST_SIDE, max_bytes // BYTES_PER_PIXEL))
    rows = max(1, min(height, MAX_REQUEST_SIDE, max_bytes // (BYTES_PER_PIXEL * cols)))
    return [
        (r, min(r + rows, height), c, min(c + cols, width))
        for r in range(0, height, rows)
        for c in range(0, width, cols)
    ]


def fetch_block(
    spec: ImageSpec, start: str, end: str, left: float, top: float, height: int, width: int
) -> npt.NDArray[np.float32]:
    """One (period, chunk) block: (5, 1, height, width) = red, green, blue, nir, cloud (0/1)."""
    ee = import_ee()
    initialize_earthengine(spec.project)
    image = _composite(ee, spec, start, end)
    out = np.empty((len(FETCHED), 1, height, width), dtype=np.float32)
    res = spec.resolution
    for r0, r1, c0, c1 in _windows(height, width, spec.max_request_bytes):
        grid = _grid(spec, left + c0 * res, top - r0 * res, r1 - r0, c1 - c0)
        logger.debug(
            "computePixels %s %s..%s rows %d:%d cols %d:%d",
            spec.collection,
            start,
            end,
            r0,
            r1,
            c0,
            c1,
        )
        try:
            pixels = ee.data.computePixels(
                {
                    "expression": image,
                    "fileFormat": "NUMPY_NDARRAY",
                    "bandIds": list(FETCHED),
                    "grid": grid,
                }
            )
        except ee.EEException as err:
            raise RuntimeError(
                f"Earth Engine computePixels failed for {spec.collection}, period {start}..{end}, "
                f"block rows {r0}:{r1} cols {c0}:{c1}: {redact(str(err))}"
            ) from None
        if pixels.shape != (r1 - r0, c1 - c0):
            raise RuntimeError(
                f"Earth Engine returned {pixels.shape} pixels for a {(r1 - r0, c1 - c0)} request "
                f"({spec.collection}, period {start}..{end})"
            )
        clear = np.asarray(pixels[_VALID]) > 0
        for i, band in enumerate(BANDS):
            out[i, 0, r0:r1, c0:c1] = np.where(clear, pixels[band], np.nan)
        out[len(BANDS), 0, r0:r1, c0:c1] = ~clear
    return out


def split(total: int, chunk: int) -> tuple[int, ...]:
    """Chunk sizes covering ``total`` (the last one smaller)."""
    if chunk < 1:
        raise ValueError(f"chunk size {chunk!r} must be >= 1")
    full, rest = divmod(total, chunk)
    return (chunk,) * full + ((rest,) if rest else ())


def masking_description(collection: Collection, spec: ImageSpec) -> str:
    """How clear pixels are chosen, for the Scene's ``cloud_masking`` attribute."""
    if collection.family == "sentinel2":
        return f"Cloud Score+ {spec.cloud_score_band} >= {spec.cloud_threshold:g}"
    bits = _landsat_mask_bits(collection, spec.mask_snow)
    return f"QA_PIXEL & {bits} == 0 and QA_RADSAT == 0"


def block_stack(
    spec: ImageSpec, periods: pd.DataFrame, x: Any, y: Any, chunks: dict[str, int]
) -> da.Array:
    """The lazy ``(5, time, y, x)`` stack: one delayed `fetch_block` per (period, chunk).

    The planes are the four bands and the cloud flag (1 where no observation was clear).
    """
    half = spec.resolution / 2
    ychunks = split(len(y), chunks["y"])
    xchunks = split(len(x), chunks["x"])
    fetch = dask.delayed(fetch_block, pure=True)
    per_period = []
    for p_start, p_end in zip(periods["start"], periods["end"], strict=True):
        s, e = p_start.strftime("%Y-%m-%d"), p_end.strftime("%Y-%m-%d")
        rows = []
        y0 = 0
        for ny in ychunks:
            row = []
            x0 = 0
            for nx in xchunks:
                left, top = float(x[x0] - half), float(y[y0] + half)
                block = fetch(spec, s, e, left, top, ny, nx)
                row.append(da.from_delayed(block, (len(FETCHED), 1, ny, nx), dtype=np.float32))
                x0 += nx
            rows.append(row)
            y0 += ny
        per_period.append(rows)
    # (band, time, y, x): nest as [band-block][time][y][x] for da.block.
    return da.block([per_period])
