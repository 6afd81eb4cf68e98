"""Subgraph centrality of pixel graphs, without dense linear algebra.

The graph's nodes are the True pixels of a 2-D mask; two nodes are adjacent when they are
4-neighbours (or 8-neighbours with ``diagonal=True``). The subgraph centrality of node i is
``SC_i = [exp(A)]_ii`` (Estrada & Rodriguez-Velazquez 2005), the weighted count of closed walks
at i.

Method
------
pyveg diagonalised the dense N x N adjacency matrix (O(N^3), ~1.5 s for a 50x50 tile). Here
``exp(A)`` is expanded in Chebyshev polynomials of ``B = A / rho``, where ``rho`` (the graph's
largest degree) bounds the spectral radius:

    exp(A) = I_0(rho) T_0(B) + 2 sum_{k>=1} I_k(rho) T_k(B),

with ``I_k`` the modified Bessel functions. The coefficients fall faster than ``(rho/2)^k / k!``, so
~21 terms (rho = 4) or ~31 (rho = 8) reach 1e-13. The diagonal entries need only half of the
walk: with ``v_m = T_m(B) e_i``, ``T_2m(B)_ii = 2 v_m.v_m - 1`` and
``T_2m+1(B)_ii = 2 v_m.v_m+1`` (no self loops), and ``v_m`` is non-zero only within distance m
of i. Each node therefore costs a window of radius ~10-16 pixels instead of the whole graph; the
recurrence runs as a stencil on that window times the mask, with no neighbour lists (2.6x faster
than a breadth-first ball over them). Identical neighbourhoods would give identical centralities,
but on thresholded Sentinel-2 tiles no two pixels share their radius-10 neighbourhood, so nothing
is cached.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = ["subgraph_centrality"]

# Neighbour offsets (row, col), 4-neighbourhood first so the 8-neighbourhood extends it.
_OFFSETS_4 = np.array([[-1, 0], [0, -1], [0, 1], [1, 0]], dtype=np.int64)
_OFFSETS_8 = np.array(
    [[-1, -1], [-1, 0], [-1, 1], [0, -1], [0, 1], [1, -1], [1, 0], [1, 1]], dtype=np.int64
)
# Truncate the Chebyshev series once the remaining coefficients sum below this (SC_i >= 1, so it is
# also a bound on the relative error).
_SERIES_TOLERANCE = 1e-13
_MAX_DEGREE = 8


# Chebyshev coefficients of exp(rho x) on [-1, 1]


def _bessel_i(order: int, x: float) -> float:
    """Compute the modified Bessel function I_order(x) by its power series (no cancellation)."""
    term = (x / 2.0) ** order / math.factorial(order)
    total = 0.0
    m = 0
    while term > 1e-300 and (m == 0 or term > total * 1e-18):
        total += term
        m += 1
        term *= (x / 2.0) ** 2 / (m * (m + order))
    return total


@lru_cache(maxsize=1)
def _chebyshev_table() -> npt.NDArray[np.float64]:
    """Row rho: the Chebyshev coefficients c_k of exp(rho x), truncated, zero-padded; rho = 0..8."""
    rows = []
    for rho in range(_MAX_DEGREE + 1):
        coef = [_bessel_i(0, rho)]
        k = 1
        while True:
            tail_bound = 2.0 * sum(_bessel_i(j, rho) for j in range(k, k + 40))
            if tail_bound < _SERIES_TOLERANCE:
                break
            coef.append(2.0 * _bessel_i(k, rho))
            k += 1
        rows.append(coef)
    table = np.zeros((len(rows), max(map(len, rows))), dtype=np.float64)
    for rho, coef in enumerate(rows):
        table[rho, : len(coef)] = coef
    return table


@njit(cache=True, nogil=True)
def _pixel_graph(
    mask: npt.NDArray[np.bool_], offsets: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Nodes in row-major order; ``nbr[i, :deg[i]]`` are the neighbours of node i."""
    ny, nx = mask.shape
    index = np.full((ny, nx), -1, dtype=np.int64)
    n = 0
    for r in range(ny):
        for c in range(nx):
            if mask[r, c]:
                index[r, c] = n
                n += 1
    nbr = np.empty((n, offsets.shape[0]), dtype=np.int64)
    deg = np.zeros(n, dtype=np.int64)
    for r in range(ny):
        for c in range(nx):
            i = index[r, c]
            if i < 0:
                continue
            for o in range(offsets.shape[0]):
                rr = r + offsets[o, 0]
                cc = c + offsets[o, 1]
                if 0 <= rr < ny and 0 <= cc < nx and index[rr, cc] >= 0:
                    nbr[i, deg[i]] = index[rr, cc]
                    deg[i] += 1
    return nbr, deg


