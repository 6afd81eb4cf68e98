"""The centrality kernel against independent references: a dense eigendecomposition, networkx and
closed forms, plus properties the feature vector must have."""

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from scipy.ndimage import gaussian_filter

from vegdask.kernels import (
    feature_vector,
    feature_vector_metrics,
    subgraph_centrality,
    tile_feature_vectors,
)
from vegdask.testing.strategies import masks

# -------------------------------------------------------------------------------------------------
# Straightforward references, written independently of the kernel


def dense_adjacency(mask, diagonal):
    coords = np.argwhere(mask)
    diff = np.abs(coords[:, None, :] - coords[None, :, :])
    chebyshev = diff.max(axis=-1)
    manhattan = diff.sum(axis=-1)
    adjacent = (manhattan == 1) | (diagonal & (chebyshev == 1))
    return adjacent.astype(float)


def dense_centrality(mask, diagonal):
    """SC_i = sum_j phi_ij^2 exp(lambda_j), as Estrada defines it and pyveg computed it."""
    eigenvalues, eigenvectors = np.linalg.eigh(dense_adjacency(mask, diagonal))
    return (eigenvectors**2) @ np.exp(eigenvalues)


def reference_ranking(sc, tie_tolerance):
    """Descending SC; runs of values equal to the relative tolerance in row-major order (the
    kernel's documented rule). None when tie_tolerance is None and the ranking has near-ties."""
    order = np.argsort(-sc, kind="stable")
    ranked = sc[order]
    gaps = -np.diff(ranked) / ranked[:-1]
    if tie_tolerance is None:
        return None if len(gaps) and gaps.min() < 1e-8 else order
    group = np.concatenate([[0], np.cumsum(gaps > tie_tolerance)])
    return order[np.lexsort((order, group))]


def reference_feature_vector(mask, diagonal, num_quantiles=20, tie_tolerance=None):
    """pyveg's definition of the feature vector, from the dense centralities."""
    sc = dense_centrality(mask, diagonal)
    order = reference_ranking(sc, tie_tolerance)
    if order is None:
        return None
    adjacency = dense_adjacency(mask, diagonal)
    fv = np.zeros(num_quantiles)
    percent = range(0, 101, int(100 / num_quantiles))  # pyveg's cuts, written as pyveg wrote them
    for i in range(1, num_quantiles):
        n = round(percent[i] * len(sc) / 100)
        top = order[:n]
        fv[i] = n - adjacency[np.ix_(top, top)].sum() / 2
    return fv


def patterned_tile(seed, size=50, signal_fraction=0.76, sigma=2.0):
    """A thresholded smoothed noise field: labyrinth-like, like pyveg's Sentinel-2 sub-images."""
    field = gaussian_filter(np.random.default_rng(seed).standard_normal((size, size)), sigma)
    return field > np.quantile(field, 1 - signal_fraction)


def structured_masks():
    yield "full block", np.ones((12, 9), bool)
    yield "single pixel", np.ones((1, 1), bool)
    yield "row", np.ones((1, 17), bool)
    yield "column", np.ones((13, 1), bool)
    yield "checkerboard", np.indices((10, 11)).sum(axis=0) % 2 == 0
    ring = np.ones((9, 9), bool)
    ring[2:-2, 2:-2] = False
    yield "ring", ring
    stripes = np.zeros((16, 16), bool)
    stripes[::3] = True
    yield "stripes", stripes
    cross = np.zeros((15, 15), bool)
    cross[7] = cross[:, 7] = True
    yield "cross", cross
    yield "labyrinth", patterned_tile(3, size=30)


def random_masks(count, seed=0):
    rng = np.random.default_rng(seed)
    for k in range(count):
        shape = tuple(rng.integers(1, 26, size=2))
        yield f"random {k}", rng.random(shape) < rng.uniform(0.2, 0.95)


ALL_MASKS = list(structured_masks()) + list(random_masks(40))


# -------------------------------------------------------------------------------------------------
# Subgraph centrality


