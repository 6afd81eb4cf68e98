"""Spatial early-warning indicators of one image (Kefi et al. 2014, PLoS ONE 9:e92097).

Coarse-grained variance and skewness, Moran's I at lag 1, the radial power spectrum's
low-frequency ratio (reddening) and a patch-size summary, each with a permutation null: the
pixels shuffled at random keep their distribution and lose their spatial structure.
For periodic patterns (spots, labyrinths) variance-type indicators are not expected to rise
(Dakos et al. 2011); read the spectrum and patch sizes there.
"""

from __future__ import annotations

import warnings
from typing import Any

import dask
import numpy as np
import pandas as pd
from scipy import ndimage, stats

from vegdask.analysis._tasks import compute_tasks

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


# Permuted images processed at once (memory: a few arrays of _BATCH images).
_BATCH = 25


def _indicators_of_stack(stack: np.ndarray, subsize: int) -> dict[str, np.ndarray]:
    """:func:`_indicators` of each image of a (n, ny, nx) stack, vectorised over the stack."""
    n, ny, nx = stack.shape
    by, bx = ny // subsize, nx // subsize
    blocks = stack[:, : by * subsize, : bx * subsize].reshape(n, by, subsize, bx, subsize)
    missing = bool(np.isnan(stack).any())
    with warnings.catch_warnings():  # an all-NaN block is NaN, and is left out
        warnings.simplefilter("ignore", RuntimeWarning)
        cg = (np.nanmean if missing else np.mean)(blocks, axis=(2, 4)).reshape(n, -1)
    size = np.isfinite(cg).sum(axis=1)
    dev = cg - np.nansum(cg, axis=1, keepdims=True) / size[:, None]
    m2 = np.nansum(dev**2, axis=1)
    m3 = np.nansum(dev**3, axis=1) / size
    with np.errstate(invalid="ignore", divide="ignore"):
        skewness = np.where(m2 > 0, m3 / (m2 / size) ** 1.5, np.nan)  # scipy's biased skew
        return {
            "cg_variance": m2 / (size - 1),
            "cg_skewness": skewness,
            "morans_i": _morans_i_of_stack(stack, missing),
            "sdr": _sdr_of_stack(stack, missing),
        }


def _morans_i_of_stack(stack: np.ndarray, missing: bool) -> np.ndarray:
    if missing:  # a product with a missing pixel is NaN and left out
        dev = stack - np.nanmean(stack, axis=(1, 2), keepdims=True)
        pairs = [a * b for a, b in ((dev[:, 1:], dev[:, :-1]), (dev[:, :, 1:], dev[:, :, :-1]))]
        num = 2 * sum(np.nansum(p, axis=(1, 2)) for p in pairs)
        weights = 2 * sum(np.isfinite(p).sum(axis=(1, 2)) for p in pairs)
        n, den = np.isfinite(dev).sum(axis=(1, 2)), np.nansum(dev**2, axis=(1, 2))
    else:
        dev = stack - stack.mean(axis=(1, 2), keepdims=True)
        num = 2 * (
            np.einsum("nij,nij->n", dev[:, 1:], dev[:, :-1])
            + np.einsum("nij,nij->n", dev[:, :, 1:], dev[:, :, :-1])
        )
        ny, nx = stack.shape[1:]
        weights = np.full(len(stack), 2 * ((ny - 1) * nx + ny * (nx - 1)))
        n, den = np.full(len(stack), ny * nx), np.einsum("nij,nij->n", dev, dev)
    ok = (den > 0) & (weights > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, n / weights * num / den, np.nan)


