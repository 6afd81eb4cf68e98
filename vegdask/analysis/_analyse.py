"""``analyse_results``: a run's outputs (or a pyveg results_summary.json) to resilience results.

Writes under ``<output>``: ``analysis/timeseries.csv``, ``analysis/indicators.zarr``,
``analysis/resilience.json``, ``analysis/*.png|svg`` and ``report.html``.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any

import dask
import numpy as np
import pandas as pd
import xarray as xr
from dask.delayed import Delayed

from vegdask import config
from vegdask.analysis import _figures
from vegdask.analysis._crystal_ball import crystal_ball_fit
from vegdask.analysis._pooled import PooledEarlyWarning, pooled_early_warning
from vegdask.analysis._pyveg import PRESETS, pyveg_analysis, write_pyveg_outputs
from vegdask.analysis._pyveg_tables import read_results_summary
from vegdask.analysis._report import (
    figure_tasks,
    pdf_bytes,
    report_html,
    require_weasyprint,
    write_figures,
)
from vegdask.analysis._resilience import (
    TESTED_INDICATORS,
    EarlyWarning,
    EwsOptions,
    early_warning,
    indicator_trends,
    sensitivity,
)
from vegdask.analysis._series import (
    TILE_VARIABLES,
    Results,
    aggregate_series,
    deseasonalise,
    lagged_correlation,
    load_results,
    smooth,
    tile_panel,
)
from vegdask.analysis._spatial import spatial_task
from vegdask.analysis._tasks import compute_tasks, start_imports
from vegdask.analysis._tile_maps import tile_indicator_maps
from vegdask.data import RunStore
from vegdask.data.storage import to_strict_json
from vegdask.kernels import rolling_indicators

__all__ = ["POOLED_SERIES", "RESILIENCE_SERIES", "analyse_results", "output_location"]

#: Series tested for early warnings, as named in resilience.json.
RESILIENCE_SERIES: tuple[str, ...] = (
    "offset50_mean",
    "ndvi_mean",
    "ndvi_veg_mean",
    "total_precipitation",
)
#: Series whose tiles get the pooled test (resilience.json ``location``), and their tile variables.
POOLED_SERIES: dict[str, str] = {"offset50_mean": "offset50", "ndvi_mean": "ndvi_mean"}
_MIN_SAMPLES = 20
# Spatial indicators run on the central crop of this many pixels a side (permutations are costly).
_SPATIAL_CROP = 250


def output_location(results: Any, output: Any = None) -> str:
    """Where :func:`analyse_results` writes: ``output``, else the run (or the JSON's) directory.

    Examples
    --------
    >>> output_location("runs/a/results_summary.json"), output_location("runs/a", "out")
    ('runs/a', 'out')
    """
    if output is not None:
        return str(output)
    results = str(results)
    return posixpath.dirname(results.rstrip("/")) if results.endswith(".json") else results


def analyse_results(
    results: Any,
    output: str | None = None,
    *,
    window: float | None = None,
    detrend: str | None = None,
    bandwidth: float | None = None,
    bandwidth_convention: str | None = None,
    ar1: str | None = None,
    deseasonalise_method: str | None = None,
    n_surrogates: int | None = None,
    seed: int | None = None,
    sensitivity_grid: str | None = None,
    sensitivity_surrogates: int | None = None,
    tile_surrogates: int | None = None,
    outlier_sigmas: float | None = None,
    interpolate_gaps: bool | None = None,
    spatial_permutations: int | None = None,
    alpha: float | None = None,
    report: bool = True,
    pdf: bool = False,
    figure_formats: list[str] | None = None,
    preset: str | None = None,
    use_summary: bool = False,
) -> dict[str, dict[str, dict[str, Any]]]:
    """Analyse a run: time series, early-warning indicators, significance, figures and report.

    Every method parameter left as None takes its ``vegdask.analysis.<name>`` setting
    (``vegdask.yaml``, :mod:`dask.config`; packaged: window 0.5, Gaussian detrending of
    bandwidth 6 in the ``sigma`` convention, AR(1) ``ols``, STL deseasonalising, outliers
    beyond 3 SDs dropped, 1000 surrogates, seed 0, the pyveg sensitivity grid with 200
    surrogates a cell, 200 surrogates a tile, 99 spatial permutations, alpha 0.05). A step is
    turned off by ``"none"`` (``detrend``, ``deseasonalise_method``) or 0 (``outlier_sigmas``,
    ``tile_surrogates``, ``spatial_permutations``).

    Parameters
    ----------
    results : str or path-like
        A run's output directory/URL (reads ``tiles.zarr``, ``weather.zarr``, ``run.json`` and,
        for quicklooks, ``scene.zarr``) or a pyveg ``results_summary.json``.
    output : str, optional
        Where to write ``analysis/`` and ``report.html`` (local path or fsspec URL); default the
        run directory (or the directory of the JSON file).
    window, detrend, bandwidth, bandwidth_convention, ar1
        Rolling window fraction, detrending (``"gaussian"``, ``"loess"`` or ``"none"``),
        Gaussian bandwidth and its convention (default pyveg's sigma = 6 samples), AR(1)
        estimator.
    deseasonalise_method : {"stl", "diff", "none"}
        Applied to each aggregate series before detrending (needs two years of data; series too
        short are analysed as they are and ``deseasonalise`` says so in resilience.json).
    n_surrogates, seed
        ARMA surrogates of each series' significance test (default 1000, seeded).
    sensitivity_grid, sensitivity_surrogates
        Grid (``"pyveg"`` or ``"earlywarnings"``) and surrogates per cell.
    tile_surrogates
        Surrogates per tile for the maps (p-values then Benjamini-Hochberg across tiles).
    outlier_sigmas
        Per-tile outlier removal threshold (0: off).
    interpolate_gaps
        Fill interior gaps of the aggregate series linearly before the indicators (default: gaps
        are masked; filling inflates AR(1)).
    spatial_permutations
        Permutations of the spatial indicators' null per period, on the Scene's NDVI (central
        250 x 250 pixels) when ``scene.zarr`` is present; 0 skips them.
    alpha
        Significance level of the tests (``vegdask.analysis.alpha``, default 0.05): the share
        of significant sensitivity cells, the tile maps' false-discovery rate, the report.
    report
        Write figures and ``report.html``.
    pdf
        Also write ``report.pdf`` (needs the ``report`` extra: weasyprint).
    figure_formats : list of {"png", "svg"}, optional
        Figure files under ``analysis/`` (``vegdask.analysis.figure-formats``, default PNG
        only); PNG is always written, as report.html embeds it.
    preset : {"pyveg"}, optional
        ``"pyveg"``: pyveg v1.1.0's analysis of the run's ``results_summary.json``
        (:func:`vegdask.analysis.pyveg_analysis`) instead of vegdask's; writes pyveg's numbers
        into ``analysis/resilience.json`` and its CSV files into ``analysis/pyveg/``, no figures
        or report. The other method parameters do not apply.
    use_summary : bool, default False
        Analyse the run folder's ``results_summary.json`` rather than its tiles.zarr (which is
        otherwise required, complete and as run.json recorded it).

    Returns
    -------
    dict
        The content of resilience.json: ``{series: {indicator: {"kendall_tau", "p_value",
        "window", "bandwidth", "n_surrogates", "seed", ...}}}`` for the aggregate series, and
        under ``"location"`` the pooled test of each of :data:`POOLED_SERIES`' tiles
        (:func:`vegdask.analysis.pooled_early_warning`: the valid tiles, outliers removed as
        for the mean series, the site mean removed, no per-tile deseasonalising),
        ``{"location": {series: {indicator: {...}}}}`` with the same fields.
    """
    if preset is not None:
        return _preset(preset, results, output)
    settings = _Settings.resolve(
        EwsOptions.resolve(
            window=window,
            detrend_method=detrend,
            bandwidth=bandwidth,
            convention=bandwidth_convention,
            ar1=ar1,
            n_surrogates=n_surrogates,
            seed=seed,
            interpolate_gaps=interpolate_gaps,
        ),
        deseasonalise=deseasonalise_method,
        sensitivity_grid=sensitivity_grid,
        sensitivity_surrogates=sensitivity_surrogates,
        tile_surrogates=tile_surrogates,
        outlier_sigmas=outlier_sigmas,
        spatial_permutations=spatial_permutations,
        alpha=alpha,
        figure_formats=figure_formats,
    )
    if pdf:
        require_weasyprint()
    start_imports("vegdask.analysis")  # on the workers, while this process reads the results
    res = _in_memory(load_results(results, use_summary=use_summary))
    store = RunStore(output_location(results, output))
    store.makedirs("analysis")
    frame = aggregate_series(res.tiles, res.weather, outlier_sigmas=settings.outlier_sigmas)
    graph = _analysis_graph(res, frame, settings)
    corrs = _precipitation_correlations(frame)
    figures = _report_figures(graph, corrs, res, settings) if report else {}
    done = _Computed(*compute_tasks(*graph.computed(), figures))
    resilience = _resilience(done, settings)
    stats = _write_analysis(store, done, resilience, corrs)
    if report:
        _write_report(store, res, resilience, done, corrs, stats, settings.alpha, pdf)
    return to_strict_json(resilience)


@dataclass(frozen=True)
class _Settings:
    """:func:`analyse_results`' method, every value resolved from its arguments and settings."""

    ews: EwsOptions
    deseasonalise: str
    sensitivity_grid: str
    sensitivity_surrogates: int
    tile_surrogates: int
    outlier_sigmas: float
    spatial_permutations: int
    alpha: float
    figure_formats: tuple[str, ...]

    @classmethod
    def resolve(cls, ews: EwsOptions, figure_formats: list[str] | None, **given: Any) -> _Settings:
        """Each of ``given`` left as None from its ``vegdask.analysis`` setting."""
        resolved = {
            name: config.get(f"analysis.{name.replace('_', '-')}", value)
            for name, value in given.items()
        }
        return cls(ews=ews, figure_formats=_figures.figure_formats(figure_formats), **resolved)

    def sensitivity(self) -> dict[str, Any]:
        """:func:`sensitivity`'s keywords."""
        return {
            "grid": self.sensitivity_grid,
            "ar1": self.ews.ar1,
            "n_surrogates": self.sensitivity_surrogates,
            "seed": self.ews.seed,
            "alpha": self.alpha,
        }


