"""Analysis and report: time series, early-warning indicators, significance, figures, HTML."""

from vegdask.analysis._analyse import RESILIENCE_SERIES, analyse_results, output_location
from vegdask.analysis._campaign_index import (
    VERDICT_COLOURS,
    campaign_index_html,
    land_rings,
    write_campaign_index,
)
from vegdask.analysis._cross_location import (
    MIN_RUNS_FOR_CORRELATIONS,
    RELIABLE_CORRELATION_RUNS,
    SUMMARY_CORRELATION_COLUMNS,
    summarise_runs,
    summary_table,
    summary_warnings,
)
from vegdask.analysis._crystal_ball import annual_cycle_pmf, crystal_ball, crystal_ball_fit
from vegdask.analysis._pooled import POOLED_METHOD, PooledEarlyWarning, pooled_early_warning
from vegdask.analysis._pyveg import PRESETS, PYVEG_SERIES, PyvegAnalysis, pyveg_analysis
from vegdask.analysis._pyveg_tables import pyveg_collections
from vegdask.analysis._resilience import (
    GRIDS,
    TESTED_INDICATORS,
    EarlyWarning,
    SensitivityGrid,
    detrend,
    early_warning,
    sensitivity,
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
    tile_panel,
)
from vegdask.analysis._spatial import (
    SPATIAL_INDICATORS,
    coarse_grain,
    morans_i,
    patch_sizes,
    radial_spectrum,
    spatial_indicators,
    spatial_indicators_through_time,
)
from vegdask.analysis._tile_maps import tile_indicator_maps
from vegdask.analysis._verdict import IndicatorTest, Verdict, location_verdict, verdict_tests

__all__ = [
    "GRIDS",
    "MIN_RUNS_FOR_CORRELATIONS",
    "POOLED_METHOD",
    "PRESETS",
    "PYVEG_SERIES",
    "RELIABLE_CORRELATION_RUNS",
    "RESILIENCE_SERIES",
    "SPATIAL_INDICATORS",
    "SUMMARY_CORRELATION_COLUMNS",
    "TESTED_INDICATORS",
    "TILE_VARIABLES",
    "VERDICT_COLOURS",
    "EarlyWarning",
    "IndicatorTest",
    "PooledEarlyWarning",
    "PyvegAnalysis",
    "Results",
    "SensitivityGrid",
    "Verdict",
    "aggregate_series",
    "analyse_results",
    "annual_cycle_pmf",
    "campaign_index_html",
    "coarse_grain",
    "crystal_ball",
    "crystal_ball_fit",
    "deseasonalise",
    "detrend",
    "early_warning",
    "lagged_correlation",
    "land_rings",
    "load_results",
    "location_verdict",
    "morans_i",
    "output_location",
    "patch_sizes",
    "pooled_early_warning",
    "pyveg_analysis",
    "pyveg_collections",
    "radial_spectrum",
    "remove_outliers",
    "season_period",
    "sensitivity",
    "smooth",
    "spatial_indicators",
    "spatial_indicators_through_time",
    "summarise_runs",
    "summary_table",
    "summary_warnings",
    "tile_indicator_maps",
    "tile_panel",
    "verdict_tests",
    "write_campaign_index",
]
