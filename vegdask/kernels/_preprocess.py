"""pyveg's image preprocessing, reproduced bit-exactly without OpenCV.

pyveg turned NDVI into a black-and-white image with OpenCV: ``createCLAHE(2, (11, 11))``,
``adaptiveThreshold(255, MEAN_C, THRESH_BINARY_INV, 51, -5)`` and ``medianBlur(3)``. These are ports
of OpenCV's CPU implementations (integer clip limit, clipped counts redistributed with a stride,
float32 LUT and bilinear interpolation, reflect-101 padding for non-divisible sizes; replicated
borders for the box mean and the median), checked pixel-for-pixel against OpenCV in the tests.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = ["adaptive_threshold", "clahe", "median3", "ndvi_to_uint8"]

# Compare-exchanges after which the middle of 9 values is their median (Paeth's network, as in
# N. Devillard, "Fast median search: an ANSI C implementation", 1998).
_MEDIAN9_NETWORK = (
    (1, 2), (4, 5), (7, 8), (0, 1), (3, 4), (6, 7), (1, 2), (4, 5), (7, 8), (0, 3),
    (5, 8), (4, 7), (3, 6), (1, 4), (2, 5), (4, 7), (4, 2), (6, 4), (4, 2),
)  # fmt: skip


def ndvi_to_uint8(ndvi: npt.ArrayLike) -> npt.NDArray[np.uint8]:
    """Scale NDVI to 8 bits as pyveg did: ``int((ndvi + 1) / 2 * 255)``; NaN becomes 0.

    Examples
    --------
    >>> ndvi_to_uint8([-1.0, 0.0, 0.5, 1.0, float("nan")])
    array([  0, 127, 191, 255,   0], dtype=uint8)
    """
    arr = np.asarray(ndvi, dtype=np.float64)
    scaled = np.clip((arr + 1.0) / 2.0 * 255.0, 0, 255)
    return np.where(np.isnan(scaled), 0, np.trunc(scaled)).astype(np.uint8)


@njit(cache=True, nogil=True)
def _clahe_luts(src, tiles_y, tiles_x, tile_h, tile_w, clip_limit):
    luts = np.empty((tiles_y, tiles_x, 256), dtype=np.uint8)
    hist = np.empty(256, dtype=np.int64)
    lut_scale = np.float32(255.0) / np.float32(tile_h * tile_w)
    for ty in range(tiles_y):
        for tx in range(tiles_x):
            hist[:] = 0
            for r in range(ty * tile_h, (ty + 1) * tile_h):
                for c in range(tx * tile_w, (tx + 1) * tile_w):
                    hist[src[r, c]] += 1
            if clip_limit > 0:
                clipped = 0
                for i in range(256):
                    if hist[i] > clip_limit:
                        clipped += hist[i] - clip_limit
                        hist[i] = clip_limit
                batch = clipped // 256
                residual = clipped - batch * 256
                for i in range(256):
                    hist[i] += batch
                if residual != 0:
                    step = max(256 // residual, 1)
                    i = 0
                    while i < 256 and residual > 0:
                        hist[i] += 1
                        i += step
                        residual -= 1
            total = 0
            for i in range(256):
                total += hist[i]
                value = np.rint(np.float32(total) * lut_scale)
                luts[ty, tx, i] = min(max(value, 0), 255)
    return luts


@njit(cache=True, nogil=True)
def _clahe_interpolate(src, luts, tile_h, tile_w):
    rows, cols = src.shape
    tiles_y, tiles_x = luts.shape[0], luts.shape[1]
    out = np.empty((rows, cols), dtype=np.uint8)
    inv_th = np.float32(1.0) / np.float32(tile_h)
    inv_tw = np.float32(1.0) / np.float32(tile_w)
    half = np.float32(0.5)
    one = np.float32(1.0)
    for y in range(rows):
        tyf = np.float32(y) * inv_th - half
        ty1 = int(np.floor(tyf))
        ya = tyf - np.float32(ty1)
        ya1 = one - ya
        ty2 = min(ty1 + 1, tiles_y - 1)
        ty1 = max(ty1, 0)
        for x in range(cols):
            txf = np.float32(x) * inv_tw - half
            tx1 = int(np.floor(txf))
            xa = txf - np.float32(tx1)
            xa1 = one - xa
            tx2 = min(tx1 + 1, tiles_x - 1)
            tx1 = max(tx1, 0)
            v = src[y, x]
            top = np.float32(luts[ty1, tx1, v]) * xa1 + np.float32(luts[ty1, tx2, v]) * xa
            bottom = np.float32(luts[ty2, tx1, v]) * xa1 + np.float32(luts[ty2, tx2, v]) * xa
            res = top * ya1 + bottom * ya
            out[y, x] = min(max(np.rint(res), 0), 255)
    return out


def clahe(
    image: npt.ArrayLike, *, clip_limit: float = 2.0, tiles: tuple[int, int] = (11, 11)
) -> npt.NDArray[np.uint8]:
    """Contrast-limited adaptive histogram equalisation, as OpenCV's ``createCLAHE(...).apply``.

    Parameters
    ----------
    image : (M, N) array_like of uint8
        The whole scene (the tile grid is relative to it).
    clip_limit : float, default 2
        OpenCV's clip limit (times the mean histogram count).
    tiles : (int, int), default (11, 11)
        The tile grid, (rows, columns) of tiles.

    Returns
    -------
    (M, N) ndarray of uint8

    Examples
    --------
    >>> import numpy as np
    >>> img = np.tile(np.arange(0, 220, 10, dtype=np.uint8), (22, 1))
    >>> out = clahe(img)
    >>> out.shape, out.dtype, bool(out[0, -1] > img[0, -1])
    ((22, 22), dtype('uint8'), True)
    """
    src = np.asarray(image)
    if src.ndim != 2 or src.dtype != np.uint8:
        raise ValueError(f"clahe needs a 2-D uint8 image, got {src.ndim}-D {src.dtype}")
    tiles_y, tiles_x = tiles
    rows, cols = src.shape
    if rows % tiles_y or cols % tiles_x:
        # OpenCV pads both dimensions whenever either is not divisible (reflect-101).
        pad = ((0, tiles_y - rows % tiles_y), (0, tiles_x - cols % tiles_x))
        lut_src = np.pad(src, pad, mode="reflect")
    else:
        lut_src = src
    tile_h = lut_src.shape[0] // tiles_y
    tile_w = lut_src.shape[1] // tiles_x
    limit = max(int(clip_limit * tile_h * tile_w / 256), 1) if clip_limit > 0 else 0
    luts = _clahe_luts(np.ascontiguousarray(lut_src), tiles_y, tiles_x, tile_h, tile_w, limit)
    return _clahe_interpolate(np.ascontiguousarray(src), luts, tile_h, tile_w)


def _box_sum(padded: npt.NDArray[np.uint8], size: int) -> npt.NDArray[np.signedinteger]:
    """Sums over every ``size`` x ``size`` window of ``padded`` (exact running sums).

    In int32 while 255 x the pixel count fits (4x faster than int64), else in int64.
    """
    dtype = np.int32 if 255 * padded.size < np.iinfo(np.int32).max else np.int64
    sums: npt.NDArray[Any] = padded
    for axis in (0, 1):
        running: npt.NDArray[Any] = np.moveaxis(np.cumsum(sums, axis=axis, dtype=dtype), axis, 0)
        window = np.concatenate([running[size - 1 : size], running[size:] - running[:-size]])
        sums = np.moveaxis(window, 0, axis)
    return sums


def adaptive_threshold(
    image: npt.ArrayLike, *, block_size: int = 51, c: float = -5.0
) -> npt.NDArray[np.uint8]:
    """Mean adaptive threshold, inverted, as OpenCV's ``adaptiveThreshold`` (MEAN_C, BINARY_INV).

    A pixel becomes 255 where ``pixel - round(local mean) <= -floor(c)``, else 0; the local mean is
    over ``block_size`` x ``block_size`` with replicated borders.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.full((5, 5), 100, np.uint8)
    >>> img[2, 2] = 110
    >>> adaptive_threshold(img, block_size=3)[1:4, 1:4]
    array([[255, 255, 255],
           [255,   0, 255],
           [255, 255, 255]], dtype=uint8)
    """
    src = np.asarray(image)
    if src.ndim != 2 or src.dtype != np.uint8:
        raise ValueError(
            f"adaptive_threshold needs a 2-D uint8 image, got {src.ndim}-D {src.dtype}"
        )
    if block_size < 3 or block_size % 2 == 0:
        raise ValueError(f"block_size must be odd and >= 3, got {block_size}")
    area = block_size * block_size
    sums = _box_sum(np.pad(src, block_size // 2, mode="edge"), block_size)
    # OpenCV rounds sum / area to the nearest integer, never half-way for an odd area.
    mean = (2 * sums + area) // (2 * area)
    return np.where(src - mean <= -int(np.floor(c)), np.uint8(255), np.uint8(0))


def median3(image: npt.ArrayLike) -> npt.NDArray[np.uint8]:
    """3x3 median with replicated borders, as OpenCV's ``medianBlur(src, 3)``.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((3, 3), np.uint8)
    >>> img[1, 1] = 255
    >>> int(median3(img).max())
    0
    """
    src = np.asarray(image)
    if src.ndim != 2:
        raise ValueError(f"median3 needs a 2-D image, got {src.ndim}-D")
    padded = np.pad(src, 1, mode="edge")
    rows, cols = src.shape
    window = [padded[dy : dy + rows, dx : dx + cols] for dy in range(3) for dx in range(3)]
    # A sorting network on whole images (20x faster than np.median over a stack of 9).
    for a, b in _MEDIAN9_NETWORK:
        window[a], window[b] = np.minimum(window[a], window[b]), np.maximum(window[a], window[b])
    return window[4]