@dataclass
class _Graph:
    """The analysis' independent pieces as delayed tasks of one graph (None: not run)."""

    outcomes: dict[str, Delayed]
    pooled: dict[str, Delayed]
    frame: Delayed
    scene: xr.Dataset | None
    spatial: Delayed | None
    maps: Delayed | None

    def computed(self) -> tuple[Any, ...]:
        """What :func:`compute_tasks` computes, in :class:`_Computed`'s order (figures last)."""
        return self.outcomes, self.pooled, self.frame, self.spatial, self.maps


@dataclass
class _Computed:
    """:class:`_Graph`'s tasks computed, and the figures rendered."""

    outcomes: dict[str, _SeriesOutcome]
    pooled: dict[str, _PooledOutcome]
    frame: pd.DataFrame
    spatial: pd.DataFrame | None
    maps: xr.Dataset | None
    rendered: dict[str, Any]


def _analysis_graph(res: Results, frame: pd.DataFrame, settings: _Settings) -> _Graph:
    """The series' tests, the pooled tests, spatial indicators and tile maps, as tasks.

    On the job's workers at once when a cluster runs (figures start as soon as what they show
    is ready), here otherwise; the long statistics first: one above the priority the caller
    gives the analysis (a campaign ranks its locations: vegdask.pipeline.run_campaign).
    """
    ews = settings.ews
    with dask.annotate(priority=dask.get_annotations().get("priority", 0) + 1):
        outcomes = {
            name: dask.delayed(_analyse_series)(
                frame[name].rename(name), settings.deseasonalise, ews, settings.sensitivity()
            )
            for name in RESILIENCE_SERIES
            if name in frame
        }
        pooled = {
            name: dask.delayed(_pooled_series)(
                tile_panel(res.tiles, var, outlier_sigmas=settings.outlier_sigmas), ews
            )
            for name, var in POOLED_SERIES.items()
            if var in res.tiles
        }
        full_frame = dask.delayed(_with_series_columns)(frame, outcomes)
        scene = None
        if res.has_scene and res.root is not None:
            scene = RunStore(res.root).open_zarr("scene.zarr")
        spatial = None
        if settings.spatial_permutations and scene is not None and "ndvi" in scene:
            spatial = _spatial_task(scene, settings.spatial_permutations, ews.seed, res.root)
        maps = None
        if "offset50" in res.tiles and res.tiles.sizes["time"] >= _MIN_SAMPLES:
            maps = dask.delayed(tile_indicator_maps)(
                res.tiles["offset50"].where(res.tiles.get("valid", True)),
                window=ews.window,
                bandwidth=ews.bandwidth,
                convention=ews.convention,
                ar1=ews.ar1,
                n_surrogates=settings.tile_surrogates,
                seed=ews.seed,
                deseasonalise=settings.deseasonalise != "none",
                alpha=settings.alpha,
            )
    return _Graph(outcomes, pooled, full_frame, scene, spatial, maps)


