"""Figures of the analysis, drawn on :class:`matplotlib.figure.Figure` (Agg, no pyplot state).

Each ``fig_*`` function returns a Figure. :func:`render_figures` draws a set of them once each,
as Dask tasks (in parallel on the workers of the default ``distributed`` client when there is
one), and renders each as PNG (a 256-colour palette, as embedded in the report) and,
on request, SVG.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import dask
import matplotlib
import numpy as np
import pandas as pd
import xarray as xr
from dask.delayed import Delayed
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from vegdask import config
from vegdask.analysis._tasks import compute_tasks

__all__ = [
    "FIGURE_FORMATS",
    "PNG_DPI",
    "fig_ews",
    "fig_lagged_correlation",
    "fig_quicklooks",
    "fig_sensitivity",
    "fig_spatial",
    "fig_stl",
    "fig_surrogates",
    "fig_tile_maps",
    "fig_timeseries",
    "fig_verdict",
    "figure_formats",
    "figure_tasks",
    "quicklook_frames",
    "render_figure",
    "render_figures",
    "save_figure",
    "write_figure",
]

#: File formats a figure can be written in; PNG is always written (the report embeds it).
FIGURE_FORMATS: tuple[str, ...] = ("png", "svg")
#: Resolution of the PNG figures (a 10-inch figure is 1000 pixels wide).
PNG_DPI = 100

_LABELS = {
    "offset50_mean": "offset50 (mean over tiles, Euler characteristic units)",
    "ndvi_mean": "NDVI (mean over tiles)",
    "ndvi_veg_mean": "NDVI over vegetation",
    "total_precipitation": "precipitation (mm / period)",
}

# An indicator's axis: its unit (variance in the squared units of the series).
_INDICATOR_UNITS = {
    "ar1": "AR(1)\n(unitless)",
    "variance": "variance\n(units²)",
    "skewness": "skewness\n(unitless)",
    "kurtosis": "excess kurtosis\n(unitless)",
}
_UNITS = {"offset50": "offset50 (EC units: vertices - edges)", "ndvi": "NDVI (-1..1)"}

# The Gaussian bandwidth of a sensitivity grid, as its convention reads it (a fraction of n).
_BANDWIDTH_LABELS = {
    "sigma": "Gaussian bandwidth: sigma (fraction of n)",
    "ksmooth": "Gaussian bandwidth: ksmooth (fraction of n)",
}

FigureSpec = tuple[Callable[..., Figure], tuple[Any, ...]]


def _fmt_p(p: float) -> str:
    return "n/a" if p is None or not np.isfinite(p) else f"{p:.3f}"


def _figure(
    width: float,
    height: float,
    *,
    left: float = 0.9,
    right: float = 0.25,
    top: float = 0.4,
    bottom: float = 0.5,
    hspace: float = 0.25,
    wspace: float = 0.2,
) -> Figure:
    """A Figure with fixed margins in inches (no layout pass: each figure is drawn once).

    The margins leave room for the tick labels, axis labels and titles of each ``fig_*``;
    ``hspace``/``wspace`` are fractions of the mean axes height/width, as matplotlib's.
    """
    fig = Figure(figsize=(width, height))
    fig.subplots_adjust(
        left=left / width,
        right=1 - right / width,
        top=1 - top / height,
        bottom=bottom / height,
        hspace=hspace,
        wspace=wspace,
    )
    return fig


def figure_formats(formats: Iterable[str] | None = None) -> tuple[str, ...]:
    """The formats to write: explicit > ``vegdask.analysis.figure-formats`` > PNG; PNG first.

    Examples
    --------
    >>> figure_formats(["svg"])
    ('png', 'svg')
    >>> figure_formats(["pdf"])
    Traceback (most recent call last):
    ...
    ValueError: figure format 'pdf' is not one of ('png', 'svg')
    """
    chosen = config.get("analysis.figure-formats", None if formats is None else list(formats))
    for fmt in chosen:
        if fmt not in FIGURE_FORMATS:
            raise ValueError(f"figure format {fmt!r} is not one of {FIGURE_FORMATS}")
    return ("png", *(f for f in FIGURE_FORMATS if f in chosen and f != "png"))


def render_figure(fig: Figure, formats: Iterable[str] = ("png",)) -> dict[str, bytes]:
    """Draw ``fig`` once per format: PNG at :data:`PNG_DPI` as a palette, SVG.

    Examples
    --------
    >>> fig = Figure(figsize=(2, 1))
    >>> _ = fig.subplots().plot([0, 1], [1, 0])
    >>> out = render_figure(fig, ("png", "svg"))
    >>> out["png"][1:4], out["svg"][:5]
    (b'PNG', b'<?xml')
    """
    out = {}
    for fmt in formats:
        if fmt == "png":
            out["png"] = _png(fig)
        else:
            buffer = io.BytesIO()
            fig.savefig(buffer, format=fmt)
            out[fmt] = buffer.getvalue()
    return out


def _png(fig: Figure) -> bytes:
    """One Agg draw, quantised to 256 colours (lines and colour maps lose nothing visible)."""
    from PIL import Image

    fig.set_dpi(PNG_DPI)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    rgb = Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3])
    palette = rgb.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    colours = np.array(palette.getpalette(), dtype=np.uint8).reshape(-1, 3)
    colours[(colours >= 252).all(axis=1)] = 255  # the octree's 254-grey back to the page's white
    palette.putpalette(colours.ravel().tolist())
    buffer = io.BytesIO()
    # zlib's default level: 5x faster than optimize=True for files 8 % larger.
    palette.save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


# Matplotlib is not thread-safe: figures are drawn one at a time in a process (uncontended in
# the usual one-thread worker processes; serialised on threaded or in-process workers).
_DRAWING = threading.Lock()


def _build_and_render(
    build: Callable[..., Figure | None], args: tuple[Any, ...], formats: tuple[str, ...]
) -> dict[str, bytes] | None:
    # Titles at a fixed height: no search for decorations above the axes at each draw (the
    # figures have no top tick labels).
    with _DRAWING, matplotlib.rc_context({"axes.titley": 1.0}):
        fig = build(*args)
        return None if fig is None else render_figure(fig, formats)


def figure_tasks(
    specs: Mapping[str, FigureSpec], formats: Iterable[str] = ("png",)
) -> dict[str, Delayed]:
    """One delayed task a figure of ``specs``: ``{format: bytes}``, None if ``build`` gave None.

    Arguments may be delayed (or lazy dask collections): a figure is drawn where and when they
    are computed.
    """
    formats = tuple(formats)
    return {
        key: dask.delayed(_build_and_render)(build, args, formats)
        for key, (build, args) in specs.items()
    }


def render_figures(
    specs: Mapping[str, FigureSpec], formats: Iterable[str] = ("png",)
) -> dict[str, dict[str, bytes]]:
    """Build and render every figure of ``specs`` (key -> (``fig_*`` function, arguments)).

    One Dask task a figure (:func:`figure_tasks`): on the default ``distributed`` client when
    there is one (the figures are drawn in parallel on its workers; lazy arguments are computed
    there too), otherwise one after the other in this process.

    Returns
    -------
    dict
        ``{key: {format: bytes}}`` in the order of ``specs``.

    Examples
    --------
    >>> frame = pd.DataFrame({"r": [0.1, 0.4]}, index=[0, 1])
    >>> out = render_figures({"lags": (fig_lagged_correlation, ({"r": frame["r"]},))})
    >>> list(out), list(out["lags"])
    (['lags'], ['png'])
    """
    (rendered,) = compute_tasks(figure_tasks(specs, formats))
    return {key: rendered[key] for key in specs}


def write_figure(fs: Any, path_stem: str, rendered: Mapping[str, bytes]) -> None:
    """Write ``<path_stem>.<format>`` for each rendered format through an fsspec filesystem."""
    for fmt, data in rendered.items():
        with fs.open(f"{path_stem}.{fmt}", "wb") as f:
            f.write(data)


def save_figure(
    fig: Figure, fs: Any, path_stem: str, formats: Iterable[str] | None = None
) -> bytes:
    """Render ``fig`` (:func:`figure_formats`), write it under ``path_stem``, return the PNG."""
    rendered = render_figure(fig, figure_formats(formats))
    write_figure(fs, path_stem, rendered)
    return rendered["png"]


def fig_timeseries(frame: pd.DataFrame) -> Figure:
    """Offset50 and NDVI (mean +/- std over tiles, LOESS) with precipitation on a twin axis."""
    fig = _figure(10, 6.5, right=0.8, hspace=0.08)
    axes = fig.subplots(2, 1, sharex=True)
    for ax, name, colour in ((axes[0], "offset50", "tab:green"), (axes[1], "ndvi", "tab:olive")):
        mean = frame.get(f"{name}_mean")
        if mean is None:
            continue
        std = frame[f"{name}_std"]
        ax.fill_between(frame.index, mean - std, mean + std, color=colour, alpha=0.2, label="± std")
        ax.plot(frame.index, mean, "o-", color=colour, ms=3, lw=1, label=f"{name} mean")
        if f"{name}_mean_smooth" in frame:
            ax.plot(frame.index, frame[f"{name}_mean_smooth"], color="k", lw=2, label="LOESS")
        if "ndvi_veg_mean" in frame and name == "ndvi":
            ax.plot(frame.index, frame["ndvi_veg_mean"], color="tab:brown", lw=1, label="NDVI veg")
        ax.set_ylabel(_UNITS[name])
        if "total_precipitation" in frame:
            twin = ax.twinx()
            twin.bar(
                frame.index, frame["total_precipitation"], width=20, color="tab:blue", alpha=0.3
            )
            twin.set_ylabel("precipitation (mm / period)", color="tab:blue")
            ax.set_zorder(twin.get_zorder() + 1)  # the series over the bars
            ax.patch.set_visible(False)
        ax.legend(loc="upper left", fontsize=8)
        ax.grid(alpha=0.3)
    axes[0].set_title("Time series: mean over valid tiles, LOESS smoothing, precipitation (bars)")
    return fig


def fig_stl(decomp: pd.DataFrame, name: str) -> Figure:
    """STL components of one series."""
    cols = [c for c in ("observed", "trend", "seasonal", "resid") if c in decomp]
    fig = _figure(10, 1.8 * len(cols) + 0.5, hspace=0.1)
    axes = np.atleast_1d(fig.subplots(len(cols), 1, sharex=True))
    for ax, col in zip(axes, cols, strict=True):
        ax.plot(decomp.index, decomp[col], lw=1.2, marker="o" if col == "resid" else None, ms=2)
        ax.set_ylabel(col)
        ax.grid(alpha=0.3)
    axes[0].set_title(f"STL decomposition (robust) of {_LABELS.get(name, name)}")
    return fig


def fig_ews(ews: Any) -> Figure:
    """Stacked panels: state and trend, residuals, then each indicator with tau and p."""
    frame = ews.frame
    names = [n for n in ("ar1", "variance", "skewness", "kurtosis") if n in ews.stats]
    fig = _figure(10, 2.0 * (2 + len(names)), top=0.65, hspace=0.1)
    axes = fig.subplots(2 + len(names), 1, sharex=True)
    axes[0].plot(frame.index, frame["state"], "o-", ms=2, lw=1, label="series (deseasonalised)")
    axes[0].plot(frame.index, frame["trend"], "k", lw=2, label="trend")
    axes[0].legend(fontsize=8)
    axes[0].set_title(
        f"Early-warning indicators of {_LABELS.get(ews.name, ews.name)}\nwindow "
        f"{ews.params['window']}, {ews.params['detrend']} bandwidth {ews.params['bandwidth']} "
        f"({ews.params['bandwidth_convention']}), AR(1) {ews.params['ar1_estimator']}"
    )
    axes[1].plot(frame.index, frame["residuals"], "o-", ms=2, lw=1, color="tab:gray")
    axes[1].axhline(0, color="k", lw=0.5)
    axes[1].set_ylabel("residuals\n(series units)")
    axes[-1].set_xlabel("end of the rolling window")
    for ax, name in zip(axes[2:], names, strict=True):
        st = ews.stats[name]
        ax.plot(frame.index, frame[name], lw=2, color="tab:red")
        ax.set_ylabel(_INDICATOR_UNITS.get(name, name))
        ax.text(
            0.01,
            0.85,
            f"Kendall τ = {st['kendall_tau']:.2f}, surrogate p = {_fmt_p(st['p_value'])}",
            transform=ax.transAxes,
            fontsize=9,
            bbox={"facecolor": "white", "alpha": 0.8},
        )
    for ax in axes:
        ax.grid(alpha=0.3)
    return fig


def fig_surrogates(ews: Any) -> Figure:
    """Histograms of surrogate taus with the observed tau and the surrogates' 95th percentile."""
    names = [n for n in ("ar1", "variance", "skewness", "kurtosis") if n in ews.surrogate_taus]
    fig = _figure(3.2 * len(names), 3, left=0.55, top=0.7, bottom=0.55, wspace=0.3)
    axes = np.atleast_1d(fig.subplots(1, len(names)))
    for ax, name in zip(axes, names, strict=True):
        taus = ews.surrogate_taus[name]
        # One filled outline, not 30 bars: the same picture, drawn in one path.
        ax.hist(
            taus[np.isfinite(taus)], bins=30, color="tab:gray", alpha=0.7, histtype="stepfilled"
        )
        ax.axvline(ews.stats[name]["kendall_tau"], color="tab:red", lw=2, label="observed")
        if np.isfinite(taus).any():
            ax.axvline(np.nanquantile(taus, 0.95), color="k", ls="--", label="95 %")
        ax.set_title(f"{name}: p = {_fmt_p(ews.stats[name]['p_value'])}", fontsize=10)
        ax.set_xlabel("Kendall τ")
    axes[0].set_ylabel("surrogates")
    axes[0].legend(fontsize=8)
    fig.suptitle(
        f"{_LABELS.get(ews.name, ews.name)}: {ews.params['n_surrogates']} ARMA"
        f"{tuple(ews.params['arma_order'])} surrogates (seed {ews.params['seed']})"
    )
    return fig


