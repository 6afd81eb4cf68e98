"""pyveg's crystal-ball fit of the mean annual cycle (its analysis step G4), with its bugs fixed.

The monthly means are rotated so that the minimum month is last, reversed, shifted to a minimum
of 0 and normalised to sum 1 (pyveg's ``reverse_normalise_ts``); a crystal-ball pdf
(Gaussian core, power-law tail) is fitted by least squares. Fixed: the best of several starts
is chosen by the *sum of squared residuals* (pyveg compared the signed residual sum with an
initial 1 and could leave the parameters unbound), and failure is reported, not raised.
Downstream, pyveg's "return rate" is ``alpha**2 / 2``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special

__all__ = ["annual_cycle_pmf", "crystal_ball", "crystal_ball_fit"]


def crystal_ball(x: Any, alpha: float, n: float, xbar: float, sigma: float) -> np.ndarray:
    """Evaluate the crystal-ball pdf: a Gaussian core and a power-law tail beyond -alpha sigmas.

    Examples
    --------
    >>> from scipy.integrate import quad
    >>> round(quad(lambda x: crystal_ball(x, 1.5, 3.0, 0.0, 1.0), -200, 50)[0], 3)
    1.0
    """
    x = np.asarray(x, dtype=np.float64)
    a = abs(alpha)
    big_b = n / a - a
    c = n / a / (n - 1) * np.exp(-(a**2) / 2)
    d = np.sqrt(np.pi / 2) * (1 + special.erf(a / np.sqrt(2)))
    norm = 1 / (sigma * (c + d))
    z = (x - xbar) / sigma
    with np.errstate(all="ignore"):  # in log space: (n / a)^n overflows for large n
        tail = norm * np.exp(n * np.log(n / a) - a**2 / 2 - n * np.log(big_b - z))
    return np.where(z > -a, norm * np.exp(-(z**2) / 2), tail)


def annual_cycle_pmf(series: pd.Series) -> np.ndarray:
    """Return the monthly means rotated (minimum last), reversed, shifted and normalised.

    Examples
    --------
    >>> months = pd.date_range("2016-01-01", periods=12, freq="MS")
    >>> annual_cycle_pmf(pd.Series(np.arange(12.0), months)).round(3)[:3]
    array([0.   , 0.167, 0.152])
    """
    means = series.groupby(pd.DatetimeIndex(series.index).month).mean()
    means = means.reindex(range(1, 13))
    if means.isna().any():
        raise ValueError(
            f"annual cycle needs every calendar month; missing {means.index[means.isna()].tolist()}"
        )
    values = means.to_numpy()
    rotated = np.roll(values, 11 - int(np.argmin(values)))[::-1]
    rotated = rotated - rotated.min()
    total = rotated.sum()
    if total <= 0:
        raise ValueError("annual cycle is flat: nothing to fit")
    return rotated / total


def crystal_ball_fit(
    series: pd.Series,
    p0: tuple[float, float, float, float] = (1.5, 150.0, 8.0, 2.0),
    restarts: int = 5,
) -> dict[str, Any]:
    """Fit the crystal-ball pdf to the normalised annual cycle (months 1..12 on x).

    Returns
    -------
    dict
        ``CB_fit_success`` (bool), ``CB_fit_residuals`` (sum of squared residuals),
        ``CB_fit_alpha``, ``CB_fit_N``, ``CB_fit_xbar``, ``CB_fit_sigma``, ``return_rate``
        (``alpha**2 / 2``) and ``pmf`` (the 12 fitted-to values).

    Examples
    --------
    >>> months = pd.date_range("2016-01-01", periods=24, freq="MS")
    >>> cycle = crystal_ball(np.arange(12, 0, -1.0), 1.2, 3.0, 7.5, 1.5)
    >>> fit = crystal_ball_fit(pd.Series(np.tile(np.roll(cycle, 1), 2), months))
    >>> fit["CB_fit_success"], fit["CB_fit_residuals"] < 1e-3
    (True, True)
    """
    pmf = annual_cycle_pmf(series)
    x = np.arange(1, 13, dtype=np.float64)

    def resid(p: np.ndarray) -> np.ndarray:
        return crystal_ball(x, *p) - pmf

    bounds = ([0.05, 1.01, -5.0, 0.1], [10.0, 1e4, 20.0, 20.0])
    best, best_ssr = None, np.inf
    start = np.clip(np.asarray(p0, float), np.add(bounds[0], 1e-6), np.subtract(bounds[1], 1e-6))
    for _ in range(restarts):
        try:
            sol = optimize.least_squares(resid, start, bounds=bounds)
        except ValueError:
            break
        ssr = float(np.sum(sol.fun**2))
        if np.isfinite(ssr) and ssr < best_ssr:
            best, best_ssr = sol, ssr
        start = sol.x
    if best is None:
        return {"CB_fit_success": False, "CB_fit_residuals": None, "pmf": pmf.tolist()}
    alpha, n, xbar, sigma = (float(v) for v in best.x)
    return {
        "CB_fit_success": bool(best.success),
        "CB_fit_residuals": best_ssr,
        "CB_fit_alpha": alpha,
        "CB_fit_N": n,
        "CB_fit_xbar": xbar,
        "CB_fit_sigma": sigma,
        "return_rate": alpha**2 / 2,
        "pmf": pmf.tolist(),
    }
