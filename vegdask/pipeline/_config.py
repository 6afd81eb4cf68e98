"""The job config: TOML, validated entirely before anything runs.

A config has the sections ``location``, ``time``, ``source``, ``output``, ``cluster``,
``processing`` and ``analysis``; every key is optional except where the demo's default would be
meaningless. ``DEMO_CONFIG`` is the embedded offline demo: where, when, what source and where
to; the ``[processing]`` and ``[cluster]`` keys a config leaves out take their settings
(``vegdask.yaml``'s ``processing`` and ``cluster``), resolved once, into the effective config.

A location is a catalogue id (``id = "17"``, see :func:`vegdask.data.locations`) or a longitude
and latitude; ``size`` is the scene side in pixels (for a catalogue id, pyveg's 0.08-degree region
at the source's resolution unless given). The ``source`` keys depend on its ``kind``.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from vegdask._options import (
    ANALYSIS_OPTIONS,
    ANALYSIS_PARAMETERS,
    CLUSTER_OPTIONS,
    PROCESSING_OPTIONS,
)
from vegdask.compute import check_tile_fits
from vegdask.config import Option
from vegdask.data import (
    EARTHENGINE_COLLECTIONS,
    SOURCE_KINDS,
    SOURCE_OPTIONS,
    location,
    make_periods,
    region_pixels,
    source_defaults,
)
from vegdask.pipeline._types import AnalysisConfig, JobConfig

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
    "source": {"kind": "synthetic"},
    "output": {"url": "vegdask-demo"},
    "analysis": {"enabled": True},
}


def _known_location(value: str) -> bool:
    try:
        location(value)
    except KeyError:
        return False
    return True


def _number(check: Any, allowed: str) -> Option:
    return Option((int, float), check, allowed)


def _text(check: Any, allowed: str) -> Option:
    return Option(str, check, allowed)


_FLAG = Option(bool, None, "true or false")

#: Per section, each key's :class:`vegdask.config.Option` (``[source]``'s: per kind, in
#: :data:`vegdask.data.SOURCE_OPTIONS`; ``[analysis]``'s: the analysis' declared options).
_SCHEMA: dict[str, dict[str, Option]] = {
    "location": {
        "id": _text(_known_location, "a catalogue id such as '17' (vegdask.data.locations())"),
        "longitude": _number(lambda v: -180 <= v <= 180, "a number in [-180, 180]"),
        "latitude": _number(lambda v: -90 <= v <= 90, "a number in [-90, 90]"),
        "size": Option(int, lambda v: v >= 50, "an integer >= 50 (pixels per side)"),
    },
    "time": {
        "start": _text(None, "a date YYYY-MM-DD"),
        "end": _text(None, "a date YYYY-MM-DD"),
        "period": _text(None, "<N><d|w|m|y>, e.g. '1m'"),
    },
    "source": {"kind": Option.choice(SOURCE_KINDS)},
    "output": {"url": _text(lambda v: bool(v.strip()), "a local path or abfs:// URL")},
    "cluster": CLUSTER_OPTIONS,
    "processing": PROCESSING_OPTIONS,
    "analysis": {"enabled": _FLAG, **ANALYSIS_OPTIONS},
}


def analysis_arguments(analysis: AnalysisConfig) -> dict[str, Any]:
    """Keyword arguments of :func:`vegdask.analysis.analyse_results` from an [analysis] section.

    Examples
    --------
    >>> analysis_arguments({"enabled": True, "preset": "pyveg", "deseasonalise": "none"})
    {'preset': 'pyveg', 'deseasonalise_method': 'none'}
    """
    return {
        ANALYSIS_PARAMETERS.get(key, key): value
        for key, value in analysis.items()
        if key != "enabled"
    }


# Pixel size when neither the config nor the collection gives one (Sentinel-2's), for sizing a
# catalogue location's region.
_DEFAULT_RESOLUTION = 10.0


def _check_field(section: str, key: str, value: Any, option: Option | None = None) -> None:
    error = (option or _SCHEMA[section][key]).error(f"{section}.{key}", value)
    if error:
        raise ConfigError(error)


def validate_config(config: dict[str, Any]) -> JobConfig:
    """Merge ``config`` over the demo's defaults and validate every field.

    Returns
    -------
    JobConfig
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
    effective = _defaults()
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
    return cast(JobConfig, effective)


def _defaults() -> dict[str, Any]:
    """The demo's config with the settings of its cluster, processing and source, read now."""
    effective = copy.deepcopy(DEMO_CONFIG)
    for section in ("cluster", "processing"):
        effective[section] = {key: option.default() for key, option in _SCHEMA[section].items()}
    effective["source"] = _validate_source(effective["source"])
    return {section: effective[section] for section in _SCHEMA}


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


def config_warnings(config: JobConfig) -> list[str]:
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
    if effective["source"]["kind"] != "local":  # a folder's size is its own: run_job checks it
        try:
            check_tile_fits(tile_size, size, size)
        except ValueError as err:
            raise ConfigError(f"processing.{err} (location.size = {size})") from None
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
        _check_field("source", key, value, options[key])
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
) -> JobConfig:
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


def dump_config(config: Mapping[str, Any]) -> str:
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