def fig_sensitivity(sens: xr.Dataset, name: str) -> Figure:
    """Heat maps of tau over window x bandwidth, cells with p < alpha marked (``*``).

    The bandwidth axis is labelled in the grid's own convention (``sens.attrs``).
    """
    inds = list(sens.indicator.values)
    fig = _figure(5 * len(inds), 3.8, left=1.0, top=0.75, bottom=0.55, right=0.7, wspace=0.45)
    axes = np.atleast_1d(fig.subplots(1, len(inds)))
    for ax, ind in zip(axes, inds, strict=True):
        tau = sens.kendall_tau.sel(indicator=ind)
        im = ax.imshow(tau.values, cmap="RdBu_r", vmin=-1, vmax=1, origin="lower", aspect="auto")
        ax.set_xticks(range(sens.sizes["window"]), [f"{w:.2f}" for w in sens.window.values])
        ax.set_yticks(range(sens.sizes["bandwidth"]), [f"{b:.2f}" for b in sens.bandwidth.values])
        sig = sens.p_value.sel(indicator=ind).values < sens.attrs["alpha"]
        for b, w in zip(*np.nonzero(sig), strict=True):
            ax.text(w, b, "*", ha="center", va="center", fontsize=14)
        share = sens.attrs.get(f"share_significant_{ind}")
        alpha = sens.attrs["alpha"]
        ax.set_title(
            f"{ind}: {share if share is None else round(share * 100)} % cells p < {alpha:g}"
        )
        ax.set_xlabel("rolling window (fraction of the series)")
        ax.set_ylabel(_BANDWIDTH_LABELS[sens.attrs["bandwidth_convention"]])
        fig.colorbar(im, ax=ax, label="Kendall τ")
    fig.suptitle(f"Sensitivity ({sens.attrs['grid']} grid) of {_LABELS.get(name, name)}")
    return fig


