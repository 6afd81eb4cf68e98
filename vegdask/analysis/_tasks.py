"""Independent pieces of the analysis as Dask tasks: on the cluster when one runs, else here."""

from __future__ import annotations

from typing import Any

import dask

__all__ = ["compute_tasks"]


def compute_tasks(*tasks: Any) -> tuple[Any, ...]:
    """Compute delayed ``tasks`` on the cluster when one runs, otherwise here.

    On the workers of the default ``distributed`` client when there is one (in parallel),
    otherwise one after the other in this process.

    Examples
    --------
    >>> compute_tasks(dask.delayed(sum)([1, 2]), dask.delayed(max)([3, 4]))
    (3, 4)
    """
    # Unoptimised: the tasks' priorities (dask.annotate) survive, nothing worth fusing.
    return dask.compute(*tasks, scheduler=None if _has_client() else "sync", optimize_graph=False)


def _has_client() -> bool:
    """Whether dask's default scheduler is a ``distributed`` client (as dask itself decides)."""
    from distributed import Client

    try:
        Client.current(allow_global=True)
    except ValueError:
        return False
    return True