@njit(cache=True, nogil=True)
def _graph_centrality(
    mask: npt.NDArray[np.bool_],
    rho: int,
    diagonal: bool,
    table: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """Subgraph centrality of every True pixel, row-major, by the local Chebyshev expansion.

    ``rho`` is the graph's largest degree. ``v_m = T_m(B) e_i`` lives in a window around pixel i
    (a diamond of radius m for 4-neighbours, a square for 8); the update is a stencil on that
    window times the mask (0 off the graph), so it needs no neighbour lists. On the bipartite
    4-neighbour grid ``v_m`` is non-zero only where the window's parity is that of m, so only those
    pixels are computed and the odd terms vanish.
    """
    ny, nx = mask.shape
    sc = np.ones(int(mask.sum()), dtype=np.float64)
    if rho == 0:
        return sc  # no edges: exp(0) = I
    coef = table[rho]
    last = coef.shape[0] - 1
    while coef[last] == 0.0:
        last -= 1
    half = (last + 1) // 2  # v_0 .. v_half are needed
    inv_rho = 1.0 / rho
    # The mask as 0/1 with a margin of half + 1, and the window (centre c0) holding v_m.
    c0 = half + 1
    on = np.zeros((ny + 2 * c0, nx + 2 * c0), dtype=np.float64)
    for r in range(ny):
        for c in range(nx):
            if mask[r, c]:
                on[r + c0, c + c0] = 1.0
    size = 2 * c0 + 1
    buffers = np.zeros((3, size, size), dtype=np.float64)
    i = 0
    for r in range(ny):
        for c in range(nx):
            if not mask[r, c]:
                continue
            win = on[r : r + size, c : c + size]
            v_prev, v_cur, v_next = buffers[0], buffers[1], buffers[2]
            v_cur[c0, c0] = 1.0
            total = coef[0]
            for m in range(half):
                # v_{m+1} = 2 B v_m - v_{m-1} (v_1 = B v_0), non-zero within distance m + 1.
                scale = inv_rho if m == 0 else 2.0 * inv_rho
                if diagonal:
                    dot, cross = _square_step(v_prev, v_cur, v_next, win, c0, m + 1, scale)
                    if 2 * m + 1 <= last:
                        total += coef[2 * m + 1] * 2.0 * cross
                else:
                    dot = _diamond_step(v_prev, v_cur, v_next, win, c0, m + 1, scale)
                if 2 * m + 2 <= last:
                    total += coef[2 * m + 2] * (2.0 * dot - 1.0)
                v_prev, v_cur, v_next = v_cur, v_next, v_prev
            sc[i] = total
            i += 1
            _clear(buffers, c0, half, diagonal)
    return sc


@njit(cache=True, nogil=True, inline="always")
def _clear(buffers, c0, radius, diagonal):
    """Zero the windows where the steps wrote (the diamond or square of the given radius)."""
    for dy in range(-radius, radius + 1):
        reach = radius if diagonal else radius - abs(dy)
        buffers[:, c0 + dy, c0 - reach : c0 + reach + 1] = 0.0


@njit(cache=True, nogil=True, inline="always")
def _diamond_step(v_prev, v_cur, v_next, win, c0, radius, scale):
    """4-neighbour step on the pixels within the radius with its parity; returns v_next.v_next."""
    dot = 0.0
    for dy in range(-radius, radius + 1):
        y = c0 + dy
        reach = radius - abs(dy)
        for x in range(c0 - reach, c0 + reach + 1, 2):
            acc = v_cur[y - 1, x] + v_cur[y + 1, x] + v_cur[y, x - 1] + v_cur[y, x + 1]
            value = (scale * acc - v_prev[y, x]) * win[y, x]
            v_next[y, x] = value
            dot += value * value
    return dot


@njit(cache=True, nogil=True, inline="always")
def _square_step(v_prev, v_cur, v_next, win, c0, radius, scale):
    """8-neighbour step on the square of the given radius; returns v_next.v_next, v_cur.v_next."""
    dot = 0.0
    cross = 0.0
    for y in range(c0 - radius, c0 + radius + 1):
        for x in range(c0 - radius, c0 + radius + 1):
            acc = (
                v_cur[y - 1, x - 1]
                + v_cur[y - 1, x]
                + v_cur[y - 1, x + 1]
                + v_cur[y, x - 1]
                + v_cur[y, x + 1]
                + v_cur[y + 1, x - 1]
                + v_cur[y + 1, x]
                + v_cur[y + 1, x + 1]
            )
            value = (scale * acc - v_prev[y, x]) * win[y, x]
            v_next[y, x] = value
            dot += value * value
            cross += value * v_cur[y, x]
    return dot, cross


def _as_mask(mask: Any) -> npt.NDArray[np.bool_]:
    arr = np.asarray(mask)
    if arr.ndim != 2:
        raise ValueError(
            f"mask must be a 2-D array, got {arr.ndim} dimension(s) with shape {arr.shape}"
        )
    if arr.dtype == np.bool_:
        return np.ascontiguousarray(arr)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"mask must be boolean or hold only 0 and 1, got dtype {arr.dtype}")
    if not np.isin(arr, (0, 1)).all():
        bad = np.unique(arr[~np.isin(arr, (0, 1))])[:5]
        raise ValueError(
            f"mask must be boolean or hold only 0 and 1, found values such as {bad.tolist()}; "
            "threshold the image first (e.g. image >= 255)"
        )
    return np.ascontiguousarray(arr.astype(np.bool_))