def _precipitation_correlations(frame: pd.DataFrame) -> dict[str, Any]:
    """Each vegetation series' lagged correlation with precipitation (none without weather)."""
    if "total_precipitation" not in frame:
        return {}
    return {
        name: lagged_correlation(frame[name], frame["total_precipitation"])
        for name in ("offset50_mean", "ndvi_mean", "ndvi_veg_mean")
        if name in frame
    }


def _report_figures(
    graph: _Graph, corrs: dict[str, Any], res: Results, settings: _Settings
) -> dict[str, Delayed]:
    """The report's figures as tasks of the same graph."""
    pooled = dask.delayed(_pooled_tests)(graph.pooled) if graph.pooled else None
    return figure_tasks(
        graph.frame,
        graph.outcomes,
        corrs,
        res,
        graph.maps,
        graph.scene,
        graph.spatial,
        list(settings.figure_formats),
        pooled=pooled,
        alpha=settings.alpha,
    )


def _resilience(done: _Computed, settings: _Settings) -> dict[str, Any]:
    """resilience.json's content: each series' entry, and the pooled ones under ``location``."""
    resilience: dict[str, Any] = {
        name: _resilience_entry(outcome, settings.ews, settings.sensitivity_grid)
        for name, outcome in done.outcomes.items()
    }
    if done.pooled:
        resilience["location"] = {
            name: _pooled_entry(outcome, settings.ews) for name, outcome in done.pooled.items()
        }
    return resilience