@pytest.mark.parametrize("diagonal", [False, True])
@pytest.mark.parametrize(("name", "mask"), ALL_MASKS, ids=[n for n, _ in ALL_MASKS])
def test_centrality_matches_dense_eigendecomposition(name, mask, diagonal):
    sc = subgraph_centrality(mask, diagonal=diagonal)
    reference = dense_centrality(mask, diagonal)
    assert sc.dtype == np.float64
    assert sc.shape == (mask.sum(),)
    np.testing.assert_allclose(sc, reference, rtol=1e-10, atol=0)


@pytest.mark.parametrize("diagonal", [False, True])
def test_centrality_matches_networkx(diagonal):
    rng = np.random.default_rng(7)
    for _ in range(10):
        mask = rng.random((7, 8)) < 0.7
        coords = [tuple(c) for c in np.argwhere(mask)]  # row-major, as the kernel orders nodes
        graph = nx.Graph()
        graph.add_nodes_from(coords)
        for r, c in coords:
            steps = [(0, 1), (1, 0)] + ([(1, 1), (1, -1)] if diagonal else [])
            graph.add_edges_from(
                ((r, c), (r + dr, c + dc)) for dr, dc in steps if (r + dr, c + dc) in graph
            )
        expected = nx.subgraph_centrality(graph)
        np.testing.assert_allclose(
            subgraph_centrality(mask, diagonal=diagonal), [expected[c] for c in coords], rtol=1e-10
        )


def path_centrality(n):
    """Closed form for the path P_n: eigenvalues 2 cos(k pi / (n + 1)), sine eigenvectors."""
    j = np.arange(1, n + 1)[:, None]
    k = np.arange(1, n + 1)[None, :]
    phi_sq = 2 / (n + 1) * np.sin(j * k * np.pi / (n + 1)) ** 2
    return phi_sq @ np.exp(2 * np.cos(np.arange(1, n + 1) * np.pi / (n + 1)))


@pytest.mark.parametrize("n", [1, 2, 3, 10, 40])
def test_centrality_of_a_path_has_closed_form(n):
    np.testing.assert_allclose(
        subgraph_centrality(np.ones((1, n), bool)), path_centrality(n), rtol=1e-12
    )


@pytest.mark.parametrize(("rows", "cols"), [(3, 4), (20, 30), (50, 50)])
def test_centrality_of_a_full_block_is_a_product_of_paths(rows, cols):
    # The 4-neighbour block is the Cartesian product P_rows x P_cols:
    # exp(A) = exp(A_r) (x) exp(A_c).
    expected = np.outer(path_centrality(rows), path_centrality(cols)).ravel()
    np.testing.assert_allclose(
        subgraph_centrality(np.ones((rows, cols), bool)), expected, rtol=1e-12
    )


def test_isolated_pixels_have_centrality_one():
    checkerboard = np.indices((6, 6)).sum(axis=0) % 2 == 0
    np.testing.assert_array_equal(subgraph_centrality(checkerboard), np.ones(18))


# -------------------------------------------------------------------------------------------------
# Feature vector


@pytest.mark.parametrize("diagonal", [False, True])
@pytest.mark.parametrize(("name", "mask"), ALL_MASKS, ids=[n for n, _ in ALL_MASKS])
def test_feature_vector_matches_dense_reference_with_documented_ties(name, mask, diagonal):
    expected = reference_feature_vector(mask, diagonal, tie_tolerance=1e-10)
    np.testing.assert_array_equal(feature_vector(mask, diagonal=diagonal), expected)


@pytest.mark.parametrize("diagonal", [False, True])
def test_feature_vector_matches_dense_reference_without_ties(diagonal):
    # Without ties the ranking is by value alone, so no tie rule is involved at all.
    rng = np.random.default_rng(11)
    compared = 0
    for _ in range(120):
        mask = rng.random(tuple(rng.integers(2, 11, size=2))) < 0.8
        expected = reference_feature_vector(mask, diagonal)
        if expected is not None:
            np.testing.assert_array_equal(feature_vector(mask, diagonal=diagonal), expected)
            compared += 1
    assert compared >= 20  # the comparison is not vacuous