def _offsets(diagonal: bool) -> npt.NDArray[np.int64]:
    return _OFFSETS_8 if diagonal else _OFFSETS_4


def subgraph_centrality(mask: npt.ArrayLike, *, diagonal: bool = False) -> npt.NDArray[np.float64]:
    """Subgraph centrality of every True pixel of a binary image.

    Parameters
    ----------
    mask : (M, N) array_like of bool
        The graph's nodes are the True pixels (or 1s).
    diagonal : bool, default False
        Whether diagonal neighbours are adjacent (8-neighbourhood) as well as the 4 orthogonal ones.

    Returns
    -------
    (K,) ndarray of float64
        ``[exp(A)]_ii`` for each of the K True pixels, in row-major order.

    Raises
    ------
    ValueError
        If ``mask`` is not 2-D or holds values other than 0/1.

    Examples
    --------
    A path of three pixels: the centre takes part in more closed walks than the ends.

    >>> import numpy as np
    >>> sc = subgraph_centrality(np.array([[1, 1, 1]], dtype=bool))
    >>> np.round(sc, 6)
    array([1.589092, 2.178184, 1.589092])
    >>> bool(np.isclose(sc[1], np.cosh(np.sqrt(2))))  # closed form for the centre of P3
    True
    """
    arr = _as_mask(mask)
    _, deg = _pixel_graph(arr, _offsets(diagonal))
    return _graph_centrality(arr, int(deg.max(initial=0)), diagonal, _chebyshev_table())
