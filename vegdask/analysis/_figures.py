"""Figures of the analysis, drawn on :class:`matplotlib.figure.Figure` (Agg, no pyplot state).

Each function returns a Figure; :func:`save_figure` writes it as PNG and SVG and returns the PNG
bytes for embedding in the report.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

__all__ = [
    "fig_ews",
    "fig_lagged_correlation",
    "fig_quicklooks",
    "fig_sensitivity",
    "fig_spatial",
    "fig_stl",
    "fig_surrogates",
    "fig_tile_maps",
    "fig_timeseries",
    "save_figure",
]

_LABELS = {
    "offset50_mean": "offset50 (mean over tiles)",
    "ndvi_mean": "NDVI (mean over tiles)",
    "ndvi_veg_mean": "NDVI over vegetation",
    "total_precipitation": "precipitation (mm / period)",
}


def _fmt_p(p: float) -> str:
    return "n/a" if p is None or not np.isfinite(p) else f"{p:.3f}"


def save_figure(fig: Figure, fs: Any, path_stem: str) -> bytes:
    """Write ``<path_stem>.png`` (dpi 120) and ``.svg`` through an fsspec filesystem."""
    import io

    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=120, bbox_inches="tight")
    svg = io.BytesIO()
    fig.savefig(svg, format="svg", bbox_inches="tight")
    with fs.open(path_stem + ".png", "wb") as f:
        f.write(png.getvalue())
    with fs.open(path_stem + ".svg", "wb") as f:
        f.write(svg.getvalue())
    return png.getvalue()


def fig_timeseries(frame: pd.DataFrame) -> Figure:
    """Offset50 and NDVI (mean +/- std over tiles, LOESS) with precipitation on a twin axis."""
    fig = Figure(figsize=(10, 6.5), layout="constrained")
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
        ax.set_ylabel(name)
        if "total_precipitation" in frame:
            twin = ax.twinx()
            twin.bar(
                frame.index, frame["total_precipitation"], width=20, color="tab:blue", alpha=0.3
            )
            twin.set_ylabel("precipitation (mm)", color="tab:blue")
        ax.legend(loc="upper left", fontsize=8)
        ax.grid(alpha=0.3)
    axes[0].set_title("Time series: mean over valid tiles, LOESS smoothing, precipitation (bars)")
    return fig


def fig_stl(decomp: pd.DataFrame, name: str) -> Figure:
    """STL components of one series."""
    cols = [c for c in ("observed", "trend", "seasonal", "resid") if c in decomp]
    fig = Figure(figsize=(10, 1.8 * len(cols) + 0.5), layout="constrained")
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
    fig = Figure(figsize=(10, 2.0 * (2 + len(names))), layout="constrained")
    axes = fig.subplots(2 + len(names), 1, sharex=True)
    axes[0].plot(frame.index, frame["state"], "o-", ms=2, lw=1, label="series (deseasonalised)")
    axes[0].plot(frame.index, frame["trend"], "k", lw=2, label="trend")
    axes[0].legend(fontsize=8)
    axes[0].set_title(
        f"Early-warning indicators of {_LABELS.get(ews.name, ews.name)}: window "
        f"{ews.params['window']}, {ews.params['detrend']} bandwidth {ews.params['bandwidth']} "
        f"({ews.params['bandwidth_convention']}), AR(1) {ews.params['ar1_estimator']}"
    )
    axes[1].plot(frame.index, frame["residuals"], "o-", ms=2, lw=1, color="tab:gray")
    axes[1].axhline(0, color="k", lw=0.5)
    axes[1].set_ylabel("residuals")
    for ax, name in zip(axes[2:], names, strict=True):
        st = ews.stats[name]
        ax.plot(frame.index, frame[name], lw=2, color="tab:red")
        ax.set_ylabel(name)
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
    fig = Figure(figsize=(3.2 * len(names), 3), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(names)))
    for ax, name in zip(axes, names, strict=True):
        taus = ews.surrogate_taus[name]
        ax.hist(taus[np.isfinite(taus)], bins=30, color="tab:gray", alpha=0.7)
        ax.axvline(ews.stats[name]["kendall_tau"], color="tab:red", lw=2, label="observed")
        if np.isfinite(taus).any():
            ax.axvline(np.nanquantile(taus, 0.95), color="k", ls="--", label="95 %")
        ax.set_title(f"{name}: p = {_fmt_p(ews.stats[name]['p_value'])}", fontsize=10)
        ax.set_xlabel("Kendall τ")
    axes[0].legend(fontsize=8)
    fig.suptitle(
        f"{_LABELS.get(ews.name, ews.name)}: {ews.params['n_surrogates']} ARMA"
        f"{tuple(ews.params['arma_order'])} surrogates (seed {ews.params['seed']})"
    )
    return fig


def fig_sensitivity(sens: xr.Dataset, name: str) -> Figure:
    """Heat maps of tau over window x bandwidth, cells with p < alpha marked."""
    inds = list(sens.indicator.values)
    fig = Figure(figsize=(5 * len(inds), 3.8), layout="constrained")
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
        ax.set_title(f"{ind}: {share if share is None else round(share * 100)} % cells p < 0.05")
        ax.set_xlabel("rolling window (fraction)")
        ax.set_ylabel("Gaussian bandwidth (fraction, ksmooth)")
        fig.colorbar(im, ax=ax, label="Kendall τ")
    fig.suptitle(f"Sensitivity ({sens.attrs['grid']} grid) of {_LABELS.get(name, name)}")
    return fig


def fig_lagged_correlation(corrs: dict[str, pd.Series]) -> Figure:
    """Correlation with precipitation at lags 0..8 for each vegetation series."""
    fig = Figure(figsize=(7, 3.5), layout="constrained")
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
    fig = Figure(figsize=(11, 4.5), layout="constrained")
    axes = fig.subplots(1, 2)
    ny, nx = mean_offset50.shape
    extent, labels = (-0.5, nx - 0.5, ny - 0.5, -0.5), ("tile_x", "tile_y")
    if "longitude" in mean_offset50.coords and nx > 1 and ny > 1:
        lon, lat = mean_offset50["longitude"].values, mean_offset50["latitude"].values
        dx, dy = (lon[0, -1] - lon[0, 0]) / (nx - 1), (lat[-1, 0] - lat[0, 0]) / (ny - 1)
        extent = (lon[0, 0] - dx / 2, lon[0, -1] + dx / 2, lat[-1, 0] + dy / 2, lat[0, 0] - dy / 2)
        labels = ("longitude", "latitude")
    im = axes[0].imshow(mean_offset50.values, cmap="viridis", extent=extent)
    axes[0].set_title("offset50, mean over time")
    fig.colorbar(im, ax=axes[0])
    im = axes[1].imshow(maps["ar1_tau"].values, cmap="RdBu_r", vmin=-1, vmax=1, extent=extent)
    ys, xs = np.nonzero(maps["ar1_significant"].values)
    x0, x1, y0, y1 = extent
    axes[1].plot(
        x0 + (xs + 0.5) * (x1 - x0) / nx,
        y1 + (ys + 0.5) * (y0 - y1) / ny,
        "k.",
        ms=6,
        label="FDR q < 0.05",
    )
    axes[1].set_title("Kendall τ of rolling AR(1) per tile")
    axes[1].legend(loc="lower right", fontsize=8)
    fig.colorbar(im, ax=axes[1])
    for ax in axes:
        ax.set_xlabel(labels[0])
        ax.set_ylabel(labels[1])
        ax.ticklabel_format(useOffset=False)
    return fig


def fig_quicklooks(scene: xr.Dataset, max_frames: int = 12) -> Figure:
    """RGB quicklooks at evenly spaced periods (2-98 % stretch over the whole set)."""
    idx = np.unique(np.linspace(0, scene.sizes["time"] - 1, max_frames).round().astype(int))
    rgb = np.stack([scene[b].isel(time=idx).values for b in ("red", "green", "blue")], axis=-1)
    lo, hi = np.nanpercentile(rgb, [2, 98])
    rgb = np.clip((rgb - lo) / (hi - lo if hi > lo else 1.0), 0, 1)
    cols = min(4, idx.size)
    rows = int(np.ceil(idx.size / cols))
    fig = Figure(figsize=(3 * cols, 3 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax in axes:
        ax.axis("off")
    for k, i in enumerate(idx):
        axes[k].imshow(np.nan_to_num(rgb[k]))
        axes[k].set_title(str(pd.Timestamp(scene.time.values[i]).date()), fontsize=9)
    return fig


def fig_spatial(spatial: pd.DataFrame) -> Figure:
    """Spatial indicators per period; filled markers where the permutation p < 0.05."""
    from vegdask.kernels import kendall_tau

    names = ("cg_variance", "cg_skewness", "morans_i", "sdr")
    fig = Figure(figsize=(10, 7), layout="constrained")
    axes = fig.subplots(len(names), 1, sharex=True)
    for ax, name in zip(axes, names, strict=True):
        ax.plot(spatial.index, spatial[name], "-", color="tab:purple")
        sig = spatial[f"{name}_p_value"] < 0.05
        ax.plot(spatial.index[sig], spatial[name][sig], "o", color="tab:purple", ms=4)
        tau = float(kendall_tau(spatial[name].to_numpy())[0])
        ax.set_ylabel(name)
        ax.text(0.01, 0.8, f"Kendall τ = {tau:.2f}", transform=ax.transAxes, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].set_title("Spatial indicators of NDVI (dots: permutation p < 0.05)")
    return fig