def _sdr_of_stack(
    stack: np.ndarray, missing: bool, low: float = 0.2, high: float = 0.8
) -> np.ndarray:
    n, ny, nx = stack.shape
    x = stack - (np.nanmean if missing else np.mean)(stack, axis=(1, 2), keepdims=True)
    x = np.nan_to_num(x) if missing else x
    # The power of a real image is symmetric: the half-plane of rfft2 counts twice except the
    # columns without a mirror (0 and, for even nx, nx/2). Radii as radial_spectrum's fftshift.
    power = np.abs(np.fft.rfft2(x)) ** 2
    ky, kx = np.indices((ny, nx))
    radius = np.fft.ifftshift(np.hypot(ky - ny // 2, kx - nx // 2).round().astype(int))
    radius = radius[:, : power.shape[2]]
    weight = np.full(power.shape[2], 2.0)
    weight[0] = 1.0
    if nx % 2 == 0:
        weight[-1] = 1.0
    bins = radius.max() + 1
    sums = np.bincount(
        (radius + bins * np.arange(n)[:, None, None]).ravel(), (power * weight).ravel(), n * bins
    ).reshape(n, bins)
    counts = np.bincount(radius.ravel(), np.broadcast_to(weight, radius.shape).ravel())
    k = np.arange(1, min(ny, nx) // 2 + 1)
    cut_low, cut_high = k[0] + low * (k[-1] - k[0]), k[0] + high * (k[-1] - k[0])
    spec = sums[:, k] / counts[k]
    hi = spec[:, k >= cut_high].mean(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(hi > 0, spec[:, k <= cut_low].mean(axis=1) / hi, np.nan)


def spatial_indicators(
    field: Any,
    *,
    subsize: int = 5,
    mask: Any = None,
    n_permutations: int = 199,
    seed: int = 0,
) -> dict[str, Any]:
    """Compute the spatial indicators of one image with permutation nulls.

    Parameters
    ----------
    field : (ny, nx) array_like
        A continuous (NDVI) or binary (vegetation 0/1) image; NaN = missing.
    subsize : int
        Coarse-graining block size (spatialwarnings' default 5).
    mask : (ny, nx) array_like of bool, optional
        Vegetation mask for the patch-size summary (True = vegetation, e.g. ``binary_image == 0``
        of ``mask.zarr``). Default: a binary ``field`` (only 0, 1 and NaN) is its own mask
        (1 = vegetation, NaN = not); a continuous field without a mask has no patch summary.
    n_permutations : int
        Shuffled copies for the null (spatialwarnings: 999).
    seed : int

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
    x = np.asarray(field, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"spatial_indicators takes one 2-d image, got shape {x.shape}")
    observed = _indicators(x, subsize)
    rng = np.random.default_rng(seed)
    flat = x.ravel()
    null = {k: np.empty(n_permutations) for k in observed}
    for start in range(0, n_permutations, _BATCH):
        count = min(_BATCH, n_permutations - start)
        shuffled = np.stack([rng.permutation(flat) for _ in range(count)]).reshape(-1, *x.shape)
        for k, v in _indicators_of_stack(shuffled, subsize).items():
            null[k][start : start + count] = v
    out: dict[str, Any] = {}
    for k, v in observed.items():
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
    images: Any, times: Any, masks: Any = None, **kwargs: Any
) -> pd.DataFrame:
    """Apply :func:`spatial_indicators` per period: one row per time with values and p-values.

    One task a period, on the workers of the default ``distributed`` client when there is one.
    ``masks`` (one vegetation mask per period, optional) are the periods' patch masks; without
    them the defaults of :func:`spatial_indicators` apply (``patch_*`` columns only when there
    is a patch summary).
    """
    masks = [None] * len(times) if masks is None else masks
    tasks = [
        dask.delayed(spatial_indicators)(np.asarray(image), mask=mask, **kwargs)
        for image, mask in zip(images, masks, strict=True)
    ]
    rows = []
    for t, res in zip(times, compute_tasks(*tasks), strict=True):
        row = {"time": t}
        for k in SPATIAL_INDICATORS:
            row[k] = res[k]["value"]
            row[f"{k}_p_value"] = res[k]["p_value"]
        row.update({f"patch_{k}": v for k, v in (res["patches"] or {}).items()})
        rows.append(row)
    return pd.DataFrame(rows).set_index("time")
