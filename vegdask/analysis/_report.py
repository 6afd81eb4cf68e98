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

from vegdask import config
from vegdask.analysis import _figures as figs
from vegdask.analysis._verdict import (
    VERDICT_INDICATORS,
    VERDICT_SERIES,
    IndicatorTest,
    headline_test,
    indicator_label,
    location_verdict,
    p_text,
    series_label,
    verdict_tests,
)
from vegdask.data.storage import to_strict_json

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
    frame, outcomes, corrs, res, maps, scene, spatial, formats=None, *, pooled=None, alpha=None
) -> dict[str, Delayed]:
    """The report's figures as delayed renderings (``{format: bytes}``, None: not drawn).

    ``frame``, ``outcomes`` (per series: its deseasonalising, early warnings and sensitivity),
    ``maps``, ``spatial`` and ``pooled`` (per series: its :class:`PooledEarlyWarning`) may be
    delayed: each figure is drawn once, as soon as what it shows is computed (in parallel on the
    cluster when one runs), in ``formats`` (:func:`~vegdask.analysis._figures.figure_formats`:
    PNG, SVG on request). ``alpha``: the tests' level (``vegdask.analysis.alpha``).
    """
    alpha = config.get("analysis.alpha", alpha)
    specs = _figure_specs(frame, outcomes, corrs, res, maps, scene, spatial, alpha)
    if pooled is not None:
        grid = res.tiles["offset50"].isel(time=0, drop=True) * np.nan
        specs = {"verdict": (_verdict_figure, (pooled, grid, alpha)), **specs}
    return figs.figure_tasks(specs, figs.figure_formats(formats))


def write_figures(fs, adir, rendered) -> dict[str, bytes]:
    """Write the rendered figures under ``adir``; return the PNG of each, in report order."""
    for key, out in rendered.items():
        if out is not None:
            figs.write_figure(fs, posixpath.join(adir, key), out)
    return {key: out["png"] for key, out in rendered.items() if out is not None}


def _figure_specs(
    frame, outcomes, corrs, res, maps, scene, spatial, alpha
) -> dict[str, figs.FigureSpec]:
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
        specs["spatial"] = (figs.fig_spatial, (spatial, alpha))
    return specs


def _verdict_figure(pooled, grid, alpha):
    """The verdict's pooled test: tile taus on the map, the null and the observed."""
    tests = {
        (series, indicator): IndicatorTest(
            series, indicator, "pooled", stats["kendall_tau"], stats["p_value"]
        )
        for series, result in pooled.items()
        for indicator, stats in result.stats.items()
    }
    headline, level = headline_test(tests, alpha)
    if headline is None:
        return None
    series, indicator = headline.series, headline.indicator
    test = pooled[series]
    taus = test.tile_taus[indicator]
    if list(taus.index.names) != ["tile_y", "tile_x"]:
        taus.index = pd.MultiIndex.from_tuples(taus.index, names=["tile_y", "tile_x"])
    tile_map = taus.to_xarray().reindex_like(grid).assign_coords(grid.coords)
    stats = test.stats[indicator]
    title = (
        f"{series_label(series)} {indicator_label(indicator)} across "
        f"{test.params['tiles']} tiles: {test.params['n_surrogates']} surrogate panels"
    )
    return figs.fig_verdict(
        tile_map, test.null_stats[indicator], stats["kendall_tau"], stats["p_value"], title, level
    )


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
        p_values = maps.get(f"{str(name).removesuffix('_significant')}_p_value")
        if p_values is not None and not np.isfinite(p_values.values).any():
            notes.append(
                f"{indicator}: no tile has a p-value (each tile's series is too short for the "
                "surrogates' ARMA model, or no tile was tested); the map shows the taus alone."
            )
            continue
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
    *,
    alpha: float | None = None,
    grid_alpha: float | None = None,
) -> str:
    """The report page: the verdict first, then each step of the analysis, the run's details.

    Parameters
    ----------
    res : Results
        What the analysis read (tiles, weather, run.json, metadata).
    resilience : dict
        The content of resilience.json (``location`` entries: the pooled tests, when run).
    images : dict
        The rendered PNG of each figure by key (:func:`write_figures`), in report order.
    corrs : dict
        Lagged correlations with precipitation: ``{series: (correlations, best lag)}``.
    stats : dict
        summary_stats.json's content (the crystal-ball fit of each series).
    maps : xarray.Dataset, optional
        The tile maps (their significance attributes).
    alpha : float, optional
        The tests' level (``vegdask.analysis.alpha``, default 0.05).
    grid_alpha : float, optional
        The level the sensitivity grids recorded (their ``alpha`` attribute), at which their
        share of significant cells was counted; default ``alpha``.

    Returns
    -------
    str
        One self-contained HTML page (figures embedded).
    """
    alpha = config.get("analysis.alpha", alpha)
    grid_alpha = alpha if grid_alpha is None else grid_alpha
    synthetic = _is_synthetic(res)
    title = _title(res.metadata, synthetic)
    sections = [
        _verdict_section(res, resilience, images, alpha, synthetic),
        _time_series_section(images, corrs),
        _stl_section(images),
        _early_warning_section(resilience, images, grid_alpha),
        _annual_cycle_section(stats),
        _spatial_section(images, alpha),
        _tile_maps_section(res, images, maps),
        _glossary_section(),
        _run_details_section(res),
    ]
    return _page(title, sections)


