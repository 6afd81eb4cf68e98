"""The report's tie-sensitivity line: shown with its figures where non-zero, absent otherwise."""

import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from vegdask.analysis._report import report_html


def report(ties):
    time = pd.date_range("2020-01-01", periods=ties.shape[0], freq="MS")
    tiles = xr.Dataset(
        {"tie_sensitivity": (("time", "tile_y", "tile_x"), ties)}, coords={"time": time}
    )
    res = SimpleNamespace(metadata={"location": "test"}, tiles=tiles, run={})
    return report_html(res, {}, {}, {}, {})


def test_non_zero_tie_sensitivity_is_reported_with_share_max_and_median():
    ties = np.zeros((4, 3, 5))
    ties[0, 0, :3] = [1.0, 2.0, 6.0]
    ties[2, 1, 1] = 3.0
    ties[3] = np.nan  # an invalid period: no figure
    text = re.sub(r"<[^>]+>", "", report(ties))
    # 4 non-zero values (1, 2, 3, 6) among 3 * 15 = 45 valid tile-periods
    assert "non-zero in 4 of 45 valid tile-periods (8.9%)" in text
    assert "max 6, median over those 2.5" in text


@pytest.mark.parametrize("ties", [np.zeros((2, 2, 2)), np.full((2, 2, 2), np.nan)])
def test_no_tie_sensitivity_line_when_all_zero(ties):
    assert "Tie sensitivity" not in report(ties)
    assert "Tile maps" in report(ties)  # the section itself is still there
