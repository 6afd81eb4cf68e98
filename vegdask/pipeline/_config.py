"""The job config: TOML, validated entirely before anything runs.

A config has the sections ``location``, ``time``, ``source``, ``output``, ``cluster``,
``processing`` and ``analysis``; every key is optional except where the demo's default would be
meaningless. ``DEMO_CONFIG`` is the embedded offline demo.

A location is a catalogue id (``id = "17"``, see :func:`vegdask.data.locations`) or a longitude
and latitude; ``size`` is the scene side in pixels (for a catalogue id, pyveg's 0.08-degree region
at the source's resolution unless given). The ``source`` keys depend on its ``kind``.
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

from vegdask.compute import GRAPH_CLASSES
from vegdask.data import (
    EARTHENGINE_COLLECTIONS,
    SOURCE_KINDS,
    SOURCE_OPTIONS,
    TILE_SIZE,
    location,
    make_periods,
    region_pixels,
    source_defaults,
)
from vegdask.kernels import AR1_ESTIMATORS

__all__ = [
    "DEMO_CONFIG",
    "MAX_SIZE",
    "ConfigError",
    "analysis_arguments",
    "config_warnings",
    "dump_config",
    "load_config",
    "read_config",
    "validate_config",
]


class ConfigError(ValueError):
    """A config value is wrong: the message names the field and what is allowed."""


#: Largest scene side (pixels): a period is processed whole by one task, in one worker's memory.
MAX_SIZE = 8_000
# Peak memory per scene pixel of one period's fetch and process, for the estimate in the message:
# one 2000 x 2000 synthetic period took 372 MB (docs/pipeline.md).
_BYTES_PER_PIXEL = 100


DEMO_CONFIG: dict[str, Any] = {
    "location": {"longitude": 27.94, "latitude": 11.58, "size": 500},
    "time": {"start": "2016-01-01", "end": "2020-01-01", "period": "1m"},
    "source": {"kind": "synthetic", **source_defaults("synthetic")},
    "output": {"url": "vegdask-demo"},
    "cluster": {"kind": "local", "workers": 2},
    "processing": {
        "tile_size": TILE_SIZE,
        "num_quantiles": 20,
        "diagonal": False,
        "graph_class": "bare",
        "max_masked_fraction": 0.05,
        "max_masked_period_fraction": 1.0,
    },
    "analysis": {"enabled": True},
}


def _known_location(value: str) -> bool:
    try:
        location(value)
    except KeyError:
        return False
    return True


def _analysis_names(name: str) -> Any:
    # vegdask.analysis (matplotlib, statsmodels) is imported only to check an [analysis] key.
    import vegdask.analysis

    return getattr(vegdask.analysis, name)


# field -> (type(s), check, what is allowed)
_SCHEMA: dict[str, dict[str, tuple[Any, Any, str]]] = {
    "location": {
        "id": (str, _known_location, "a catalogue id such as '17' (vegdask.data.locations())"),
        "longitude": ((int, float), lambda v: -180 <= v <= 180, "a number in [-180, 180]"),
        "latitude": ((int, float), lambda v: -90 <= v <= 90, "a number in [-90, 90]"),
        "size": (int, lambda v: v >= 50, "an integer >= 50 (pixels per side)"),
    },
    "time": {
        "start": (str, None, "a date YYYY-MM-DD"),
        "end": (str, None, "a date YYYY-MM-DD"),
        "period": (str, None, "<N><d|w|m|y>, e.g. '1m'"),
    },
    "source": {"kind": (str, lambda v: v in SOURCE_KINDS, f"one of {list(SOURCE_KINDS)}")},
    "output": {"url": (str, lambda v: bool(v.strip()), "a local path or abfs:// URL")},
    "cluster": {
        "kind": (str, lambda v: bool(v.strip()), "'local', 'azure-batch' or a scheduler address"),
        "workers": (int, lambda v: v >= 1, "an integer >= 1"),
    },
    "processing": {
        "tile_size": (int, lambda v: v >= 4, "an integer >= 4"),
        "num_quantiles": (int, lambda v: 2 <= v <= 100, "an integer from 2 to 100"),
        "diagonal": (bool, None, "true or false"),
        "graph_class": (str, lambda v: v in GRAPH_CLASSES, f"one of {list(GRAPH_CLASSES)}"),
        "max_masked_fraction": ((int, float), lambda v: 0 < v <= 1, "a number in (0, 1]"),
        "max_masked_period_fraction": ((int, float), lambda v: 0 < v <= 1, "a number in (0, 1]"),
    },
    "analysis": {
        "enabled": (bool, None, "true or false"),
        "preset": (str, lambda v: v in _analysis_names("PRESETS"), "'pyveg'"),
        "window": ((int, float), lambda v: v > 0, "a fraction in (0, 1] or a number of samples"),
        "detrend": (
            str,
            lambda v: v in ("gaussian", "loess", "none"),
            "'gaussian', 'loess' or 'none'",
        ),
        "bandwidth": ((int, float), lambda v: v > 0, "a number > 0"),
        "bandwidth_convention": (str, lambda v: v in ("sigma", "ksmooth"), "'sigma' or 'ksmooth'"),
        "ar1": (str, lambda v: v in AR1_ESTIMATORS, f"one of {list(AR1_ESTIMATORS)}"),
        "deseasonalise": (str, lambda v: v in ("stl", "diff", "none"), "'stl', 'diff' or 'none'"),
        "n_surrogates": (int, lambda v: v >= 1, "an integer >= 1"),
        "seed": (int, lambda v: v >= 0, "an integer >= 0"),
        "sensitivity_grid": (
            str,
            lambda v: v in _analysis_names("GRIDS"),
            "'pyveg' or 'earlywarnings'",
        ),
        "sensitivity_surrogates": (int, lambda v: v >= 1, "an integer >= 1"),
        "tile_surrogates": (int, lambda v: v >= 0, "an integer >= 0"),
        "outlier_sigmas": ((int, float), lambda v: v >= 0, "a number >= 0 (0: none removed)"),
        "interpolate_gaps": (bool, None, "true or false"),
        "spatial_permutations": (int, lambda v: v >= 0, "an integer >= 0"),
        "report": (bool, None, "true or false"),
        "pdf": (bool, None, "true or false"),
    },
}
# [analysis] keys named differently from analyse_results' parameters.
_ANALYSIS_PARAMETERS = {"deseasonalise": "deseasonalise_method"}


def analysis_arguments(analysis: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments of :func:`vegdask.analysis.analyse_results` from an [analysis] section.

    Examples
    --------
    >>> analysis_arguments({"enabled": True, "preset": "pyveg", "deseasonalise": "none"})
    {'preset': 'pyveg', 'deseasonalise_method': 'none'}
    """
    return {
        _ANALYSIS_PARAMETERS.get(key, key): value
        for key, value in analysis.items()
        if key != "enabled"
    }


