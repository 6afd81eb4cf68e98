"""pyveg's network-centrality feature vector, its metrics and its sensitivity to tied centralities.

Pixels are ranked by subgraph centrality (:mod:`vegdask.kernels._centrality`), highest first; the
top fractions of them induce subgraphs whose Euler characteristics form the feature vector. Pixels
whose centralities differ only by rounding are ties: pyveg orders them row-major (the default
here); ``ties="whole"`` moves each cut to a tie group's boundary and :func:`tie_sensitivity`
measures how much offset50 depends on that order.
"""

# Over 400 lines: a third is the numpydoc (with examples) of the four public functions, and the
# numba helpers share one ranking rule with the tie-group code that must agree with it.

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

from vegdask.kernels._centrality import (
    _as_mask,
    _chebyshev_table,
    _graph_centrality,
    _offsets,
    _pixel_graph,
)
from vegdask.kernels._ties import _offset50_spread

__all__ = ["feature_vector", "feature_vector_metrics", "tie_sensitivity", "tile_feature_vectors"]

# Centralities equal to this relative tolerance are ties (they differ only by rounding).
_TIE_TOLERANCE = 1e-10
_TIES = ("row-major", "whole")


@njit(cache=True, nogil=True)
def _rank_by_centrality(sc: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """Node indices by descending SC; runs of values equal to _TIE_TOLERANCE in row-major order."""
    order = _argsort_descending(sc)
    n = order.shape[0]
    start = 0
    while start < n:
        stop = start + 1
        while (
            stop < n
            and sc[order[stop - 1]] - sc[order[stop]] <= _TIE_TOLERANCE * sc[order[stop - 1]]
        ):
            stop += 1
        for a in range(start + 1, stop):  # insertion sort of the (short) run by index
            node = order[a]
            b = a - 1
            while b >= start and order[b] > node:
                order[b + 1] = order[b]
                b -= 1
            order[b + 1] = node
        start = stop
    return order


@njit(cache=True, nogil=True)
def _argsort_descending(values: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """Stable argsort of ``-values``: a bottom-up merge sort (numba compiles np.argsort slowly)."""
    n = values.shape[0]
    order = np.arange(n)
    merged = np.empty(n, dtype=np.int64)
    width = 1
    while width < n:
        for lo in range(0, n, 2 * width):
            mid = min(lo + width, n)
            hi = min(lo + 2 * width, n)
            i, j = lo, mid
            for k in range(lo, hi):
                if j < hi and (i >= mid or values[order[j]] > values[order[i]]):
                    merged[k] = order[j]
                    j += 1
                else:
                    merged[k] = order[i]
                    i += 1
        order, merged = merged, order
        width *= 2
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
    return _mask_features(mask, offsets, table, fractions)[0]


@njit(cache=True, nogil=True)
def _mask_features(
    mask: npt.NDArray[np.bool_],
    offsets: npt.NDArray[np.int64],
    table: npt.NDArray[np.float64],
    fractions: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], bool]:
    """The feature vector, the centralities, and whether a cut offset50 reads splits a tie group."""
    nbr, deg = _pixel_graph(mask, offsets)
    n = deg.shape[0]
    fv = np.zeros(fractions.shape[0] + 1, dtype=np.float64)
    if n == 0:
        return fv, np.empty(0, dtype=np.float64), False
    sizes = np.empty(fractions.shape[0], dtype=np.int64)
    for q in range(fractions.shape[0]):
        sizes[q] = _python_round(fractions[q] * n / 100.0)
    sc = _graph_centrality(mask, deg.max(), offsets.shape[0] == 8, table)
    order = _rank_by_centrality(sc)
    fv[1:] = _euler_curve(order, nbr, deg, sizes)
    split = False
    for c in (sizes[(fractions.shape[0] + 1) // 2 - 1], sizes[-1]):  # fv[Q // 2], fv[-1]
        # ranks c - 1 and c tie (the rule of _rank_by_centrality and _tie_bounds)
        if 0 < c < n and sc[order[c - 1]] - sc[order[c]] <= _TIE_TOLERANCE * sc[order[c - 1]]:
            split = True
    return fv, sc, split


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
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Each tile's feature vector, centralities (row-major, NaN-padded) and split-tie flag."""
    ty = block.shape[0] // tile_size
    tx = block.shape[1] // tile_size
    out = np.empty((ty, tx, fractions.shape[0] + 1), dtype=np.float64)
    centralities = np.full((ty, tx, tile_size * tile_size), np.nan)
    split = np.zeros((ty, tx), dtype=np.bool_)
    for a in range(ty):
        for b in range(tx):
            tile = block[a * tile_size : (a + 1) * tile_size, b * tile_size : (b + 1) * tile_size]
            fv, sc, tie_split = _mask_features(tile.copy(), offsets, table, fractions)
            out[a, b] = fv
            split[a, b] = tie_split
            centralities[a, b, : sc.shape[0]] = sc
    return out, centralities, split


def _tie_bounds(
    sc: npt.NDArray[np.float64], order: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """For each rank position, the first and one-past-last position of its tie group.

    Consecutive pixels in rank order are tied when their centralities differ by at most
    _TIE_TOLERANCE relative (the rule of _rank_by_centrality), so a group is a chain of such pairs.
    """
    ranked = sc[order]
    new_group = ranked[:-1] - ranked[1:] > _TIE_TOLERANCE * ranked[:-1]
    group = np.concatenate([[0], np.cumsum(new_group)])
    return np.searchsorted(group, group, "left"), np.searchsorted(group, group, "right")


def _whole_group_sizes(
    sizes: npt.NDArray[np.int64], starts: npt.NDArray[np.int64], stops: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Each cut moved to the nearer boundary of the tie group it splits (upper one if equal)."""
    out = sizes.copy()
    for q, size in enumerate(sizes):
        if 0 < size < starts.shape[0] and starts[size] < size:  # positions size-1, size tie
            lo, hi = starts[size], stops[size]
            out[q] = lo if size - lo < hi - size else hi
    return out


def _ranked_graph(
    mask: npt.NDArray[np.bool_], diagonal: bool, sc: npt.NDArray[np.float64] | None = None
) -> tuple[
    npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.int64]
]:
    """Neighbour lists, degrees, centralities (``sc`` if given) and the pyveg-compatible ranking."""
    nbr, deg = _pixel_graph(mask, _offsets(diagonal))
    if sc is None:
        sc = _graph_centrality(mask, int(deg.max(initial=0)), diagonal, _chebyshev_table())
    return nbr, deg, sc, _rank_by_centrality(sc)


def _tie_spread(
    mask: npt.NDArray[np.bool_],
    diagonal: bool,
    fractions: npt.NDArray[np.float64],
    sc: npt.NDArray[np.float64] | None = None,
) -> float:
    """:func:`tie_sensitivity` of a mask, from its centralities ``sc`` when they are known."""
    nbr, deg, sc, order = _ranked_graph(mask, diagonal, sc)
    n = deg.shape[0]
    if n == 0:
        return 0.0
    sizes = _cut_sizes(fractions, n)
    cuts = (int(sizes[(fractions.shape[0] + 1) // 2 - 1]), int(sizes[-1]))  # fv[Q // 2], fv[-1]
    return _offset50_spread(order, nbr, deg, *_tie_bounds(sc, order), cuts)


def _cut_sizes(fractions: npt.NDArray[np.float64], n: int) -> npt.NDArray[np.int64]:
    return np.array([_python_round(f * n / 100.0) for f in fractions], dtype=np.int64)


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


def feature_vector(
    mask: npt.ArrayLike, *, diagonal: bool = False, num_quantiles: int = 20, ties: str = "row-major"
) -> npt.NDArray[np.float64]:
    """Compute pyveg's network-centrality feature vector of a binary image.

    Pixels are ranked by subgraph centrality, highest first. For i = 1..Q-1 the top
    ``n_i = round(i * int(100 / Q) * N / 100)`` pixels (Python's ``round``) induce a subgraph whose
    Euler characteristic ``V - E`` is ``fv[i]``; ``fv[0]`` is 0, so for Q = 20 the last element is
    the 95 % cut, and for a Q that does not divide 100 the percentage step is truncated (Q = 30
    cuts at 3, 6, ..., 87 %). These quirks are pyveg's (its cuts are
    ``range(0, 101, int(100 / Q))``) and keep published offset50 values comparable.

    Ties: pixels whose centralities agree to a relative 1e-10 (equal up to rounding, e.g.
    mirror-image positions or the interior of a solid region; a tie group is a chain of such
    neighbours in rank order) are taken in row-major order (``ties="row-major"``, pyveg-compatible:
    pyveg's order there was rounding noise), so on masks with ties the vector can depend on the
    image's orientation. ``ties="whole"`` moves each cut that splits a tie group to the group's
    nearer boundary (the upper one at equal distance), so the vector no longer depends on the
    order of tied pixels; :func:`tie_sensitivity` says how much offset50 can move.

    Parameters
    ----------
    mask : (M, N) array_like of bool
        The graph's nodes are the True pixels (or 1s).
    diagonal : bool, default False
        Whether diagonal neighbours are adjacent.
    num_quantiles : int, default 20
        Q, the length of the feature vector, from 2 to 100 (pyveg's step ``int(100 / Q)`` is 0
        above 100).
    ties : {"row-major", "whole"}, default "row-major"
        How a cut through a group of tied pixels is made (see above).

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

    In a 2 x 3 block the four corners tie: the 60 % cut (4 of 6 pixels) takes two of them, so
    the vector depends on which; ``ties="whole"`` takes all four (or none).

    >>> block = np.ones((2, 3), dtype=bool)
    >>> feature_vector(block)[12], feature_vector(block.T)[12]
    (np.float64(1.0), np.float64(0.0))
    >>> feature_vector(block, ties="whole")[12], feature_vector(block.T, ties="whole")[12]
    (np.float64(-1.0), np.float64(-1.0))
    """
    fractions = _quantile_fractions(num_quantiles)
    if ties not in _TIES:
        raise ValueError(f"ties must be one of {_TIES}, got {ties!r}")
    arr = _as_mask(mask)
    if ties == "row-major":
        return _mask_feature_vector(arr, _offsets(diagonal), _chebyshev_table(), fractions)
    nbr, deg, sc, order = _ranked_graph(arr, diagonal)
    fv = np.zeros(num_quantiles, dtype=np.float64)
    if deg.shape[0]:
        sizes = _whole_group_sizes(_cut_sizes(fractions, deg.shape[0]), *_tie_bounds(sc, order))
        fv[1:] = _euler_curve(order, nbr, deg, sizes)
    return fv


def tie_sensitivity(
    mask: npt.ArrayLike, *, diagonal: bool = False, num_quantiles: int = 20
) -> float:
    """Largest change of offset50 over the orderings of tied pixels (0 when no cut splits a tie).

    The spread (largest minus smallest) of offset50 = fv[-1] - fv[Q // 2] over every order of the
    pixels within each tie group (centralities equal to a relative 1e-10), computed from the tie
    groups at the two cuts offset50 reads, not by trying orders. It is exact when the split groups
    have at most 20,000 subsets of the cut's size (small groups: mirror positions); for larger
    groups (solid interiors) it is an upper bound from the pixels' edge counts.
    :func:`tile_feature_vectors` gives it for every tile from the centralities it computes.

    Parameters
    ----------
    mask : (M, N) array_like of bool
        The graph's nodes are the True pixels (or 1s).
    diagonal, num_quantiles
        As in :func:`feature_vector`.

    Returns
    -------
    float
        0 where offset50 does not depend on the order of tied pixels.

    Examples
    --------
    In a 2 x 3 block the four corners tie and the 95 % cut (round(5.7) = 6 pixels) takes them all,
    but the 50 % cut (3 pixels) takes the two middle pixels and one corner: any corner gives
    V - E = 1, so offset50 does not depend on the order.

    >>> import numpy as np
    >>> tie_sensitivity(np.ones((2, 3), dtype=bool))
    0.0
    >>> tie_sensitivity(np.ones((2, 3), dtype=bool), num_quantiles=4)  # cuts at 50 %, 75 %
    1.0
    """
    return _tie_spread(_as_mask(mask), diagonal, _quantile_fractions(num_quantiles))


def tile_feature_vectors(
    mask_block: npt.ArrayLike,
    *,
    tile_size: int = 50,
    diagonal: bool = False,
    num_quantiles: int = 20,
    with_tie_sensitivity: bool = False,
) -> npt.NDArray[np.float64] | tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
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
    with_tie_sensitivity : bool, default False
        Also return each tile's :func:`tie_sensitivity`, from the centralities computed for the
        feature vectors (only tiles where a cut offset50 reads splits a tie group cost extra).

    Returns
    -------
    (M // tile_size, N // tile_size, Q) ndarray of float64
        ``out[a, b]`` is ``feature_vector`` of tile (a, b).
    (M // tile_size, N // tile_size) ndarray of float64
        With ``with_tie_sensitivity``: ``tie_sensitivity`` of tile (a, b).

    Examples
    --------
    >>> import numpy as np
    >>> block = np.zeros((4, 6), dtype=bool)
    >>> block[:2, :2] = True
    >>> tile_feature_vectors(block, tile_size=2, num_quantiles=4)[:, :, -1]
    array([[1., 0., 0.],
           [0., 0., 0.]])

    The 2 x 2 block's four pixels tie: its 50 % cut takes an adjacent pair (V - E = 1) or a
    diagonal one (2), so offset50 can move by 1.

    >>> fv, ties = tile_feature_vectors(
    ...     block, tile_size=2, num_quantiles=4, with_tie_sensitivity=True
    ... )
    >>> ties
    array([[1., 0., 0.],
           [0., 0., 0.]])
    """
    if isinstance(tile_size, bool) or not isinstance(tile_size, int | np.integer) or tile_size < 1:
        raise ValueError(f"tile_size must be a positive integer, got {tile_size!r}")
    fractions = _quantile_fractions(num_quantiles)
    arr = _as_mask(mask_block)
    fv, centralities, split = _tiles_feature_vectors(
        arr, int(tile_size), _offsets(diagonal), _chebyshev_table(), fractions
    )
    if not with_tie_sensitivity:
        return fv
    sensitivity = np.zeros(split.shape, dtype=np.float64)
    for a, b in zip(*np.nonzero(split), strict=True):
        tile = arr[a * tile_size : (a + 1) * tile_size, b * tile_size : (b + 1) * tile_size]
        sc = centralities[a, b, : np.count_nonzero(tile)]
        sensitivity[a, b] = _tie_spread(np.ascontiguousarray(tile), diagonal, fractions, sc)
    return fv, sensitivity


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