def _is_synthetic(res: Any) -> bool:
    """Whether the run's imagery was simulated (its source, not its location, says so)."""
    source = res.run.get("config", {}).get("source", {})
    return source.get("kind") == "synthetic" or res.metadata.get("source") == "synthetic"


def _site(meta: dict) -> str:
    """The site in words: catalogue id, country and pattern, coordinates, as far as known."""
    parts = []
    if meta.get("id") is not None:
        parts.append(f"catalogue location {meta['id']}")
    parts += [str(meta[k]) for k in ("country", "pattern_type") if meta.get(k)]
    if isinstance(meta.get("longitude"), int | float) and isinstance(
        meta.get("latitude"), int | float
    ):
        parts.append(f"{meta['longitude']:.4f} E, {meta['latitude']:.4f} N")
    elif meta.get("location"):
        parts.append(str(meta["location"]))
    return ", ".join(parts) or "an unnamed run"


def _title(meta: dict, synthetic: bool) -> str:
    """Synthetic data say so in the title, whatever the location is called."""
    prefix = "SYNTHETIC DATA: " if synthetic else ""
    return f"{prefix}vegdask resilience report: {_site(meta)}"


def _synthetic_notice(res: Any) -> str:
    source = res.run.get("config", {}).get("source", {})
    model = res.metadata.get("collection", "a simulated pattern")
    rain = ""
    if "rainfall_start" in source and "rainfall_end" in source:
        rain = f", rainfall {source['rainfall_start']} -> {source['rainfall_end']}"
    return (
        '<p class="synthetic"><strong>Synthetic data</strong>: the imagery was simulated by '
        f"vegdask's synthetic source ({html.escape(str(model))}, seed {source.get('seed', 'n/a')}"
        f"{html.escape(rain)}), not observed by a satellite; the location only labels it.</p>"
    )


def _verdict_section(res, resilience, images, alpha, synthetic) -> str:
    """The first screen: the data's nature, the site, the verdict, its table and its figure."""
    verdict = location_verdict(resilience, alpha)
    shown = verdict.headline or IndicatorTest("offset50_mean", "ar1", "pooled", None, None)
    parts = [_synthetic_notice(res) if synthetic else ""]
    parts.append(f'<p class="site">Site: {html.escape(_site(res.metadata))}.</p>')
    css = "warning" if verdict.significant else "mixed" if verdict.also else "calm"
    parts.append(f'<p class="verdict {css}">{html.escape(verdict.sentence)}</p>')
    if _is_pyveg_preset(resilience):
        parts.append(
            "<p>Analysed with the <strong>pyveg preset</strong> (pyveg v1.1.0's method): pyveg "
            "had no pooled test and no p-values; the taus are pyveg's.</p>"
        )
    parts.append(_verdict_table(resilience, alpha))
    parts.append(
        _img(
            images,
            "verdict",
            f"Left: each tile's Kendall τ of rolling {indicator_label(shown.indicator)} of "
            f"{series_label(shown.series)} (red: rising; a site losing resilience is red over "
            "most of its area). Right: the pooled τ (mean over tiles) of each surrogate panel, "
            "which keeps every tile's autocorrelation and the tiles' correlation but has no "
            f"trend; the observed pooled τ (red) beyond the dashed line is significant at "
            f"{verdict.level or alpha:g} (alpha {alpha:g} shared by the verdict's tests).",
        )
    )
    return "<h2>Verdict</h2>" + "".join(parts)


