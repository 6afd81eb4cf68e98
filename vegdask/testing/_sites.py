"""Simulated sites: panels of tile series with a shared and a tile-specific AR(1) part.

The validity and power of :func:`vegdask.analysis.pooled_early_warning` are measured on these
(tests/analysis/test_pooled_power.py, benchmarks/bench_analysis.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["NULL_PHI", "RAMP", "SITE_CONDITIONS", "pooled_rejection_rate", "simulated_site"]

#: AR(1) coefficient of the null sites, and the ramp (first, last) of sites slowing down.
NULL_PHI = 0.5
RAMP = (0.2, 0.8)
#: The simulated sites of issue 18: label -> :func:`simulated_site` keywords (100 tiles, 48
#: periods).
SITE_CONDITIONS: dict[str, dict[str, float]] = {
    "share 0.2": {"share": 0.2},
    "share 0.5": {"share": 0.5},
    "share 0.2, seasonal": {"share": 0.2, "seasonal_amplitude": 2.0},
    "share 0.2, 10 % missing": {"share": 0.2, "missing": 0.1},
}


def _ar1_paths(rng: np.random.Generator, phi: np.ndarray, rows: int) -> np.ndarray:
    """``rows`` AR(1) paths with coefficients ``phi[t]``, unit innovations, started stationary."""
    n = phi.size
    out = np.empty((rows, n))
    out[:, 0] = rng.standard_normal(rows) / np.sqrt(1.0 - phi[0] ** 2)
    noise = rng.standard_normal((rows, n))
    for t in range(1, n):
        out[:, t] = phi[t] * out[:, t - 1] + noise[:, t]
    return out


def simulated_site(
    n_tiles: int = 100,
    n_periods: int = 48,
    *,
    share: float = 0.2,
    phi: float | tuple[float, float] = 0.5,
    seasonal_amplitude: float = 0.0,
    missing: float = 0.0,
    start: str = "2016-01-16",
    seed: int = 0,
) -> pd.DataFrame:
    """A site's panel: each tile is a shared AR(1) part plus its own AR(1) part.

    ``tile_i(t) = sqrt(share) * shared(t) + sqrt(1 - share) * own_i(t)``, both AR(1) with
    coefficient ``phi`` (a constant: the null; or ``(first, last)``: a linear ramp, critical
    slowing down) and unit innovations; ``share`` is the share of a tile's variance common to
    all tiles. Optionally a seasonal cycle (a monthly sine) and a share ``missing`` of whole
    periods missing (cloudy months: NaN in every tile). The seasonal cycle has the same phase
    everywhere and each tile's own amplitude, from 0.5 to 1.5 times ``seasonal_amplitude``
    (so the site mean does not hold all of it).

    Returns
    -------
    pandas.DataFrame
        Rows monthly periods (a DatetimeIndex from ``start``), columns ``tile_0`` ...

    Examples
    --------
    >>> site = simulated_site(5, 48, phi=(0.2, 0.8), missing=0.1, seed=1)
    >>> site.shape, int(site.isna().all(axis=1).sum())
    ((48, 5), 5)
    """
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must be in [0, 1], got {share}")
    if not 0.0 <= missing < 1.0:
        raise ValueError(f"missing must be in [0, 1), got {missing}")
    rng = np.random.default_rng(seed)
    first, last = (phi, phi) if isinstance(phi, (int, float, np.floating)) else phi
    path = np.linspace(first, last, n_periods)
    shared = _ar1_paths(rng, path, 1)
    own = _ar1_paths(rng, path, n_tiles)
    values = np.sqrt(share) * shared + np.sqrt(1.0 - share) * own
    if seasonal_amplitude:  # each tile's amplitude drawn from 0.5 to 1.5 times the given one
        amplitude = seasonal_amplitude * rng.uniform(0.5, 1.5, (n_tiles, 1))
        values = values + amplitude * np.sin(2 * np.pi * np.arange(n_periods) / 12)
    gone = rng.choice(n_periods, size=round(missing * n_periods), replace=False)
    values[:, gone] = np.nan
    index = pd.date_range(start, periods=n_periods, freq="MS") + pd.Timedelta(days=15)
    return pd.DataFrame(values.T, index=index, columns=[f"tile_{i}" for i in range(n_tiles)])


def pooled_rejection_rate(
    sites: int,
    *,
    ramp: bool,
    n_surrogates: int | None = None,
    alpha: float | None = None,
    remove_site_mean: bool = True,
    **site: Any,
) -> float:
    """Share of simulated sites whose pooled AR(1) test rejects at ``alpha``.

    Site ``i`` is ``simulated_site(phi=RAMP if ramp else NULL_PHI, seed=i, **site)``, tested
    by :func:`vegdask.analysis.pooled_early_warning` with ``seed=i`` and its defaults but
    ``n_surrogates`` and ``remove_site_mean`` (AR(1) alone: its p-value does not depend on the
    other indicators, the surrogates' phases depend on the seed only). ``ramp=False`` gives the
    false-positive rate, ``ramp=True`` the power. ``n_surrogates`` and ``alpha`` left as None
    take the settings ``vegdask.analysis.n-surrogates`` and ``vegdask.analysis.alpha``.

    Examples
    --------
    >>> pooled_rejection_rate(2, ramp=True, n_surrogates=99, n_tiles=20)
    1.0
    """
    from vegdask import config
    from vegdask.analysis import pooled_early_warning

    alpha = config.get("analysis.alpha", alpha)
    n_surrogates = config.get("analysis.n-surrogates", n_surrogates)  # once, not once a site
    hits = 0
    for seed in range(sites):
        panel = simulated_site(phi=RAMP if ramp else NULL_PHI, seed=seed, **site)
        res = pooled_early_warning(
            panel,
            indicators=("ar1",),
            n_surrogates=n_surrogates,
            seed=seed,
            remove_site_mean=remove_site_mean,
        )
        hits += res.stats["ar1"]["p_value"] < alpha
    return hits / sites
