"""The analysis' options, declared once: what is valid, the setting holding each default, the help.

:data:`ANALYSIS_OPTIONS` is read by :func:`vegdask.analysis.analyse_results`' callers: the job
config's ``[analysis]`` table (:mod:`vegdask.pipeline`) and ``vegdask analyse``'s options
(:mod:`vegdask.cli`, which builds its options, choices and help from it). The defaults are the
settings (``vegdask.yaml``). This module imports nothing heavy, so the command line starts fast;
the analysis takes its methods' names from here.
"""

from __future__ import annotations

from typing import Any

from vegdask.config import Option

__all__ = [
    "ANALYSIS_OPTIONS",
    "ANALYSIS_PARAMETERS",
    "AR1_ESTIMATORS",
    "BANDWIDTH_CONVENTIONS",
    "DESEASONALISE_METHODS",
    "DETREND_METHODS",
    "PRESETS",
    "SENSITIVITY_GRIDS",
]

#: Detrending methods; ``"none"`` subtracts the series' mean only.
DETREND_METHODS: tuple[str, ...] = ("gaussian", "loess", "none")
#: Deseasonalising methods; ``"none"`` leaves the series as it is.
DESEASONALISE_METHODS: tuple[str, ...] = ("stl", "diff", "none")
#: Bandwidth conventions of the Gaussian detrending (``vegdask.kernels.gaussian_sigma``'s).
BANDWIDTH_CONVENTIONS: tuple[str, ...] = ("sigma", "ksmooth")
#: AR(1) estimators (``vegdask.kernels.AR1_ESTIMATORS``: the kernels name them too, in this order).
AR1_ESTIMATORS: tuple[str, ...] = ("ols", "pearson", "acf")
#: Sensitivity grids (``vegdask.analysis.GRIDS``' keys).
SENSITIVITY_GRIDS: tuple[str, ...] = ("pyveg", "earlywarnings")
#: Analysis presets: another analysis instead of vegdask's.
PRESETS: tuple[str, ...] = ("pyveg",)


def _number(check: Any, allowed: str, setting: str, help: str) -> Option:
    return Option((int, float), check, allowed, setting=setting, help=help)


def _count(minimum: int, setting: str, help: str) -> Option:
    return Option(
        int, lambda v: v >= minimum, f"an integer >= {minimum}", setting=setting, help=help
    )


def _flag(help: str, setting: str | None = None) -> Option:
    return Option(bool, None, "true or false", setting=setting, help=help)


#: ``[analysis]`` keys (and ``vegdask analyse`` options): each key's :class:`vegdask.config.Option`.
ANALYSIS_OPTIONS: dict[str, Option] = {
    "preset": Option.choice(
        PRESETS,
        help="pyveg: pyveg v1.1.0's analysis of results_summary.json (its numbers in "
        "resilience.json, its CSV files in analysis/pyveg/; the method options do not apply)",
    ),
    "window": _number(
        lambda v: v > 0,
        "a fraction in (0, 1] or a number of samples",
        "analysis.window",
        "rolling window: a fraction of the series or a number of samples",
    ),
    "detrend": Option.choice(
        DETREND_METHODS, setting="analysis.detrend", help="detrending before the indicators"
    ),
    "bandwidth": _number(
        lambda v: v > 0, "a number > 0", "analysis.bandwidth", "Gaussian detrending bandwidth"
    ),
    "bandwidth_convention": Option.choice(
        BANDWIDTH_CONVENTIONS,
        setting="analysis.bandwidth-convention",
        help="sigma: bandwidth = kernel sd in samples (pyveg); ksmooth: earlywarnings-R/ewstools",
    ),
    "ar1": Option.choice(AR1_ESTIMATORS, setting="analysis.ar1", help="AR(1) estimator"),
    "deseasonalise": Option.choice(
        DESEASONALISE_METHODS,
        setting="analysis.deseasonalise",
        help="deseasonalising of each mean series before detrending",
    ),
    "n_surrogates": _count(1, "analysis.n-surrogates", "ARMA surrogates of each series' test"),
    "seed": _count(0, "analysis.seed", "seed of the surrogates and permutations"),
    "sensitivity_grid": Option.choice(
        SENSITIVITY_GRIDS,
        setting="analysis.sensitivity-grid",
        help="windows x bandwidths of the sensitivity grid",
    ),
    "sensitivity_surrogates": _count(
        1, "analysis.sensitivity-surrogates", "surrogates per sensitivity grid cell"
    ),
    "tile_surrogates": _count(0, "analysis.tile-surrogates", "surrogates per tile map (0: none)"),
    "outlier_sigmas": _number(
        lambda v: v >= 0,
        "a number >= 0 (0: none removed)",
        "analysis.outlier-sigmas",
        "drop a tile's values this many SDs from its mean (0: none)",
    ),
    "interpolate_gaps": _flag(
        "fill gaps linearly before the indicators (else masked; filling inflates AR1)",
        "analysis.interpolate-gaps",
    ),
    "spatial_permutations": _count(
        0, "analysis.spatial-permutations", "permutations of the spatial indicators (0: none)"
    ),
    "alpha": _number(
        lambda v: 0 < v < 1, "a number in (0, 1)", "analysis.alpha", "significance level"
    ),
    "report": _flag("write the figures and report.html"),
    "pdf": _flag("also write report.pdf (weasyprint)"),
}
#: ``[analysis]`` keys named differently from :func:`vegdask.analysis.analyse_results`' parameters.
ANALYSIS_PARAMETERS: dict[str, str] = {"deseasonalise": "deseasonalise_method"}
