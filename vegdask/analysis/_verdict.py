"""A location's verdict: is it losing resilience, by which test, in one sentence and a table.

Read from the content of ``analysis/resilience.json``: the pooled tests of the site's tiles under
``location.<series>.<indicator>`` when present, the tests of the series of tile means
(``<series>.<indicator>``) otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = [
    "HEADLINE",
    "IndicatorTest",
    "Verdict",
    "indicator_label",
    "location_verdict",
    "series_label",
    "verdict_tests",
]

#: The series and indicator the verdict is about: critical slowing down of the pattern metric.
HEADLINE: tuple[str, str] = ("offset50_mean", "ar1")
#: Vegetation series and indicators of the verdict table (the critical-slowing-down pair).
VERDICT_SERIES: tuple[str, ...] = ("offset50_mean", "ndvi_mean", "ndvi_veg_mean")
VERDICT_INDICATORS: tuple[str, ...] = ("ar1", "variance")

_SERIES = {
    "offset50_mean": "offset50",
    "ndvi_mean": "NDVI",
    "ndvi_veg_mean": "NDVI over vegetation",
    "total_precipitation": "precipitation",
}
_INDICATORS = {"ar1": "AR(1)", "sd": "SD", "cv": "CV", "return_rate": "return rate"}


def series_label(name: str) -> str:
    """A series' name for a reader (``offset50_mean`` -> ``offset50``)."""
    return _SERIES.get(name, name)


def indicator_label(name: str) -> str:
    """An indicator's name for a reader (``ar1`` -> ``AR(1)``)."""
    return _INDICATORS.get(name, name)


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


@dataclass(frozen=True)
class IndicatorTest:
    """One test of one indicator's trend: ``pooled`` (over tiles) or ``mean-series``."""

    series: str
    indicator: str
    test: str
    kendall_tau: float | None
    p_value: float | None
    n_surrogates: int | None = None
    tiles: int | None = None
    error: str | None = None

    @property
    def warning_sign(self) -> int:
        """+1 when a loss of resilience moves the indicator up, -1 when down (return rate)."""
        return -1 if self.indicator == "return_rate" else 1

    def significant(self, alpha: float) -> bool:
        """A significant trend in the direction of a loss of resilience (one-sided p < alpha)."""
        return self.p_value is not None and self.p_value < alpha

    def status(self, alpha: float) -> str:
        """``significant``, ``trend, not significant``, ``no trend`` or ``not tested``.

        Examples
        --------
        >>> IndicatorTest("offset50_mean", "ar1", "pooled", 0.3, 0.004).status(0.05)
        'significant'
        >>> IndicatorTest("offset50_mean", "return_rate", "pooled", 0.3, 0.9).status(0.05)
        'no trend'
        """
        if self.kendall_tau is None:
            return "not tested"
        if self.significant(alpha):
            return "significant"
        return "trend, not significant" if self.kendall_tau * self.warning_sign > 0 else "no trend"

    @property
    def direction(self) -> str:
        return "falling" if self.warning_sign < 0 else "rising"


def verdict_tests(resilience: dict[str, Any], test: str) -> dict[tuple[str, str], IndicatorTest]:
    """The tests of one kind in resilience.json, by (series, indicator).

    ``test`` is ``"pooled"`` (the ``location`` entries) or ``"mean-series"`` (the others).

    Examples
    --------
    >>> res = {"offset50_mean": {"ar1": {"kendall_tau": 0.2, "p_value": 0.3}},
    ...        "location": {"offset50_mean": {"ar1": {"kendall_tau": 0.3, "p_value": 0.01,
    ...                                               "tiles": 98, "n_surrogates": 1000}}}}
    >>> verdict_tests(res, "pooled")[("offset50_mean", "ar1")].tiles
    98
    >>> list(verdict_tests(res, "mean-series"))
    [('offset50_mean', 'ar1')]
    """
    if test not in ("pooled", "mean-series"):
        raise ValueError(f"test must be 'pooled' or 'mean-series', got {test!r}")
    if test == "pooled":
        entries = resilience.get("location") or {}
    else:
        entries = {k: v for k, v in resilience.items() if k != "location"}
    out = {}
    for series, indicators in entries.items():
        for indicator, entry in indicators.items():
            out[(series, indicator)] = IndicatorTest(
                series,
                indicator,
                test,
                _finite(entry.get("kendall_tau")),
                _finite(entry.get("p_value")),
                entry.get("n_surrogates"),
                entry.get("tiles"),
                entry.get("error"),
            )
    return out


