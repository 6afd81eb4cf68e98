"""Session fixtures shared by every test area."""

import pytest

from vegdask.testing import Azurite


@pytest.fixture(scope="session")
def azurite():
    """A real Azurite blob service for the whole session (fails, never skips, if not installed)."""
    with Azurite() as service:
        yield service


def _expected_headline(resilience, alpha=0.05):
    """The verdict's test as the docs state the rule (docs/analysis.md, "Reading the report").

    offset50's and NDVI's AR(1), fixed in advance, share alpha (each held to alpha / 2 when both
    have a p-value); the more significant of those below it, else offset50's. Returns
    ``(series, entry, significant)``.
    """
    entries = resilience.get("location") or {k: v for k, v in resilience.items() if k != "location"}
    family = [(s, entries[s]["ar1"]) for s in ("offset50_mean", "ndvi_mean") if s in entries]
    tested = [(s, e) for s, e in family if e.get("p_value") is not None]
    level = alpha / len(tested) if len(family) > 1 and tested else alpha
    below = [(s, e) for s, e in tested if e["p_value"] < level]
    if below:
        series, entry = min(below, key=lambda item: item[1]["p_value"])
        return series, entry, True
    return family[0][0], family[0][1], False


@pytest.fixture
def expected_headline():
    """The rule of the location's verdict, written from its documentation (not the code)."""
    return _expected_headline
