"""Options whose defaults are settings, declared once: what is valid, the setting, the help.

:data:`ANALYSIS_OPTIONS` is read by :func:`vegdask.analysis.analyse_results`' callers: the job
config's ``[analysis]`` table (:mod:`vegdask.pipeline`) and ``vegdask analyse``'s options
(:mod:`vegdask.cli`, which builds its options, choices and help from it). The job config's
``[processing]`` and ``[cluster]`` keys (:data:`PROCESSING_OPTIONS`, :data:`CLUSTER_OPTIONS`),
the Azure options of ``vegdask submit``, ``plan`` and ``batch`` (:data:`AZURE_OPTIONS`) and
``vegdask simulate``'s (:data:`SIMULATE_OPTIONS`) are declared alike. The defaults are the
settings (``vegdask.yaml``). This module imports nothing heavy, so the command line starts fast;
the analysis takes its methods' names from here.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from vegdask.config import Option

__all__ = [
    "ANALYSIS_OPTIONS",
    "ANALYSIS_PARAMETERS",
    "AR1_ESTIMATORS",
    "AZURE_OPTIONS",
    "BANDWIDTH_CONVENTIONS",
    "CLUSTER_OPTIONS",
    "DESEASONALISE_METHODS",
    "DETREND_METHODS",
    "GRAPH_CLASSES",
    "PRESETS",
    "PROCESSING_OPTIONS",
    "SENSITIVITY_GRIDS",
    "SIMULATE_OPTIONS",
    "SUBMIT_CLUSTERS",
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
#: Graph classes of the tile metrics (``vegdask.compute.GRAPH_CLASSES``).
GRAPH_CLASSES: tuple[str, ...] = ("bare", "vegetation")
#: Where a submitted job's workers run: Batch tasks on the pool, or the driver's node.
SUBMIT_CLUSTERS: tuple[str, ...] = ("azure-batch", "local")


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

_FRACTION = _number(lambda v: 0 < v <= 1, "a number in (0, 1]", "", "")

#: ``[processing]`` keys: the tile metrics' options (:func:`vegdask.compute.tile_metrics`).
PROCESSING_OPTIONS: dict[str, Option] = {
    "tile_size": _count(4, "processing.tile-size", "tile side in pixels"),
    "num_quantiles": Option(
        int,
        lambda v: 2 <= v <= 100,
        "an integer from 2 to 100",
        setting="processing.num-quantiles",
        help="length of the feature vector",
    ),
    "diagonal": _flag("diagonal neighbours are adjacent too (8-neighbours)", "processing.diagonal"),
    "graph_class": Option.choice(
        GRAPH_CLASSES,
        setting="processing.graph-class",
        help="the graph's nodes: bare soil (pyveg's white pixels) or vegetation",
    ),
    "max_masked_fraction": replace(
        _FRACTION,
        setting="processing.max-masked-fraction",
        help="a tile with this share of masked pixels or more is invalid",
    ),
    "max_masked_period_fraction": replace(
        _FRACTION,
        setting="processing.max-masked-period-fraction",
        help="a period with this share of masked pixels or more is empty",
    ),
}

#: ``[cluster]`` keys (and ``vegdask run``'s, ``fetch``'s, ``submit``'s, ``plan``'s options).
CLUSTER_OPTIONS: dict[str, Option] = {
    "kind": Option(
        str,
        lambda v: bool(v.strip()),
        "'local', 'azure-batch' or a scheduler address",
        setting="cluster.kind",
        help="'local', 'azure-batch' (docs/azure.md) or a scheduler address (tcp://host:8786); "
        "default: the config's cluster.kind, else {setting}",
    ),
    "workers": Option(
        int,
        lambda v: v >= 1,
        "an integer >= 1",
        setting="cluster.workers",
        help="workers; default: the config's cluster.workers, else {setting}",
    ),
}


def _text(setting: str, help: str, unset: str = "") -> Option:
    return Option(
        str, lambda v: bool(v.strip()), "a non-empty string", setting, help=help, unset=unset
    )


#: The Batch account's and pool's options (``vegdask submit``, ``plan``, ``batch``), as
#: :func:`vegdask.cluster.submit_run`'s and :class:`vegdask.cluster.AzureBatchCluster`'s keywords.
AZURE_OPTIONS: dict[str, Option] = {
    "batch_url": _text("azure.batch-url", "Batch account URL", "$AZURE_BATCH_URL"),
    "account_name": _text("azure.account-name", "Batch account name", "$AZURE_BATCH_ACCOUNT"),
    "pool_id": _text("azure.pool-id", "Batch pool id"),
    "vm_size": _text("azure.vm-size", "VM size of a pool vegdask creates"),
    "low_priority": _flag("size the pool with Spot nodes (else dedicated)", "azure.low-priority"),
    "python": _text("azure.worker-python", "interpreter on the nodes"),
    "scheduler_host": _text(
        "azure.scheduler-host", "the scheduler's address", "the node's IP address"
    ),
    "sas_hours": _number(
        lambda v: v > 0,
        "a number of hours > 0",
        "azure.sas-hours",
        "lifetime of the SAS URLs of the config, credentials and wheel files, in hours",
    ),
    "hours": _number(
        lambda v: v > 0,
        "a number of hours > 0",
        "azure.job-hours",
        "a submitted job's wall-clock limit and the lifetime of its storage SAS, in hours",
    ),
    "cluster": Option.choice(
        SUBMIT_CLUSTERS,
        setting="azure.job-cluster",
        help="where a submitted job's workers run: Batch tasks on the pool (azure-batch) or "
        "the driver's node (local)",
    ),
}

#: ``vegdask simulate``'s options: :func:`vegdask.data.simulate_pattern`'s keywords.
SIMULATE_OPTIONS: dict[str, Option] = {
    "rainfall": _number(
        lambda v: math.isfinite(v) and v >= 0, "a number >= 0", "simulate.rainfall", "mm/day"
    ),
    "steps": _count(0, "simulate.steps", "days of 1 step"),
    "size": _count(3, "simulate.size", "cells per side"),
    "seed": _count(0, "simulate.seed", "seed of the random start"),
}
