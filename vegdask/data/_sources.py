"""One entry point for every imagery source, by kind, as job configs name them.

Each source declares here, once, the options a job config's ``[source]`` table may give it
(:data:`SOURCE_OPTIONS`, each a :class:`vegdask.config.Option`, as every option is declared);
each optional one's default is the setting ``vegdask.source.<kind>.<option>`` (``vegdask.yaml``;
:func:`source_defaults`), which the source function's keyword left as None takes too, and
:func:`source_arguments` turns them into the function's keyword arguments.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import xarray as xr

from vegdask.config import Option
from vegdask.data._scene import BANDS, SCENE_VARIABLES

__all__ = [
    "SOURCE_KINDS",
    "SOURCE_OPTIONS",
    "open_source",
    "source_arguments",
    "source_defaults",
]

# kind -> (module, function); imported on use: Earth Engine and STAC are optional extras.
_SOURCES: dict[str, tuple[str, str]] = {
    "synthetic": ("vegdask.data._synthetic", "synthetic_scene"),
    "earthengine": ("vegdask.data.earthengine", "earthengine_scene"),
    "stac": ("vegdask.data.stac", "stac_scene"),
    "local": ("vegdask.data._local", "local_scene"),
}
SOURCE_KINDS: tuple[str, ...] = tuple(_SOURCES)


def _signer_name(value: str) -> bool:
    return value in ("planetary-computer", "none") or (value.startswith("sas:") and len(value) > 4)


def _asset_names(value: dict[str, Any]) -> bool:
    return all(k in (*BANDS, "scl") and isinstance(v, str) for k, v in value.items())


def _band_names(value: dict[str, Any]) -> bool:
    return all(isinstance(v, str) and v in SCENE_VARIABLES for v in value.values())


def _non_empty(value: str) -> bool:
    return bool(value.strip())


def _name(*, required: bool = False, shown: bool = False) -> Option:
    return Option(str, _non_empty, "a non-empty string", required=required, shown=shown)


def _number(check: Callable[[Any], bool] | None, allowed: str, *, shown: bool = False) -> Option:
    return Option((int, float), check, allowed, shown=shown)


_POSITIVE = _number(lambda v: v > 0, "a number > 0")
_FLAG = Option(bool, None, "true or false")


def _with_settings(kind: str, options: dict[str, Option]) -> dict[str, Option]:
    """``options``, each optional one's default the setting ``source.<kind>.<option>``."""
    return {
        name: option
        if option.required
        else replace(option, setting=f"source.{kind}.{name.replace('_', '-')}")
        for name, option in options.items()
    }


_DECLARED: dict[str, dict[str, Option]] = {
    "synthetic": {
        "seed": Option(int, lambda v: v >= 0, "an integer >= 0", shown=True),
        "rainfall_start": _number(lambda v: v > 0, "a number > 0 (mm/day)", shown=True),
        "rainfall_end": _number(lambda v: v > 0, "a number > 0 (mm/day)", shown=True),
        "rainfall_seasonality": _number(lambda v: 0 <= v < 1, "a number in [0, 1)"),
        "rainfall_patchiness": _number(lambda v: 0 <= v <= 1, "a number in [0, 1]"),
        "spinup_years": Option(int, lambda v: 0 <= v <= 50, "an integer in [0, 50]"),
    },
    "earthengine": {
        "collection": _name(shown=True),
        "resolution": _POSITIVE,
        "project": _name(),
        "cloud_threshold": _number(lambda v: 0 <= v <= 1, "a number in [0, 1]"),
        "cloud_score_band": Option(str, lambda v: v in ("cs", "cs_cdf"), "'cs_cdf' or 'cs'"),
        "mask_snow": _FLAG,
        "max_request_bytes": Option(int, lambda v: v > 0, "an integer > 0"),
        "weather": Option(bool, None, "true or false", shown=True),
    },
    "stac": {
        "catalog": _name(required=True),
        "collection": _name(shown=True),
        "resolution": _number(lambda v: v > 0, "a number > 0", shown=True),
        "max_cloud": _number(lambda v: 0 <= v <= 100, "a percentage in [0, 100]"),
        "sign": Option(str, _signer_name, "'planetary-computer', 'sas:<ENV_VAR>' or 'none'"),
        "assets": Option(dict, _asset_names, "a table of Scene band (or scl) = asset key"),
        "timeout": _POSITIVE,
    },
    "local": {
        "path": _name(required=True),
        "collection": _name(),
        "scale": _POSITIVE,
        "offset": _number(None, "a number"),
        "bands": Option(dict, _band_names, "a table of file band name = Scene band"),
    },
}
#: Per source kind: the options of its ``[source]`` table (as the function's keyword arguments),
#: each optional one's default the setting ``vegdask.source.<kind>.<option>``.
SOURCE_OPTIONS: dict[str, dict[str, Option]] = {
    kind: _with_settings(kind, options) for kind, options in _DECLARED.items()
}
# Options that are one element of a function argument: kind -> {option: (argument, index)}.
_PACKED = {"synthetic": {"rainfall_start": ("rainfall", 0), "rainfall_end": ("rainfall", 1)}}


