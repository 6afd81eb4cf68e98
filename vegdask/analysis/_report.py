"""The report: the analysis' figures and ``report.html`` (figures embedded), optionally a PDF."""

from __future__ import annotations

import base64
import html
import json
import math
import posixpath
from typing import Any

import numpy as np
import pandas as pd
from dask.delayed import Delayed

from vegdask.analysis import _figures as figs
from vegdask.data import to_strict_json

__all__ = ["figure_tasks", "pdf_bytes", "report_html", "require_weasyprint", "write_figures"]


def require_weasyprint() -> Any:
    # Importing weasyprint sets PIL's global LOAD_TRUNCATED_IMAGES, which would let corrupt
    # images through everywhere else in the process: put it back.
    from PIL import ImageFile

    before = ImageFile.LOAD_TRUNCATED_IMAGES
    try:
        import weasyprint
    except ImportError as err:
        raise ImportError("a PDF report needs weasyprint: pip install 'vegdask[report]'") from err
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = before
    return weasyprint


def pdf_bytes(html_text: str) -> bytes:
    return require_weasyprint().HTML(string=html_text).write_pdf()


def figure_tasks(
    frame, outcomes, corrs, res, maps, scene, spatial, formats=None
) -> dict[str, Delayed]:
    """The report's figures as delayed renderings (``{format: bytes}``, None: not drawn).

    ``frame``, ``outcomes`` (per series: its deseasonalising, early warnings and sensitivity),
    ``maps`` and ``spatial`` may be delayed: each figure is drawn once, as soon as what it shows
    is computed (in parallel on the cluster when one runs), in ``formats``
    (:func:`~vegdask.analysis._figures.figure_formats`: PNG, SVG on request).
    """
    specs = _figure_specs(frame, outcomes, corrs, res, maps, scene, spatial)
    return figs.figure_tasks(specs, figs.figure_formats(formats))


def write_figures(fs, adir, rendered) -> dict[str, bytes]:
    """Write the rendered figures under ``adir``; return the PNG of each, in report order."""
    for key, out in rendered.items():
        if out is not None:
            figs.write_figure(fs, posixpath.join(adir, key), out)
    return {key: out["png"] for key, out in rendered.items() if out is not None}


def _figure_specs(frame, outcomes, corrs, res, maps, scene, spatial) -> dict[str, figs.FigureSpec]:
    """Each figure of the report as (``fig_*`` function, its arguments), in report order."""
    specs: dict[str, figs.FigureSpec] = {}
    if scene is not None and all(b in scene for b in ("red", "green", "blue")):
        specs["quicklooks"] = (figs.fig_quicklooks, (figs.quicklook_frames(scene),))
    specs["timeseries"] = (figs.fig_timeseries, (frame,))
    for name, outcome in outcomes.items():
        specs[f"stl_{name}"] = (_stl_figure, (outcome, name))
    for name, outcome in outcomes.items():
        specs[f"ews_{name}"] = (_ews_figure, (figs.fig_ews, outcome))
        specs[f"surrogates_{name}"] = (_ews_figure, (figs.fig_surrogates, outcome))
        specs[f"sensitivity_{name}"] = (_sensitivity_figure, (outcome, name))
    if corrs:
        lags = {k: v[0] for k, v in corrs.items()}
        specs["lagged_correlation"] = (figs.fig_lagged_correlation, (lags,))
    if maps is not None:
        valid = res.tiles.get("valid", True)
        mean = res.tiles["offset50"].where(valid).mean("time")
        specs["tile_maps"] = (figs.fig_tile_maps, (mean, maps))
    if spatial is not None:
        specs["spatial"] = (figs.fig_spatial, (spatial,))
    return specs


def _stl_figure(outcome, name):
    """The STL figure of a deseasonalised series; None when STL was not applied."""
    dec = outcome.decomposition
    return figs.fig_stl(dec, name) if "seasonal" in dec else None


