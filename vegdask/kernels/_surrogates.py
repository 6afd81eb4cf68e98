"""Significance of an indicator's trend against ARMA surrogates of the residuals."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from vegdask.kernels._arma import ArmaFit, fit_arma, simulate_arma
from vegdask.kernels._kendall import kendall_tau
from vegdask.kernels._rolling import ROLLING_INDICATORS, rolling_indicators

__all__ = ["surrogate_test"]

_UNTESTABLE = ("cv", "return_rate", "missing_fraction")


def surrogate_test(
    residuals: Any,
    window: float = 0.5,
    *,
    ar1: str = "ols",
    indicators: tuple[str, ...] = ("ar1", "variance", "sd", "skewness", "kurtosis"),
    n_surrogates: int = 1000,
    seed: int = 0,
    arma: ArmaFit | None = None,
) -> dict[str, Any]:
    """Significance of the Kendall-tau trend of rolling indicators against ARMA surrogates.

    An ARMA(p, q) model is fitted to the residuals (:func:`fit_arma`, AIC over earlywarnings-R's
    orders), ``n_surrogates`` series are simulated (seeded), the same gaps are applied, and
    the same rolling indicators and taus are computed. For each indicator
    ``p = (#{surrogate tau >= observed tau} + 1) / (n_surrogates + 1)`` (one-sided: a rise).

    Parameters
    ----------
    residuals : (n,) array_like
        The detrended series.
    window, ar1
        As :func:`rolling_indicators`.
    indicators : tuple of str
        Names from :data:`ROLLING_INDICATORS` but ``cv``, ``return_rate``, ``missing_fraction``.
    n_surrogates : int
        Number of surrogates (earlywarnings-R: 100; default 1000).
    seed : int
        Seed of the simulation.
    arma : ArmaFit, optional
        A model to use instead of fitting one.

    Returns
    -------
    dict
        Per indicator: ``kendall_tau``, ``p_value``, ``surrogate_taus`` (ndarray), plus the shared
        ``arma_order``, ``n_surrogates``, ``seed`` keys.

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> res = surrogate_test(rng.standard_normal(120), n_surrogates=99, indicators=("ar1",))
    >>> 0 < res["ar1"]["p_value"] <= 1, res["ar1"]["surrogate_taus"].shape
    (True, (99,))
    """
    v = np.asarray(residuals, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError(f"surrogate_test takes one series (1-d), got shape {v.shape}")
    allowed = tuple(i for i in ROLLING_INDICATORS if i not in _UNTESTABLE)
    unknown = set(indicators) - set(allowed)
    if unknown:
        raise ValueError(
            f"cannot test indicators {sorted(unknown)} against surrogates; allowed: {allowed} "
            "(cv needs the undetrended level, which residual surrogates lack; test ar1 for "
            "return_rate)"
        )
    if n_surrogates < 1:
        raise ValueError(f"n_surrogates must be >= 1, got {n_surrogates}")
    model = fit_arma(v) if arma is None else arma
    observed = rolling_indicators(v, window, ar1=ar1)
    sur = simulate_arma(model, v.size, n_surrogates, seed=seed)
    sur[:, np.isnan(v)] = np.nan
    simulated = rolling_indicators(sur, window, ar1=ar1)
    out: dict[str, Any] = {}
    for name in indicators:
        tau_obs = float(kendall_tau(observed[name])[0])
        taus = kendall_tau(simulated[name])[0]
        exceed = int(np.count_nonzero(taus >= tau_obs))
        out[name] = {
            "kendall_tau": tau_obs,
            "p_value": (exceed + 1) / (n_surrogates + 1) if np.isfinite(tau_obs) else math.nan,
            "surrogate_taus": taus,
        }
    return {
        **out,
        "arma_order": model.order,
        "n_surrogates": int(n_surrogates),
        "seed": int(seed),
    }
