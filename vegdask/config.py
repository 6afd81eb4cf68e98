"""Packaged configuration defaults, registered with :mod:`dask.config` under ``vegdask``.

Explicit arguments win over the job config, which wins over ``dask.config`` (and so over the
user's ``~/.config/dask/*.yaml`` and ``DASK_VEGDASK__*`` environment variables), which wins over
these defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dask.config
import yaml

_DEFAULTS_FILE = Path(__file__).with_name("vegdask.yaml")
_registered = False

__all__ = ["get"]


def _register_defaults() -> None:
    global _registered
    if not _registered:
        with _DEFAULTS_FILE.open() as f:
            dask.config.update_defaults(yaml.safe_load(f))
        _registered = True


def get(key: str, value: Any = None) -> Any:
    """Return ``value`` if given, else the ``vegdask.<key>`` setting from dask.config.

    Examples
    --------
    >>> get("tile-size")
    50
    >>> get("tile-size", 25)
    25
    """
    if value is not None:
        return value
    _register_defaults()
    return dask.config.get(f"vegdask.{key}")
