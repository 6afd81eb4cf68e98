"""The report's first screen: the verdict sentence, its traffic lights, what the data are."""

import html
import re
from types import SimpleNamespace

import dask
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from vegdask.analysis._figures import fig_sensitivity, fig_tile_maps
from vegdask.analysis._report import report_html
from vegdask.analysis._resilience import sensitivity
from vegdask.analysis._verdict import location_verdict


def entry(tau, p, **more):
    return {"kendall_tau": tau, "p_value": p, "n_surrogates": 1000, **more}


MEAN_ONLY = {
    "offset50_mean": {"ar1": entry(0.51, 0.16), "variance": entry(-0.74, 0.92)},
    "ndvi_mean": {"ar1": entry(-0.29, 0.66), "variance": entry(0.4, 0.03)},
}
POOLED = {
    **MEAN_ONLY,
    "location": {
        "offset50_mean": {
            "ar1": entry(0.31, 0.004, tiles=98),
            "variance": entry(0.1, 0.2, tiles=98),
        },
        "ndvi_mean": {"ar1": entry(0.02, 0.4, tiles=98), "variance": entry(-0.1, 0.8, tiles=98)},
    },
}


def page(resilience, *, metadata=None, run=None, alpha=None, grid_alpha=None):
    time = pd.date_range("2020-01-01", periods=3, freq="MS")
    tiles = xr.Dataset(coords={"time": time})
    res = SimpleNamespace(metadata=metadata or {"location": "test"}, tiles=tiles, run=run or {})
    return report_html(res, resilience, {}, {}, {}, None, alpha=alpha, grid_alpha=grid_alpha)


def text(html_page):
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html_page)))


def verdict_of(html_page):
    return text(re.search(r'<p class="verdict[^"]*">(.*?)</p>', html_page).group(1)).strip()


def lights(html_page):
    """(row label, [cell class, ...]) of the traffic-light table."""
    table = re.search(r'<table class="lights">(.*?)</table>', html_page).group(1)
    rows = re.findall(r"<tr><th>([^<]*)</th>(.*?)</tr>", table.split("</thead>")[1])
    return {label: re.findall(r'<td class="(\w+)"', cells) for label, cells in rows}


def test_pooled_verdict_leads_the_page_with_the_sentence():
    html_page = page(POOLED)
    assert verdict_of(html_page) == (
        "offset50 AR(1) is rising across the site's 98 tiles: pooled tau 0.31, p = 0.004 "
        "(< 0.025: alpha 0.05 shared by 2 tests), 1000 surrogates."
    )
    # Above every table: the verdict comes before the first <table>.
    assert html_page.index('class="verdict') < html_page.index("<table")
    assert lights(html_page) == {
        "offset50 AR(1)": ["red", "amber"],
        "offset50 variance": ["amber", "green"],
        "NDVI AR(1)": ["amber", "green"],
        "NDVI variance": ["green", "red"],
    }


def test_no_pooled_test_falls_back_to_the_mean_series_and_says_so():
    sentence = verdict_of(page(MEAN_ONLY))
    assert sentence.startswith("No significant rise: offset50 AR(1) of the mean over tiles")
    assert "tau 0.51, p = 0.160 (alpha 0.05, 0.025 each of 2 tests)" in sentence
    assert "NDVI AR(1): tau -0.29, p = 0.660." in sentence  # the other headline test
    assert "mean-series test (this run has no pooled test)" in sentence
    # Significant others are named after the headline, never in its place.
    assert sentence.endswith("Also significant: NDVI variance (p = 0.030).")
    assert '<p class="verdict mixed">' in page(MEAN_ONLY)  # amber: the headline alone is calm
    assert lights(page(MEAN_ONLY))["offset50 AR(1)"] == ["grey", "amber"]


def test_alpha_comes_from_the_settings():
    with dask.config.set({"vegdask.analysis.alpha": 0.01}):
        html_page = page(MEAN_ONLY)
    assert lights(html_page)["NDVI variance"] == ["grey", "amber"]  # p 0.03 > 0.01
    assert "alpha = 0.01" in text(html_page)
    assert "p<0.05" not in html_page
    assert "p < 0.05" not in text(html_page)


