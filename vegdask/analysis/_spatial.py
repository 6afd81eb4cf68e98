"""Spatial early-warning indicators of one image (Kefi et al. 2014, PLoS ONE 9:e92097).

Coarse-grained variance and skewness, Moran's I at lag 1, the radial power spectrum's
low-frequency ratio (reddening) and a patch-size summary, each with a permutation null: the
pixels shuffled at random keep their distribution and lose their spatial structure.
For periodic patterns (spots, labyrinths) variance-type indicators are not expected to rise
(Dakos et al. 2011); read the spectrum and patch sizes there.
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import Any

import dask
import numpy as np
import pandas as pd
import scipy.fft
from dask.delayed import Delayed
from scipy import ndimage, stats

from vegdask import config
from vegdask.analysis._tasks import compute_tasks
from vegdask.compute.in_task import InTask

__all__ = [
    "SPATIAL_INDICATORS",
    "coarse_grain",
    "morans_i",
    "patch_sizes",
    "radial_spectrum",
    "spatial_indicators",
    "spatial_indicators_through_time",
]

SPATIAL_INDICATORS: tuple[str, ...] = ("cg_variance", "cg_skewness", "morans_i", "sdr")


def coarse_grain(field: np.ndarray, size: int) -> np.ndarray:
    """Average over non-overlapping ``size x size`` blocks (edges that do not fill a block dropped).

    Examples
    --------
    >>> coarse_grain(np.arange(16.0).reshape(4, 4), 2)
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    """
    ny, nx = (field.shape[0] // size) * size, (field.shape[1] // size) * size
    if ny == 0 or nx == 0:
        raise ValueError(f"coarse-graining size {size} exceeds the image {field.shape}")
    blocks = field[:ny, :nx].reshape(ny // size, size, nx // size, size)
    with warnings.catch_warnings():  # an all-NaN block is NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(blocks, axis=(1, 3))


def morans_i(field: np.ndarray) -> float:
    """Compute Moran's I at lag 1 with rook (4-)neighbours, no wrap-around; NaN pixels excluded.

    Examples
    --------
    >>> round(morans_i(np.indices((6, 6)).sum(axis=0) % 2 * 1.0), 6)
    -1.0
    """
    x = np.asarray(field, dtype=np.float64)
    dev = x - np.nanmean(x)
    num = 0.0
    weights = 0
    for a, b in ((dev[1:, :], dev[:-1, :]), (dev[:, 1:], dev[:, :-1])):
        ok = np.isfinite(a) & np.isfinite(b)
        num += 2 * float(np.sum(a[ok] * b[ok]))
        weights += 2 * int(ok.sum())
    n = int(np.isfinite(dev).sum())
    den = float(np.nansum(dev**2))
    return n / weights * num / den if den > 0 and weights else float("nan")


def radial_spectrum(field: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the radially averaged power spectrum of the demeaned image, wavenumbers 1..kmax.

    Examples
    --------
    >>> stripes = np.tile(np.sin(2 * np.pi * 4 * np.arange(32) / 32), (32, 1))
    >>> k, power = radial_spectrum(stripes)
    >>> int(k[np.argmax(power)])
    4
    """
    x = np.nan_to_num(np.asarray(field, dtype=np.float64) - np.nanmean(field))
    power = np.abs(np.fft.fftshift(np.fft.fft2(x))) ** 2
    ny, nx = x.shape
    ky, kx = np.indices((ny, nx))
    radius = np.hypot(ky - ny // 2, kx - nx // 2).round().astype(int)
    kmax = min(ny, nx) // 2
    sums = np.bincount(radius.ravel(), power.ravel())
    counts = np.bincount(radius.ravel())
    k = np.arange(1, kmax + 1)
    return k, sums[k] / counts[k]


def _sdr(field: np.ndarray, low: float = 0.2, high: float = 0.8) -> float:
    k, spec = radial_spectrum(field)
    cut_low, cut_high = k[0] + low * (k[-1] - k[0]), k[0] + high * (k[-1] - k[0])
    hi = spec[k >= cut_high].mean()
    return float(spec[k <= cut_low].mean() / hi) if hi > 0 else float("nan")


def patch_sizes(mask: np.ndarray) -> np.ndarray:
    """Return the sizes (pixels) of the 4-connected patches of a boolean mask, largest first.

    Examples
    --------
    >>> patch_sizes(np.array([[1, 1, 0], [0, 0, 0], [0, 1, 0]], bool)).tolist()
    [2, 1]
    """
    labels, n = ndimage.label(np.asarray(mask, bool))
    return np.sort(np.bincount(labels.ravel())[1:])[::-1] if n else np.zeros(0, int)


def _patch_summary(mask: np.ndarray) -> dict[str, float]:
    sizes = patch_sizes(mask)
    cover = float(np.mean(mask))
    if sizes.size == 0:
        return {
            "cover": cover,
            "n_patches": 0,
            "mean_patch": 0.0,
            "largest_patch_fraction": 0.0,
            "power_law_exponent": float("nan"),
        }
    # Continuous-approximation MLE of a power-law exponent with s_min = 1 (Clauset et al. 2009).
    exponent = 1 + sizes.size / float(np.sum(np.log(sizes / 0.5)))
    return {
        "cover": cover,
        "n_patches": int(sizes.size),
        "mean_patch": float(sizes.mean()),
        "largest_patch_fraction": float(sizes[0] / mask.size),
        "power_law_exponent": exponent,
    }


def _indicators(field: np.ndarray, subsize: int) -> dict[str, float]:
    cg = coarse_grain(field, subsize).ravel()
    cg = cg[np.isfinite(cg)]
    return {
        "cg_variance": float(np.var(cg, ddof=1)),
        "cg_skewness": float(stats.skew(cg)),
        "morans_i": morans_i(field),
        "sdr": _sdr(field),
    }


# Permutations drawn at once (memory: a few arrays of _BATCH images).
_BATCH = 33
# Tasks of spatial_indicators_through_time (each draws the permutations once). A few: distributed
# queues a larger group of tasks without dependencies behind every other ready task.
_TASKS = 4


def _permutation_batches(n_pixels: int, n_permutations: int, seed: int):
    """Yield ``(start, indices)``: the null's pixel permutations, ``_BATCH`` rows at a time.

    Row ``i`` is the ``i``-th ``rng.permutation(n_pixels)`` of ``default_rng(seed)``: the same
    shuffles as ``rng.permutation(image.ravel())``, drawn once and applied to every image.
    """
    rng = np.random.default_rng(seed)
    for start in range(0, n_permutations, _BATCH):
        count = min(_BATCH, n_permutations - start)
        yield start, np.stack([rng.permutation(n_pixels) for _ in range(count)])


def _permutation_nulls(
    images: list[np.ndarray], subsize: int, n_permutations: int, seed: int
) -> list[dict[str, np.ndarray]]:
    """The null of each image (same shape): its indicators under the same seeded permutations.

    The pixels are demeaned once (a shuffled image has the image's mean and sum of squares) and
    gathered by the permutations' indices as float32, one stack of ``_BATCH`` images at a time.
    """
    shape = images[0].shape
    nulls = [{k: np.empty(n_permutations) for k in SPATIAL_INDICATORS} for _ in images]
    shuffled = [_Shuffled(x) for x in images]
    for start, idx in _permutation_batches(images[0].size, n_permutations, seed):
        for image, null in zip(shuffled, nulls, strict=True):
            stack = image.dev[idx].reshape(-1, *shape)
            for k, v in image.indicators(stack, subsize).items():
                null[k][start : start + len(idx)] = v
    return nulls


class _Shuffled:
    """One image's demeaned pixels, and the indicators of stacks of their shuffles."""

    def __init__(self, image: np.ndarray) -> None:
        dev = image - np.nanmean(image)
        self.missing = bool(np.isnan(dev).any())
        self.dev = dev.astype(np.float32).ravel()
        centred = self.dev - np.nanmean(self.dev, dtype=np.float64)
        self.sum_of_squares = float(np.nansum(centred**2))

    def indicators(self, stack: np.ndarray, subsize: int) -> dict[str, np.ndarray]:
        """:func:`_indicators` of each image of a (n, ny, nx) stack of shuffles."""
        if self.missing:
            return _indicators_of_stack_with_gaps(stack, subsize)
        cg = _block_sums(stack, subsize).reshape(len(stack), -1).astype(np.float64)
        cg /= subsize * subsize
        dev = cg - cg.mean(axis=1, keepdims=True)
        m2 = np.einsum("ij,ij->i", dev, dev)
        size = cg.shape[1]
        with np.errstate(invalid="ignore", divide="ignore"):
            skewness = np.where(
                m2 > 0, np.einsum("ij,ij,ij->i", dev, dev, dev) / size / (m2 / size) ** 1.5, np.nan
            )
            return {
                "cg_variance": m2 / (size - 1),
                "cg_skewness": skewness,  # scipy's biased skew
                "morans_i": self._morans_i(stack),
                "sdr": _sdr_of_stack(stack),
            }

    def _morans_i(self, stack: np.ndarray) -> np.ndarray:
        """Moran's I of shuffles: the mean and the sum of squares are the image's."""
        n, ny, nx = stack.shape
        flat = stack.reshape(n, -1)
        # Vertical neighbours (pixels i, i + nx), horizontal ones (i, i + 1) within rows; float32
        # products and sums (the null's Moran's I to ~1e-6).
        num = np.einsum("ij,ij->i", flat[:, nx:], flat[:, :-nx]).astype(np.float64)
        num += np.einsum("nij,nij->n", stack[:, :, 1:], stack[:, :, :-1])
        weights = (ny - 1) * nx + ny * (nx - 1)
        if self.sum_of_squares <= 0:
            return np.full(n, np.nan)
        return ny * nx / weights * num / self.sum_of_squares


def _block_sums(stack: np.ndarray, size: int) -> np.ndarray:
    """Sums over non-overlapping ``size x size`` blocks of each image (edges dropped)."""
    ny, nx = (stack.shape[1] // size) * size, (stack.shape[2] // size) * size
    rows = sum(stack[:, :ny, j:nx:size] for j in range(1, size)) + stack[:, :ny, 0:nx:size]
    return sum(rows[:, i::size] for i in range(1, size)) + rows[:, 0::size]


def _indicators_of_stack_with_gaps(stack: np.ndarray, subsize: int) -> dict[str, np.ndarray]:
    """:func:`_indicators` of each image of a (n, ny, nx) stack with NaN (missing) pixels."""
    n, ny, nx = stack.shape
    by, bx = ny // subsize, nx // subsize
    blocks = stack[:, : by * subsize, : bx * subsize].reshape(n, by, subsize, bx, subsize)
    with warnings.catch_warnings():  # an all-NaN block is NaN, and is left out
        warnings.simplefilter("ignore", RuntimeWarning)
        cg = np.nanmean(blocks, axis=(2, 4), dtype=np.float64).reshape(n, -1)
    size = np.isfinite(cg).sum(axis=1)
    dev = cg - np.nansum(cg, axis=1, keepdims=True) / size[:, None]
    m2 = np.nansum(dev**2, axis=1)
    m3 = np.nansum(dev**3, axis=1) / size
    # Moran's I: a product with a missing pixel is NaN and left out.
    dev = stack - np.nanmean(stack, axis=(1, 2), keepdims=True, dtype=np.float64)
    pairs = [a * b for a, b in ((dev[:, 1:], dev[:, :-1]), (dev[:, :, 1:], dev[:, :, :-1]))]
    num = 2 * sum(np.nansum(p, axis=(1, 2)) for p in pairs)
    weights = 2 * sum(np.isfinite(p).sum(axis=(1, 2)) for p in pairs)
    count, den = np.isfinite(dev).sum(axis=(1, 2)), np.nansum(dev**2, axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "cg_variance": m2 / (size - 1),
            "cg_skewness": np.where(m2 > 0, m3 / (m2 / size) ** 1.5, np.nan),
            "morans_i": np.where((den > 0) & (weights > 0), count / weights * num / den, np.nan),
            "sdr": _sdr_of_stack(np.nan_to_num(dev).astype(np.float32)),
        }


@functools.lru_cache(maxsize=8)
def _sdr_weights(ny: int, nx: int, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """Weights of the low and high bands: rfft2's squared re and im @ weights = the band means.

    The mean of the radial spectrum over the low (high) wavenumbers is a weighted sum of the
    power: a pixel of radius k weighs 1 / (pixels of radius k x wavenumbers in the band). The
    power of a real image is symmetric: the half-plane of rfft2 counts twice except the columns
    without a mirror (0 and, for even nx, nx/2). Radii as :func:`radial_spectrum`'s fftshift;
    each weight is repeated for the real and the imaginary part.
    """
    ky, kx = np.indices((ny, nx))
    radius = np.fft.ifftshift(np.hypot(ky - ny // 2, kx - nx // 2).round().astype(int))
    radius = radius[:, : nx // 2 + 1]
    mirror = np.full(radius.shape[1], 2.0)
    mirror[0] = 1.0
    if nx % 2 == 0:
        mirror[-1] = 1.0
    mirror = np.broadcast_to(mirror, radius.shape)
    counts = np.bincount(radius.ravel(), mirror.ravel())
    k = np.arange(1, min(ny, nx) // 2 + 1)
    cut_low, cut_high = k[0] + low * (k[-1] - k[0]), k[0] + high * (k[-1] - k[0])
    out = []
    for band in (k[k <= cut_low], k[k >= cut_high]):
        per_radius = np.zeros(counts.size)
        per_radius[band] = 1.0 / (counts[band] * band.size)
        out.append(np.repeat((mirror * per_radius[radius]).ravel(), 2).astype(np.float32))
    return out[0], out[1]


def _sdr_of_stack(stack: np.ndarray, low: float = 0.2, high: float = 0.8) -> np.ndarray:
    """The spectral density ratio of each image of a float32 stack (its mean only moves k = 0)."""
    n, ny, nx = stack.shape
    squares = scipy.fft.rfft2(stack).view(np.float32).reshape(n, -1)
    np.square(squares, out=squares)
    weights_low, weights_high = _sdr_weights(ny, nx, low, high)
    lo, hi = (squares @ weights_low).astype(np.float64), (squares @ weights_high).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(hi > 0, lo / hi, np.nan)


def spatial_indicators(
    field: Any,
    *,
    subsize: int | None = None,
    mask: Any = None,
    n_permutations: int | None = None,
    seed: int | None = None,
) -> dict[str, Any]:
    """Compute the spatial indicators of one image with permutation nulls.

    Parameters
    ----------
    field : (ny, nx) array_like
        A continuous (NDVI) or binary (vegetation 0/1) image; NaN = missing.
    subsize : int, optional
        Coarse-graining block size (``vegdask.analysis.spatial-subsize``: spatialwarnings' 5).
    mask : (ny, nx) array_like of bool, optional
        Vegetation mask for the patch-size summary (True = vegetation, e.g. ``binary_image == 0``
        of ``mask.zarr``). Default: a binary ``field`` (only 0, 1 and NaN) is its own mask
        (1 = vegetation, NaN = not); a continuous field without a mask has no patch summary.
    n_permutations : int, optional
        Shuffled copies for the null (``vegdask.analysis.spatial-permutations``, 99;
        spatialwarnings: 999).
    seed : int, optional
        Seed of the shuffles (``vegdask.analysis.seed``).

    Returns
    -------
    dict
        Per indicator ``{"value", "null_mean", "null_sd", "p_value"}`` (p of a value at least as
        large as observed, +1 corrected), and ``patches`` (cover, number, mean size, largest
        patch fraction, power-law exponent; None without a vegetation mask).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> out = spatial_indicators(rng.standard_normal((40, 40)), n_permutations=19)
    >>> sorted(out), out["patches"]
    (['cg_skewness', 'cg_variance', 'morans_i', 'patches', 'sdr'], None)
    >>> field = np.zeros((20, 20))
    >>> field[:, :12] = 1  # binary: its own vegetation mask
    >>> patches = spatial_indicators(field, n_permutations=9)["patches"]
    >>> patches["cover"], patches["n_patches"]
    (0.6, 1)
    """
    kwargs = _spatial_settings(subsize=subsize, n_permutations=n_permutations, seed=seed)
    return _spatial_group([field], [mask], **kwargs)[0]


def _spatial_settings(
    *, subsize: int | None, n_permutations: int | None, seed: int | None
) -> dict[str, int]:
    """The spatial indicators' options, each left as None from its ``vegdask.analysis`` setting."""
    return {
        "subsize": config.get("analysis.spatial-subsize", subsize),
        "n_permutations": config.get("analysis.spatial-permutations", n_permutations),
        "seed": config.get("analysis.seed", seed),
    }


def _spatial_group(
    fields: Any, masks: Any, subsize: int, n_permutations: int, seed: int
) -> list[dict[str, Any]]:
    """:func:`spatial_indicators` of each field (one shape), the permutations drawn once."""
    if isinstance(fields, InTask):
        fields, masks = fields.get(), masks.get()
    images = [np.asarray(field, dtype=np.float64) for field in fields]
    for x in images:
        if x.ndim != 2:
            raise ValueError(f"spatial_indicators takes one 2-d image, got shape {x.shape}")
    nulls = _permutation_nulls(images, subsize, n_permutations, seed)
    return [
        _tested(x, null, mask, subsize, n_permutations)
        for x, null, mask in zip(images, nulls, masks, strict=True)
    ]


def _tested(
    x: np.ndarray, null: dict[str, np.ndarray], mask: Any, subsize: int, n_permutations: int
) -> dict[str, Any]:
    """The observed indicators of ``x`` against their permutation ``null``, and its patches."""
    out: dict[str, Any] = {}
    for k, v in _indicators(x, subsize).items():
        out[k] = {
            "value": v,
            "null_mean": float(np.mean(null[k])),
            "null_sd": float(np.std(null[k])),
            "p_value": (int(np.sum(null[k] >= v)) + 1) / (n_permutations + 1),
        }
    veg = _vegetation_mask(x) if mask is None else np.asarray(mask, bool)
    if veg is not None and veg.shape != x.shape:
        raise ValueError(f"mask shape {veg.shape} differs from the field's {x.shape}")
    out["patches"] = None if veg is None else _patch_summary(veg)
    return out


def _vegetation_mask(field: np.ndarray) -> np.ndarray | None:
    """A binary field (0, 1, NaN only) as its own vegetation mask; None for a continuous one."""
    finite = field[np.isfinite(field)]
    return field == 1 if np.isin(finite, (0.0, 1.0)).all() else None


def spatial_indicators_through_time(
    images: Any,
    times: Any,
    masks: Any = None,
    *,
    subsize: int | None = None,
    n_permutations: int | None = None,
    seed: int | None = None,
) -> pd.DataFrame:
    """Apply :func:`spatial_indicators` per period: one row per time with values and p-values.

    Every period is tested against the same ``n_permutations`` seeded shuffles (as
    :func:`spatial_indicators` with ``seed``), drawn once per task (a few tasks, each of a
    share of the periods), on the workers of the default ``distributed`` client when there is
    one. ``images`` (time, y, x) may be lazy (dask-backed): each task then reads its own
    periods, in its process. ``masks``
    (one vegetation mask per period, or None, optional; lazy ones too) are the periods' patch
    masks; without them the defaults of :func:`spatial_indicators` apply (``patch_*`` columns
    only when there is a patch summary). ``subsize``, ``n_permutations`` and ``seed`` left as
    None take the ``vegdask.analysis`` settings ``spatial-subsize``, ``spatial-permutations``
    and ``seed``.

    Examples
    --------
    >>> frames = np.random.default_rng(0).standard_normal((2, 20, 20))
    >>> df = spatial_indicators_through_time(frames, pd.date_range("2020", periods=2), seed=1)
    >>> df.shape, bool(df["morans_i_p_value"].between(0, 1).all())
    ((2, 8), True)
    """
    (frame,) = compute_tasks(
        spatial_task(
            images, times, masks, subsize=subsize, n_permutations=n_permutations, seed=seed
        )
    )
    return frame


def spatial_task(
    images: Any,
    times: Any,
    masks: Any = None,
    *,
    subsize: int | None = None,
    n_permutations: int | None = None,
    seed: int | None = None,
) -> Delayed:
    """:func:`spatial_indicators_through_time` as a delayed DataFrame (a few tasks)."""
    kwargs = _spatial_settings(subsize=subsize, n_permutations=n_permutations, seed=seed)
    masks = [None] * len(times) if masks is None else masks
    size = max(1, math.ceil(len(times) / _TASKS))
    groups = [
        dask.delayed(_spatial_group)(
            InTask(images[i : i + size]), InTask(masks[i : i + size]), **kwargs
        )
        for i in range(0, len(times), size)
    ]
    return dask.delayed(_spatial_frame)(times, groups)


def _spatial_frame(times: Any, groups: list[list[dict[str, Any]]]) -> pd.DataFrame:
    rows = []
    for t, res in zip(times, [r for group in groups for r in group], strict=True):
        row = {"time": t}
        for k in SPATIAL_INDICATORS:
            row[k] = res[k]["value"]
            row[f"{k}_p_value"] = res[k]["p_value"]
        row.update({f"patch_{k}": v for k, v in (res["patches"] or {}).items()})
        rows.append(row)
    return pd.DataFrame(rows).set_index("time")
