"""vegdask's settings: every key declared once, with its default, in ``vegdask/vegdask.yaml``.

:func:`get` is the one way to read one: an explicit argument wins over :mod:`dask.config`
(``vegdask.<key>``: the user's ``~/.config/dask/*.yaml``, ``DASK_VEGDASK__*`` environment
variables, ``dask.config.set``), which wins over the key's standard environment variable
(:data:`ENVIRONMENT`, e.g. ``AZURE_STORAGE_CONNECTION_STRING``), which wins over the packaged
default. A job config's values are explicit arguments.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import dask.config
import yaml

_DEFAULTS_FILE = Path(__file__).with_name("vegdask.yaml")

__all__ = ["ENVIRONMENT", "get"]

#: Settings that also come from a standard environment variable (after dask config).
ENVIRONMENT: dict[str, str] = {
    "azure.batch-url": "AZURE_BATCH_URL",
    "azure.account-name": "AZURE_BATCH_ACCOUNT",
    "azure.account-key": "AZURE_BATCH_KEY",
    "azure.storage-connection-string": "AZURE_STORAGE_CONNECTION_STRING",
    "azure.storage-account-name": "AZURE_STORAGE_ACCOUNT_NAME",
    "azure.storage-account-key": "AZURE_STORAGE_ACCOUNT_KEY",
}


@lru_cache(maxsize=1)
def _packaged_defaults() -> dict[str, Any]:
    with _DEFAULTS_FILE.open() as f:
        return yaml.safe_load(f)


def _declared(name: str) -> bool:
    node: Any = _packaged_defaults()
    for part in name.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def get(key: str, value: Any = None) -> Any:
    """Return ``value`` if given, else the ``vegdask.<key>`` setting (None if it has none).

    The packaged defaults are read from the package, not registered into dask.config, so they hold
    whatever ``dask.config.set`` blocks come and go.

    Raises
    ------
    KeyError
        If ``key`` is not declared in ``vegdask.yaml``.

    Examples
    --------
    >>> get("analysis.window")
    0.5
    >>> get("analysis.window", 0.25)
    0.25
    >>> with dask.config.set({"vegdask.analysis.window": 0.75}):
    ...     get("analysis.window")
    0.75
    """
    if value is not None:
        return value
    name = f"vegdask.{key}"
    if not _declared(name):
        raise KeyError(f"no configuration setting {name!r} is declared in vegdask.yaml")
    found = dask.config.get(name, default=None)
    if found is None and key in ENVIRONMENT:
        found = os.environ.get(ENVIRONMENT[key]) or None
    if found is None:
        found = dask.config.get(name, default=None, config=_packaged_defaults())
    return found