def fig_lagged_correlation(corrs: dict[str, pd.Series]) -> Figure:
    """Correlation with precipitation at lags 0..8 for each vegetation series."""
    fig = _figure(7, 3.5, left=0.8, top=0.2, bottom=0.6)
    ax = fig.subplots()
    for name, corr in corrs.items():
        ax.plot(corr.index, corr.values, "o-", label=name)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("lag (periods): vegetation[t] vs precipitation[t - lag]")
    ax.set_ylabel("Pearson r")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def fig_tile_maps(mean_offset50: xr.DataArray, maps: xr.Dataset) -> Figure:
    """Map the time-mean offset50 and the per-tile AR(1) trend (FDR-significant: dot).

    Axes are longitude/latitude of the tile centres when the coordinates are present.
    """
    fig = _figure(11, 4.5, left=0.8, top=0.4, bottom=0.6, right=0.6, wspace=0.35)
    axes = fig.subplots(1, 2)
    extent, labels = _map_extent(mean_offset50)
    im = axes[0].imshow(mean_offset50.values, cmap="viridis", extent=extent)
    axes[0].set_title("offset50, mean over time")
    fig.colorbar(im, ax=axes[0], label="offset50 (EC units)")
    im = axes[1].imshow(maps["ar1_tau"].values, cmap="RdBu_r", vmin=-1, vmax=1, extent=extent)
    ys, xs = np.nonzero(maps["ar1_significant"].values)
    if len(ys):  # a legend only for dots that are there
        ny, nx = mean_offset50.shape
        x0, x1, y0, y1 = extent
        axes[1].plot(
            x0 + (xs + 0.5) * (x1 - x0) / nx,
            y1 + (ys + 0.5) * (y0 - y1) / ny,
            "k.",
            ms=6,
            label=f"FDR q < {maps.attrs.get('alpha', 0.05):g}",
        )
        axes[1].legend(loc="lower right", fontsize=8)
    axes[1].set_title(f"Kendall τ of rolling AR(1) per tile ({len(ys)} significant)")
    fig.colorbar(im, ax=axes[1], label="Kendall τ")
    _map_axes(axes, labels)
    return fig


