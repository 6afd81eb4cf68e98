"""Early-warning-signal kernels: detrending, rolling indicators, trends and surrogate tests.

Every function works on the last axis and is vectorised over the leading axes: the same call handles
one series ``(n,)``, a stack of surrogates ``(m, n)`` or every tile of a map ``(ty, tx, n)``.
NaN marks a missing observation; gaps are masked, never interpolated.

Conventions
-----------
Gaussian bandwidth
    :func:`gaussian_sigma` converts a bandwidth to the kernel's standard deviation in samples.
    ``convention="sigma"`` (pyveg's ``band_width=6`` under ewstools 1.0.0): the bandwidth is
    sigma.
    ``convention="ksmooth"`` (R ``ksmooth``, earlywarnings-R, ewstools >= 1.0.1): the kernel's
    quartiles are at +/- 0.25 x bandwidth, so sigma = (0.25 / 0.675) x bandwidth; a bandwidth in
    (0, 1] is a fraction of the series length. pyveg's setting is ``sigma=6`` = ksmooth 16.2.
Rolling window
    A fraction in (0, 1] of the series length (``int(window * n)`` samples, as ewstools) or a number
    of samples > 1; the value is stamped at the window's right end, earlier values are NaN.
AR(1) estimators
    ``"ols"``: least squares of ``y[t]`` on ``y[t-1]`` without intercept after removing the window
    mean (earlywarnings-R ``ar.ols`` with ``demean=TRUE``); ``"pearson"``: Pearson correlation of
    the lagged pairs (ewstools, pandas ``autocorr``); ``"acf"``: the standard sample
    autocorrelation ``sum(y[t] y[t-1]) / sum(y[t]^2)`` (R ``acf``).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numba
import numpy as np

__all__ = [
    "AR1_ESTIMATORS",
    "INDICATORS",
    "ArmaFit",
    "benjamini_hochberg",
    "fit_arma",
    "gaussian_sigma",
    "gaussian_smooth",
    "kendall_tau",
    "loess_smooth",
    "rolling_indicators",
    "simulate_arma",
    "surrogate_test",
    "window_length",
]

#: Rolling indicators computed by :func:`rolling_indicators`, in output order.
INDICATORS: tuple[str, ...] = (
    "ar1",
    "variance",
    "sd",
    "cv",
    "skewness",
    "kurtosis",
    "return_rate",
    "missing_fraction",
)
#: Names of the AR(1) estimators (see the module docstring).
AR1_ESTIMATORS: tuple[str, ...] = ("ols", "pearson", "acf")
_GAUSS_CONVENTIONS = ("sigma", "ksmooth")
_UNTESTABLE = ("cv", "return_rate", "missing_fraction")


def _as_2d(x: Any) -> tuple[np.ndarray, tuple[int, ...]]:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 0:
        raise ValueError("expected a series (at least 1-d array), got a scalar")
    return np.ascontiguousarray(arr.reshape(-1, arr.shape[-1])), arr.shape


def gaussian_sigma(bandwidth: float, n: int, convention: str = "sigma") -> float:
    """Return the Gaussian kernel's standard deviation, in samples, for a bandwidth.

    Parameters
    ----------
    bandwidth : float
        The bandwidth, > 0.
    n : int
        Length of the series (used when a ksmooth bandwidth is a fraction).
    convention : {"sigma", "ksmooth"}
        ``"sigma"``: the bandwidth is sigma in samples (pyveg); ``"ksmooth"``: quartiles at
        +/- 0.25 x bandwidth, bandwidth in (0, 1] a fraction of ``n`` (earlywarnings-R, ewstools).

    Examples
    --------
    >>> gaussian_sigma(6, 120)
    6.0
    >>> round(gaussian_sigma(16.2, 120, "ksmooth"), 6)
    6.0
    >>> round(gaussian_sigma(0.2, 100, "ksmooth"), 4)
    7.4074
    """
    if convention not in _GAUSS_CONVENTIONS:
        raise ValueError(f"convention must be one of {_GAUSS_CONVENTIONS}, got {convention!r}")
    if not bandwidth > 0:
        raise ValueError(f"bandwidth must be > 0, got {bandwidth}")
    if convention == "sigma":
        return float(bandwidth)
    samples = bandwidth * n if bandwidth <= 1 else bandwidth
    return float(0.25 / 0.675 * samples)


@numba.njit(cache=True)
def _reflect(i: int, n: int) -> int:
    # scipy.ndimage mode="reflect": (d c b a | a b c d | d c b a), repeated.
    period = 2 * n
    i = i % period
    if i < 0:
        i += period
    return period - 1 - i if i >= n else i


@numba.njit(cache=True)
def _gaussian_smooth(x, weights):
    m, n = x.shape
    radius = (weights.size - 1) // 2
    out = np.full((m, n), np.nan)
    for s in range(m):
        for i in range(n):
            acc = 0.0
            wsum = 0.0
            for k in range(-radius, radius + 1):
                v = x[s, _reflect(i + k, n)]
                if not np.isnan(v):
                    acc += weights[k + radius] * v
                    wsum += weights[k + radius]
            if wsum > 0.0 and not np.isnan(x[s, i]):
                out[s, i] = acc / wsum
    return out


def gaussian_smooth(x: Any, sigma: float, *, truncate: float = 4.0) -> np.ndarray:
    """Gaussian-kernel smoothing (the trend) along the last axis, NaN-aware.

    Identical to ``scipy.ndimage.gaussian_filter1d(x, sigma, mode="reflect", truncate=truncate)``
    on complete series; at a gap the kernel weights are renormalised over the valid samples and
    the output is NaN where the input is.

    Parameters
    ----------
    x : (..., n) array_like
        Series.
    sigma : float
        Kernel standard deviation in samples (see :func:`gaussian_sigma`).
    truncate : float
        The kernel is cut at ``truncate`` standard deviations (scipy's default 4).

    Returns
    -------
    (..., n) ndarray of float64

    Examples
    --------
    >>> gaussian_smooth([1.0, 1.0, np.nan, 1.0], 2.0)
    array([ 1.,  1., nan,  1.])
    """
    arr, shape = _as_2d(x)
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    radius = int(truncate * sigma + 0.5)
    k = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-0.5 * (k / sigma) ** 2)
    weights /= weights.sum()
    return _gaussian_smooth(arr, weights).reshape(shape)


@numba.njit(cache=True)
def _wls_point(xs, ys, w, x0):
    sw = 0.0
    sx = 0.0
    sy = 0.0
    for j in range(xs.size):
        sw += w[j]
        sx += w[j] * xs[j]
        sy += w[j] * ys[j]
    if sw <= 0.0:
        return np.nan
    mx = sx / sw
    my = sy / sw
    sxx = 0.0
    sxy = 0.0
    for j in range(xs.size):
        sxx += w[j] * (xs[j] - mx) ** 2
        sxy += w[j] * (xs[j] - mx) * (ys[j] - my)
    if sxx <= 1e-12 * sw * (1.0 + mx * mx):
        return my
    return my + sxy / sxx * (x0 - mx)


@numba.njit(cache=True)
def _lowess_one(xs, ys, k, it):
    n = xs.size
    fitted = np.empty(n)
    rw = np.ones(n)
    w = np.empty(k)
    for iteration in range(it + 1):
        left = 0
        for i in range(n):
            while left + k < n and xs[i] > 0.5 * (xs[left] + xs[left + k]):
                left += 1
            radius = max(xs[i] - xs[left], xs[left + k - 1] - xs[i])
            for j in range(k):
                d = abs(xs[left + j] - xs[i]) / radius if radius > 0 else 0.0
                if d <= 1e-3:
                    tri = 1.0
                elif d >= 0.999:
                    tri = 0.0
                else:
                    tri = (1.0 - d**3) ** 3
                w[j] = tri * rw[left + j]
            fitted[i] = _wls_point(xs[left : left + k], ys[left : left + k], w, xs[i])
        if iteration == it:
            break
        resid = np.abs(ys - fitted)
        med = np.median(resid)
        if med <= 0.0:
            break
        for j in range(n):
            u = resid[j] / (6.0 * med)
            if u <= 1e-3:
                rw[j] = 1.0
            elif u >= 0.999:
                rw[j] = 0.0
            else:
                rw[j] = (1.0 - u * u) ** 2
    return fitted


@numba.njit(cache=True)
def _lowess(x, frac, it):
    m, n = x.shape
    out = np.full((m, n), np.nan)
    for s in range(m):
        idx = np.flatnonzero(~np.isnan(x[s]))
        nv = idx.size
        if nv < 2:
            continue
        k = min(nv, max(2, int(frac * nv + 1e-10)))
        fit = _lowess_one(idx.astype(np.float64), x[s, idx], k, it)
        for j in range(nv):
            out[s, idx[j]] = fit[j]
    return out


def loess_smooth(x: Any, frac: float, *, it: int = 3) -> np.ndarray:
    """LOWESS (locally linear, tricube weights, bisquare robustness) along the last axis.

    The algorithm of Cleveland (1979) as in ``statsmodels.nonparametric.lowess`` with
    ``delta=0``, on the sample index as x. NaN samples are excluded and stay NaN.

    Parameters
    ----------
    x : (..., n) array_like
        Series.
    frac : float
        Share of the valid samples in each local fit, in (0, 1]. pyveg: ``min(4 / n, 1)`` to
        smooth, ``min(12 / n, 1)`` after deseasonalising.
    it : int
        Robustness iterations (pyveg and statsmodels: 3).

    Returns
    -------
    (..., n) ndarray of float64

    Examples
    --------
    >>> loess_smooth(np.arange(6.0), 0.5)
    array([0., 1., 2., 3., 4., 5.])
    """
    if not 0 < frac <= 1:
        raise ValueError(f"frac must be in (0, 1], got {frac}")
    if it < 0:
        raise ValueError(f"it must be >= 0, got {it}")
    arr, shape = _as_2d(x)
    return _lowess(arr, float(frac), int(it)).reshape(shape)


def window_length(n: int, window: float) -> int:
    """Rolling-window length in samples: ``int(window * n)`` for a fraction, else ``int(window)``.

    Examples
    --------
    >>> window_length(120, 0.5), window_length(25, 0.5), window_length(120, 30)
    (60, 12, 30)
    """
    if not window > 0:
        raise ValueError(f"window must be > 0 (a fraction of the series or samples), got {window}")
    w = int(window * n) if window <= 1 else int(window)
    if w < 3 or w > n:
        raise ValueError(
            f"rolling window of {w} samples for a series of {n}: need 3 <= window <= length"
        )
    return w


@numba.njit(cache=True)
def _window(v, st, valid, lo, hi, estimator, min_count, w, out, s):
    # Two passes over v[lo..hi]: sums, then central moments and lagged-pair products.
    c = 0
    total = 0.0
    st_sum = 0.0
    st_count = 0
    na = 0
    sa = 0.0
    sb = 0.0
    for t in range(lo, hi + 1):
        if valid[t]:
            c += 1
            total += v[t]
            if t > lo and valid[t - 1]:
                na += 1
                sa += v[t - 1]
                sb += v[t]
        if not np.isnan(st[t]):
            st_sum += st[t]
            st_count += 1
    out[7, s, hi] = 1.0 - c / w
    if c < min_count or c < 4:
        return
    mean = total / c
    ma = sa / na if na else 0.0
    mb = sb / na if na else 0.0
    s2 = 0.0
    s3 = 0.0
    s4 = 0.0
    sxy = 0.0
    sxx = 0.0
    syy = 0.0
    for t in range(lo, hi + 1):
        if valid[t]:
            d = v[t] - mean
            s2 += d * d
            s3 += d * d * d
            s4 += d * d * d * d
            if t > lo and valid[t - 1]:
                if estimator == 1:  # pearson: each side about its own mean
                    a = v[t - 1] - ma
                    b = v[t] - mb
                    sxy += a * b
                    sxx += a * a
                    syy += b * b
                else:  # ols / acf: about the window mean
                    a = v[t - 1] - mean
                    sxy += d * a
                    sxx += a * a
    var = s2 / (c - 1)
    out[1, s, hi] = var
    out[2, s, hi] = math.sqrt(var)
    m2 = s2 / c
    if m2 > 0.0:
        out[4, s, hi] = math.sqrt(c * (c - 1.0)) / (c - 2.0) * (s3 / c) / m2**1.5
        out[5, s, hi] = ((c * c - 1.0) * (s4 / c) / (m2 * m2) - 3.0 * (c - 1.0) ** 2) / (
            (c - 2.0) * (c - 3.0)
        )
    ar = np.nan
    if na >= 2:
        if estimator == 1:
            if sxx > 0.0 and syy > 0.0:
                ar = sxy / math.sqrt(sxx * syy)
        elif estimator == 2:  # acf: denominator over every valid sample
            if s2 > 0.0:
                ar = sxy / s2
        elif sxx > 0.0:
            ar = sxy / sxx
    out[0, s, hi] = ar
    out[6, s, hi] = 1.0 - ar
    # CV: SD of the residuals over the mean of the state variable in the same window.
    if st_count > 0 and st_sum != 0.0:
        out[3, s, hi] = math.sqrt(var) / (st_sum / st_count)


@numba.njit(cache=True)
def _rolling(x, state, w, estimator, min_count):
    m, n = x.shape
    out = np.full((8, m, n), np.nan)
    for s in range(m):
        v = x[s]
        st = state[s]
        valid = ~np.isnan(v)
        for e in range(w - 1, n):
            _window(v, st, valid, e - w + 1, e, estimator, min_count, w, out, s)
    return out


def rolling_indicators(
    x: Any,
    window: float = 0.5,
    *,
    ar1: str = "ols",
    state: Any = None,
    min_valid: float = 0.5,
) -> dict[str, np.ndarray]:
    """Compute rolling early-warning indicators along the last axis (value at the window's end).

    Parameters
    ----------
    x : (..., n) array_like
        Residuals (detrended series), NaN where missing.
    window : float
        Window as a fraction of ``n`` in (0, 1] (default 0.5) or a number of samples.
    ar1 : {"ols", "pearson", "acf"}
        AR(1) estimator (module docstring).
    state : (..., n) array_like, optional
        The undetrended series, whose rolling mean is the denominator of ``cv`` (as ewstools);
        default ``x``.
    min_valid : float
        Minimum share of valid samples in a window (and at least 4) for a value; else NaN.

    Returns
    -------
    dict of str to (..., n) ndarray
        One array per name in :data:`INDICATORS`: ``ar1``, ``variance`` and ``sd`` (ddof 1),
        ``cv``, ``skewness`` and ``kurtosis`` (bias-corrected, excess; as pandas), ``return_rate``
        (1 - ar1), and ``missing_fraction`` (share of NaN samples in the window).

    Examples
    --------
    >>> out = rolling_indicators(np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0]), 4)
    >>> out["ar1"][-1], out["variance"][-1], out["missing_fraction"][-1]
    (np.float64(-1.0), np.float64(1.3333333333333333), np.float64(0.0))
    """
    if ar1 not in AR1_ESTIMATORS:
        raise ValueError(f"ar1 estimator must be one of {AR1_ESTIMATORS}, got {ar1!r}")
    if not 0 <= min_valid <= 1:
        raise ValueError(f"min_valid must be in [0, 1], got {min_valid}")
    arr, shape = _as_2d(x)
    st = arr if state is None else _as_2d(np.broadcast_to(state, shape))[0]
    w = window_length(shape[-1], window)
    out = _rolling(arr, st, w, AR1_ESTIMATORS.index(ar1), math.ceil(min_valid * w))
    return {name: out[i].reshape(shape) for i, name in enumerate(INDICATORS)}


@numba.njit(cache=True)
def _kendall(y):
    m = y.shape[0]
    tau = np.full(m, np.nan)
    pval = np.full(m, np.nan)
    for s in range(m):
        idx = np.flatnonzero(~np.isnan(y[s]))
        nv = idx.size
        if nv < 3:
            continue
        v = y[s, idx]
        score = 0.0
        for i in range(nv):
            for j in range(i + 1, nv):
                d = v[j] - v[i]
                if d > 0:
                    score += 1.0
                elif d < 0:
                    score -= 1.0
        # Ties in y (x = time has none).
        srt = np.sort(v)
        ties_pairs = 0.0
        ties_var = 0.0
        run = 1
        for i in range(1, nv + 1):
            if i < nv and srt[i] == srt[i - 1]:
                run += 1
            else:
                ties_pairs += run * (run - 1) / 2.0
                ties_var += run * (run - 1.0) * (2.0 * run + 5.0)
                run = 1
        n0 = nv * (nv - 1) / 2.0
        denom = math.sqrt(n0 * (n0 - ties_pairs))
        if denom == 0.0:
            continue
        tau[s] = score / denom
        var = (nv * (nv - 1.0) * (2.0 * nv + 5.0) - ties_var) / 18.0
        pval[s] = math.erfc(abs(score) / math.sqrt(var) / math.sqrt(2.0))
    return tau, pval


def kendall_tau(y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Kendall's tau-b of each series against time, with its two-sided asymptotic p-value.

    NaN samples are dropped (pairwise complete against time). The p-value is the normal
    approximation with the tie correction (``scipy.stats.kendalltau(method="asymptotic")``); it
    treats samples as independent, which rolling-window indicators are not: use
    :func:`surrogate_test` for the significance of an indicator's trend.

    Parameters
    ----------
    y : (..., n) array_like

    Returns
    -------
    tau, p_value : (...) ndarray of float64
        NaN where fewer than 3 valid samples or a constant series.

    Examples
    --------
    >>> tau, p = kendall_tau([1.0, 2.0, np.nan, 4.0, 3.0])
    >>> float(tau)
    0.6666666666666666
    """
    arr, shape = _as_2d(y)
    tau, p = _kendall(arr)
    return tau.reshape(shape[:-1]), p.reshape(shape[:-1])


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
                [_lagged(v, p, rows), _lagged(innov, q, rows) if q else _lagged(v, 0, rows)]
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


