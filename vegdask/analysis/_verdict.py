"""A location's verdict: is it losing resilience, by which test, in one sentence and a table.

Read from the content of ``analysis/resilience.json``: the pooled tests of the site's tiles under
``location.<series>.<indicator>`` when present, the tests of the series of tile means
(``<series>.<indicator>``) otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, cast

__all__ = [
    "HEADLINES",
    "IndicatorTest",
    "Verdict",
    "indicator_label",
    "location_verdict",
    "series_label",
    "verdict_tests",
]

#: The tests the verdict is about, fixed before looking at any result: critical slowing down
#: (a rising AR(1)) of the pattern metric and of the vegetation's greenness. The location is
#: losing resilience when one of them is significant at alpha shared among them (Bonferroni).
HEADLINES: tuple[tuple[str, str], ...] = (("offset50_mean", "ar1"), ("ndvi_mean", "ar1"))
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
    #: the level the headline test is held to (alpha shared among the headline tests)
    level: float | None = None


def p_text(p: float) -> str:
    """A p-value to three decimals, or in scientific notation below 0.001."""
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def headline_test(
    tests: dict[tuple[str, str], IndicatorTest], alpha: float
) -> tuple[IndicatorTest | None, float]:
    """The verdict's test among :data:`HEADLINES` and the level each of them is held to.

    Each of the ``k`` headline tests present is held to ``alpha / k`` (Bonferroni: the chance
    that any of them is significant for a site that is not changing stays at most ``alpha``).
    The test named is the most significant of them when one is significant, else the first
    present; with no headline test at all, the first test there is, at ``alpha``.

    Examples
    --------
    >>> tests = {("offset50_mean", "ar1"): IndicatorTest("offset50_mean", "ar1", "pooled", -0.1, 0.8),
    ...          ("ndvi_mean", "ar1"): IndicatorTest("ndvi_mean", "ar1", "pooled", 0.2, 0.01)}
    >>> test, level = headline_test(tests, 0.05)
    >>> test.series, level
    ('ndvi_mean', 0.025)
    >>> headline_test({("ndvi_mean", "ar1"): IndicatorTest("ndvi_mean", "ar1", "pooled", 0.2, None),
    ...                ("offset50_mean", "ar1"): IndicatorTest("offset50_mean", "ar1", "pooled", 0.1, None)},
    ...               0.05)[0].series  # none with a p-value (too short): offset50's, at alpha
    'offset50_mean'
    """  # noqa: E501
    present = [tests[key] for key in HEADLINES if key in tests]
    if not present:
        return next(iter(tests.values()), None), alpha
    level = alpha / max(1, sum(t.p_value is not None for t in present))
    significant = [t for t in present if t.significant(level)]
    if not significant:
        return present[0], level
    # a significant test has a p-value
    return min(significant, key=lambda t: cast(float, t.p_value)), level


def location_verdict(resilience: dict[str, Any], alpha: float) -> Verdict:
    """The location's verdict: the AR(1) trends of offset50 and NDVI, pooled tests when there are.

    The headline tests (:data:`HEADLINES`) are chosen before looking at the results and share
    ``alpha`` (:func:`headline_test`); other significant indicators of the verdict table are
    named after the sentence, not promoted in its place (choosing the smallest of many p-values
    would make it too small).

    Examples
    --------
    >>> res = {"location": {"offset50_mean": {"ar1": {"kendall_tau": 0.31, "p_value": 0.004,
    ...                                               "tiles": 98, "n_surrogates": 1000}}}}
    >>> location_verdict(res, 0.05).sentence
    "offset50 AR(1) is rising across the site's 98 tiles: pooled tau 0.31, p = 0.004, 1000 surrogates."
    >>> res["location"]["ndvi_mean"] = {"ar1": {"kendall_tau": 0.1, "p_value": 0.3,
    ...                                         "tiles": 98, "n_surrogates": 1000}}
    >>> location_verdict(res, 0.05).sentence
    "offset50 AR(1) is rising across the site's 98 tiles: pooled tau 0.31, p = 0.004 (< 0.025: alpha 0.05 shared by 2 tests), 1000 surrogates."
    >>> res = {"offset50_mean": {"ar1": {"kendall_tau": 0.5, "p_value": 0.16, "n_surrogates": 1000}}}
    >>> print(location_verdict(res, 0.05).sentence)
    No significant rise: offset50 AR(1) of the mean over tiles has tau 0.50, p = 0.160 (alpha 0.05), 1000 surrogates; mean-series test (this run has no pooled test).
    """  # noqa: E501
    pooled = verdict_tests(resilience, "pooled")
    tests = pooled or verdict_tests(resilience, "mean-series")
    headline, level = headline_test(tests, alpha)
    if headline is None:
        return Verdict(None, False, "No verdict: resilience.json holds no tested series.")
    family = [tests[key] for key in HEADLINES if key in tests and tests[key] is not headline]
    others = tuple(
        t
        for (series, ind), t in tests.items()
        if t is not headline
        and (series, ind) not in HEADLINES
        and series in VERDICT_SERIES
        and ind in VERDICT_INDICATORS
        and t.significant(alpha)
    )
    shared = len(family) + 1 if level != alpha else 1
    sentence = _sentence(headline, alpha, level, shared, pooled=bool(pooled))
    if not headline.significant(level):
        for test in family:
            if test.p_value is not None and test.kendall_tau is not None:
                sentence += (
                    f" {series_label(test.series)} {indicator_label(test.indicator)}: "
                    f"tau {test.kendall_tau:.2f}, p = {p_text(test.p_value)}."
                )
    if others:
        named = ", ".join(
            f"{series_label(t.series)} {indicator_label(t.indicator)} (p = {p_text(t.p_value)})"
            for t in others
            if t.p_value is not None
        )
        sentence += f" Also significant: {named}."
    return Verdict(headline, headline.significant(level), sentence, others, level)


def _sentence(test: IndicatorTest, alpha: float, level: float, shared: int, *, pooled: bool) -> str:
    name = f"{series_label(test.series)} {indicator_label(test.indicator)}"
    why = f" ({test.error})" if test.error else ""
    if test.kendall_tau is None:
        return f"No verdict: {name} could not be tested{why}."
    if test.p_value is None:  # e.g. too short for the surrogates' model: the trend alone
        return f"No verdict: {name} has tau {test.kendall_tau:.2f} but no p-value{why}."
    held = f" (< {level:g}: alpha {alpha:g} shared by {shared} tests)" if shared > 1 else ""
    values = f"tau {test.kendall_tau:.2f}, p = {p_text(test.p_value)}"
    surrogates = f"{test.n_surrogates} surrogates"
    rise = "rise" if test.direction == "rising" else "fall"
    if not test.significant(level):
        held = f" (alpha {alpha:g}" + (f", {level:g} each of {shared} tests)" if held else ")")
    if pooled:
        where = f"across the site's {test.tiles} tiles"
        if test.significant(level):
            return f"{name} is {test.direction} {where}: pooled {values}{held}, {surrogates}."
        return f"No significant {rise}: {name} {where} has pooled {values}{held}, {surrogates}."
    which = "mean-series test (this run has no pooled test)"
    if test.significant(level):
        return (
            f"{name} of the mean over tiles is {test.direction}: {values}{held}, {surrogates}; "
            f"{which}."
        )
    return (
        f"No significant {rise}: {name} of the mean over tiles has {values}{held}, "
        f"{surrogates}; {which}."
    )