def networkx_ranking(mask):
    """networkx's subgraph centrality of the 4-neighbour pixel graph, pixels ranked descending
    (values equal to a relative 1e-10 in row-major order, the documented tie rule)."""
    coords = [tuple(c) for c in np.argwhere(mask)]  # row-major
    graph = nx.grid_2d_graph(*mask.shape).subgraph(coords)
    sc = nx.subgraph_centrality(graph)
    order = reference_ranking(np.array([sc[c] for c in coords]), 1e-10)
    return graph, [coords[k] for k in order]


def networkx_pyveg_feature_vector(graph, ranked, num_quantiles):
    """pyveg's cut rule written plainly: for i = 1..Q-1 the top round(x[i] * N / 100) pixels with
    x = range(0, 101, int(100 / Q)), and their V - E; fv[0] = 0."""
    x = range(0, 101, int(100 / num_quantiles))
    fv = [0.0]
    for i in range(1, num_quantiles):
        top = ranked[: round(x[i] * len(ranked) / 100)]
        fv.append(len(top) - graph.subgraph(top).number_of_edges())
    return np.array(fv)


@pytest.fixture(scope="module")
def labyrinths():
    """Two pyveg-like 50 x 50 binary labyrinths (thresholded smoothed noise, 60 % signal)."""
    masks = [patterned_tile(seed, size=50, signal_fraction=0.6, sigma=2.5) for seed in (21, 22)]
    return [(mask, *networkx_ranking(mask)) for mask in masks]


