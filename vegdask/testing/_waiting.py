"""Waiting for asynchronous services (Batch tasks, worker processes) in tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["process_alive", "wait_until"]

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 60.0, interval: float = 0.05) -> T:
    """Call ``predicate`` until it returns something truthy, and return that.

    Raises
    ------
    AssertionError
        If ``timeout`` seconds pass first.

    Examples
    --------
    >>> calls = []
    >>> wait_until(lambda: calls.append(1) or len(calls) >= 3)
    True
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not reached within {timeout} s")
        time.sleep(interval)


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (Linux ``/proc``).

    Examples
    --------
    >>> import os
    >>> process_alive(os.getpid())
    True
    """
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