# Pixel size when neither the config nor the collection gives one (Sentinel-2's), for sizing a
# catalogue location's region.
_DEFAULT_RESOLUTION = 10.0


def _check_field(
    section: str, key: str, value: Any, spec: tuple[Any, Any, str] | None = None
) -> None:
    types, check, allowed = spec or _SCHEMA[section][key]
    type_ok = isinstance(value, types) and not (isinstance(value, bool) and types is not bool)
    if not type_ok or (check is not None and not check(value)):
        raise ConfigError(f"{section}.{key} = {value!r} is not valid; expected {allowed}")


def validate_config(config: dict[str, Any]) -> dict[str, Any]:
    """Merge ``config`` over the demo's defaults and validate every field.

    Returns
    -------
    dict
        The effective config.

    Raises
    ------
    ConfigError
        Naming the first wrong section, key, type or range, and what is allowed.

    Examples
    --------
    >>> validate_config({"time": {"period": "2m"}})["time"]["period"]
    '2m'
    >>> try:
    ...     validate_config({"processing": {"graph_class": "trees"}})
    ... except ConfigError as err:
    ...     print(err)
    processing.graph_class = 'trees' is not valid; expected one of ['bare', 'vegetation']
    """
    effective = copy.deepcopy(DEMO_CONFIG)
    for section, values in config.items():
        if section not in _SCHEMA:
            raise ConfigError(f"unknown section [{section}]; allowed: {sorted(_SCHEMA)}")
        if not isinstance(values, dict):
            raise ConfigError(f"[{section}] must be a table of keys, got {values!r}")
    for section, values in config.items():
        if section == "source":
            effective["source"] = _validate_source(values)
            continue
        for key, value in values.items():
            if key not in _SCHEMA[section]:
                raise ConfigError(
                    f"unknown key {section}.{key}; allowed: {sorted(_SCHEMA[section])}"
                )
            _check_field(section, key, value)
            effective[section][key] = value
    _resolve_location(effective, config.get("location", {}))
    _check_size(effective["location"]["size"])
    _check_tiles(effective)
    time = effective["time"]
    try:
        make_periods(time["start"], time["end"], time["period"])
    except ValueError as err:
        raise ConfigError(f"time: {err}") from err
    return effective


