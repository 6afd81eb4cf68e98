"""Every default of the analysis is a setting (vegdask.yaml), resolved in one place.

The public functions' keywords, the job config's [analysis] keys and ``vegdask analyse``'s options
take their defaults from the settings; a keyword left as None follows ``dask.config.set``.
"""

import argparse
import inspect

import dask
import numpy as np
import pandas as pd
import pytest

import vegdask.analysis
from vegdask import config
from vegdask._options import ANALYSIS_OPTIONS, ANALYSIS_PARAMETERS
from vegdask.cli import build_parser

# The keywords of vegdask.analysis' public functions that are settings, by name. A function's
# keyword named here must default to None (its setting) wherever it appears.
KEYWORD_SETTINGS = {
    "window": "analysis.window",
    "detrend": "analysis.detrend",
    "detrend_method": "analysis.detrend",
    "bandwidth": "analysis.bandwidth",
    "bandwidth_convention": "analysis.bandwidth-convention",
    "convention": "analysis.bandwidth-convention",
    "span": "analysis.loess-span",
    "ar1": "analysis.ar1",
    "deseasonalise_method": "analysis.deseasonalise",
    "method": "analysis.deseasonalise or analysis.detrend",
    "n_surrogates": "analysis.n-surrogates (tile- and sensitivity- where those apply)",
    "seed": "analysis.seed",
    "interpolate_gaps": "analysis.interpolate-gaps",
    "grid": "analysis.sensitivity-grid",
    "sensitivity_grid": "analysis.sensitivity-grid",
    "sensitivity_surrogates": "analysis.sensitivity-surrogates",
    "tile_surrogates": "analysis.tile-surrogates",
    "outlier_sigmas": "analysis.outlier-sigmas",
    "sigmas": "analysis.outlier-sigmas",
    "spatial_permutations": "analysis.spatial-permutations",
    "n_permutations": "analysis.spatial-permutations",
    "subsize": "analysis.spatial-subsize",
    "alpha": "analysis.alpha",
    "figure_formats": "analysis.figure-formats",
}


def _public_functions():
    for name in vegdask.analysis.__all__:
        obj = getattr(vegdask.analysis, name)
        if inspect.isfunction(obj):
            yield name, obj


def test_every_public_keyword_that_is_a_setting_defaults_to_none():
    checked = 0
    for name, function in _public_functions():
        for parameter in inspect.signature(function).parameters.values():
            if (
                parameter.name in KEYWORD_SETTINGS
                and parameter.default is not inspect.Parameter.empty
            ):
                assert parameter.default is None, (
                    f"{name}({parameter.name}={parameter.default!r}): a literal default; "
                    f"None takes {KEYWORD_SETTINGS[parameter.name]}"
                )
                checked += 1
    assert checked > 40  # the walk found the analysis' keywords


def _series(n=72, seed=0):
    rng = np.random.default_rng(seed)
    index = pd.date_range("2016-01-01", periods=n, freq="MS")
    return pd.Series(rng.standard_normal(n).cumsum(), index=index, name="x")


def _panel():
    rng = np.random.default_rng(1)
    index = pd.date_range("2016-01-01", periods=40, freq="MS")
    return pd.DataFrame(rng.standard_normal((40, 3)).cumsum(axis=0), index=index)


def _field():
    return np.random.default_rng(2).standard_normal((20, 20))


# (function, arguments, keyword, setting, a value other than the packaged default, what to compare)
CASES = [
    (
        "early_warning",
        lambda: (_series(),),
        {"n_surrogates": 9},
        "window",
        "analysis.window",
        0.75,
        lambda r: (r.params["window_samples"], r.stats["ar1"]["p_value"]),
    ),
    (
        "early_warning",
        lambda: (_series(),),
        {"n_surrogates": 9},
        "detrend_method",
        "analysis.detrend",
        "none",
        lambda r: (r.params["detrend"], r.stats["ar1"]["kendall_tau"]),
    ),
    (
        "pooled_early_warning",
        lambda: (_panel(),),
        {},
        "n_surrogates",
        "analysis.n-surrogates",
        19,
        lambda r: (r.params["n_surrogates"], r.stats["ar1"]["p_value"]),
    ),
    (
        "spatial_indicators",
        lambda: (_field(),),
        {},
        "n_permutations",
        "analysis.spatial-permutations",
        19,
        lambda r: (r["morans_i"]["p_value"], r["morans_i"]["null_sd"]),
    ),
    (
        "remove_outliers",
        lambda: (pd.Series([0.0] * 9 + [1.0]).to_xarray().rename(index="time"),),
        {},
        "sigmas",
        "analysis.outlier-sigmas",
        2.0,
        lambda r: int(r.isnull().sum()),
    ),
]


