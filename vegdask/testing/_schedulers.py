"""A dask scheduler that counts computations, to prove that code stays lazy."""

from __future__ import annotations

from typing import Any

import dask

__all__ = ["CountingScheduler"]


class CountingScheduler:
    """A synchronous dask scheduler that counts how often it is asked to compute.

    Examples
    --------
    >>> import dask, dask.array as da
    >>> counter = CountingScheduler()
    >>> with dask.config.set(scheduler=counter):
    ...     lazy = da.ones(4) + 1  # building a graph computes nothing
    ...     counter.calls
    0
    >>> with dask.config.set(scheduler=counter):
    ...     int(lazy.sum().compute()), counter.calls
    (8, 1)
    """

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, dsk: Any, keys: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return dask.get(dsk, keys, **kwargs)
