"""The report says how many tiles' trends are significant, and why none can be when that is so."""

import math
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import xarray as xr

from vegdask.analysis._report import report_html


def report(maps):
    time = pd.date_range("2020-01-01", periods=3, freq="MS")
    tiles = xr.Dataset(coords={"time": time})
    res = SimpleNamespace(metadata={"location": "test"}, tiles=tiles, run={})
    return re.sub(r"<[^>]+>", "", report_html(res, {}, {}, {}, {}, maps))


def maps_with(flags, n_surrogates, alpha=0.05):
    m = flags.size
    attrs = {  # Benjamini-Hochberg's floor, written out: p >= 1 / (B + 1), p_(k) <= k alpha / m
        "min_p_value": 1 / (n_surrogates + 1),
        "min_significant_tiles": math.ceil(m / (alpha * (n_surrogates + 1))),
        "surrogates_for_one_tile": math.ceil(m / alpha) - 1,
    }
    significant = xr.DataArray(flags, dims=("tile_y", "tile_x"), attrs=attrs)
    return xr.Dataset(
        {"ar1_significant": significant}, attrs={"n_surrogates": n_surrogates, "alpha": alpha}
    )


def test_too_few_surrogates_say_why_no_tile_can_be_significant():
    text = report(maps_with(np.zeros((10, 10), dtype=bool), n_surrogates=200))
    # 100 tiles, 200 surrogates: p >= 1/201, BH needs 100 / (0.05 * 201) -> 10 tiles at that floor
    assert "ar1: no tile can be significant" in text
    assert "smallest p-value is 0.004975" in text
    assert "at least 10 tiles reach it; one tile alone needs 1999 surrogates" in text


def test_enough_surrogates_report_the_count_of_significant_tiles():
    flags = np.zeros((2, 2), dtype=bool)
    flags[0, 1] = True
    text = report(maps_with(flags, n_surrogates=999))
    assert "ar1: 1 significant tile(s)." in text
    assert "no tile can be significant" not in text


def test_no_maps_no_note():
    text = report(None)
    assert "significant tile" not in text
    assert "no tile can be significant" not in text


def test_untested_tiles_say_so_rather_than_count_zero():
    maps = maps_with(np.zeros((2, 2), dtype=bool), n_surrogates=999)
    maps["ar1_p_value"] = (("tile_y", "tile_x"), np.full((2, 2), np.nan))
    text = report(maps)
    assert "ar1: no tile has a p-value" in text
    assert "significant tile(s)" not in text
