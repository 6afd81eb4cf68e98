"""How much offset50 depends on the order of tied pixels (behind :func:`tie_sensitivity`).

Pixels whose subgraph centralities agree to a relative 1e-10 are tied (their order is rounding
noise; see :func:`vegdask.kernels.feature_vector`). offset50 = fv[-1] - fv[Q // 2] depends on the
order of tied pixels only through the two cuts it reads: at a cut of size c inside a tie group G
(positions start..stop), the chosen pixels are the ranks above G plus any k = c - start pixels S
of G, and ``V - E = c - E(above) - sum_{v in S} b_v - e(S)``, with ``b_v`` the edges from v to the
pixels above G and ``e(S)`` the edges inside S. The range of ``sum b + e(S)`` over the subsets is
found by enumerating them when there are at most ``_MAX_SUBSETS``; above that it is bounded.
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import numpy.typing as npt

__all__: list[str] = []

_MAX_SUBSETS = 20_000


def _group_edges(
    order: npt.NDArray[np.int64],
    nbr: npt.NDArray[np.int64],
    deg: npt.NDArray[np.int64],
    start: int,
    stop: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``b`` (edges from each group pixel to the ranks above) and the group's adjacency matrix."""
    group = order[start:stop]
    rank = np.empty(order.shape[0], dtype=np.int64)
    rank[order] = np.arange(order.shape[0])
    b = np.zeros(group.shape[0], dtype=np.int64)
    adjacency = np.zeros((group.shape[0], group.shape[0]), dtype=np.int64)
    for i, u in enumerate(group):
        for w in nbr[u, : deg[u]]:
            if rank[w] < start:
                b[i] += 1
            elif rank[w] < stop:
                adjacency[i, rank[w] - start] = 1
    return b, adjacency


def _subset_edges(b: np.ndarray, adjacency: np.ndarray, subsets: np.ndarray) -> np.ndarray:
    """``sum b + e(S)`` for each row of ``subsets`` (indices into the group)."""
    inner = adjacency[subsets[:, :, None], subsets[:, None, :]].sum(axis=(1, 2)) // 2
    return b[subsets].sum(axis=1) + inner


def _edge_range(b: np.ndarray, adjacency: np.ndarray, k: int) -> tuple[int, bool]:
    """Largest minus smallest ``sum b + e(S)`` over k-subsets S of the group; whether exact.

    Past half the group the complements C are enumerated instead (there are as many, and they
    are smaller: a group of 200 with k = 198 would otherwise take 19,900 x 198 x 198 integers):
    ``sum b(S) + e(S) = const - sum_C (b_v + d_v) + e(C)``, d_v the degree inside the group.
    """
    g = b.shape[0]
    if math.comb(g, k) <= _MAX_SUBSETS:
        if 2 * k > g:
            left_out = np.array(list(combinations(range(g), g - k)), dtype=np.int64)
            edges = -_subset_edges(b + adjacency.sum(axis=1), -adjacency, left_out)
        else:
            chosen = np.array(list(combinations(range(g), k)), dtype=np.int64)
            edges = _subset_edges(b, adjacency, chosen)
        return int(edges.max() - edges.min()), True
    inner_deg = np.sort(adjacency.sum(axis=1))
    total = int(adjacency.sum()) // 2
    sorted_b = np.sort(b)
    most = sorted_b[-k:].sum() + min(total, int(inner_deg[-k:].sum()) // 2)
    least = sorted_b[:k].sum() + max(0, total - int(inner_deg[k:].sum()))
    return int(most - least), False


def _nested_range(b: np.ndarray, adjacency: np.ndarray, k_low: int, k_high: int) -> int | None:
    """Range of ``E(S_high) - E(S_low)`` over nested subsets S_low in S_high, if enumerable."""
    g = b.shape[0]
    if math.comb(g, k_high) * math.comb(k_high, k_low) > _MAX_SUBSETS:
        return None
    values = []
    for high in combinations(range(g), k_high):
        lows = np.array(list(combinations(high, k_low)), dtype=np.int64).reshape(-1, k_low)
        e_high = _subset_edges(b, adjacency, np.array([high]))[0]
        values.extend(e_high - _subset_edges(b, adjacency, lows))
    return int(max(values) - min(values))


def _offset50_spread(
    order: npt.NDArray[np.int64],
    nbr: npt.NDArray[np.int64],
    deg: npt.NDArray[np.int64],
    starts: npt.NDArray[np.int64],
    stops: npt.NDArray[np.int64],
    cuts: tuple[int, int],
) -> float:
    """Spread of offset50 over the orderings of tied pixels, from the ranking and its tie groups.

    ``order`` ranks the nodes (neighbour lists ``nbr``, degrees ``deg``), ``starts``/``stops`` are
    each rank position's tie-group bounds, ``cuts`` the sizes of the cuts fv[Q // 2] and fv[-1].
    """
    n = order.shape[0]
    split = [c for c in cuts if 0 < c < n and starts[c] < c]
    if not split:
        return 0.0
    if len(split) == 2 and starts[split[0]] == starts[split[1]] and split[0] != split[1]:
        start, stop = int(starts[split[0]]), int(stops[split[0]])
        b, adjacency = _group_edges(order, nbr, deg, start, stop)
        nested = _nested_range(b, adjacency, split[0] - start, split[1] - start)
        if nested is not None:
            return float(nested)
    if len(split) == 2 and split[0] == split[1]:
        return 0.0  # the same pixels at both cuts: offset50 = 0 whatever the order
    spread = 0
    for c in split:
        start, stop = int(starts[c]), int(stops[c])
        b, adjacency = _group_edges(order, nbr, deg, start, stop)
        spread += _edge_range(b, adjacency, c - start)[0]
    return float(spread)
