"""Cross-location comparison of analysed runs (`vegdask summary`: pyveg's summary-data analysis).

One row per run from ``run.json``, ``analysis/resilience.json`` and ``analysis/summary_stats.json``;
Pearson correlation matrices with p-values; scatter plots; CSV, PNG (SVG on request) and
``summary.html``.
"""

from __future__ import annotations

import base64
import html
import os
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

from vegdask.analysis._figures import save_figure
from vegdask.data import RunStore

__all__ = [
    "MIN_RUNS_FOR_CORRELATIONS",
    "RELIABLE_CORRELATION_RUNS",
    "SUMMARY_CORRELATION_COLUMNS",
    "summarise_runs",
    "summary_table",
    "summary_warnings",
]

#: Pearson correlations across runs need at least this many runs (pairs of values).
MIN_RUNS_FOR_CORRELATIONS = 3
#: Below this many distinct runs, summaries warn that the correlations' stars are fragile.
RELIABLE_CORRELATION_RUNS = 10

#: Columns of the correlation matrices (when present).
SUMMARY_CORRELATION_COLUMNS: tuple[str, ...] = (
    "total_precipitation_mean",
    "offset50_mean_mean",
    "offset50_mean_max",
    "offset50_mean_ar1_tau",
    "offset50_mean_variance_tau",
    "offset50_mean_return_rate",
    "offset50_mean_ar1_whole_series",
    "offset50_mean_variance_whole_series",
    "ndvi_mean_mean",
    "latitude",
    "longitude",
)
_SCATTERS = (
    ("total_precipitation_mean", "offset50_mean_mean"),
    ("total_precipitation_mean", "offset50_mean_max"),
    ("total_precipitation_mean", "offset50_mean_ar1_tau"),
    ("total_precipitation_mean", "offset50_mean_variance_tau"),
    ("total_precipitation_mean", "offset50_mean_return_rate"),
    ("total_precipitation_mean", "offset50_mean_ar1_whole_series"),
    ("offset50_mean_max", "offset50_mean_ar1_whole_series"),
    ("offset50_mean_max", "ndvi_mean_max"),
    ("latitude", "offset50_mean_mean"),
    ("longitude", "offset50_mean_mean"),
)


def _run_row(url: str) -> dict[str, Any]:
    store = RunStore(url)
    fs = store.fs
    if not fs.exists(store.path):
        raise FileNotFoundError(f"{url} does not exist: give analysed run directories or URLs")
    if fs.isfile(store.path):
        raise ValueError(f"{url} is a file: give an analysed run's directory or URL")
    if not store.exists("analysis/resilience.json"):
        raise FileNotFoundError(
            f"{url} has no analysis/resilience.json: run `vegdask analyse {url}` first"
        )
    row: dict[str, Any] = {"run": url}
    if store.exists("run.json"):
        config = store.read_json("run.json").get("config", {})
        for key, value in config.items():
            if isinstance(value, dict) and key in ("location",):
                row.update({k: v for k, v in value.items() if isinstance(v, str | int | float)})
            elif isinstance(value, str | int | float):
                row[key] = value
    notes = []
    resilience = store.read_json("analysis/resilience.json")
    tests = [(series, inds) for series, inds in resilience.items() if series != "location"]
    # The pooled tests over tiles: columns location_<series>_<indicator>_tau and _p.
    tests += [(f"location_{s}", inds) for s, inds in resilience.get("location", {}).items()]
    for series, inds in tests:
        for ind, entry in inds.items():
            row[f"{series}_{ind}_tau"] = entry.get("kendall_tau")
            row[f"{series}_{ind}_p"] = entry.get("p_value")
            if entry.get("error") and f"{series}: {entry['error']}" not in notes:
                notes.append(f"{series}: {entry['error']}")  # e.g. too few periods
    if notes:
        row["note"] = "no tau/p for " + "; ".join(notes)
    if store.exists("analysis/summary_stats.json"):
        for series, entry in store.read_json("analysis/summary_stats.json").items():
            for key, value in entry.items():
                if isinstance(value, int | float) and not isinstance(value, bool):
                    row[f"{series}_{key}"] = value
    return row


def summary_table(runs: list[str]) -> pd.DataFrame:
    """One row per analysed run: location metadata, series statistics, taus and p-values."""
    if not runs:
        raise ValueError("no runs given: pass analysed run directories or URLs")
    seen: dict[str, str] = {}
    for run in map(str, runs):
        key = run.rstrip("/") if "://" in run else os.path.realpath(run)
        if key in seen:
            raise ValueError(f"{run} is given twice (as {seen[key]}): give each run once")
        seen[key] = run
    table = pd.DataFrame([_run_row(str(r)) for r in runs])
    return table.rename(columns={"id": "location"}) if "location" not in table else table


