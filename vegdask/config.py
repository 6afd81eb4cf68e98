"""vegdask's settings: every key declared once, with its default, in ``vegdask/vegdask.yaml``.

:func:`get` is the one way to read one: an explicit argument wins over :mod:`dask.config`
(``vegdask.<key>``: the user's ``~/.config/dask/*.yaml``, ``DASK_VEGDASK__*`` environment
variables, ``dask.config.set``), which wins over the key's standard environment variable
(:data:`ENVIRONMENT`, e.g. ``AZURE_STORAGE_CONNECTION_STRING``), which wins over the packaged
default. A job config's values are explicit arguments.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

_DEFAULTS_FILE = Path(__file__).with_name("vegdask.yaml")

__all__ = ["ENVIRONMENT", "Option", "flag", "get"]

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


_UNDECLARED = object()


def _packaged(name: str) -> Any:
    """The packaged default of ``vegdask.<key>`` (``_UNDECLARED`` if there is no such key)."""
    node: Any = _packaged_defaults()
    for part in name.split("."):
        if not isinstance(node, dict) or part not in node:
            return _UNDECLARED
        node = node[part]
    return node


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
    >>> import dask
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
    import dask.config  # here: the command line's help and options need no dask

    name = f"vegdask.{key}"
    if _packaged(name) is _UNDECLARED:
        raise KeyError(f"no configuration setting {name!r} is declared in vegdask.yaml")
    found = dask.config.get(name, default=None)
    if found is None and key in ENVIRONMENT:
        found = os.environ.get(ENVIRONMENT[key]) or None
    if found is None:
        found = dask.config.get(name, default=None, config=_packaged_defaults())
    return found


def flag(key: str, value: bool | None = None) -> bool:
    """A yes/no setting: ``value`` if given, else :func:`get`'s, however it is spelled.

    YAML and ``dask.config.set`` give a bool; an environment variable (``DASK_VEGDASK__...``)
    gives text: ``1``, ``true`` and ``yes`` (any case) are yes, anything else no.

    Examples
    --------
    >>> import dask
    >>> flag("azure.low-priority"), flag("azure.low-priority", True)
    (False, True)
    >>> with dask.config.set({"vegdask.azure.low-priority": "Yes"}):
    ...     flag("azure.low-priority"), flag("azure.low-priority", False)
    (True, False)
    """
    return str(get(key, value)).lower() in ("1", "true", "yes")


@dataclass(frozen=True)
class Option:
    """One option a user gives: a job config key, a command-line option, a keyword argument.

    What is valid is said once, here: ``types`` and ``check`` decide it, ``allowed`` says it to
    the user (in :meth:`error`); ``choices`` (when the value is one of a few strings) gives both
    and the command line's ``choices``. ``setting`` is the ``vegdask.yaml`` key (without
    ``vegdask.``) holding the option's default, read by :meth:`default`; ``help`` is the
    command line's help text, which :meth:`help_text` completes with that default (at its end),
    or with ``unset`` (what applies instead) while the setting has no value; ``{setting}`` in
    it names the setting and its packaged value instead, without reading the settings (no dask
    import: ``vegdask run --help`` starts fast). A ``required`` option has no default; a
    ``shown`` one is written into the effective config.

    Examples
    --------
    >>> window = Option((int, float), lambda v: v > 0, "a number > 0", setting="analysis.window")
    >>> window.default(), window.error("window", -1)
    (0.5, 'window = -1 is not valid; expected a number > 0')
    >>> ar1 = Option.choice(("ols", "acf"), setting="analysis.ar1", help="AR(1) estimator")
    >>> ar1.error("ar1", "ols") is None, ar1.help_text()
    (True, 'AR(1) estimator (default: ols)')
    >>> host = Option(str, None, "a host", setting="azure.scheduler-host", help="address",
    ...               unset="the node's IP address")
    >>> host.help_text()
    "address (default: the node's IP address)"
    >>> workers = Option(int, None, "a count", setting="cluster.workers", help="N ({setting})")
    >>> workers.help_text()
    'N (vegdask.cluster.workers, 2 as packaged)'
    """

    types: type | tuple[type, ...]
    check: Callable[[Any], bool] | None
    allowed: str
    setting: str | None = None
    choices: tuple[str, ...] | None = None
    help: str = ""
    required: bool = False
    shown: bool = False
    unset: str = ""

    @classmethod
    def choice(cls, choices: tuple[str, ...], **fields: Any) -> Option:
        """An option whose value is one of ``choices`` (strings)."""
        return cls(str, choices.__contains__, f"one of {list(choices)}", choices=choices, **fields)

    def error(self, name: str, value: Any) -> str | None:
        """Why ``value`` is not valid for the option called ``name`` (one line), or None.

        A bool is not a number here, though Python's ``bool`` is an ``int``.
        """
        type_ok = isinstance(value, self.types) and (
            not isinstance(value, bool) or self.types is bool
        )
        if type_ok and (self.check is None or self.check(value)):
            return None
        return f"{name} = {value!r} is not valid; expected {self.allowed}"

    def default(self) -> Any:
        """The value of the option's setting (None: it has none); a yes/no one as :func:`flag`."""
        if self.setting is None:
            return None
        return flag(self.setting) if self.types is bool else get(self.setting)

    def help_text(self) -> str:
        """:attr:`help`, with the setting's value as the default."""
        if self.setting is None:
            return self.help
        if "{setting}" in self.help:
            packaged = _packaged(f"vegdask.{self.setting}")
            return self.help.replace("{setting}", f"vegdask.{self.setting}, {packaged} as packaged")
        default = self.default()
        if default is None:
            default = self.unset or "none"
        elif isinstance(default, list):
            default = ",".join(map(str, default))
        return f"{self.help} (default: {default})".lstrip()
