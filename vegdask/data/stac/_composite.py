"""Per-period median composites of the clear observations, as dask blocks."""

from __future__ import annotations

from typing import Any

import dask.array as da
import numpy as np
import numpy.typing as npt

from vegdask.data._scene import compute_ndvi
from vegdask.data.stac._reflectance import ASSET_ROLES, CLEAR_SCL_CLASSES

__all__ = ["composite", "empty_period", "period_stack"]


def composite(
    red: npt.NDArray[np.uint16],
    green: npt.NDArray[np.uint16],
    blue: npt.NDArray[np.uint16],
    nir: npt.NDArray[np.uint16],
    scl: npt.NDArray[np.uint8],
    *,
    offsets: npt.NDArray[np.float32],
    scale: float,
) -> npt.NDArray[np.float32]:
    """Median of the clear observations (axis 0): (6, 1, y, x) = bands, ndvi, cloud mask."""
    bands = (red, green, blue, nir)
    clear = np.isin(scl, CLEAR_SCL_CLASSES)
    for band in bands:
        clear &= band > 0
    out = np.empty((6, 1, *scl.shape[1:]), dtype=np.float32)
    offset = offsets.astype(np.float32)[:, None, None]
    seen = clear.any(axis=0)
    # Pixels with no clear observation get a dummy 0 (then NaN) so that nanmedian does not warn:
    # warnings.catch_warnings is not thread-safe under dask's threaded scheduler.
    for i, band in enumerate(bands):
        reflectance = band.astype(np.float32) * np.float32(scale) + offset
        reflectance[~clear] = np.nan
        reflectance[:, ~seen] = 0.0
        out[i, 0] = np.where(seen, np.nanmedian(reflectance, axis=0), np.float32(np.nan))
    out[4, 0] = compute_ndvi(out[0, 0], out[3, 0])
    out[5, 0] = ~seen
    return out


def empty_period(size: int, chunks: dict[str, int]) -> da.Array:
    planes = da.full(
        (5, 1, size, size), np.nan, dtype=np.float32, chunks=(5, 1, chunks["y"], chunks["x"])
    )
    mask = da.ones((1, 1, size, size), dtype=np.float32, chunks=(1, 1, chunks["y"], chunks["x"]))
    return da.concatenate([planes, mask], axis=0).rechunk((6, 1, chunks["y"], chunks["x"]))


def period_composites(
    arrays: dict[str, da.Array],
    groups: list[tuple[int, Any, float]],
    n_periods: int,
    scale: float,
) -> list[da.Array | None]:
    """One ``(6, 1, y, x)`` composite per period from the loaded acquisitions (None: no item).

    ``arrays`` are the bands by role (acquisitions along axis 0, in the order of ``groups``);
    ``groups`` are the acquisitions' ``(period index, day, reflectance offset)``.
    """
    per_period: list[da.Array | None] = [None] * n_periods
    for p in range(n_periods):
        members = [g for g, key in enumerate(groups) if key[0] == p]
        if not members:
            continue
        window = slice(members[0], members[-1] + 1)
        offsets = np.array([groups[g][2] for g in members], dtype=np.float32)
        blocks = [arrays[role][window].rechunk({0: -1}) for role in ASSET_ROLES]
        per_period[p] = da.map_blocks(
            composite,
            *blocks,
            offsets=offsets,
            scale=scale,
            new_axis=0,
            chunks=((6,), (1,), blocks[0].chunks[1], blocks[0].chunks[2]),
            dtype=np.float32,
            meta=np.empty((0, 0, 0, 0), dtype=np.float32),
        )
    return per_period


def period_stack(per_period: list[da.Array | None], size: int, chunks: dict[str, int]) -> da.Array:
    """The ``(6, time, y, x)`` stack of the composites, all-cloud planes for periods without."""
    return da.concatenate(
        [block if block is not None else empty_period(size, chunks) for block in per_period],
        axis=1,
    )