def _pearson(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    cols = [c for c in SUMMARY_CORRELATION_COLUMNS if c in table]
    r = pd.DataFrame(np.nan, index=cols, columns=cols)
    p = r.copy()
    numeric = table[cols].apply(pd.to_numeric, errors="coerce")
    for i, a in enumerate(cols):
        for j, b in enumerate(cols):
            pair = numeric.iloc[:, [i, j]].dropna().to_numpy()
            if (
                len(pair) >= MIN_RUNS_FOR_CORRELATIONS
                and pair[:, 0].std() > 0
                and pair[:, 1].std() > 0
            ):
                res = stats.pearsonr(pair[:, 0], pair[:, 1])
                r.loc[a, b], p.loc[a, b] = res.statistic, res.pvalue
    return r, p


def _fig_scatter(table: pd.DataFrame, x: str, y: str) -> Figure:
    fig = Figure(figsize=(5, 4), layout="constrained")
    ax = fig.subplots()
    hue = "pattern_type" if "pattern_type" in table else None
    groups = table.groupby(hue) if hue else [("runs", table)]
    for label, group in groups:
        ax.scatter(group[x], group[y], label=str(label), s=40)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def _fig_box(table: pd.DataFrame, column: str) -> Figure:
    """``column`` by pattern type (pyveg's Max/Mean_offset50_boxplot)."""
    groups = {str(k): g[column].dropna().to_numpy() for k, g in table.groupby("pattern_type")}
    fig = Figure(figsize=(5, 4), layout="constrained")
    ax = fig.subplots()
    ax.boxplot(list(groups.values()), tick_labels=list(groups))
    ax.set_xlabel("pattern type")
    ax.set_ylabel(column)
    ax.grid(alpha=0.3)
    return fig


def _fig_corr(r: pd.DataFrame, p: pd.DataFrame) -> Figure:
    fig = Figure(figsize=(8, 6.5), layout="constrained")
    ax = fig.subplots()
    im = ax.imshow(r.values, cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(len(r)), r.columns, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(r)), r.index, fontsize=8)
    for i in range(len(r)):
        for j in range(len(r)):
            if np.isfinite(r.values[i, j]):
                mark = "**" if p.values[i, j] < 0.01 else "*" if p.values[i, j] < 0.05 else ""
                colour = "white" if abs(r.values[i, j]) > 0.6 else "black"
                label = f"{r.values[i, j]:.2f}{mark}"
                ax.text(j, i, label, ha="center", va="center", fontsize=7, color=colour)
    fig.colorbar(im, ax=ax, label="Pearson r (* p < 0.05, ** p < 0.01)")
    return fig


def summarise_runs(runs: list[str], output: str) -> pd.DataFrame:
    """Write the cross-location summary of analysed runs to ``output`` and return the table.

    Writes ``summary.csv``, ``pearson_r.csv``, ``pearson_p.csv`` (``scipy.stats.pearsonr`` over
    the distinct runs: a run whose results repeat another's counts once; only with at least
    :data:`MIN_RUNS_FOR_CORRELATIONS` of them), scatter plots, box plots by pattern type, the
    correlation heat map (PNG; SVG too with ``vegdask.analysis.figure-formats``), and
    ``summary.html`` with the figures embedded. A run whose series were too short for the
    indicators has empty tau/p columns and says why in its ``note`` column. What weakens the
    correlations (repeated runs, few runs) is in ``table.attrs["warnings"]`` and on the page.
    """
    table = summary_table(runs)
    store = RunStore(output)
    store.makedirs()
    distinct = table.loc[~_repeats(table)]
    if len(distinct) >= MIN_RUNS_FOR_CORRELATIONS:
        r, p = _pearson(distinct)
    else:
        r = p = pd.DataFrame()
    table.attrs["warnings"] = summary_warnings(table)
    tables = [("summary", table, False), ("pearson_r", r, True), ("pearson_p", p, True)]
    for name, frame, index in tables[: 1 if r.empty else 3]:
        store.write_bytes(f"{name}.csv", frame.to_csv(index=index).encode())
    images = _summary_figures(table, r, p, store)
    store.write_bytes("summary.html", _summary_page(table, images).encode())
    return table


