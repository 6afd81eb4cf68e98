"""Helpers shared by the subcommands."""

from __future__ import annotations


class CLIError(Exception):
    """An error the user can act on: printed as one line, exit status 2."""
