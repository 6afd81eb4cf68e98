"""Tied centralities: tie_sensitivity against brute force over orderings, and ties="whole"."""

import itertools
import math

import numpy as np
import pytest

from vegdask.kernels import (
    feature_vector,
    feature_vector_metrics,
    tie_sensitivity,
    tile_feature_vectors,
)


def dense_adjacency(mask, diagonal=False):
    coords = np.argwhere(mask)
    diff = np.abs(coords[:, None, :] - coords[None, :, :])
    adjacent = (diff.sum(axis=-1) == 1) | (diagonal & (diff.max(axis=-1) == 1))
    return adjacent.astype(int)


def tie_groups(mask, diagonal=False, tolerance=1e-10):
    """Dense SC = diag(exp(A)) by eigh; descending; groups = chains of relative gaps <= tol."""
    adjacency = dense_adjacency(mask, diagonal)
    values, vectors = np.linalg.eigh(adjacency.astype(float))
    sc = (vectors**2) @ np.exp(values)
    order = sorted(range(len(sc)), key=lambda i: (-sc[i], i))
    groups, current = [], [order[0]]
    for prev, nxt in itertools.pairwise(order):
        if sc[prev] - sc[nxt] <= tolerance * sc[prev]:
            current.append(nxt)
        else:
            groups.append(current)
            current = [nxt]
    groups.append(current)
    return groups, adjacency


def cut_sizes(n, q):
    x = range(0, 101, int(100 / q))
    return [round(x[i] * n / 100) for i in range(1, q)]


def euler(adjacency, top):
    return len(top) - adjacency[np.ix_(top, top)].sum() // 2