def test_sensitivity_share_is_headed_by_the_grids_recorded_alpha():
    assert "share of sensitivity cells p < 0.05" in text(page(MEAN_ONLY))
    html_page = page(MEAN_ONLY, alpha=0.05, grid_alpha=0.01)
    assert "share of sensitivity cells p < 0.01" in text(html_page)
    assert "alpha = 0.05" in text(html_page)  # the verdict's level stays the tests'


def test_untestable_headline_says_why():
    res = {"offset50_mean": {"ar1": {"kendall_tau": None, "p_value": None, "error": "too short"}}}
    assert location_verdict(res, 0.05).sentence == (
        "No verdict: offset50 AR(1) could not be tested (too short)."
    )
    res["offset50_mean"]["ar1"].update(kendall_tau=0.2, error="no surrogate p-value: 24 samples")
    assert location_verdict(res, 0.05).sentence == (
        "No verdict: offset50 AR(1) has tau 0.20 but no p-value (no surrogate p-value: 24 samples)."
    )


def test_synthetic_data_say_so_in_title_and_first_line_whatever_the_location():
    run = {"config": {"source": {"kind": "synthetic", "seed": 0}, "location": {"id": "17"}}}
    html_page = page(MEAN_ONLY, metadata={"id": "17", "country": "Sudan"}, run=run)
    title = re.search(r"<title>(.*?)</title>", html_page).group(1)
    assert title.startswith("SYNTHETIC DATA:")
    assert "catalogue location 17" in title
    first = re.search(r"<h1>.*?</h1>(<h2>[^<]*</h2>)?<p[^>]*>(.*?)</p>", html_page).group(2)
    assert text(first).strip().startswith("Synthetic data")
    real = page(MEAN_ONLY, metadata={"id": "17"}, run={"config": {"source": {"kind": "gee"}}})
    assert "SYNTHETIC" not in real
    assert "Synthetic data" not in real


def test_pyveg_preset_is_labelled():
    preset = {"offset50_mean": {"ar1": {"kendall_tau": 0.1, "p_value": None, "preset": "pyveg"}}}
    assert "pyveg preset" in text(page(preset))
    assert "pyveg preset" not in text(page(MEAN_ONLY))


def test_page_has_a_viewport_and_scrolling_tables():
    html_page = page(POOLED)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html_page
    tables = html_page.count("<table")
    assert html_page.count('<div class="scroll"><table') == tables


def test_names_are_explained():
    words = text(page(MEAN_ONLY))
    for name in ("offset50", "crystal-ball fit", "cg_variance, cg_skewness", "sdr"):
        assert re.search(rf"{re.escape(name)} [a-z]", words), name


def test_sensitivity_axis_is_labelled_in_the_grid_convention():
    series = pd.Series(np.random.default_rng(0).standard_normal(60).cumsum())
    for grid, convention in (("pyveg", "sigma"), ("earlywarnings", "ksmooth")):
        sens = sensitivity(series, grid=grid, n_surrogates=3, alpha=0.1)
        fig = fig_sensitivity(sens, "offset50_mean")
        assert convention in fig.axes[0].get_ylabel()
        assert fig.axes[0].get_title().endswith("cells p < 0.1")


def test_tile_map_legend_only_when_tiles_are_significant():
    mean = xr.DataArray(np.zeros((3, 4)), dims=("tile_y", "tile_x"))
    for count in (0, 2):
        flags = np.zeros((3, 4), dtype=bool)
        flags.flat[:count] = True
        maps = xr.Dataset(
            {
                "ar1_tau": (("tile_y", "tile_x"), np.zeros((3, 4))),
                "ar1_significant": (("tile_y", "tile_x"), flags),
            },
            attrs={"alpha": 0.05},
        )
        ax = fig_tile_maps(mean, maps).axes[1]
        assert (ax.get_legend() is not None) == bool(count)
        assert f"({count} significant)" in ax.get_title()


