"""Subgraph centrality of pixel graphs and pyveg's feature vector, without dense linear algebra.

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
``T_2m+1(B)_ii = 2 v_m.v_m+1`` (no self loops), and ``v_m`` is non-zero only within graph
distance m of i. Each node therefore costs a breadth-first ball of radius ~10-16 instead of the
whole graph.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = [
    "feature_vector",
    "feature_vector_metrics",
    "subgraph_centrality",
    "tile_feature_vectors",
]

# Neighbour offsets (row, col), 4-neighbourhood first so the 8-neighbourhood extends it.
_OFFSETS_4 = np.array([[-1, 0], [0, -1], [0, 1], [1, 0]], dtype=np.int64)
_OFFSETS_8 = np.array(
    [[-1, -1], [-1, 0], [-1, 1], [0, -1], [0, 1], [1, -1], [1, 0], [1, 1]], dtype=np.int64
)
# Truncate the Chebyshev series once the remaining coefficients sum below this (SC_i >= 1, so it is
# also a bound on the relative error).
_SERIES_TOLERANCE = 1e-13
# Centralities equal to this relative tolerance are ties (they differ only by rounding).
_TIE_TOLERANCE = 1e-10
_MAX_DEGREE = 8


# -------------------------------------------------------------------------------------------------
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


# -------------------------------------------------------------------------------------------------
# numba kernels


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
    nbr: npt.NDArray[np.int64],
    deg: npt.NDArray[np.int64],
    table: npt.NDArray[np.float64],
    bipartite: bool,
) -> npt.NDArray[np.float64]:
    """Subgraph centrality of every node by the local Chebyshev expansion (module docstring).

    On a bipartite graph (the 4-neighbour grid) ``v_m`` lives only on the layers of the
    breadth-first ball whose distance has the parity of m, so only those are computed and the odd
    terms vanish.
    """
    n = deg.shape[0]
    sc = np.ones(n, dtype=np.float64)
    rho = 0
    for i in range(n):
        rho = max(rho, deg[i])
    if rho == 0:
        return sc  # no edges: exp(0) = I
    coef = table[rho]
    last = coef.shape[0] - 1
    while coef[last] == 0.0:
        last -= 1
    half = (last + 1) // 2  # v_0 .. v_half are needed
    inv_rho = 1.0 / rho
    step = 2 if bipartite else 1

    layer = np.full(n, -1, dtype=np.int64)
    ball = np.empty(n, dtype=np.int64)
    # Layer d of the ball is ball[starts[d]:starts[d + 1]].
    starts = np.zeros(half + 2, dtype=np.int64)
    v_prev = np.zeros(n)
    v_cur = np.zeros(n)
    v_next = np.zeros(n)
    for i in range(n):
        ball[0] = i
        layer[i] = 0
        size = 1
        head = 0
        starts[1] = 1
        for d in range(1, half + 1):
            end = size
            while head < end:
                u = ball[head]
                head += 1
                for j in range(deg[u]):
                    w = nbr[u, j]
                    if layer[w] < 0:
                        layer[w] = d
                        ball[size] = w
                        size += 1
            starts[d + 1] = size

        v_cur[i] = 1.0
        total = coef[0]
        for m in range(half):
            # v_{m+1} = 2 B v_m - v_{m-1} (v_1 = B v_0), non-zero within distance m + 1.
            scale = inv_rho if m == 0 else 2.0 * inv_rho
            for d in range((m + 1) % step, m + 2, step):
                for b in range(starts[d], starts[d + 1]):
                    u = ball[b]
                    acc = 0.0
                    for j in range(deg[u]):
                        acc += v_cur[nbr[u, j]]
                    v_next[u] = scale * acc - (v_prev[u] if m > 0 else 0.0)
            if not bipartite and 2 * m + 1 <= last:
                dot = 0.0
                for b in range(starts[m + 1]):
                    u = ball[b]
                    dot += v_cur[u] * v_next[u]
                total += coef[2 * m + 1] * 2.0 * dot
            v_prev, v_cur, v_next = v_cur, v_next, v_prev
            if 2 * m + 2 <= last:
                dot = 0.0
                for d in range((m + 1) % step, m + 2, step):
                    for b in range(starts[d], starts[d + 1]):
                        u = ball[b]
                        dot += v_cur[u] * v_cur[u]
                total += coef[2 * m + 2] * (2.0 * dot - 1.0)
        sc[i] = total
        for b in range(size):
            u = ball[b]
            layer[u] = -1
            v_prev[u] = 0.0
            v_cur[u] = 0.0
            v_next[u] = 0.0
    return sc


@njit(cache=True, nogil=True)
def _rank_by_centrality(sc: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """Node indices by descending SC; runs of values equal to _TIE_TOLERANCE in row-major order."""
    order = np.argsort(-sc, kind="mergesort")
    n = order.shape[0]
    start = 0
    while start < n:
        stop = start + 1
        while (
            stop < n
            and sc[order[stop - 1]] - sc[order[stop]] <= _TIE_TOLERANCE * sc[order[stop - 1]]
        ):
            stop += 1
        if stop - start > 1:
            order[start:stop] = np.sort(order[start:stop])
        start = stop
    return order


@njit(cache=True, nogil=True)
def _euler_curve(
    order: npt.NDArray[np.int64],
    nbr: npt.NDArray[np.int64],
    deg: npt.NDArray[np.int64],
    sizes: npt.NDArray[np.int64],
) -> npt.NDArray[np.float64]:
    """V - E of the subgraph induced by the top ``sizes[q]`` nodes of ``order``, for every q."""
    n = order.shape[0]
    chosen = np.zeros(n, dtype=np.bool_)
    fv = np.zeros(sizes.shape[0], dtype=np.float64)
    edges = 0
    taken = 0
    for q in range(sizes.shape[0]):
        while taken < sizes[q]:
            u = order[taken]
            for j in range(deg[u]):
                if chosen[nbr[u, j]]:
                    edges += 1
            chosen[u] = True
            taken += 1
        fv[q] = taken - edges
    return fv


@njit(cache=True, nogil=True)
def _mask_feature_vector(
    mask: npt.NDArray[np.bool_],
    offsets: npt.NDArray[np.int64],
    table: npt.NDArray[np.float64],
    fractions: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    nbr, deg = _pixel_graph(mask, offsets)
    n = deg.shape[0]
    fv = np.zeros(fractions.shape[0] + 1, dtype=np.float64)
    if n == 0:
        return fv
    sizes = np.empty(fractions.shape[0], dtype=np.int64)
    for q in range(fractions.shape[0]):
        sizes[q] = _python_round(fractions[q] * n / 100.0)
    order = _rank_by_centrality(_graph_centrality(nbr, deg, table, offsets.shape[0] == 4))
    fv[1:] = _euler_curve(order, nbr, deg, sizes)
    return fv


@njit(cache=True, nogil=True)
def _python_round(x: float) -> int:
    """Python's ``round`` (half to even), as pyveg used for the quantile sizes."""
    return int(np.round(x))