def _is_pyveg_preset(resilience: dict) -> bool:
    return any(
        entry.get("preset") == "pyveg"
        for series, inds in resilience.items()
        if series != "location" and isinstance(inds, dict)
        for entry in inds.values()
        if isinstance(entry, dict)
    )


def _verdict_table(resilience: dict, alpha: float) -> str:
    """Traffic lights per vegetation series and indicator: pooled and mean-series tests."""
    pooled = verdict_tests(resilience, "pooled")
    mean = verdict_tests(resilience, "mean-series")
    rows = []
    for series in VERDICT_SERIES:
        for indicator in VERDICT_INDICATORS:
            key = (series, indicator)
            if key not in pooled and key not in mean:
                continue
            cells = "".join(_light(tests.get(key), alpha) for tests in (pooled, mean))
            label = f"{series_label(series)} {indicator_label(indicator)}"
            rows.append(f"<tr><th>{html.escape(label)}</th>{cells}</tr>")
    head = "<tr><th>indicator</th><th>pooled test (all tiles)</th><th>mean-series test</th></tr>"
    legend = (
        f'<p class="legend">Red: a significant trend toward lost resilience (one-sided '
        f"surrogate p &lt; alpha = {alpha:g}); amber: a trend that way, not significant; green: "
        "no such trend; grey: not tested. The pooled test uses every tile's series; the "
        "mean-series test the mean over tiles (weaker: averaging discards the tiles' "
        "replication).</p>"
    )
    return (
        _scroll(
            f'<table class="lights"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'
        )
        + legend
    )


def _light(test: IndicatorTest | None, alpha: float) -> str:
    if test is None:
        return '<td class="grey">not run</td>'
    status = test.status(alpha)
    css = {"significant": "red", "trend, not significant": "amber", "no trend": "green"}
    text = status
    if test.kendall_tau is not None:
        p = "n/a" if test.p_value is None else p_text(test.p_value)
        text = f"{status}: τ {test.kendall_tau:.2f}, p {p}"
    title = f' title="{html.escape(test.error)}"' if test.error else ""
    return f'<td class="{css.get(status, "grey")}"{title}>{html.escape(text)}</td>'


def _time_series_section(images, corrs) -> str:
    parts = [
        _img(
            images,
            "quicklooks",
            "RGB quicklooks through time (true colour, one stretch for all): look for the "
            "pattern thinning, breaking up or vanishing.",
        ),
        _img(
            images,
            "timeseries",
            "Mean over valid tiles (points, ± one SD over tiles shaded), LOESS (black) and "
            "precipitation (bars, mm a period). Look for a drift in the mean and for gaps or "
            "few valid tiles, which weaken everything below.",
        ),
    ]
    if corrs:
        parts.append(
            _table(
                [[k, v[1], _fmt(float(v[0][v[1]]))] for k, v in corrs.items()],
                ["series", "best lag (periods)", "r at best lag"],
            )
        )
        parts.append(
            _img(
                images,
                "lagged_correlation",
                "Pearson r of vegetation with precipitation lagged 0-8 periods: how long "
                "the vegetation takes to respond to rain.",
            )
        )
    return "<h2>Time series</h2>" + "".join(parts)


def _stl_section(images) -> str:
    figures = [
        _img(
            images,
            k,
            f"Robust STL of {k.removeprefix('stl_')} (same units as the series): the residuals "
            "(bottom) should spread alike in every year; the indicators use observed minus "
            "seasonal.",
        )
        for k in images
        if k.startswith("stl_")
    ]
    return "<h2>Deseasonalising (STL)</h2>" + "".join(figures)