@pytest.mark.parametrize("tau", [0.31, -0.2])
def test_tau_sign_of_return_rate_is_a_fall(tau):
    res = {"location": {"offset50_mean": {"return_rate": entry(tau, 0.5, tiles=9)}}}
    sentence = location_verdict(res, 0.05).sentence
    assert sentence.startswith("No significant fall: offset50 return rate")


def test_verdict_figure_maps_each_tiles_tau_and_shows_the_null():
    from vegdask.analysis import pooled_early_warning
    from vegdask.analysis._report import _verdict_figure

    rng = np.random.default_rng(4)
    time = pd.date_range("2016-01-16", periods=40, freq="MS")
    cube = xr.DataArray(
        rng.standard_normal((40, 3, 4)),
        dims=("time", "tile_y", "tile_x"),
        coords={"time": time, "tile_y": [0, 1, 2], "tile_x": [0, 1, 2, 3]},
    )
    cube[:, 2, 1] = np.nan  # a tile never valid: not used, blank on the map
    panel = cube.stack(tile=("tile_y", "tile_x")).transpose("time", "tile")
    pooled = pooled_early_warning(panel, n_surrogates=19, seed=2)
    grid = cube.isel(time=0, drop=True) * np.nan
    fig = _verdict_figure({"offset50_mean": pooled}, grid, 0.05)
    expected = np.full((3, 4), np.nan)
    for (y, x), tau in pooled.tile_taus["ar1"].items():
        expected[y, x] = tau
    shown = fig.axes[0].images[0].get_array()
    np.testing.assert_allclose(np.ma.filled(shown, np.nan), expected)
    assert np.isnan(expected[2, 1])
    hist_ax = next(ax for ax in fig.axes if ax.get_xlabel().startswith("pooled"))
    observed = hist_ax.lines[0].get_xdata()[0]
    assert observed == pytest.approx(pooled.stats["ar1"]["kendall_tau"])
    assert "against 19 surrogates" in hist_ax.get_title()
    # NDVI's AR(1) is a headline test too: its figure when it is the only one; none without.
    assert (
        _verdict_figure({"ndvi_mean": pooled}, grid, 0.05)
        ._suptitle.get_text()
        .startswith("NDVI AR(1)")
    )
    assert _verdict_figure({}, grid, 0.05) is None


def pooled_ar1(offset50_p, ndvi_p):
    return {
        "location": {
            "offset50_mean": {"ar1": entry(0.1, offset50_p, tiles=100)},
            "ndvi_mean": {"ar1": entry(0.2, ndvi_p, tiles=100)},
        }
    }


def test_either_headline_test_gives_the_verdict_at_half_alpha():
    """offset50 and NDVI AR(1) are fixed in advance and share alpha (Bonferroni: 0.025 each)."""
    verdict = location_verdict(pooled_ar1(0.8, 0.012), 0.05)
    assert verdict.significant
    assert (verdict.headline.series, verdict.headline.indicator) == ("ndvi_mean", "ar1")
    assert verdict.level == 0.025
    assert verdict.sentence == (
        "NDVI AR(1) is rising across the site's 100 tiles: pooled tau 0.20, p = 0.012 "
        "(< 0.025: alpha 0.05 shared by 2 tests), 1000 surrogates."
    )
    # Between alpha / 2 and alpha: not significant, and not named as "also significant".
    verdict = location_verdict(pooled_ar1(0.8, 0.03), 0.05)
    assert not verdict.significant
    assert verdict.headline.series == "offset50_mean"
    assert "Also significant" not in verdict.sentence
    assert verdict.sentence.endswith("NDVI AR(1): tau 0.20, p = 0.030.")
    # The more significant of the two is named when both are.
    assert location_verdict(pooled_ar1(0.001, 0.02), 0.05).headline.series == "offset50_mean"
    assert location_verdict(pooled_ar1(0.02, 0.001), 0.05).headline.series == "ndvi_mean"


def test_headline_tests_without_p_values_give_no_verdict_not_an_error():
    verdict = location_verdict(pooled_ar1(None, None), 0.05)
    assert not verdict.significant
    assert verdict.level == 0.05
    assert verdict.sentence == "No verdict: offset50 AR(1) has tau 0.10 but no p-value."
