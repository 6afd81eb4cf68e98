"""The job config: TOML, validated entirely before anything runs.

A config has the sections ``location``, ``time``, ``source``, ``output``, ``cluster``,
``processing`` and ``analysis``; every key is optional except where the demo's default would be
meaningless. ``DEMO_CONFIG`` is the embedded offline demo.
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

from vegdask.compute import GRAPH_CLASSES
from vegdask.data import make_periods

__all__ = ["DEMO_CONFIG", "ConfigError", "load_config", "validate_config"]


class ConfigError(ValueError):
    """A config value is wrong: the message names the field and what is allowed."""


DEMO_CONFIG: dict[str, Any] = {
    "location": {"longitude": 27.94, "latitude": 11.58, "size": 500},
    "time": {"start": "2016-01-01", "end": "2020-01-01", "period": "1m"},
    "source": {"kind": "synthetic", "seed": 0, "rainfall_start": 1.3, "rainfall_end": 0.6},
    "output": {"url": "vegdask-demo"},
    "cluster": {"kind": "local", "workers": 2},
    "processing": {
        "tile_size": 50,
        "num_quantiles": 20,
        "diagonal": False,
        "graph_class": "bare",
        "max_masked_fraction": 0.05,
        "max_masked_period_fraction": 1.0,
    },
    "analysis": {"enabled": True},
}

# field -> (type(s), check, what is allowed)
_SCHEMA: dict[str, dict[str, tuple[Any, Any, str]]] = {
    "location": {
        "longitude": ((int, float), lambda v: -180 <= v <= 180, "a number in [-180, 180]"),
        "latitude": ((int, float), lambda v: -90 <= v <= 90, "a number in [-90, 90]"),
        "size": (int, lambda v: v >= 50, "an integer >= 50 (pixels per side)"),
    },
    "time": {
        "start": (str, None, "a date YYYY-MM-DD"),
        "end": (str, None, "a date YYYY-MM-DD"),
        "period": (str, None, "<N><d|w|m|y>, e.g. '1m'"),
    },
    "source": {
        "kind": (str, lambda v: v == "synthetic", "'synthetic'"),
        "seed": (int, lambda v: v >= 0, "an integer >= 0"),
        "rainfall_start": ((int, float), lambda v: v > 0, "a number > 0 (mm/day)"),
        "rainfall_end": ((int, float), lambda v: v > 0, "a number > 0 (mm/day)"),
    },
    "output": {"url": (str, lambda v: bool(v.strip()), "a local path or abfs:// URL")},
    "cluster": {
        "kind": (str, lambda v: bool(v.strip()), "'local', 'azure-batch' or a scheduler address"),
        "workers": (int, lambda v: v >= 1, "an integer >= 1"),
    },
    "processing": {
        "tile_size": (int, lambda v: v >= 4, "an integer >= 4"),
        "num_quantiles": (int, lambda v: v >= 2, "an integer >= 2"),
        "diagonal": (bool, None, "true or false"),
        "graph_class": (str, lambda v: v in GRAPH_CLASSES, f"one of {list(GRAPH_CLASSES)}"),
        "max_masked_fraction": ((int, float), lambda v: 0 < v <= 1, "a number in (0, 1]"),
        "max_masked_period_fraction": ((int, float), lambda v: 0 < v <= 1, "a number in (0, 1]"),
    },
    "analysis": {"enabled": (bool, None, "true or false")},
}


def _check_field(section: str, key: str, value: Any) -> None:
    types, check, allowed = _SCHEMA[section][key]
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
        for key, value in values.items():
            if key not in _SCHEMA[section]:
                raise ConfigError(
                    f"unknown key {section}.{key}; allowed: {sorted(_SCHEMA[section])}"
                )
            _check_field(section, key, value)
            effective[section][key] = value
    time = effective["time"]
    try:
        make_periods(time["start"], time["end"], time["period"])
    except ValueError as err:
        raise ConfigError(f"time: {err}") from err
    return effective


def load_config(path: str | Path | None) -> dict[str, Any]:
    """Read and validate a TOML job config; ``None`` gives the demo's.

    Raises
    ------
    ConfigError
        If the file is missing, is not TOML, or a field is wrong.
    """
    if path is None:
        return validate_config({})
    path = Path(path)
    try:
        with path.open("rb") as f:
            raw = tomllib.load(f)
    except FileNotFoundError as err:
        raise ConfigError(f"config file {path} not found") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path} is not valid TOML: {err}") from err
    return validate_config(raw)
