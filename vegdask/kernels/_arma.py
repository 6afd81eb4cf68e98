"""ARMA(p, q) models of residual series: Hannan-Rissanen fit, AIC order selection, simulation."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numba
import numpy as np

__all__ = ["ArmaFit", "fit_arma", "simulate_arma"]


class ArmaFit(NamedTuple):
    """An ARMA(p, q) model ``x[t] = sum(ar[i] x[t-1-i]) + e[t] + sum(ma[j] e[t-1-j])``."""

    ar: np.ndarray
    ma: np.ndarray
    sigma2: float
    aic: float

    @property
    def order(self) -> tuple[int, int]:
        """``(p, q)``."""
        return len(self.ar), len(self.ma)


def _lagged(v: np.ndarray, lags: int, rows: np.ndarray) -> np.ndarray:
    return (
        np.column_stack([v[rows - k] for k in range(1, lags + 1)])
        if lags
        else np.empty((rows.size, 0))
    )


def _lstsq(design: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ok = np.isfinite(design).all(axis=1) & np.isfinite(target)
    coef = np.linalg.lstsq(design[ok], target[ok], rcond=None)[0]
    resid = np.full(target.shape, np.nan)
    resid[ok] = target[ok] - design[ok] @ coef
    return coef, resid


def _stable(poly: np.ndarray) -> bool:
    # Roots of 1 - c1 z - c2 z^2 ... must lie outside the unit circle.
    return poly.size == 0 or bool(np.all(np.abs(np.roots(np.r_[-poly[::-1], 1.0])) > 1.0 + 1e-6))


def fit_arma(
    x: Any, *, p_range: tuple[int, int] = (1, 4), q_range: tuple[int, int] = (0, 4)
) -> ArmaFit:
    """Fit ARMA(p, q) to a demeaned series by Hannan-Rissanen and select the order by AIC.

    For q = 0 the AR(p) is ordinary least squares; for q > 0 a long AR (order
    ``max(log(n)^2, 2 max(p, q))`` capped at ``n // 4``) estimates the innovations, then ``x`` is
    regressed on its own lags and the lagged innovations (Hannan and Rissanen 1982). Every model
    is scored on the same samples (from the longest lag on) with
    ``AIC = N log(RSS / N) + 2 (p + q + 1)``; non-stationary or non-invertible fits are rejected.
    NaN samples drop the regression rows that need them. The orders default to earlywarnings-R's
    grid (p 1..4, q 0..4).

    Parameters
    ----------
    x : (n,) array_like
        The residual series (its mean is removed).
    p_range, q_range : (int, int)
        Inclusive ranges of AR and MA orders.

    Returns
    -------
    ArmaFit

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> e = rng.standard_normal(2000)
    >>> x = np.zeros(2000)
    >>> for t in range(1, 2000):
    ...     x[t] = 0.6 * x[t - 1] + e[t]
    >>> fit = fit_arma(x, q_range=(0, 0), p_range=(1, 1))
    >>> round(float(fit.ar[0]), 1), fit.order
    (0.6, (1, 0))
    """
    v = np.asarray(x, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError(f"fit_arma takes one series (1-d), got shape {v.shape}")
    if p_range[0] < 0 or q_range[0] < 0 or p_range[0] > p_range[1] or q_range[0] > q_range[1]:
        raise ValueError(f"invalid order ranges p {p_range}, q {q_range}")
    n = max(v.size, 2)
    pmax, qmax = p_range[1], q_range[1]
    long_order = min(max(int(np.log(n) ** 2), 2 * max(pmax, qmax)), n // 4)
    start = (long_order if qmax else 0) + max(pmax, qmax)
    valid = int(np.isfinite(v).sum())
    if valid < start + pmax + qmax + 10:
        raise ValueError(
            f"series too short for ARMA orders p<={pmax}, q<={qmax}: {valid} valid samples"
        )
    v = v - np.nanmean(v)
    innov = None
    if qmax:
        rows = np.arange(long_order, n)
        _, resid = _lstsq(_lagged(v, long_order, rows), v[rows])
        innov = np.full(n, np.nan)
        innov[rows] = resid
    rows = np.arange(start, n)
    best: ArmaFit | None = None
    for p in range(p_range[0], pmax + 1):
        for q in range(q_range[0], qmax + 1):
            if p + q == 0:
                continue
            design = np.hstack(
                [
                    _lagged(v, p, rows),
                    _lagged(innov, q, rows) if q and innov is not None else _lagged(v, 0, rows),
                ]
            )
            coef, resid = _lstsq(design, v[rows])
            ar, ma = coef[:p], coef[p:]
            if not (_stable(ar) and _stable(-ma)):
                continue
            ok = np.isfinite(resid)
            if ok.sum() <= p + q + 1:  # gaps leave too few complete rows for this order
                continue
            sigma2 = float(np.mean(resid[ok] ** 2))
            if not sigma2 > 0:  # an exact fit has no likelihood to compare
                continue
            aic = ok.sum() * np.log(sigma2) + 2 * (p + q + 1)
            if best is None or aic < best.aic:
                best = ArmaFit(ar, ma, sigma2, float(aic))
    if best is None:
        raise ValueError("no stationary and invertible ARMA model fits this series")
    return best


@numba.njit(cache=True)
def _simulate(ar, ma, sigma, n, m, burn, rng):
    p = ar.size
    q = ma.size
    total = n + burn
    out = np.empty((m, n))
    x = np.zeros(total)
    e = np.zeros(total)
    for s in range(m):
        for t in range(total):
            e[t] = sigma * rng.standard_normal()
            val = e[t]
            for i in range(p):
                if t - 1 - i >= 0:
                    val += ar[i] * x[t - 1 - i]
            for j in range(q):
                if t - 1 - j >= 0:
                    val += ma[j] * e[t - 1 - j]
            x[t] = val
        out[s] = x[burn:]
    return out


def simulate_arma(
    fit: ArmaFit, n: int, n_series: int, *, seed: int = 0, burn: int = 200
) -> np.ndarray:
    """Simulate ``n_series`` independent series of length ``n`` from an ARMA model (seeded).

    Examples
    --------
    >>> fit = ArmaFit(np.array([0.5]), np.array([]), 1.0, 0.0)
    >>> simulate_arma(fit, 120, 1000, seed=1).shape
    (1000, 120)
    """
    if n < 1 or n_series < 1:
        raise ValueError(f"n and n_series must be >= 1, got {n}, {n_series}")
    return _simulate(
        np.asarray(fit.ar, np.float64),
        np.asarray(fit.ma, np.float64),
        math.sqrt(fit.sigma2),
        int(n),
        int(n_series),
        int(burn),
        np.random.default_rng(seed),
    )
