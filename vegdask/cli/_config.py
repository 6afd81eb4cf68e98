"""``vegdask config show|demo``: the effective job config, as TOML."""

from __future__ import annotations

import argparse
from typing import Any

from vegdask.cli._common import CLIError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``config`` subcommand."""
    parser = subparsers.add_parser("config", help="show the effective or the demo job config")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = actions.add_parser("show", help="the effective config of CONFIG (validated)")
    show.add_argument("config", nargs="?", help="TOML job config (default: the demo's)")
    show.set_defaults(func=_show)
    demo = actions.add_parser("demo", help="the embedded demo's config")
    demo.set_defaults(func=lambda args: _print(_load(None)))


def _load(path: str | None) -> dict[str, Any]:
    from vegdask.pipeline import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as err:
        raise CLIError(str(err)) from err


def _show(args: argparse.Namespace) -> int:
    return _print(_load(args.config))


def _print(config: dict[str, Any]) -> int:
    print(to_toml(config), end="")
    return 0


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def to_toml(config: dict[str, dict[str, Any]]) -> str:
    """Render a job config (tables of scalars) as TOML.

    Examples
    --------
    >>> print(to_toml({"time": {"start": "2016-01-01", "period": "1m"}}), end="")
    [time]
    start = "2016-01-01"
    period = "1m"
    """
    lines = []
    for section, values in config.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {_value(value)}" for key, value in values.items())
        lines.append("")
    return "\n".join(lines[:-1]) + "\n"
