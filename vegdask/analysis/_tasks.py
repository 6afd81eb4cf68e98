"""Independent pieces of the analysis as Dask tasks: on the cluster when one runs, else here."""

from __future__ import annotations

import importlib
from typing import Any

import dask

__all__ = ["compute_tasks", "start_imports"]


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


def start_imports(module: str) -> None:
    """Start importing ``module`` on the workers of the default client, if any (no waiting).

    The workers import it while this process prepares their tasks, instead of at their first
    task.

    Examples
    --------
    >>> start_imports("vegdask.analysis")  # no cluster: nothing to do
    """
    client = _client()
    if client is None:
        return
    from distributed import fire_and_forget

    for worker in client.scheduler_info(n_workers=-1)["workers"]:
        fire_and_forget(client.submit(_import, module, workers=[worker], pure=False, priority=10))


def _import(module: str) -> None:
    importlib.import_module(module)


def _has_client() -> bool:
    """Whether dask's default scheduler is a ``distributed`` client (as dask itself decides)."""
    return _client() is not None


def _client() -> Any:
    """The default ``distributed`` client, or None."""
    from distributed import Client

    try:
        return Client.current(allow_global=True)
    except ValueError:
        return None