@pytest.mark.parametrize(
    ("function", "arguments", "options", "keyword", "setting", "value", "measure"),
    CASES,
    ids=[f"{c[0]}-{c[3]}" for c in CASES],
)
def test_a_keyword_left_as_none_follows_its_setting(
    function, arguments, options, keyword, setting, value, measure
):
    function = getattr(vegdask.analysis, function)
    assert config.get(setting) != value
    default = measure(function(*arguments(), **options))
    explicit = measure(function(*arguments(), **options, **{keyword: value}))
    assert explicit != default  # the value matters for what is compared
    with dask.config.set({f"vegdask.{setting}": value}):
        assert measure(function(*arguments(), **options)) == explicit


def test_spatial_task_and_spatial_indicators_agree_on_the_permutations():
    times = pd.date_range("2020", periods=1)
    through_time = vegdask.analysis.spatial_indicators_through_time(_field()[None], times)
    one = vegdask.analysis.spatial_indicators(_field())
    assert through_time["morans_i_p_value"].iloc[0] == pytest.approx(one["morans_i"]["p_value"])


def _options(parser, prefix=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _options(sub, (*prefix, name))
        elif action.option_strings:
            yield prefix, action


def test_analyse_options_are_generated_from_the_declarations():
    actions = {
        action.dest: action for prefix, action in _options(build_parser()) if prefix == ("analyse",)
    }
    declared = [k for k, option in ANALYSIS_OPTIONS.items() if option.setting is not None]
    assert declared
    for key in declared:
        option = ANALYSIS_OPTIONS[key]
        action = actions[ANALYSIS_PARAMETERS.get(key, key)]
        assert action.default is None, key  # None: analyse_results takes the setting
        assert action.choices == option.choices, key
        assert action.help == option.help_text(), key
        assert f"(default: {config.get(option.setting)})" in action.help


def test_help_follows_the_settings():
    actions = {a.dest: a for prefix, a in _options(build_parser()) if prefix == ("analyse",)}
    assert actions["window"].help.endswith("(default: 0.5)")
    with dask.config.set({"vegdask.analysis.window": 0.75}):
        assert actions["window"].help.endswith("(default: 0.75)")


def test_every_other_option_default_is_shown_from_its_declaration():
    """No CLI default hides: a value other than None/False is shown by argparse from the one
    ``default=`` (``%(default)s``), not written again in the help."""
    for prefix, action in _options(build_parser()):
        if action.default in (None, False, argparse.SUPPRESS) or action.help == argparse.SUPPRESS:
            continue
        assert "%(default)" in (action.help or ""), (prefix, action.option_strings)


def test_the_declared_names_are_the_ones_the_analysis_and_kernels_use():
    from vegdask import _options
    from vegdask.analysis import GRIDS
    from vegdask.kernels import AR1_ESTIMATORS
    from vegdask.kernels._smoothing import _GAUSS_CONVENTIONS

    assert _options.AR1_ESTIMATORS == AR1_ESTIMATORS
    assert _options.BANDWIDTH_CONVENTIONS == _GAUSS_CONVENTIONS
    assert tuple(GRIDS) == _options.SENSITIVITY_GRIDS


def test_job_config_analysis_keys_are_the_declared_options():
    from vegdask.analysis import analyse_results
    from vegdask.pipeline import ConfigError, validate_config

    parameters = inspect.signature(analyse_results).parameters
    for key, option in ANALYSIS_OPTIONS.items():
        assert ANALYSIS_PARAMETERS.get(key, key) in parameters, key
        if option.choices:
            with pytest.raises(
                ConfigError, match=rf"analysis\.{key} = 'x' is not valid; expected one of"
            ):
                validate_config({"analysis": {key: "x"}})
            validate_config({"analysis": {key: option.choices[-1]}})


def test_a_wrong_method_option_is_one_line_before_any_work(tmp_path, capsys):
    from vegdask.cli import main

    out = tmp_path / "out"
    assert main(["analyse", str(tmp_path / "no-run"), "--output", str(out), "--window", "-1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "vegdask analyse: error: --window = -1.0 is not valid; expected a fraction in (0, 1] or "
        "a number of samples"
    ]
    assert not out.exists()