def _early_warning_section(resilience, images, grid_alpha) -> str:
    parts = [
        "<p>Indicators of each deseasonalised, detrended mean series in rolling windows; "
        "Kendall τ of each indicator against time; p-value = share of ARMA surrogates (fitted "
        "to the residuals, order by AIC) whose τ is at least the observed one, with the +1 "
        "correction. A rise in AR(1) and variance (τ &gt; 0, small p) is the signature of "
        "critical slowing down.</p>",
        _scroll(_early_warning_table(resilience, grid_alpha)),
    ]
    for key in [k for k in images if k.startswith("ews_")]:
        name = key[4:]
        parts.append(f"<h3>{html.escape(name)}</h3>")
        parts.append(
            _img(
                images,
                key,
                f"Indicators of {name}: the series and its trend, the residuals, then each "
                "indicator over rolling windows (stamped at the window's end; variance in the "
                "series' units squared). Look for AR(1) and variance rising together.",
            )
        )
        parts.append(
            _img(
                images,
                f"surrogates_{name}",
                f"Surrogate distributions of {name}: τ of trendless ARMA series (grey), the "
                "observed τ (red) and the 95th percentile (dashed): red right of dashed is a "
                "rise unlikely by chance.",
            )
        )
        parts.append(
            _img(
                images,
                f"sensitivity_{name}",
                f"Sensitivity of {name}: τ over rolling windows x detrending bandwidths (* : "
                f"p < {grid_alpha:g}). A robust signal keeps its sign and stars over most cells.",
            )
        )
    return "<h2>Early-warning indicators</h2>" + "".join(parts)


def _early_warning_table(resilience: dict, grid_alpha: float) -> str:
    rows = [
        [
            series,
            ind,
            _fmt(st.get("kendall_tau")),
            _fmt(st.get("p_value")),
            _fmt(st.get("sensitivity_share_significant")),
            st.get("arma_order", ""),
            st.get("error", ""),
        ]
        for series, inds in resilience.items()
        if series != "location"
        for ind, st in inds.items()
    ]
    header = [
        "series",
        "indicator",
        "Kendall τ",
        "surrogate p",
        f"share of sensitivity cells p < {grid_alpha:g}",
        "ARMA (p, q)",
        "note",
    ]
    return _table(rows, header)


def _annual_cycle_section(stats) -> str:
    keys = ["mean", "std", "CB_fit_success", "CB_fit_residuals", "CB_fit_alpha", "return_rate"]
    table = _table(
        [[n, *(_fmt(st.get(k)) for k in keys)] for n, st in stats.items()], ["series", *keys]
    )
    return "<h2>Annual cycle: crystal-ball fit (pyveg G4, fixed)</h2>" + _scroll(table)


def _spatial_section(images, alpha) -> str:
    if "spatial" not in images:
        return ""
    block = config.get("analysis.spatial-subsize")  # the analysis' (the report is written with it)
    figure = _img(
        images,
        "spatial",
        f"Spatial indicators of NDVI per period (cg_*: of {block} x {block}-pixel block means; "
        f"Moran's I and sdr unitless); filled dots: permutation p < {alpha:g}. Rising "
        "coarse-grained variance, Moran's I or sdr would point to patterns coarsening toward "
        "collapse.",
    )
    return "<h2>Spatial indicators (Kefi et al. 2014)</h2>" + figure


def _tile_maps_section(res, images, maps) -> str:
    figure = _img(
        images,
        "tile_maps",
        "Left: offset50 per tile, mean over time (EC units). Right: each tile's Kendall τ of "
        "rolling AR(1) (red: rising), dots where significant after Benjamini-Hochberg. "
        "Coherent red areas are more credible than scattered tiles.",
    )
    notes = _tile_significance_note(maps) + _tie_sensitivity_note(res.tiles)
    return "<h2>Tile maps</h2>" + figure + notes