def surrogate_test(
    residuals: Any,
    window: float = 0.5,
    *,
    ar1: str = "ols",
    indicators: tuple[str, ...] = ("ar1", "variance", "sd", "skewness", "kurtosis"),
    n_surrogates: int = 1000,
    seed: int = 0,
    arma: ArmaFit | None = None,
) -> dict[str, dict[str, Any]]:
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
        Names from :data:`INDICATORS` except ``cv``, ``return_rate`` and ``missing_fraction``.
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
    allowed = tuple(i for i in INDICATORS if i not in _UNTESTABLE)
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
    out: dict[str, dict[str, Any]] = {}
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


def benjamini_hochberg(p_values: Any, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Benjamini-Hochberg false-discovery-rate control over all finite p-values (any shape).

    Returns
    -------
    q_values, significant : ndarray
        Adjusted p-values (NaN where the input is) and the rejections at level ``alpha``.

    Examples
    --------
    >>> q, sig = benjamini_hochberg([0.01, 0.04, 0.03, np.nan])
    >>> q.round(3).tolist(), sig.tolist()
    ([0.03, 0.04, 0.04, nan], [True, True, True, False])
    """
    p = np.asarray(p_values, dtype=np.float64)
    q = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    m = int(ok.sum())
    if m:
        flat = p[ok]
        order = np.argsort(flat)
        ranked = flat[order] * m / np.arange(1, m + 1)
        adj = np.minimum(np.minimum.accumulate(ranked[::-1])[::-1], 1.0)
        vals = np.empty(m)
        vals[order] = adj
        q[ok] = vals
    return q, np.where(ok, q <= alpha, False)