def _check_size(size: int) -> None:
    """A period of ``size`` x ``size`` pixels fits in a worker: at most :data:`MAX_SIZE` a side.

    Examples
    --------
    >>> try:
    ...     _check_size(200_000)
    ... except ConfigError as err:
    ...     print(err)  # doctest: +ELLIPSIS
    location.size = 200000 is too large: 4e+10 pixels a period, about 4000 GB of memory ...
    """
    if size > MAX_SIZE:
        gigabytes = size * size * _BYTES_PER_PIXEL / 1e9
        raise ConfigError(
            f"location.size = {size} is too large: {size * size:.0e} pixels a period, about "
            f"{gigabytes:.0f} GB of memory to process each one; expected an integer from 50 to "
            f"{MAX_SIZE} (split a larger area into several jobs, e.g. a [campaign])"
        )


def config_warnings(config: dict[str, Any]) -> list[str]:
    """What a user must know before a job runs: simulated data standing in for a real site.

    Examples
    --------
    >>> config_warnings(validate_config({"location": {"id": "17"}}))[0][:52]
    'the source is synthetic: the data are simulated (the'
    >>> config_warnings(validate_config({}))
    []
    """
    place = config["location"]
    if config["source"]["kind"] != "synthetic" or "id" not in place:
        return []
    return [
        "the source is synthetic: the data are simulated (the Rietkerk model), not observations of "
        f"location {place['id']}; set [source] kind to earthengine, stac or local for real imagery"
    ]


def _check_tiles(effective: dict[str, Any]) -> None:
    """The tile fits in the scene, and a tile has pixels enough for the quantiles asked for."""
    processing, size = effective["processing"], effective["location"]["size"]
    tile_size = processing["tile_size"]
    if effective["source"]["kind"] != "local" and tile_size > size:  # a folder's size is its own
        raise ConfigError(
            f"processing.tile_size = {tile_size} is larger than the scene (location.size = {size} "
            f"pixels); expected an integer in [4, {size}]"
        )
    pixels = tile_size * tile_size
    if processing["num_quantiles"] > pixels:
        raise ConfigError(
            f"processing.num_quantiles = {processing['num_quantiles']} is not valid; expected an "
            f"integer in [2, {pixels}] (a {tile_size}x{tile_size} tile has {pixels} pixels)"
        )


def _validate_source(values: dict[str, Any]) -> dict[str, Any]:
    kind = values.get("kind", DEMO_CONFIG["source"]["kind"])
    _check_field("source", "kind", kind)
    options = SOURCE_OPTIONS[kind]
    for key, value in values.items():
        if key == "kind":
            continue
        if key not in options:
            raise ConfigError(
                f"unknown key source.{key} for kind {kind!r}; allowed: {sorted(options)}"
            )
        option = options[key]
        _check_field("source", key, value, (option.types, option.check, option.allowed))
    missing = [key for key, option in options.items() if option.required and key not in values]
    if missing:
        raise ConfigError(f"source kind {kind!r} needs source.{missing[0]}")
    return {"kind": kind, **source_defaults(kind), **values}


