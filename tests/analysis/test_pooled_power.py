"""Validity and power of the pooled test on simulated sites (vegdask.testing.simulated_site).

100 tiles, 48 monthly periods; null phi 0.5, ramp 0.2 -> 0.8 (issue 18). 99 surrogates a test
here, to keep the module near a minute; the rates at the defaults (1000 surrogates, more sites)
are benchmarks/pooled_power.py's, quoted in docs/analysis.md.
"""

import pytest

from vegdask.testing import SITE_CONDITIONS as CONDITIONS
from vegdask.testing import pooled_rejection_rate as rejection_rate

NULL_SITES = 100
POWER_SITES = 40
SURROGATES = 99


@pytest.mark.parametrize("condition", list(CONDITIONS))
def test_false_positive_rate_at_most_7_percent(condition):
    rate = rejection_rate(NULL_SITES, ramp=False, n_surrogates=SURROGATES, **CONDITIONS[condition])
    assert rate <= 0.07


@pytest.mark.parametrize(
    ("condition", "least"),
    [
        ("share 0.2", 0.9),
        ("share 0.5", 0.5),
        ("share 0.2, seasonal", 0.5),
        ("share 0.2, 10 % missing", 0.5),
    ],
)
def test_power_against_a_ramp(condition, least):
    rate = rejection_rate(POWER_SITES, ramp=True, n_surrogates=SURROGATES, **CONDITIONS[condition])
    assert rate >= least