def _ews_figure(build, outcome):
    """A figure of a series' early warnings; None when they could not be computed."""
    return None if outcome.ews is None else build(outcome.ews)


def _sensitivity_figure(outcome, name):
    return None if outcome.ews is None else figs.fig_sensitivity(outcome.sensitivity, name)


def _img(images: dict[str, bytes], key: str, caption: str) -> str:
    if key not in images:
        return ""
    data = base64.b64encode(images[key]).decode()
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(caption)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _table(rows: list[list[Any]], header: list[str]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(v: Any) -> str:
    return (
        "n/a"
        if v is None or (isinstance(v, float) and not math.isfinite(v))
        else (f"{v:.3f}" if isinstance(v, float) else str(v))
    )


def _tie_sensitivity_note(tiles: Any) -> str:
    """How far offset50 depends on the order of tied pixels, where it does (else nothing)."""
    if "tie_sensitivity" not in tiles:
        return ""  # tiles read from a results_summary.json carry no tie sensitivity
    values = tiles["tie_sensitivity"].values
    values = values[np.isfinite(values)]  # invalid tile-periods have none
    moved = values[values > 0]
    if moved.size == 0:
        return ""
    return (
        "<p>Tie sensitivity (how far offset50 can move over the orderings of pixels with equal "
        "centralities; 0 where no quantile cut splits a group of tied pixels): non-zero in "
        f"{moved.size} of {values.size} valid tile-periods ({moved.size / values.size:.1%}), "
        f"max {moved.max():g}, median over those {np.median(moved):g}.</p>"
    )


def _tile_significance_note(maps: Any) -> str:
    """Which tiles' trends are significant, and why none can be when the surrogates are too few."""
    if maps is None:
        return ""
    notes = []
    for name in [v for v in maps.data_vars if str(v).endswith("_significant")]:
        flags, attrs = maps[name], maps[name].attrs
        count = int(np.nansum(flags.values))
        indicator = html.escape(str(name).removesuffix("_significant"))
        if count or attrs.get("min_significant_tiles", 0) <= 1:
            notes.append(f"{indicator}: {count} significant tile(s).")
            continue
        notes.append(
            f"{indicator}: no tile can be significant: with {maps.attrs.get('n_surrogates')} "
            f"surrogates the smallest p-value is {attrs['min_p_value']:.4g}, and "
            f"Benjamini-Hochberg at alpha = {maps.attrs.get('alpha')} rejects only if at least "
            f"{attrs['min_significant_tiles']} tiles reach it; one tile alone needs "
            f"{attrs['surrogates_for_one_tile']} surrogates (<code>tile_surrogates</code> in the "
            "job config's [analysis] section)."
        )
    return "".join(f"<p>{n}</p>" for n in notes)


def report_html(
    res: Any,
    resilience: dict,
    images: dict[str, bytes],
    corrs: dict,
    stats: dict,
    maps: Any = None,
) -> str:
    meta = res.metadata
    title = f"vegdask resilience report: {meta.get('location') or meta.get('id') or 'run'}"
    parts = [f"<h1>{html.escape(str(title))}</h1>", "<h2>Location and data</h2>"]
    lat = res.tiles["latitude"].values if "latitude" in res.tiles.coords else None
    rows = [[k, v] for k, v in sorted(meta.items()) if isinstance(v, str | int | float)]
    if lat is not None:
        lon = res.tiles["longitude"].values
        rows.append(
            [
                "tile centres (lon, lat) bounds",
                f"{np.nanmin(lon):.4f}..{np.nanmax(lon):.4f}, "
                f"{np.nanmin(lat):.4f}..{np.nanmax(lat):.4f}",
            ]
        )
    t = pd.DatetimeIndex(res.tiles.time.values)
    rows += [
        ["periods", f"{len(t)} ({t.min().date()} .. {t.max().date()})"],
        ["tiles", f"{res.tiles.sizes.get('tile_y', 0)} x {res.tiles.sizes.get('tile_x', 0)}"],
    ]
    parts.append(_table(rows, ["field", "value"]))
    parts.append(_img(images, "quicklooks", "RGB quicklooks through time"))
    parts.append("<h2>Time series</h2>")
    parts.append(
        _img(images, "timeseries", "Aggregate series with LOESS smoothing and precipitation")
    )
    if corrs:
        parts.append(
            _table(
                [[k, v[1], _fmt(float(v[0][v[1]]))] for k, v in corrs.items()],
                ["series", "best lag (periods)", "r at best lag"],
            )
        )
        parts.append(_img(images, "lagged_correlation", "Lagged correlation with precipitation"))
    parts.append("<h2>Deseasonalising (STL)</h2>")
    parts += [_img(images, k, k.replace("stl_", "STL of ")) for k in images if k.startswith("stl_")]
    parts.append("<h2>Early-warning indicators</h2>")
    parts.append(
        "<p>Indicators of the deseasonalised, detrended series in rolling windows; Kendall τ of "
        "each indicator against time; p-value = share of ARMA surrogates (fitted to the residuals"
        ", order by AIC) whose τ is at least the observed one, with the +1 correction. A rise in "
        "AR(1) and variance (τ &gt; 0, small p) is the signature of critical slowing down.</p>"
    )
    rows = []
    for series, inds in resilience.items():
        for ind, st in inds.items():
            rows.append(
                [
                    series,
                    ind,
                    _fmt(st.get("kendall_tau")),
                    _fmt(st.get("p_value")),
                    _fmt(st.get("sensitivity_share_significant")),
                    st.get("arma_order", ""),
                    st.get("error", ""),
                ]
            )
    parts.append(
        _table(
            rows,
            [
                "series",
                "indicator",
                "Kendall τ",
                "surrogate p",
                "share of sensitivity cells p<0.05",
                "ARMA (p, q)",
                "note",
            ],
        )
    )
    for key in [k for k in images if k.startswith("ews_")]:
        name = key[4:]
        parts.append(f"<h3>{html.escape(name)}</h3>")
        parts.append(_img(images, key, f"Indicators of {name}"))
        parts.append(_img(images, f"surrogates_{name}", f"Surrogate distributions of {name}"))
        parts.append(_img(images, f"sensitivity_{name}", f"Sensitivity of {name}"))
    parts.append("<h2>Annual cycle: crystal-ball fit (pyveg G4, fixed)</h2>")
    keys = ["mean", "std", "CB_fit_success", "CB_fit_residuals", "CB_fit_alpha", "return_rate"]
    parts.append(
        _table(
            [[n, *(_fmt(st.get(k)) for k in keys)] for n, st in stats.items()], ["series", *keys]
        )
    )
    if "spatial" in images:
        parts.append("<h2>Spatial indicators (Kefi et al. 2014)</h2>")
        parts.append(_img(images, "spatial", "Spatial indicators of NDVI per period"))
    parts.append("<h2>Tile maps</h2>")
    parts.append(
        _img(images, "tile_maps", "offset50 and per-tile AR(1) trend (Benjamini-Hochberg)")
    )
    parts.append(_tile_significance_note(maps))
    parts.append(_tie_sensitivity_note(res.tiles))
    parts.append("<h2>Provenance</h2>")
    parts.append(  # the manifest lists every period of every stage: folded
        "<details><summary>run.json: versions, config, stages</summary>"
        f"<pre>{html.escape(json.dumps(to_strict_json(res.run), indent=2))}</pre></details>"
    )
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}"
        "img{max-width:100%}figure{margin:1em 0}figcaption{color:#555;font-size:90%}"
        "summary{cursor:pointer}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:3px 8px;font-size:90%}"
        "pre{background:#f5f5f5;padding:1em;overflow-x:auto;font-size:80%}"
    )
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}'
        f"</title><style>{style}</style></head><body>{''.join(p for p in parts if p)}</body></html>"
    )