def _function(kind: str) -> Callable[..., tuple[xr.Dataset, xr.Dataset | None]]:
    if kind not in _SOURCES:
        raise ValueError(f"unknown source kind {kind!r}; allowed: {list(SOURCE_KINDS)}")
    module, function = _SOURCES[kind]
    return getattr(importlib.import_module(module), function)


def source_defaults(kind: str) -> dict[str, Any]:
    """The defaults of source ``kind``'s shown options: their settings (``vegdask.source.*``).

    Examples
    --------
    >>> source_defaults("synthetic")
    {'seed': 0, 'rainfall_start': 1.3, 'rainfall_end': 0.6}
    >>> import dask
    >>> with dask.config.set({"vegdask.source.stac.resolution": 20.0}):
    ...     source_defaults("stac")
    {'collection': 'sentinel-2-l2a', 'resolution': 20.0}
    """
    return {key: option.default() for key, option in SOURCE_OPTIONS[kind].items() if option.shown}


def source_arguments(
    kind: str, options: dict[str, Any], *, location: tuple[float, float], size: int
) -> dict[str, Any]:
    """Keyword arguments of source ``kind``'s function from its ``[source]`` options.

    A source that reads its own grid (local files) takes no ``location`` and ``size``.

    Examples
    --------
    >>> source_arguments("synthetic", {"seed": 1, "rainfall_start": 1.0, "rainfall_end": 0.5},
    ...                  location=(27.9, 11.6), size=100)  # doctest: +NORMALIZE_WHITESPACE
    {'location': (27.9, 11.6), 'size': 100, 'seed': 1, 'rainfall': (1.0, 0.5)}
    """
    arguments = {k: v for k, v in options.items() if k != "kind"}
    packed: dict[str, dict[int, Any]] = {}
    for key, (argument, index) in _PACKED.get(kind, {}).items():
        packed.setdefault(argument, {})[index] = arguments.pop(key)
    arguments.update({name: tuple(v[i] for i in sorted(v)) for name, v in packed.items()})
    if "location" not in inspect.signature(_function(kind)).parameters:
        return arguments  # the files' own grid
    return {"location": location, "size": size, **arguments}


def open_source(
    kind: str, start: str, end: str, period: str, **options: Any
) -> tuple[xr.Dataset, xr.Dataset | None]:
    """The lazy Scene (and weather, where the source has it) of source ``kind``.

    Parameters
    ----------
    kind : {"synthetic", "earthengine", "stac", "local"}
        The source.
    start, end, period : str
        The date range and period length.
    **options
        The source function's keyword arguments (e.g. ``location``, ``size``, ``collection``).

    Raises
    ------
    ValueError
        If ``kind`` is not a known source.

    Examples
    --------
    >>> scene, weather = open_source(
    ...     "synthetic", "2016-01-01", "2016-03-01", "1m", size=100, spinup_steps=10
    ... )
    >>> scene.attrs["source"], scene.sizes["time"]
    ('synthetic', 2)
    """
    return _function(kind)(start, end, period, **options)
