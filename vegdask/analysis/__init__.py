"""Analysis and report: time series, early-warning indicators, significance, figures, HTML."""

from vegdask.analysis._analyse import RESILIENCE_SERIES, analyse_results, to_strict_json
from vegdask.analysis._resilience import (
    EWS_INDICATORS,
    GRIDS,
    EarlyWarning,
    detrend,
    early_warning,
    sensitivity,
    tile_indicator_maps,
)
from vegdask.analysis._series import (
    TILE_VARIABLES,
    Results,
    aggregate_series,
    deseasonalise,
    lagged_correlation,
    load_results,
    remove_outliers,
    season_period,
    smooth,
    tiles_from_results_summary,
)

__all__ = [
    "EWS_INDICATORS",
    "GRIDS",
    "RESILIENCE_SERIES",
    "TILE_VARIABLES",
    "EarlyWarning",
    "Results",
    "aggregate_series",
    "analyse_results",
    "deseasonalise",
    "detrend",
    "early_warning",
    "lagged_correlation",
    "load_results",
    "remove_outliers",
    "season_period",
    "sensitivity",
    "smooth",
    "tile_indicator_maps",
    "tiles_from_results_summary",
    "to_strict_json",
]