def _write_analysis(
    store: RunStore, done: _Computed, resilience: dict[str, Any], corrs: dict[str, Any]
) -> dict[str, Any]:
    """Write ``analysis/``'s tables and resilience.json; return the series' statistics."""
    frame = done.frame
    stats = {name: _series_statistics(frame[name]) for name in RESILIENCE_SERIES if name in frame}
    for name, outcome in done.outcomes.items():  # pyveg's "(0.99 rolling window)" values
        stats[name].update(outcome.whole_series)
    store.write_json("analysis/summary_stats.json", stats)
    if done.spatial is not None:
        spatial_csv = done.spatial.to_csv(date_format="%Y-%m-%d")
        store.write_bytes("analysis/spatial.csv", spatial_csv.encode())
    store.write_bytes("analysis/timeseries.csv", frame.to_csv(date_format="%Y-%m-%d").encode())
    ews_results = {name: o.ews for name, o in done.outcomes.items() if o.ews is not None}
    store.write_zarr("analysis/indicators.zarr", _indicators(ews_results, done.maps))
    store.write_json("analysis/resilience.json", to_strict_json(resilience))
    if "total_precipitation" in frame:
        store.write_json(
            "analysis/lagged_correlations.json",
            {k: {"correlation": v[0].tolist(), "best_lag": v[1]} for k, v in corrs.items()},
        )
    return stats


def _write_report(
    store: RunStore,
    res: Results,
    resilience: dict[str, Any],
    done: _Computed,
    corrs: dict[str, Any],
    stats: dict[str, Any],
    alpha: float,
    pdf: bool,
) -> None:
    """Write the figures, ``report.html`` and, with ``pdf``, ``report.pdf``."""
    images = write_figures(store.fs, store.path_of("analysis"), done.rendered)
    html_text = report_html(
        res, resilience, images, corrs, stats, done.maps, alpha=alpha, grid_alpha=_grid_alpha(done)
    )
    store.write_bytes("report.html", html_text.encode())
    if pdf:
        store.write_bytes("report.pdf", pdf_bytes(html_text))


def _grid_alpha(done: _Computed) -> float | None:
    """The level the sensitivity grids recorded (one setting for all; None: no grid)."""
    grids = [o.sensitivity for o in done.outcomes.values() if o.sensitivity is not None]
    return grids[0].attrs["alpha"] if grids else None


def _in_memory(res: Results) -> Results:
    """The per-tile variables the analysis uses, and the weather, read once, here (small)."""
    used = [v for v in (*TILE_VARIABLES, "valid", "tie_sensitivity") if v in res.tiles]
    res.tiles, res.weather = dask.compute(res.tiles[used], res.weather, scheduler="threads")
    return res


@dataclass
class _SeriesOutcome:
    """One aggregate series analysed: its smoothing, deseasonalising, EWS and sensitivity."""

    smooth: pd.Series
    method: str | None
    decomposition: pd.DataFrame
    ews: EarlyWarning | None = None
    sensitivity: xr.Dataset | None = None
    error: str | None = None
    whole_series: dict[str, float] = field(default_factory=dict)
    trends: dict[str, float] = field(default_factory=dict)  # taus without a test, when failed