def _resolve_location(effective: dict[str, Any], given: dict[str, Any]) -> None:
    """Fill a catalogue location's coordinates (and, unless given, its size in pixels)."""
    if "id" not in given:
        return
    entry = location(given["id"])
    # An effective config (config show, run.json) holds both; they must then agree.
    clash = [k for k in ("longitude", "latitude") if k in given and given[k] != getattr(entry, k)]
    if clash:
        raise ConfigError(
            f"location.{clash[0]} = {given[clash[0]]} contradicts location.id = {entry.id!r} "
            f"({clash[0]} {getattr(entry, clash[0])}); give a catalogue id or coordinates"
        )
    place = effective["location"]
    place.update(id=entry.id, longitude=entry.longitude, latitude=entry.latitude)
    if "size" not in given:
        place["size"] = region_pixels(entry.region_size, _resolution(effective["source"]))


def _resolution(source: dict[str, Any]) -> float:
    """The source's pixel size: the config's, else its Earth Engine collection's, else 10 m."""
    if source.get("resolution"):
        return float(source["resolution"])
    collection = EARTHENGINE_COLLECTIONS.get(source.get("collection", ""))
    return collection.resolution if collection else _DEFAULT_RESOLUTION


def read_config(
    path: str | Path | None, *, overrides: dict[str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The raw (not yet validated) TOML of a config file, ``overrides`` merged over it.

    Parameters
    ----------
    path : str or Path, optional
        The TOML file; None for none (only the overrides).
    overrides : dict, optional
        ``{section: {key: value}}`` merged over the file's values (e.g. the command line's
        ``--output``).

    Raises
    ------
    ConfigError
        If the file is missing, unreadable or not TOML.

    Examples
    --------
    >>> read_config(None, overrides={"output": {"url": "runs/a"}, "cluster": {}})
    {'output': {'url': 'runs/a'}}
    """
    raw: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        try:
            with path.open("rb") as f:
                raw = tomllib.load(f)
        except FileNotFoundError as err:
            raise ConfigError(f"config file {path} not found") from err
        except IsADirectoryError as err:
            raise ConfigError(f"config {path} is a directory; give a TOML file") from err
        except PermissionError as err:
            raise ConfigError(f"config file {path} cannot be read (permission denied)") from err
        except UnicodeDecodeError as err:
            raise ConfigError(f"{path} is not valid TOML: not UTF-8 text ({err.reason})") from err
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{path} is not valid TOML: {err}") from err
        except OSError as err:
            raise ConfigError(f"config file {path} cannot be read: {err.strerror or err}") from err
    for section, values in (overrides or {}).items():
        if values and isinstance(raw.get(section, {}), dict):  # else validation names it
            raw[section] = {**raw.get(section, {}), **values}
    return raw


def load_config(
    path: str | Path | None, *, overrides: dict[str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Read and validate a TOML job config; ``None`` gives the demo's.

    Parameters
    ----------
    path : str or Path, optional
        The TOML file; None for the demo's config.
    overrides : dict, optional
        ``{section: {key: value}}`` merged over the file's values before validation (e.g. the
        command line's ``--output``).

    Raises
    ------
    ConfigError
        If the file is missing, is not TOML, or a field is wrong.

    Examples
    --------
    >>> load_config(None, overrides={"output": {"url": "abfs://runs/demo"}})["output"]["url"]
    'abfs://runs/demo'
    """
    return validate_config(read_config(path, overrides=overrides))


def dump_config(config: dict[str, dict[str, Any]]) -> str:
    """A job config (tables of scalars) as TOML: the inverse of :func:`load_config`.

    Examples
    --------
    >>> print(dump_config({"time": {"start": "2016-01-01", "period": "1m"}}), end="")
    [time]
    start = "2016-01-01"
    period = "1m"
    >>> print(dump_config({"source": {"kind": "local", "bands": {"B4": "red"}}}), end="")
    [source]
    kind = "local"
    bands = { "B4" = "red" }
    """
    lines = []
    for section, values in config.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {_toml(value)}" for key, value in values.items())
        lines.append("")
    return "\n".join(lines[:-1]) + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):  # e.g. a campaign's locations
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):  # e.g. a local source's bands, as an inline table
        return "{ " + ", ".join(f"{_toml(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    return repr(value)
