"""Kendall's tau against scipy.stats.kendalltau's default and a brute-force exact distribution."""

import itertools

import numpy as np
import pytest
from scipy import stats

from vegdask.kernels import kendall_tau


def _series(rng, n, kind):
    if kind == "continuous":
        return rng.standard_normal(n)
    if kind == "trend":
        return np.cumsum(rng.standard_normal(n)) + 0.05 * np.arange(n)
    if kind == "few values":  # many ties
        return rng.integers(0, max(2, n // 4), n).astype(float)
    return np.round(rng.standard_normal(n), 1)  # "rounded": occasional ties


def _assert_matches_scipy(y):
    ok = ~np.isnan(y)
    ref = stats.kendalltau(np.arange(y.size)[ok], y[ok])  # scipy's defaults: auto, tau-b
    tau, p = kendall_tau(y)
    if np.isnan(ref.statistic):
        assert np.isnan(tau)
        assert np.isnan(p)
        return
    assert tau == pytest.approx(ref.statistic, rel=1e-13, abs=1e-15)
    assert p == pytest.approx(ref.pvalue, rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("kind", ["continuous", "trend", "few values", "rounded"])
def test_matches_scipy_default_around_the_exact_switch(kind):
    # scipy's 'auto': exact null distribution for n <= 33 without ties, else normal with ties.
    rng = np.random.default_rng(hash(kind) % 2**32)
    for n in range(2, 41):
        for _ in range(12):
            _assert_matches_scipy(_series(rng, n, kind))


@pytest.mark.parametrize("n", [60, 200, 1001, 20_000])
def test_matches_scipy_on_long_series_with_and_without_ties(n):
    rng = np.random.default_rng(n)
    for kind in ("continuous", "trend", "few values", "rounded"):
        _assert_matches_scipy(_series(rng, n, kind))


def test_exact_p_value_for_n_24_as_in_the_issue():
    # An untied series of 24: exact p (scipy's default) differs from the normal approximation.
    rng = np.random.default_rng(4)
    y = rng.permutation(24) + 0.0
    _, p = kendall_tau(y)
    exact = stats.kendalltau(np.arange(24), y, method="exact").pvalue
    asymptotic = stats.kendalltau(np.arange(24), y, method="asymptotic").pvalue
    assert p == pytest.approx(exact, rel=1e-12)
    assert abs(exact - asymptotic) > 1e-4


@pytest.mark.parametrize("n", [3, 5, 7])
def test_exact_p_value_against_brute_force_enumeration(n):
    # Under H0 every permutation is equally likely: p = P(|S| >= |S_obs|) over all n! orders.
    def score(perm):
        return sum(np.sign(perm[j] - perm[i]) for i in range(n) for j in range(i + 1, n))

    null = np.array([score(p) for p in itertools.permutations(range(n))])
    rng = np.random.default_rng(n)
    for _ in range(5):
        y = rng.permutation(n).astype(float)
        s = score(y)
        tau, p = kendall_tau(y)
        assert tau == pytest.approx(s / (n * (n - 1) / 2))
        assert p == pytest.approx(np.mean(np.abs(null) >= abs(s)), rel=1e-12)


def test_switch_uses_exact_only_without_ties_and_up_to_33_samples():
    rng = np.random.default_rng(9)
    y33, y34 = rng.standard_normal(33), rng.standard_normal(34)
    t33 = np.arange(33)
    assert kendall_tau(y33)[1] == pytest.approx(stats.kendalltau(t33, y33, method="exact").pvalue)
    assert kendall_tau(y34)[1] == pytest.approx(
        stats.kendalltau(np.arange(34), y34, method="asymptotic").pvalue
    )
    tied = np.r_[y33[:-1], y33[0]]  # one tie: asymptotic with the tie correction
    assert kendall_tau(tied)[1] == pytest.approx(
        stats.kendalltau(t33, tied, method="asymptotic").pvalue
    )
    ramp = np.arange(100.0)  # long but only one concordance away from perfect: exact
    ramp[[10, 11]] = ramp[[11, 10]]
    assert kendall_tau(ramp)[1] == pytest.approx(
        stats.kendalltau(np.arange(100), ramp, method="exact").pvalue, rel=1e-12
    )


def test_nan_samples_are_dropped_and_degenerate_series_are_nan():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 8, 60).astype(float)
    y[[3, 20, 41]] = np.nan
    _assert_matches_scipy(y)
    tau, p = kendall_tau(np.array([[1.0, 1.0, 1.0], [np.nan, 2.0, np.nan], [3.0, 1.0, np.nan]]))
    assert np.isnan(tau[:2]).all()  # constant; one sample
    assert np.isnan(p[:2]).all()
    assert (tau[2], p[2]) == (-1.0, 1.0)  # two samples, as scipy


def test_vectorised_over_leading_axes():
    rng = np.random.default_rng(3)
    y = np.round(rng.standard_normal((3, 4, 30)), 1)
    tau, p = kendall_tau(y)
    assert tau.shape == p.shape == (3, 4)
    for idx in np.ndindex(3, 4):
        ref = stats.kendalltau(np.arange(30), y[idx])
        assert tau[idx] == pytest.approx(ref.statistic, rel=1e-13)
        assert p[idx] == pytest.approx(ref.pvalue, rel=1e-12)