@pytest.mark.parametrize("num_quantiles", [3, 8, 20, 30, 40])
def test_feature_vector_uses_pyvegs_cuts_against_networkx(labyrinths, num_quantiles):
    # Q = 30 cuts at 3, 6, ..., 87 % and Q = 8 at 12, ..., 84 % (int(100 / Q) steps), not at
    # multiples of 100 / Q; offset50 = fv[-1] - fv[Q // 2] follows.
    for mask, graph, ranked in labyrinths:
        expected = networkx_pyveg_feature_vector(graph, ranked, num_quantiles)
        fv = feature_vector(mask, num_quantiles=num_quantiles)
        np.testing.assert_array_equal(fv, expected)
        assert feature_vector_metrics(fv)["offset50"] == expected[-1] - expected[num_quantiles // 2]
    if num_quantiles == 30:  # the last cut is 87 %, not 96.7 %: the rule makes a difference
        n = int(labyrinths[0][0].sum())
        assert round(87 * n / 100) != round(29 / 30 * n)


def has_ties(mask, diagonal):
    return reference_ranking(dense_centrality(mask, diagonal), None) is None


def test_isolated_pixels_give_the_quantile_sizes():
    # No edges: V - E = V = round(i * 5 * N / 100), Python's round (half to even).
    checkerboard = np.indices((10, 10)).sum(axis=0) % 2 == 0
    n = int(checkerboard.sum())
    expected = [0] + [round(i * 5.0 * n / 100) for i in range(1, 20)]
    np.testing.assert_array_equal(feature_vector(checkerboard), expected)
    assert expected[1] == round(2.5) == 2  # a half-way case is exercised


@pytest.mark.parametrize("num_quantiles", [2, 3, 7, 20, 50])
def test_feature_vector_length_and_first_element(num_quantiles):
    fv = feature_vector(patterned_tile(1, size=20), num_quantiles=num_quantiles)
    assert fv.shape == (num_quantiles,)
    assert fv.dtype == np.float64
    assert fv[0] == 0


def test_empty_mask_gives_zeros():
    np.testing.assert_array_equal(feature_vector(np.zeros((5, 5), bool)), np.zeros(20))
    assert subgraph_centrality(np.zeros((5, 5), bool)).shape == (0,)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(masks(min_side=2, max_side=10, min_fill=0.6))
def test_feature_vector_invariant_under_transposition_and_flips(mask):
    # Tied pixels are taken in row-major order, which a flip changes, so the invariance is exact
    # only for masks without ties (test_ties_follow_row_major_order shows what happens with them).
    for diagonal in (False, True):
        assume(not has_ties(mask, diagonal))
        fv = feature_vector(mask, diagonal=diagonal)
        for image in (mask.T, mask[::-1], mask[:, ::-1], mask[::-1, ::-1]):
            np.testing.assert_array_equal(feature_vector(image, diagonal=diagonal), fv)


def test_ties_follow_row_major_order():
    # A 2 x 3 block: the two middle pixels (degree 3) tie, and so do the four corners. At the 60 %
    # cut (n = round(3.6) = 4) the middles and the first two corners in row-major order are chosen:
    # (0, 0) and (0, 2), each joined to a middle only: 4 nodes, 3 edges, V - E = 1.
    assert feature_vector(np.ones((2, 3), bool))[12] == 1
    # In the 3 x 2 transpose row-major order picks (0, 0) and (0, 1), adjacent to each other and
    # to both middles: a 4-cycle, V - E = 0. Ties make the vector depend on orientation.
    assert feature_vector(np.ones((3, 2), bool))[12] == 0


@settings(max_examples=60, deadline=None)
@given(masks(max_side=20))
def test_euler_characteristic_bounds(mask):
    n = int(mask.sum())
    sizes = np.array([round(i * 5.0 * n / 100) for i in range(1, 20)])
    for diagonal, max_degree in ((False, 4), (True, 8)):
        fv = feature_vector(mask, diagonal=diagonal)[1:]
        # V - E <= V, and each node has at most max_degree neighbours, so E <= max_degree * V / 2.
        assert np.all(fv <= sizes)
        assert np.all(fv >= sizes - max_degree * sizes / 2)


def test_tile_feature_vectors_equals_per_tile_calls():
    block = patterned_tile(5, size=130)  # 2 x 2 full tiles of 50 plus edge strips that are ignored
    for diagonal in (False, True):
        out = tile_feature_vectors(block, tile_size=50, diagonal=diagonal, num_quantiles=10)
        assert out.shape == (2, 2, 10)
        for a in range(2):
            for b in range(2):
                tile = block[a * 50 : (a + 1) * 50, b * 50 : (b + 1) * 50]
                np.testing.assert_array_equal(
                    out[a, b], feature_vector(tile, diagonal=diagonal, num_quantiles=10)
                )


# -------------------------------------------------------------------------------------------------
# Metrics and errors


def test_metrics_closed_form():
    fv = np.array([0, -18, -39, -74, -109, -172, -233, -293, -414, -505, -577, -634, -723, -796,
                   -902, -1021, -1152, -1235, -1308, -1403], dtype=float)  # fmt: skip
    metrics = feature_vector_metrics(fv)
    assert metrics["offset50"] == -1403 - (-577)
    assert metrics["offset"] == -1403
    assert metrics["slope"] == pytest.approx(-1403 / 20)
    assert metrics["mean"] == pytest.approx(fv.sum() / 20)
    assert metrics["std"] == pytest.approx(np.sqrt(((fv - fv.mean()) ** 2).mean()))
    assert set(metrics) == {"slope", "offset", "offset50", "mean", "std"}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.ones((2, 2, 2), bool), "2-D"),
        (np.ones(4, bool), "2-D"),
        (np.array([[0, 2], [1, 0]]), "only 0 and 1"),
        (np.array([["a", "b"]]), "boolean"),
    ],
)
def test_bad_masks_are_rejected_clearly(bad, message):
    with pytest.raises(ValueError, match=message):
        feature_vector(bad)
    with pytest.raises(ValueError, match=message):
        subgraph_centrality(bad)


@pytest.mark.parametrize("q", [1, 0, -3, 2.5, True, 101])
def test_bad_quantile_counts_are_rejected(q):
    with pytest.raises(ValueError, match="num_quantiles must be an integer from 2 to 100"):
        feature_vector(np.ones((3, 3), bool), num_quantiles=q)


def test_metrics_reject_short_vectors():
    with pytest.raises(ValueError, match="length >= 2"):
        feature_vector_metrics([1.0])


def test_integer_masks_are_accepted():
    mask = patterned_tile(2, size=20)
    np.testing.assert_array_equal(feature_vector(mask.astype(np.uint8)), feature_vector(mask))
