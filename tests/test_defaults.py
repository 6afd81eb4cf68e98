"""Every default of the analysis is a setting (vegdask.yaml), resolved in one place.

The public functions' keywords, the job config's [analysis] keys and ``vegdask analyse``'s options
take their defaults from the settings; a keyword left as None follows ``dask.config.set``.
"""

import argparse
import importlib
import inspect
import pkgutil

import dask
import numpy as np
import pandas as pd
import pytest

import vegdask
import vegdask.analysis
from vegdask import config
from vegdask._options import ANALYSIS_OPTIONS, ANALYSIS_PARAMETERS
from vegdask.cli import build_parser
from vegdask.data import SOURCE_OPTIONS, source_defaults
from vegdask.data._sources import _PACKED, _SOURCES

# Settings whose value is a mapping (not a section of settings).
MAPPINGS = ("vm-prices", "bands")


def _settings(node=None, prefix=""):
    """Every setting declared in vegdask.yaml: key (without ``vegdask.``) -> packaged value."""
    node = config._packaged_defaults()["vegdask"] if node is None else node
    for name, value in node.items():
        if isinstance(value, dict) and name not in MAPPINGS:
            yield from _settings(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", value


SETTINGS = dict(_settings())

# A public keyword named as a setting's last part (window, num_quantiles, pool_id, ...) is that
# setting (a source's settings are its function's only: SOURCE_SETTINGS); these other names are
# settings too.
KEYWORD_SETTINGS = {
    **{
        key.rsplit(".", 1)[1].replace("-", "_"): key
        for key in SETTINGS
        if not key.startswith("source.")
    },
    "detrend_method": "analysis.detrend",
    "convention": "analysis.bandwidth-convention",
    "span": "analysis.loess-span",
    "deseasonalise_method": "analysis.deseasonalise",
    "n_surrogates": "analysis.n-surrogates",
    "grid": "analysis.sensitivity-grid",
    "sigmas": "analysis.outlier-sigmas",
    "n_permutations": "analysis.spatial-permutations",
    "subsize": "analysis.spatial-subsize",
    "python": "azure.worker-python",
    "max_losses": "cluster.max-worker-losses",
    "expiry_hours": "azure.sas-hours",
    "hours": "azure.sas-hours",
    "seed": "analysis.seed",
}


def _source_settings():
    """(source function, keyword) -> setting of every declared ``[source]`` option (the
    synthetic rainfall's two options are one keyword: the walk needs its default None)."""
    for kind, options in SOURCE_OPTIONS.items():
        function = _SOURCES[kind][1]
        for key, option in options.items():
            if not option.required:
                yield (function, _PACKED.get(kind, {}).get(key, (key,))[0]), option.setting


SOURCE_SETTINGS = dict(_source_settings())
# Where a name means another setting than the one above.
SPECIFIC_SETTINGS = {
    **SOURCE_SETTINGS,
    ("simulate_pattern", "rainfall"): "simulate.rainfall",
    ("simulate_pattern", "steps"): "simulate.steps",
    ("simulate_pattern", "size"): "simulate.size",
    ("simulate_pattern", "seed"): "simulate.seed",
    ("submit_run", "hours"): "azure.job-hours",
    ("submit_run", "cluster"): "azure.job-cluster",
    ("deseasonalise", "method"): "analysis.deseasonalise",
    ("detrend", "method"): "analysis.detrend",
    ("tile_indicator_maps", "n_surrogates"): "analysis.tile-surrogates",
    ("sensitivity", "n_surrogates"): "analysis.sensitivity-surrogates",
}
# Public keywords named as a setting that are another quantity, and why.
NOT_SETTINGS = {
    ("RietkerkParameters", "alpha"): "the Rietkerk model's infiltration parameter",
    ("synthetic_scene", "size"): "a scene's side (the demo's location.size)",
    ("earthengine_scene", "size"): "a scene's side (the demo's location.size)",
    ("stac_scene", "size"): "a scene's side (the demo's location.size)",
    ("simulated_site", "seed"): "a test helper's simulated site",
    ("BatchEmulator", "account_name"): "the emulator's own account, served (not a client's)",
    ("BatchEmulator", "account_key"): "the emulator's own key (None: a random one)",
    ("IndicatorTest", "n_surrogates"): "a result's record (None: no surrogate test ran)",
    ("BatchWorker", "tls"): "the TLS files a worker task receives (None: plain TCP)",
    ("azure_sas_signer", "account_name"): "a storage account's (None: from the URL)",
    ("BatchEmulator", "tls"): "the emulator serving HTTPS (a managed identity's endpoint)",
    ("tile_indicator_maps", "deseasonalise"): "on/off of the tile maps' monthly climatology "
    "(the setting names the series' method; STL is per series only)",
}


def _public_modules():
    for found in pkgutil.walk_packages(vegdask.__path__, "vegdask."):
        parts = found.name.split(".")
        if not any(p.startswith("_") for p in parts) and parts[1] != "cli":
            yield importlib.import_module(found.name)


def _callables():
    """(public name, callable) of every subpackage's ``__all__``: functions, classes' __init__
    (a dataclass's fields) and public methods."""
    for module in _public_modules():
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if inspect.isfunction(obj):
                yield module.__name__, name, obj
            elif inspect.isclass(obj) and obj.__module__.startswith("vegdask"):
                yield module.__name__, name, obj
                for attr, member in vars(obj).items():
                    if inspect.isfunction(member) and not attr.startswith("_"):
                        yield module.__name__, name, member


def _keyword_defaults():
    """(module, public name, keyword, default) of every keyword with a default."""
    for module, name, function in _callables():
        try:
            parameters = inspect.signature(function).parameters.values()
        except (TypeError, ValueError):
            continue
        for parameter in parameters:
            if parameter.default is not inspect.Parameter.empty:
                yield module, name, parameter.name, parameter.default


def _setting_of(name, keyword):
    if (name, keyword) in NOT_SETTINGS:
        return None
    return SPECIFIC_SETTINGS.get((name, keyword), KEYWORD_SETTINGS.get(keyword))


def default_mismatches(keyword_defaults):
    """What is wrong with each keyword default that is a setting: outside the kernels it must be
    None (the setting, resolved by the function); a kernel (numpy/numba only, no settings) may
    write the setting's value as a literal, which must then be the packaged one."""
    wrong, checked = [], 0
    for module, name, keyword, default in keyword_defaults:
        setting = _setting_of(name, keyword)
        if setting is None:
            continue
        checked += 1
        if default is None:
            continue
        if module != "vegdask.kernels":
            wrong.append(f"{module}.{name}({keyword}={default!r}): None takes {setting}")
        elif default != SETTINGS[setting]:
            wrong.append(
                f"{module}.{name}({keyword}={default!r}) but {setting} = {SETTINGS[setting]!r}"
            )
    return wrong, checked


def test_every_public_keyword_that_is_a_setting_defaults_to_it():
    wrong, checked = default_mismatches(_keyword_defaults())
    assert wrong == []
    assert checked > 140  # the walk found the keywords of every subpackage


def _documents_its_setting(text, setting):
    section = setting.split(".")[0]
    return setting in text or f"vegdask.{section}" in text or "setting" in text


def test_every_keyword_left_as_none_for_its_setting_says_so():
    """A docstring (the function's, or its class's) names the setting a None keyword takes."""
    undocumented = []
    for module, name, function in _callables():
        try:
            parameters = inspect.signature(function).parameters.values()
        except (TypeError, ValueError):
            continue
        owner = getattr(importlib.import_module(module), name)
        text = (inspect.getdoc(function) or "") + (inspect.getdoc(owner) or "")
        for parameter in parameters:
            setting = _setting_of(name, parameter.name)
            if setting and parameter.default is None and not _documents_its_setting(text, setting):
                undocumented.append(f"{module}.{function.__qualname__}({parameter.name})")
    assert undocumented == []


def test_a_planted_mismatch_is_found():
    found = list(_keyword_defaults())
    planted = [
        ("vegdask.compute", "tile_metrics", "num_quantiles", 20),  # a literal outside kernels
        ("vegdask.kernels", "surrogate_test", "window", 0.6),  # a kernel's wrong literal
        ("vegdask.cluster", "submit_run", "hours", 24.0),
        ("vegdask.data.earthengine", "earthengine_scene", "cloud_threshold", 0.6),  # a source's
    ]
    wrong, _ = default_mismatches(found + planted)
    assert wrong == [
        "vegdask.compute.tile_metrics(num_quantiles=20): None takes processing.num-quantiles",
        "vegdask.kernels.surrogate_test(window=0.6) but analysis.window = 0.5",
        "vegdask.cluster.submit_run(hours=24.0): None takes azure.job-hours",
        "vegdask.data.earthengine.earthengine_scene(cloud_threshold=0.6): None takes "
        "source.earthengine.cloud-threshold",
    ]


def test_every_setting_and_exception_named_here_exists():
    for setting in [*KEYWORD_SETTINGS.values(), *SPECIFIC_SETTINGS.values()]:
        assert setting in SETTINGS, setting
    walked = {(name, keyword) for _, name, keyword, _ in _keyword_defaults()}
    assert set(SPECIFIC_SETTINGS) - walked == set()
    assert set(NOT_SETTINGS) - walked == set()


def test_every_source_option_but_a_required_one_is_a_setting():
    declared = {
        option.setting
        for options in SOURCE_OPTIONS.values()
        for option in options.values()
        if not option.required
    }
    assert declared == {key for key in SETTINGS if key.startswith("source.")}
    assert len(declared) > 20  # every kind's
    required = [k for options in SOURCE_OPTIONS.values() for k, o in options.items() if o.required]
    assert sorted(required) == ["catalog", "path"]
    assert source_defaults("synthetic") == {
        "seed": SETTINGS["source.synthetic.seed"],
        "rainfall_start": SETTINGS["source.synthetic.rainfall-start"],
        "rainfall_end": SETTINGS["source.synthetic.rainfall-end"],
    }


def test_a_source_option_left_out_follows_its_setting():
    from vegdask.data import earthengine_scene, synthetic_scene
    from vegdask.pipeline import validate_config

    def built():
        scene, weather = earthengine_scene(
            "2020-01-01", "2020-03-01", location=(27.94, 11.58), size=100
        )
        return scene.attrs["cloud_masking"], weather is None

    def synthetic():
        scene, weather = synthetic_scene("2016-01-01", "2016-03-01", size=20, spinup_steps=1)
        return scene.attrs["seed"], weather["total_precipitation"].to_numpy()

    assert built() == ("Cloud Score+ cs_cdf >= 0.6", False)
    seed, rain = synthetic()
    _, given = synthetic_scene(
        "2016-01-01", "2016-03-01", size=20, spinup_steps=1, seed=3, rainfall=(1.0, 0.5)
    )
    stac = {"source": {"kind": "stac", "catalog": "https://example.com/stac"}}
    assert validate_config(stac)["source"]["resolution"] == 10.0
    with dask.config.set(
        {
            "vegdask.source.earthengine.cloud-threshold": 0.45,
            "vegdask.source.earthengine.weather": False,
            "vegdask.source.stac.resolution": 20.0,
            "vegdask.source.synthetic.seed": 3,
            "vegdask.source.synthetic.rainfall-start": 1.0,
            "vegdask.source.synthetic.rainfall-end": 0.5,
        }
    ):
        assert (seed, synthetic()[0]) == (0, 3)
        np.testing.assert_allclose(synthetic()[1], given["total_precipitation"].to_numpy())
        assert not np.allclose(rain, synthetic()[1])  # the setting's rain is another
        assert built() == ("Cloud Score+ cs_cdf >= 0.45", True)
        assert validate_config(stac)["source"]["resolution"] == 20.0  # the effective config's


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


# Command-line options named as a setting that are another quantity, and why.
CLI_NOT_SETTINGS = {
    ("batch-emulator", "account_name"): "the emulator's own account, served (not a client's)",
    ("batch-emulator", "account_key"): "the emulator's own account key",
    ("config", "size"): "vegdask config new's location.size",
}


def _flag_settings(action):
    """The setting an option is declared with (None: not declared with one)."""
    option = getattr(action, "option", None)
    return None if option is None else option.setting


def cli_mismatches(options):
    """What is wrong with each command-line option that is a setting: it must be generated
    from its declaration (default None: the setting; help and choices the declaration's) and
    an option named as a setting must be declared with it."""
    wrong, checked = [], 0
    for prefix, action in options:
        command = " ".join(prefix)
        setting = _flag_settings(action)
        if setting is None:
            named = KEYWORD_SETTINGS.get(action.dest)
            if named and (*prefix[:1], action.dest) not in CLI_NOT_SETTINGS:
                wrong.append(f"vegdask {command} {action.option_strings[0]}: not from {named}")
            continue
        checked += 1
        option = action.option
        if setting not in SETTINGS:
            wrong.append(f"vegdask {command} {action.option_strings[0]}: no setting {setting}")
        if action.default is not None:
            wrong.append(f"vegdask {command} {action.option_strings[0]}={action.default!r}")
        if action.choices != option.choices or action.help != option.help_text():
            wrong.append(f"vegdask {command} {action.option_strings[0]}: not the declaration's")
    return wrong, checked


def test_every_cli_option_that_is_a_setting_is_generated_from_its_declaration():
    options = list(_options(build_parser()))
    wrong, checked = cli_mismatches(options)
    assert wrong == []
    assert checked > 35  # analyse's, run's, fetch's, submit's, plan's, batch's, ...
    assert set(CLI_NOT_SETTINGS) <= {(*prefix[:1], action.dest) for prefix, action in options}


def test_a_planted_cli_mismatch_is_found():
    parser = argparse.ArgumentParser(prog="vegdask")
    sub = parser.add_subparsers().add_parser("simulate")
    sub.add_argument("--seed", type=int, default=0, help="seed")
    action = sub._actions[-1]
    assert cli_mismatches([(("simulate",), action)])[0] == [
        "vegdask simulate --seed: not from analysis.seed"
    ]


def test_analyse_options_are_generated_from_the_declarations():
    actions = {
        action.dest: action for prefix, action in _options(build_parser()) if prefix == ("analyse",)
    }
    declared = [k for k, option in ANALYSIS_OPTIONS.items() if option.setting is not None]
    assert declared
    for key in declared:
        option = ANALYSIS_OPTIONS[key]
        action = actions[ANALYSIS_PARAMETERS.get(key, key)]
        assert action.option is option, key
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