def _map_extent(grid: xr.DataArray) -> tuple[tuple[float, ...], tuple[str, str]]:
    """The imshow extent of a (tile_y, tile_x) map and its axis labels: lon/lat when known."""
    ny, nx = grid.shape
    extent, labels = (-0.5, nx - 0.5, ny - 0.5, -0.5), ("tile_x", "tile_y")
    if "longitude" in grid.coords and nx > 1 and ny > 1:
        lon, lat = grid["longitude"].values, grid["latitude"].values
        dx, dy = (lon[0, -1] - lon[0, 0]) / (nx - 1), (lat[-1, 0] - lat[0, 0]) / (ny - 1)
        extent = (lon[0, 0] - dx / 2, lon[0, -1] + dx / 2, lat[-1, 0] + dy / 2, lat[0, 0] - dy / 2)
        labels = ("longitude", "latitude")
    return extent, labels


def _map_axes(axes: Iterable[Any], labels: tuple[str, str]) -> None:
    for ax in axes:
        ax.set_xlabel(labels[0])
        ax.set_ylabel(labels[1])
        ax.ticklabel_format(useOffset=False)
        ax.xaxis.set_major_locator(MaxNLocator(5))  # longitudes have many digits


def fig_verdict(
    tile_taus: xr.DataArray,
    null: np.ndarray,
    observed: float,
    p_value: float,
    title: str,
    alpha: float,
) -> Figure:
    """The pooled verdict: each tile's tau on the map, and the pooled null with the observed.

    ``tile_taus`` is a (tile_y, tile_x) map (NaN: tile not used); ``null`` the pooled statistic
    of each surrogate panel; ``observed`` and ``p_value`` the pooled test's, at level ``alpha``.
    """
    fig = _figure(11, 4.2, left=0.8, top=0.7, bottom=0.6, right=0.6, wspace=0.4)
    axes = fig.subplots(1, 2)
    extent, labels = _map_extent(tile_taus)
    im = axes[0].imshow(tile_taus.values, cmap="RdBu_r", vmin=-1, vmax=1, extent=extent)
    fig.colorbar(im, ax=axes[0], label="Kendall τ of the tile")
    axes[0].set_title("each tile's trend (red: rising)")
    _map_axes(axes[:1], labels)
    finite = null[np.isfinite(null)]
    axes[1].hist(finite, bins=30, color="tab:gray", alpha=0.7, histtype="stepfilled")
    axes[1].axvline(observed, color="tab:red", lw=2, label=f"observed {observed:.2f}")
    if finite.size:
        cut = np.quantile(finite, 1 - alpha)
        axes[1].axvline(cut, color="k", ls="--", label=f"{100 * (1 - alpha):g}% of surrogates")
    axes[1].set_xlabel("pooled Kendall τ (weighted mean over tiles)")
    axes[1].set_ylabel("surrogate panels")
    axes[1].set_title(f"pooled τ against {finite.size} surrogates: p = {_fmt_p(p_value)}")
    axes[1].legend(fontsize=8)
    fig.suptitle(title)
    return fig