@njit(cache=True, nogil=True)
def _tiles_feature_vectors(
    block: npt.NDArray[np.bool_],
    tile_size: int,
    offsets: npt.NDArray[np.int64],
    table: npt.NDArray[np.float64],
    fractions: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    ty = block.shape[0] // tile_size
    tx = block.shape[1] // tile_size
    out = np.empty((ty, tx, fractions.shape[0] + 1), dtype=np.float64)
    for a in range(ty):
        for b in range(tx):
            tile = block[a * tile_size : (a + 1) * tile_size, b * tile_size : (b + 1) * tile_size]
            out[a, b] = _mask_feature_vector(tile.copy(), offsets, table, fractions)
    return out


# -------------------------------------------------------------------------------------------------
# Public API


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


def _quantile_fractions(num_quantiles: int) -> npt.NDArray[np.float64]:
    """Percentages ``i * int(100 / Q)``, i = 1..Q-1: pyveg's cuts ``range(0, 101, int(100 / Q))``.

    For Q dividing 100 these are the even steps (5, 10, ..., 95 % for Q = 20); otherwise the step is
    truncated (Q = 30: 3, 6, ..., 87 %; Q = 8: 12, 24, ..., 84 %), as pyveg computed them.
    """
    if isinstance(num_quantiles, bool) or not isinstance(num_quantiles, int | np.integer):
        raise ValueError(f"num_quantiles must be an integer from 2 to 100, got {num_quantiles!r}")
    if not 2 <= num_quantiles <= 100:
        raise ValueError(f"num_quantiles must be an integer from 2 to 100, got {num_quantiles}")
    step = 100 // int(num_quantiles)
    return np.array([i * step for i in range(1, num_quantiles)], dtype=np.float64)


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
    nbr, deg = _pixel_graph(arr, _offsets(diagonal))
    return _graph_centrality(nbr, deg, _chebyshev_table(), not diagonal)


def feature_vector(
    mask: npt.ArrayLike, *, diagonal: bool = False, num_quantiles: int = 20
) -> npt.NDArray[np.float64]:
    """Compute pyveg's network-centrality feature vector of a binary image.

    Pixels are ranked by subgraph centrality, highest first. For i = 1..Q-1 the top
    ``n_i = round(i * int(100 / Q) * N / 100)`` pixels (Python's ``round``) induce a subgraph whose
    Euler characteristic ``V - E`` is ``fv[i]``; ``fv[0]`` is 0, so for Q = 20 the last element is
    the 95 % cut, and for a Q that does not divide 100 the percentage step is truncated (Q = 30
    cuts at 3, 6, ..., 87 %). These quirks are pyveg's (its cuts are
    ``range(0, 101, int(100 / Q))``) and keep published offset50 values comparable.

    Ties: pixels whose centralities agree to a relative 1e-10 (equal up to rounding, e.g.
    mirror-image positions) are taken in row-major order, so on masks with ties the vector can
    depend on the image's orientation.

    Parameters
    ----------
    mask : (M, N) array_like of bool
        The graph's nodes are the True pixels (or 1s).
    diagonal : bool, default False
        Whether diagonal neighbours are adjacent.
    num_quantiles : int, default 20
        Q, the length of the feature vector, from 2 to 100 (pyveg's step ``int(100 / Q)`` is 0
        above 100).

    Returns
    -------
    (Q,) ndarray of float64
        The feature vector; all zeros for an empty mask.

    Raises
    ------
    ValueError
        If ``mask`` is not 2-D or not boolean, or ``num_quantiles`` is not in 2..100.

    Examples
    --------
    A 2x2 block: the top 50 % is an adjacent pair (V - E = 1), the top 75 % a path of three (1).

    >>> import numpy as np
    >>> feature_vector(np.ones((2, 2), dtype=bool), num_quantiles=4)
    array([0., 1., 1., 1.])
    """
    fractions = _quantile_fractions(num_quantiles)
    arr = _as_mask(mask)
    return _mask_feature_vector(arr, _offsets(diagonal), _chebyshev_table(), fractions)


def tile_feature_vectors(
    mask_block: npt.ArrayLike,
    *,
    tile_size: int = 50,
    diagonal: bool = False,
    num_quantiles: int = 20,
) -> npt.NDArray[np.float64]:
    """Feature vectors of every full ``tile_size`` x ``tile_size`` tile of a block, in one call.

    This is the per-chunk task of the tile-metrics stage: one call runs many tiles without returning
    to Python, and releases the GIL so dask threads run blocks in parallel. Partial tiles at the
    lower and right edges are ignored.

    Parameters
    ----------
    mask_block : (M, N) array_like of bool
        A block of the binary image.
    tile_size : int, default 50
        The tile side in pixels.
    diagonal, num_quantiles
        As in :func:`feature_vector`.

    Returns
    -------
    (M // tile_size, N // tile_size, Q) ndarray of float64
        ``out[a, b]`` is ``feature_vector`` of tile (a, b).

    Examples
    --------
    >>> import numpy as np
    >>> block = np.zeros((4, 6), dtype=bool)
    >>> block[:2, :2] = True
    >>> tile_feature_vectors(block, tile_size=2, num_quantiles=4)[:, :, -1]
    array([[1., 0., 0.],
           [0., 0., 0.]])
    """
    if isinstance(tile_size, bool) or not isinstance(tile_size, int | np.integer) or tile_size < 1:
        raise ValueError(f"tile_size must be a positive integer, got {tile_size!r}")
    fractions = _quantile_fractions(num_quantiles)
    arr = _as_mask(mask_block)
    return _tiles_feature_vectors(
        arr, int(tile_size), _offsets(diagonal), _chebyshev_table(), fractions
    )


def feature_vector_metrics(fv: npt.ArrayLike) -> dict[str, float]:
    """Summary metrics of a feature vector, as pyveg defined them.

    ``slope = (fv[-1] - fv[0]) / Q``, ``offset = fv[-1] - fv[0]``,
    ``offset50 = fv[-1] - fv[Q // 2]``, ``mean`` and ``std`` (population standard deviation).

    Parameters
    ----------
    fv : (Q,) array_like of float
        A feature vector, Q >= 2.

    Returns
    -------
    dict
        Keys ``slope``, ``offset``, ``offset50``, ``mean``, ``std`` (Python floats).

    Raises
    ------
    ValueError
        If ``fv`` is not one-dimensional with at least two elements.

    Examples
    --------
    >>> m = feature_vector_metrics([0.0, -2.0, -4.0, -8.0])
    >>> m["offset50"], m["slope"], m["offset"]
    (-4.0, -2.0, -8.0)
    """
    arr = np.asarray(fv, dtype=np.float64)
    if arr.ndim != 1 or arr.shape[0] < 2:
        raise ValueError(f"fv must be a 1-D feature vector of length >= 2, got shape {arr.shape}")
    q = arr.shape[0]
    return {
        "slope": float((arr[-1] - arr[0]) / q),
        "offset": float(arr[-1] - arr[0]),
        "offset50": float(arr[-1] - arr[q // 2]),
        "mean": float(np.mean(arr)),
        "std": float(np.std(arr)),
    }