def _analyse_series(
    series: pd.Series,
    deseasonalise_method: str,
    ews: EwsOptions,
    sens_params: dict[str, Any],
) -> _SeriesOutcome:
    """Smooth, deseasonalise, then early warnings and sensitivity (or why they failed)."""
    method, decomposition = _deseasonalise(series, deseasonalise_method)
    outcome = _SeriesOutcome(smooth(series, 4), method, decomposition)
    target = decomposition["deseasonalised"].rename(series.name)
    if target.notna().sum() < _MIN_SAMPLES:
        outcome.error = f"{int(target.notna().sum())} valid samples, need {_MIN_SAMPLES}"
        return outcome
    try:
        warning = early_warning(target, **ews.asdict())
    except ValueError as err:  # the surrogates' ARMA model cannot be fitted: the taus alone
        outcome.error = f"no surrogate p-value: {err}"
        outcome.trends = indicator_trends(target, **ews.asdict())
        return outcome
    try:
        outcome.sensitivity = sensitivity(target, **sens_params)
    except ValueError as err:
        outcome.error = str(err)
        return outcome
    outcome.ews = warning
    whole = rolling_indicators(warning.frame["residuals"].to_numpy(copy=True), 1.0, ar1=ews.ar1)
    outcome.whole_series = {
        "ar1_whole_series": float(whole["ar1"][-1]),
        "variance_whole_series": float(whole["variance"][-1]),
    }
    return outcome


@dataclass
class _PooledOutcome:
    """A series' pooled test over its tiles (or why it could not be run)."""

    ews: PooledEarlyWarning | None = None
    error: str | None = None


def _pooled_series(panel: pd.DataFrame, ews: EwsOptions) -> _PooledOutcome:
    """The pooled test of a series' tiles, or why it cannot be run.

    The tiles are not deseasonalised one by one: removing the site mean takes the seasonal
    cycle they share with it, a tile's own seasonal residue is stationary and kept by the
    surrogates (it costs power, not validity), and a per-tile STL or calendar-month
    climatology, each fitted to a few years, also took a third to two thirds of the pooled
    tau of ramping tiles (docs/analysis.md).
    """
    periods = int(panel.notna().any(axis=1).sum())
    if periods < _MIN_SAMPLES:
        return _PooledOutcome(error=f"{periods} periods with valid tiles, need {_MIN_SAMPLES}")
    try:
        return _PooledOutcome(pooled_early_warning(panel, **ews.asdict()))
    except ValueError as err:  # too short for the window, or too few tiles: say so
        return _PooledOutcome(error=str(err))


def _pooled_tests(outcomes: dict[str, _PooledOutcome]) -> dict[str, PooledEarlyWarning]:
    """The pooled tests that could be run, by series."""
    return {name: o.ews for name, o in outcomes.items() if o.ews is not None}


def _pooled_entry(outcome: _PooledOutcome, ews: EwsOptions) -> dict[str, dict[str, Any]]:
    if outcome.ews is None:
        return _failed_entry(str(outcome.error), ews)
    return {
        ind: {
            **st,
            "deseasonalise": None,
            "sensitivity_grid": None,
            "sensitivity_share_significant": None,
        }
        for ind, st in outcome.ews.stats.items()
    }


def _with_series_columns(frame: pd.DataFrame, outcomes: dict[str, _SeriesOutcome]) -> pd.DataFrame:
    """The aggregate series with each analysed series' LOESS and deseasonalised columns."""
    frame = frame.copy()
    for name, outcome in outcomes.items():
        frame[f"{name}_smooth"] = outcome.smooth
        frame[f"{name}_deseasonalised"] = outcome.decomposition["deseasonalised"]
    return frame


def _resilience_entry(
    outcome: _SeriesOutcome, ews: EwsOptions, grid: str | None
) -> dict[str, dict[str, Any]]:
    if outcome.ews is None:
        entry = _failed_entry(str(outcome.error), ews)
        for ind, tau in outcome.trends.items():
            entry[ind]["kendall_tau"] = tau
        return entry
    sens = outcome.sensitivity
    return {
        ind: {
            **st,
            "deseasonalise": outcome.method,
            "sensitivity_grid": grid,
            "sensitivity_share_significant": (
                None if sens is None else sens.attrs.get(f"share_significant_{ind}")
            ),
        }
        for ind, st in outcome.ews.stats.items()
    }


