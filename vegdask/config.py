"""Configuration settings under ``vegdask`` in :mod:`dask.config`, with packaged defaults.

Explicit arguments win over the job config, which wins over ``dask.config`` (and so over the
user's ``~/.config/dask/*.yaml``, ``DASK_VEGDASK__*`` environment variables and
``dask.config.set``), which wins over the defaults packaged in ``vegdask/vegdask.yaml``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import dask.config
import yaml

_DEFAULTS_FILE = Path(__file__).with_name("vegdask.yaml")

__all__ = ["get"]


@lru_cache(maxsize=1)
def _packaged_defaults() -> dict[str, Any]:
    with _DEFAULTS_FILE.open() as f:
        return yaml.safe_load(f)


def get(key: str, value: Any = None) -> Any:
    """Return ``value`` if given, else the ``vegdask.<key>`` setting (dask.config, then default).

    The packaged defaults are read from the package, not registered into dask.config, so they hold
    whatever ``dask.config.set`` blocks come and go.

    Raises
    ------
    KeyError
        If ``key`` is neither set nor has a packaged default.

    Examples
    --------
    >>> get("tile-size")
    50
    >>> get("tile-size", 25)
    25
    >>> with dask.config.set({"vegdask.tile-size": 64}):
    ...     get("tile-size")
    64
    """
    if value is not None:
        return value
    name = f"vegdask.{key}"
    default = dask.config.get(name, default=None, config=_packaged_defaults())
    found = dask.config.get(name, default=default)
    if found is None:
        raise KeyError(f"no configuration setting {name!r} and no packaged default for it")
    return found
