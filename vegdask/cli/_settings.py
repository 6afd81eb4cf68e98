"""Command-line options declared once (:class:`vegdask.config.Option`), defaults from settings.

An option added with :func:`add_setting_option` takes its type, choices and help from its
declaration; its default is None (the library, or :func:`value`, then takes the setting), and its
help shows the setting's value when ``--help`` is asked for (``dask.config.set`` and the user's
dask config included).
"""

from __future__ import annotations

import argparse
from typing import Any

from vegdask.cli._common import CLIError
from vegdask.config import Option

__all__ = ["add_setting_option", "flag_name", "value"]


def flag_name(key: str) -> str:
    """The command-line flag of a declared key: ``n_surrogates`` -> ``--n-surrogates``."""
    return f"--{key.replace('_', '-')}"


def add_setting_option(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    key: str,
    option: Option,
    *aliases: str,
    dest: str | None = None,
) -> argparse.Action:
    """Add ``--key`` (and ``aliases``) as declared by ``option``, default None (its setting).

    A bool option is ``--key`` / ``--no-key``; one with choices takes one of them; a number
    takes an int or float as declared.
    """
    flags = [flag_name(key), *aliases]
    if option.types is bool:
        return parser.add_argument(*flags, dest=dest or key, action=_SettingFlag, option=option)
    kind = option.types if isinstance(option.types, type) else float
    return parser.add_argument(
        *flags,
        dest=dest or key,
        type=kind,
        choices=option.choices,
        metavar=None if option.choices else {int: "N", float: "X", str: None}[kind],
        action=_SettingValue,
        option=option,
    )


def value(args: argparse.Namespace, key: str, option: Option, dest: str | None = None) -> Any:
    """The option's value checked (one line naming the flag, else :class:`CLIError`), or None."""
    given = getattr(args, dest or key)
    error = None if given is None else option.error(flag_name(key), given)
    if error:
        raise CLIError(error)
    return given


class _SettingHelp:
    """An option's help, written when shown: its declaration's, with its setting's value."""

    def __init__(self, *args: Any, option: Option, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.option = option

    @property
    def help(self) -> str | None:
        # reads the settings (dask config): only for --help; argparse formats it with %
        return self.option.help_text().replace("%", "%%")

    @help.setter
    def help(self, value: str | None) -> None:
        pass  # the declaration's


class _SettingValue(_SettingHelp, argparse._StoreAction):
    """An option taking a value."""


class _SettingFlag(_SettingHelp, argparse.BooleanOptionalAction):
    """An option that is on or off (``--name`` / ``--no-name``)."""