def quicklook_frames(scene: xr.Dataset, max_frames: int = 12) -> xr.Dataset:
    """The red, green and blue bands at up to ``max_frames`` evenly spaced periods (lazy)."""
    idx = np.unique(np.linspace(0, scene.sizes["time"] - 1, max_frames).round().astype(int))
    return scene[["red", "green", "blue"]].isel(time=idx)


def fig_quicklooks(frames: xr.Dataset) -> Figure:
    """RGB quicklooks of every period of ``frames`` (2-98 % stretch over the whole set)."""
    rgb = np.stack([frames[b].values for b in ("red", "green", "blue")], axis=-1)
    lo, hi = np.nanpercentile(rgb, [2, 98])
    rgb = np.clip((rgb - lo) / (hi - lo if hi > lo else 1.0), 0, 1)
    n = frames.sizes["time"]
    cols = min(4, n)
    rows = int(np.ceil(n / cols))
    fig = _figure(3 * cols, 3 * rows, left=0.1, right=0.1, top=0.3, bottom=0.1, hspace=0.15)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax in axes:
        ax.axis("off")
    for k, time in enumerate(frames.time.values):
        axes[k].imshow(np.nan_to_num(rgb[k]))
        axes[k].set_title(str(pd.Timestamp(time).date()), fontsize=9)
    return fig


def fig_spatial(spatial: pd.DataFrame, alpha: float | None = None) -> Figure:
    """Spatial indicators per period; filled markers where the permutation p < ``alpha``.

    ``alpha`` left as None is the ``vegdask.analysis.alpha`` setting.
    """
    from vegdask.kernels import kendall_tau

    alpha = config.get("analysis.alpha", alpha)
    names = ("cg_variance", "cg_skewness", "morans_i", "sdr")
    fig = _figure(10, 7, left=1.0, hspace=0.1)
    axes = fig.subplots(len(names), 1, sharex=True)
    for ax, name in zip(axes, names, strict=True):
        ax.plot(spatial.index, spatial[name], "-", color="tab:purple")
        sig = spatial[f"{name}_p_value"] < alpha
        ax.plot(spatial.index[sig], spatial[name][sig], "o", color="tab:purple", ms=4)
        tau = float(kendall_tau(spatial[name].to_numpy(copy=True))[0])
        ax.set_ylabel(name)
        ax.text(0.01, 0.8, f"Kendall τ = {tau:.2f}", transform=ax.transAxes, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].set_title(f"Spatial indicators of NDVI (dots: permutation p < {alpha:g})")
    axes[-1].set_xlabel("period")
    return fig
