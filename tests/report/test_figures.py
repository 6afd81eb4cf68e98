"""Figures: rendered once per format, PNG by default, in parallel on a cluster's workers."""

import io

import dask
import numpy as np
import pandas as pd
import pytest
from distributed import Client, LocalCluster, get_task_stream
from PIL import Image

from vegdask.analysis import _figures as figs


def specs():
    index = pd.date_range("2016-01-16", periods=24, freq="MS")
    wave = np.sin(np.arange(24) / 3)
    frame = pd.DataFrame(
        {"offset50_mean": wave, "offset50_std": 0.1 + 0 * wave, "total_precipitation": 1 + wave},
        index=index,
    )
    lags = {"offset50_mean": pd.Series(np.linspace(0.9, -0.2, 9))}
    return {
        "timeseries": (figs.fig_timeseries, (frame,)),
        "lagged_correlation": (figs.fig_lagged_correlation, (lags,)),
    }


def test_png_by_default_svg_on_request():
    assert figs.figure_formats() == ("png",)
    with dask.config.set({"vegdask.analysis.figure-formats": ["svg"]}):
        assert figs.figure_formats() == ("png", "svg")  # the report always needs the PNG
    assert figs.figure_formats(["svg", "png"]) == ("png", "svg")
    with pytest.raises(ValueError, match="figure format 'jpg' is not one of"):
        figs.figure_formats(["jpg"])


def test_png_is_a_palette_image_at_the_report_resolution():
    out = figs.render_figures(specs(), ("png", "svg"))
    assert list(out) == ["timeseries", "lagged_correlation"]
    image = Image.open(io.BytesIO(out["timeseries"]["png"]))
    assert image.mode == "P"  # 256-colour palette
    assert image.convert("RGB").getpixel((0, 0)) == (255, 255, 255)  # white as the page
    assert image.size == (10 * figs.PNG_DPI, int(6.5 * figs.PNG_DPI))  # 10 x 6.5 inch figure
    assert out["lagged_correlation"]["svg"].lstrip().startswith(b"<?xml")


@pytest.mark.slow
def test_figures_are_drawn_on_the_workers_when_a_cluster_runs():
    here = figs.render_figures(specs())
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster,
        Client(cluster) as client,
        get_task_stream(client) as stream,
    ):
        there = figs.render_figures(specs())
    ran = [task for task in stream.data if "_build_and_render" in task["key"]]
    assert len(ran) == 2
    assert there == here  # the same bytes whichever process drew them


def test_spatial_figure_marks_the_periods_below_alpha():
    """The filled markers are the periods whose permutation p is below alpha (no fixed 0.05)."""
    index = pd.date_range("2016-01-16", periods=5, freq="MS")
    names = ("cg_variance", "cg_skewness", "morans_i", "sdr")
    p = [0.001, 0.02, 0.04, 0.2, 0.009]
    spatial = pd.DataFrame(
        {**{n: np.arange(5.0) for n in names}, **{f"{n}_p_value": p for n in names}}, index=index
    )
    for alpha, marked in ((0.05, 4), (0.01, 2)):
        fig = figs.fig_spatial(spatial, alpha)
        dots = [line for line in fig.axes[0].lines if line.get_marker() == "o"]
        assert [len(line.get_xdata()) for line in dots] == [marked]
        assert fig.axes[0].get_title().endswith(f"p < {alpha:g})")
    with dask.config.set({"vegdask.analysis.alpha": 0.01}):
        assert figs.fig_spatial(spatial).axes[0].get_title().endswith("p < 0.01)")
