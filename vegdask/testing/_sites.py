"""Simulated sites: panels of tile series with a shared and a tile-specific AR(1) part.

The validity and power of :func:`vegdask.analysis.pooled_early_warning` are measured on these
(tests/analysis/test_pooled_power.py, benchmarks/bench_analysis.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["simulated_site"]


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
    all tiles. Optionally a seasonal cycle of the given amplitude (a monthly sine, the same
    phase for every tile) and a share ``missing`` of whole periods missing (cloudy months:
    NaN in every tile).

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
    first, last = (phi, phi) if np.isscalar(phi) else phi
    path = np.linspace(first, last, n_periods)
    shared = _ar1_paths(rng, path, 1)
    own = _ar1_paths(rng, path, n_tiles)
    values = np.sqrt(share) * shared + np.sqrt(1.0 - share) * own
    if seasonal_amplitude:
        values = values + seasonal_amplitude * np.sin(2 * np.pi * np.arange(n_periods) / 12)
    gone = rng.choice(n_periods, size=round(missing * n_periods), replace=False)
    values[:, gone] = np.nan
    index = pd.date_range(start, periods=n_periods, freq="MS") + pd.Timedelta(days=15)
    return pd.DataFrame(values.T, index=index, columns=[f"tile_{i}" for i in range(n_tiles)])