def brute_force_spread(mask, q, diagonal=False):
    """offset50 over every order of the pixels in the tie groups that the two cuts pass through."""
    groups, adjacency = tie_groups(mask, diagonal)
    n = adjacency.shape[0]
    sizes = cut_sizes(n, q)
    cuts = (sizes[q // 2 - 1], sizes[-1])
    bounds = np.cumsum([0] + [len(g) for g in groups])
    split = [
        i for i, (a, b) in enumerate(itertools.pairwise(bounds)) if any(a < c < b for c in cuts)
    ]
    ranked = [p for g in groups for p in g]
    assert math.prod(math.factorial(len(groups[i])) for i in split) <= 50_000  # keep it small
    values = set()
    for perms in itertools.product(*(itertools.permutations(groups[i]) for i in split)):
        order = list(ranked)
        for i, perm in zip(split, perms, strict=True):
            order[bounds[i] : bounds[i + 1]] = perm
        values.add(euler(adjacency, order[: cuts[1]]) - euler(adjacency, order[: cuts[0]]))
    return max(values) - min(values)


def small_masks():
    yield "2x3", np.ones((2, 3), bool)
    yield "3x2", np.ones((3, 2), bool)
    yield "3x3", np.ones((3, 3), bool)
    yield "2x5", np.ones((2, 5), bool)
    ring = np.ones((3, 3), bool)
    ring[1, 1] = False
    yield "ring", ring  # an 8-cycle: every pixel ties
    cross = np.zeros((5, 5), bool)
    cross[2] = cross[:, 2] = True
    yield "cross", cross
    stripes = np.zeros((3, 4), bool)
    stripes[::2] = True
    yield "stripes", stripes
    rng = np.random.default_rng(0)
    for k in range(6):
        yield f"random {k}", rng.random((4, 5)) < 0.7


MASKS = list(small_masks())


@pytest.mark.parametrize("q", [4, 5, 10, 20])
@pytest.mark.parametrize(("name", "mask"), MASKS, ids=[n for n, _ in MASKS])
def test_tie_sensitivity_equals_brute_force_over_orderings(name, mask, q):
    assert tie_sensitivity(mask, num_quantiles=q) == brute_force_spread(mask, q)


def test_tie_sensitivity_is_not_vacuous_and_zero_without_ties():
    spreads = [tie_sensitivity(m, num_quantiles=q) for _, m in MASKS for q in (4, 5, 10, 20)]
    assert max(spreads) > 0
    # A mask without any tie at all (every centrality distinct) has sensitivity 0.
    rng = np.random.default_rng(3)
    for _ in range(20):
        mask = rng.random((6, 6)) < 0.8
        groups, _ = tie_groups(mask)
        if all(len(g) == 1 for g in groups):
            assert tie_sensitivity(mask) == 0.0
            break
    else:
        pytest.fail("no tie-free mask found")


def test_large_groups_give_an_upper_bound():
    # A 20 x 20 block: the solid interior ties at 1e-10, far too many subsets to enumerate.
    block = np.ones((20, 20), bool)
    bound = tie_sensitivity(block)
    offsets = {
        feature_vector_metrics(feature_vector(m))["offset50"]
        for m in (block, block.T, block[::-1], block[:, ::-1], block[::-1, ::-1])
    }
    assert bound >= max(offsets) - min(offsets)
    assert bound > 0


def whole_reference(mask, q):
    """Cuts moved to the nearer tie-group boundary (upper one if equal), written plainly."""
    groups, adjacency = tie_groups(mask)
    ranked = [p for g in groups for p in g]
    bounds = np.cumsum([0] + [len(g) for g in groups])
    fv = [0]
    for c in cut_sizes(len(ranked), q):
        inside = [(a, b) for a, b in itertools.pairwise(bounds) if a < c < b]
        if inside:
            a, b = inside[0]
            c = a if c - a < b - c else b
        fv.append(euler(adjacency, ranked[:c]))
    return np.array(fv, dtype=float)


@pytest.mark.parametrize(("name", "mask"), MASKS, ids=[n for n, _ in MASKS])
def test_whole_ties_match_plain_reference_and_ignore_orientation(name, mask):
    for q in (5, 20):
        fv = feature_vector(mask, num_quantiles=q, ties="whole")
        np.testing.assert_array_equal(fv, whole_reference(mask, q))
        for image in (mask.T, mask[::-1], mask[:, ::-1]):
            np.testing.assert_array_equal(feature_vector(image, num_quantiles=q, ties="whole"), fv)


def test_row_major_stays_the_default_and_bad_ties_are_rejected():
    mask = np.ones((2, 3), bool)
    np.testing.assert_array_equal(feature_vector(mask), feature_vector(mask, ties="row-major"))
    with pytest.raises(ValueError, match="ties must be one of"):
        feature_vector(mask, ties="random")


@pytest.mark.parametrize("diagonal", [False, True])
def test_tile_feature_vectors_give_each_tiles_tie_sensitivity(diagonal):
    """The tile kernel's figure (from its own centralities) equals a separate call per tile."""
    rng = np.random.default_rng(5)
    block = rng.random((40, 60)) < 0.6
    block[:20, :20] = True  # a solid tile: large tie groups
    block[20:, 20:40] = False  # an empty tile
    block[:20, 40:] = np.tile([True, False], (20, 10))  # stripes: mirror ties
    fv, ties = tile_feature_vectors(
        block, tile_size=20, diagonal=diagonal, num_quantiles=20, with_tie_sensitivity=True
    )
    np.testing.assert_array_equal(
        fv, tile_feature_vectors(block, tile_size=20, diagonal=diagonal, num_quantiles=20)
    )
    expected = [
        [
            tie_sensitivity(block[20 * a : 20 * a + 20, 20 * b : 20 * b + 20], diagonal=diagonal)
            for b in range(3)
        ]
        for a in range(2)
    ]
    np.testing.assert_array_equal(ties, expected)
    assert ties.max() > 0
    assert (ties == 0).any()


def test_edge_range_of_every_subset_size_against_plain_enumeration():
    from vegdask.kernels._ties import _edge_range  # (tests may use private helpers)

    rng = np.random.default_rng(3)
    g = 9
    upper = np.triu(rng.random((g, g)) < 0.4, 1)
    adjacency = (upper | upper.T).astype(np.int64)
    b = rng.integers(0, 3, g)
    for k in range(g + 1):
        values = [
            sum(b[v] for v in subset)
            + sum(adjacency[u, v] for u, v in itertools.combinations(subset, 2))
            for subset in itertools.combinations(range(g), k)
        ]
        assert _edge_range(b, adjacency, k) == (max(values) - min(values), True), k


def test_a_large_tie_group_cut_near_its_end_needs_little_memory():
    import tracemalloc

    from vegdask.kernels._ties import _edge_range  # (tests may use private helpers)

    g = 200  # a path of 200 tied pixels, all but two of them chosen
    adjacency = np.eye(g, k=1, dtype=np.int64) + np.eye(g, k=-1, dtype=np.int64)
    b = np.zeros(g, dtype=np.int64)
    b[0] = 1
    tracemalloc.start()
    spread, exact = _edge_range(b, adjacency, g - 2)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # Leaving out two pixels loses 2 edges (two neighbours at the far end) to 4 (two pixels apart
    # inside, or pixel 0 with its outside edge and an inside pixel): a range of 2.
    assert (spread, exact) == (2, True)
    assert peak < 50 * 2**20  # the direct enumeration would take 19,900 x 198 x 198 integers
