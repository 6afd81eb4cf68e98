import warnings

import numpy as np
import pytest

from vegdask.kernels import fit_arma


def ar1_series(n=120, phi=0.6, seed=0):
    rng = np.random.default_rng(seed)
    x = np.zeros(n)
    for t in range(1, n):
        x[t] = phi * x[t - 1] + rng.standard_normal()
    return x


@pytest.mark.parametrize("every", [3, 7])
def test_gappy_series_fit_without_warnings(every):
    x = ar1_series()
    x[::every] = np.nan  # orders longer than the gaps allow have no complete rows at all
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = fit_arma(x)
    assert fit.order == (1, 0)  # the generating model is still found
    assert np.isfinite(fit.aic)
    assert 0.3 < fit.ar[0] < 0.9


def test_exactly_predictable_series_is_refused_clearly():
    with pytest.raises(ValueError, match="ARMA"):
        fit_arma(np.zeros(120))  # a constant: every model fits exactly