_GLOSSARY = (
    (
        "offset50",
        "pyveg's measure of a tile's pattern: the Euler characteristic (vertices minus edges "
        "of the graph of vegetation pixels) of the 95 % most central vegetation pixels "
        "(subgraph centrality) minus that of the 50 % most central; a count (EC units), "
        "negative, more negative where vegetation is more and better connected.",
    ),
    (
        "AR(1), variance",
        "lag-1 autocorrelation and variance of the detrended series in rolling windows; both "
        "rise as a system slows down before a collapse (critical slowing down).",
    ),
    (
        "Kendall τ, surrogate p",
        "the rank correlation of an indicator with time (-1 .. 1); the share of trendless "
        "surrogate series with a τ at least as large (one-sided).",
    ),
    (
        "pooled test",
        "the mean of the tiles' τ, tested against surrogate panels that keep each tile's "
        "autocorrelation and the tiles' correlation with each other.",
    ),
    (
        "crystal-ball fit",
        "a Gaussian with a power-law tail fitted to the normalised mean annual cycle (pyveg "
        "G4); its alpha gives pyveg's return rate alpha^2 / 2. It describes the seasonal "
        "shape; it is not a test of resilience.",
    ),
    (
        "cg_variance, cg_skewness",
        "variance and skewness of the NDVI field coarse-grained into 5 x 5-pixel block means "
        "(Kefi et al. 2014); in some models they rise as patterns approach collapse.",
    ),
    (
        "sdr",
        "spectral density ratio: the field's power at low spatial frequencies over that at "
        "high ones (unitless); rises as patterns coarsen.",
    ),
    ("morans_i", "Moran's I: correlation of neighbouring pixels (unitless, -1 .. 1)."),
)


def _glossary_section() -> str:
    items = "".join(
        f"<dt>{html.escape(term)}</dt><dd>{html.escape(text)}</dd>" for term, text in _GLOSSARY
    )
    return f"<h2>What the names mean</h2><dl>{items}</dl>"


def _run_details_section(res) -> str:
    """The configuration and provenance, folded: what was run, not what it found."""
    data = _table(_data_rows(res), ["field", "value"])
    run = html.escape(json.dumps(to_strict_json(res.run), indent=2))
    return (
        "<h2>Run details</h2>"
        f"<details><summary>Location, data and configuration</summary>{_scroll(data)}</details>"
        # the manifest lists every period of every stage: folded
        f"<details><summary>run.json: versions, config, stages</summary><pre>{run}</pre>"
        "</details>"
    )


def _data_rows(res) -> list[list[Any]]:
    meta = res.metadata
    rows = [[k, v] for k, v in sorted(meta.items()) if isinstance(v, str | int | float)]
    if "latitude" in res.tiles.coords:
        lon, lat = res.tiles["longitude"].values, res.tiles["latitude"].values
        rows.append(
            [
                "tile centres (lon, lat) bounds",
                f"{np.nanmin(lon):.4f}..{np.nanmax(lon):.4f}, "
                f"{np.nanmin(lat):.4f}..{np.nanmax(lat):.4f}",
            ]
        )
    t = pd.DatetimeIndex(res.tiles.time.values)
    rows.append(["periods", f"{len(t)} ({t.min().date()} .. {t.max().date()})"])
    rows.append(
        ["tiles", f"{res.tiles.sizes.get('tile_y', 0)} x {res.tiles.sizes.get('tile_x', 0)}"]
    )
    return rows


def _scroll(table: str) -> str:
    """A wide table scrolls in its own box, not the page (phones)."""
    return f'<div class="scroll">{table}</div>'


_STYLE = (
    "body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}h1{font-size:1.6em}"
    "img{max-width:100%;height:auto}figure{margin:1em 0}"
    "figcaption{color:#555;font-size:90%}"
    "summary{cursor:pointer}table{border-collapse:collapse;margin:1em 0}"
    ".scroll{overflow-x:auto;max-width:100%}"
    "td,th{border:1px solid #ccc;padding:3px 8px;font-size:90%}"
    "pre{background:#f5f5f5;padding:1em;overflow-x:auto;font-size:80%}"
    ".verdict{font-size:120%;font-weight:bold;padding:.5em;border-left:6px solid #999}"
    ".verdict.warning{border-color:#c62828}.verdict.mixed{border-color:#e0a000}"
    ".verdict.calm{border-color:#2e7d32}"
    ".synthetic{background:#fff3cd;padding:.5em;border:1px solid #e0c060}"
    ".lights td{text-align:center}.red{background:#f8c9c4}.amber{background:#fde7b0}"
    ".green{background:#cfe8cf}.grey{background:#eee;color:#555}"
    ".legend{font-size:85%;color:#555}dt{font-weight:bold}dd{margin:0 0 .5em 1em}"
)


def _page(title: str, sections: list[str]) -> str:
    body = "".join(s for s in sections if s)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