def _preset(preset: str, results: Any, output: str | None) -> dict[str, Any]:
    """The ``pyveg`` preset: pyveg's numbers in resilience.json, its CSV files."""
    if preset not in PRESETS:
        raise ValueError(f"analysis preset must be one of {list(PRESETS)}, got {preset!r}")
    result = pyveg_analysis(read_results_summary(results))
    store = RunStore(output_location(results, output))
    write_pyveg_outputs(result, store, "analysis/pyveg")
    strict = to_strict_json(result.resilience)
    store.makedirs("analysis")
    store.write_json("analysis/resilience.json", strict)
    return strict


def _deseasonalise(series: pd.Series, method: str) -> tuple[str | None, pd.DataFrame]:
    """Deseasonalise; the method applied is None with ``"none"`` or a series too short for it."""
    try:
        dec = deseasonalise(series, method)
    except ValueError:
        method, dec = "none", deseasonalise(series, "none")
    dec.insert(0, "observed", series)
    return (None if method == "none" else method), dec


def _failed_entry(reason: str, ews: EwsOptions) -> dict[str, dict[str, Any]]:
    record = {
        "kendall_tau": None,
        "p_value": None,
        "error": reason,
        "window": ews.window,
        "detrend": ews.detrend_method,
        "bandwidth": ews.bandwidth,
        "bandwidth_convention": ews.convention,
        "ar1_estimator": ews.ar1,
        "n_surrogates": ews.n_surrogates,
        "seed": ews.seed,
    }
    return {ind: dict(record) for ind in TESTED_INDICATORS}


def _series_statistics(series: pd.Series) -> dict[str, Any]:
    out: dict[str, Any] = {
        k: float(getattr(series, k)()) for k in ("min", "max", "mean", "median", "std")
    }
    try:
        fit = crystal_ball_fit(series.dropna())
    except ValueError as err:
        fit = {"CB_fit_success": False, "CB_fit_error": str(err)}
    out.update({k: v for k, v in fit.items() if k != "pmf"})
    return out


def _spatial_task(
    scene: xr.Dataset, n_permutations: int, seed: int, root: str | None = None
) -> Delayed:
    """The spatial indicators of the scene's central crop per period, as a delayed DataFrame."""
    ny, nx = scene.sizes["y"], scene.sizes["x"]
    crop = {
        "y": slice(max(0, ny // 2 - _SPATIAL_CROP // 2), ny // 2 + _SPATIAL_CROP // 2),
        "x": slice(max(0, nx // 2 - _SPATIAL_CROP // 2), nx // 2 + _SPATIAL_CROP // 2),
    }
    return spatial_task(
        scene["ndvi"].isel(crop).data,  # lazy: each task reads its own periods
        scene.time.values,
        masks=_vegetation_masks(root, scene, crop),
        n_permutations=n_permutations,
        seed=seed,
    )


def _vegetation_masks(root: str | None, scene: xr.Dataset, crop: dict) -> list | None:
    """Per period, the vegetation mask (``mask.zarr``'s ``binary_image == 0``, lazy) or None."""
    if root is None:
        return None
    store = RunStore(root)
    if not store.exists("mask.zarr"):
        return None
    image = store.open_zarr("mask.zarr")["binary_image"]
    if (image.sizes["y"], image.sizes["x"]) != (scene.sizes["y"], scene.sizes["x"]):
        return None
    done = set(image.time.values.tolist())
    return [
        (image.sel(time=t).isel(crop) == 0).data if t.tolist() in done else None
        for t in scene.time.values
    ]


def _indicators(ews_results: dict[str, Any], maps: xr.Dataset | None) -> xr.Dataset:
    ds = xr.Dataset()
    if ews_results:
        names = list(ews_results)
        first = ews_results[names[0]].frame
        cols = [c for c in first.columns if c not in ("state",)]
        for col in cols:
            ds[col] = (
                ("series", "time"),
                np.stack([ews_results[n].frame[col].to_numpy() for n in names]),
            )
        ds = ds.assign_coords(series=np.array(names, dtype=object), time=first.index.values)
    if maps is not None:
        tile = maps.rename({"time": "tile_time"}) if "time" in maps.dims else maps
        tile = tile.rename({v: f"tile_offset50_{v}" for v in tile.data_vars})
        for v in tile.data_vars:
            if tile[v].dtype == bool:
                tile[v] = tile[v].astype("int8")
        ds = xr.merge([ds, tile], compat="override", combine_attrs="drop")
    ds.attrs = {}
    return ds