@dataclass(frozen=True)
class Verdict:
    """The headline test, whether it is significant, the sentence that says so, and the rest."""

    headline: IndicatorTest | None
    significant: bool
    sentence: str
    also: tuple[IndicatorTest, ...] = ()


def p_text(p: float) -> str:
    """A p-value to three decimals, or in scientific notation below 0.001."""
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def location_verdict(resilience: dict[str, Any], alpha: float) -> Verdict:
    """The location's verdict: offset50's AR(1) trend, by the pooled test when there is one.

    The headline is always the same indicator (:data:`HEADLINE`), chosen before looking at the
    results; other significant indicators of the verdict table are named after it, not promoted
    in its place (choosing the smallest of several p-values would make it too small).

    Examples
    --------
    >>> res = {"location": {"offset50_mean": {"ar1": {"kendall_tau": 0.31, "p_value": 0.004,
    ...                                               "tiles": 98, "n_surrogates": 1000}}}}
    >>> location_verdict(res, 0.05).sentence
    "offset50 AR(1) is rising across the site's 98 tiles: pooled tau 0.31, p = 0.004, 1000 surrogates."
    >>> res = {"offset50_mean": {"ar1": {"kendall_tau": 0.5, "p_value": 0.16, "n_surrogates": 1000}}}
    >>> print(location_verdict(res, 0.05).sentence)
    No significant rise: offset50 AR(1) of the mean over tiles has tau 0.50, p = 0.160 (alpha 0.05), 1000 surrogates; mean-series test (this run has no pooled test).
    """  # noqa: E501
    pooled = verdict_tests(resilience, "pooled")
    tests = pooled or verdict_tests(resilience, "mean-series")
    headline = tests.get(HEADLINE) or next(iter(tests.values()), None)
    if headline is None:
        return Verdict(None, False, "No verdict: resilience.json holds no tested series.")
    others = tuple(
        t
        for (series, ind), t in tests.items()
        if t is not headline
        and series in VERDICT_SERIES
        and ind in VERDICT_INDICATORS
        and t.significant(alpha)
    )
    sentence = _sentence(headline, alpha, pooled=bool(pooled))
    if others:
        named = ", ".join(
            f"{series_label(t.series)} {indicator_label(t.indicator)} (p = {p_text(t.p_value)})"
            for t in others
            if t.p_value is not None
        )
        sentence += f" Also significant: {named}."
    return Verdict(headline, headline.significant(alpha), sentence, others)


def _sentence(test: IndicatorTest, alpha: float, *, pooled: bool) -> str:
    name = f"{series_label(test.series)} {indicator_label(test.indicator)}"
    why = f" ({test.error})" if test.error else ""
    if test.kendall_tau is None:
        return f"No verdict: {name} could not be tested{why}."
    if test.p_value is None:  # e.g. too short for the surrogates' model: the trend alone
        return f"No verdict: {name} has tau {test.kendall_tau:.2f} but no p-value{why}."
    values = f"tau {test.kendall_tau:.2f}, p = {p_text(test.p_value)}"
    surrogates = f"{test.n_surrogates} surrogates"
    rise = "rise" if test.direction == "rising" else "fall"
    if pooled:
        where = f"across the site's {test.tiles} tiles"
        if test.significant(alpha):
            return f"{name} is {test.direction} {where}: pooled {values}, {surrogates}."
        return (
            f"No significant {rise}: {name} {where} has pooled {values} (alpha {alpha:g}), "
            f"{surrogates}."
        )
    which = "mean-series test (this run has no pooled test)"
    if test.significant(alpha):
        return (
            f"{name} of the mean over tiles is {test.direction}: {values}, {surrogates}; {which}."
        )
    return (
        f"No significant {rise}: {name} of the mean over tiles has {values} (alpha {alpha:g}), "
        f"{surrogates}; {which}."
    )