def _repeats(table: pd.DataFrame) -> pd.Series:
    """Runs whose every value but the run's address repeats an earlier run's (True: a repeat)."""
    values = table.drop(columns="run").astype(str)
    return values.duplicated(keep="first")


def summary_warnings(table: pd.DataFrame) -> list[str]:
    """What weakens the correlations of a summary table: runs repeated, too few runs.

    Examples
    --------
    >>> t = pd.DataFrame({"run": ["a", "b", "c"], "x": [1.0, 1.0, 2.0]})
    >>> for w in summary_warnings(t):
    ...     print(w)
    b repeats the results of a (the same run twice?): it counts once in the correlations.
    correlations from 2 distinct runs: none computed (they need 3).
    """
    out = []
    values = table.drop(columns="run").astype(str).apply(tuple, axis=1)
    first: dict[tuple[str, ...], Any] = {}
    for run, key in zip(table["run"], values, strict=True):
        if key in first:
            out.append(
                f"{run} repeats the results of {first[key]} (the same run twice?): it counts "
                "once in the correlations."
            )
        first.setdefault(key, run)
    n = len(first)
    if n < MIN_RUNS_FOR_CORRELATIONS:
        out.append(
            f"correlations from {n} distinct runs: none computed (they need "
            f"{MIN_RUNS_FOR_CORRELATIONS})."
        )
    elif n < RELIABLE_CORRELATION_RUNS:
        # |r| at which a two-sided p reaches 0.05 with n - 2 degrees of freedom.
        t = stats.t.ppf(0.975, n - 2)
        r_crit = t / np.sqrt(n - 2 + t**2)
        out.append(
            f"correlations from only {n} distinct runs: p < 0.05 needs |r| > {r_crit:.3f}, and "
            "one run can make or break a star; read them as exploration, not evidence."
        )
    return out


def _summary_figures(table, r, p, store) -> dict[str, bytes]:
    images = {}
    for x, y in _SCATTERS:
        if x in table and y in table:
            key = f"{y}_vs_{x}"
            images[key] = save_figure(_fig_scatter(table, x, y), store.fs, store.path_of(key))
    if "pattern_type" in table:
        for column in ("offset50_mean_mean", "offset50_mean_max"):
            if column in table:
                key = f"{column}_by_pattern_type"
                images[key] = save_figure(_fig_box(table, column), store.fs, store.path_of(key))
    if len(r):
        images["correlations"] = save_figure(
            _fig_corr(r, p), store.fs, store.path_of("correlations")
        )
    return images


#: The columns of summary.html's main table (the rest is in its folded full table).
_MAIN_COLUMNS = (
    "location",
    "pattern_type",
    "location_offset50_mean_ar1_tau",
    "location_offset50_mean_ar1_p",
    "offset50_mean_ar1_tau",
    "offset50_mean_ar1_p",
    "offset50_mean_variance_tau",
    "offset50_mean_variance_p",
    "offset50_mean_mean",
    "total_precipitation_mean",
    "note",
)


def _summary_page(table: pd.DataFrame, images: dict[str, bytes]) -> str:
    """summary.html: warnings first, the main columns, the full table folded, the figures."""

    def html_table(frame: pd.DataFrame) -> str:
        text = frame.to_html(index=False, na_rep="n/a", float_format=lambda v: f"{v:.3g}")
        return f'<div class="scroll">{text}</div>'

    label = "location" if "location" in table else "run"
    main = [label, *(c for c in _MAIN_COLUMNS if c in table and c != label)]
    warnings = "".join(
        f'<p class="warning">Warning: {html.escape(w)}</p>' for w in table.attrs["warnings"]
    )
    body = [
        "<h1>vegdask: summary across locations</h1>",
        f"<p>{len(table)} runs.</p>",
        warnings,
        html_table(table[main]),
        f"<details><summary>All {table.shape[1]} columns (summary.csv)</summary>"
        f"{html_table(table)}</details>",
    ]
    body += [
        f'<figure><img src="data:image/png;base64,{base64.b64encode(png).decode()}" '
        f'alt="{html.escape(key)}"><figcaption>{html.escape(key)}</figcaption></figure>'
        for key, png in images.items()
    ]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>vegdask summary</title><style>body{font-family:sans-serif;margin:1em}"
        "img{max-width:100%;height:auto}table{font-size:80%;border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px}.scroll{overflow-x:auto;max-width:100%}"
        ".warning{background:#fff3cd;padding:.5em;border:1px solid #e0c060}</style></head>"
        f"<body>{''.join(body)}</body></html>"
    )
