"""The one cluster of a campaign: sized from its work, adapting to it, released when it ends.

On Azure Batch a campaign's workers adapt (``cluster.adapt``) between one and the number its
work can keep busy (`campaign_workers`), within ``vegdask.azure.max-nodes`` nodes: the pool grows
while tasks are queued and shrinks as locations finish, and is released (a pool the run created
deleted, a found one given back its targets) when the campaign ends, fails or is interrupted.
Every location runs on that one scheduler, so one dashboard link shows the whole campaign. A
local cluster or a scheduler address keeps ``cluster.workers`` workers, as a single run does.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from vegdask import config as settings
from vegdask.pipeline._dask_client import job_client

__all__ = ["campaign_client", "campaign_workers"]


def campaign_workers(
    sites: Sequence[Any], until: str = "analyse", *, max_workers: int | None = None
) -> int:
    """Workers the campaign's work can keep busy: its planned tasks, capped at ``max_workers``.

    Each location's tasks are those ``vegdask plan`` counts (one a period for fetch and for
    process, one analysis), so ``sites`` (those with work left) can keep at most that many
    single-threaded workers busy at once; more would only wait.

    Parameters
    ----------
    sites : sequence of Site
        The locations to compute (:func:`~vegdask.pipeline.campaign_to_compute`).
    until : {"fetch", "process", "analyse"}
        The campaign's last stage.
    max_workers : int, optional
        The cap (the pool's ``max_nodes`` times its slots per node).

    Examples
    --------
    >>> from vegdask.pipeline import validate_campaign
    >>> campaign = validate_campaign({"campaign": {"locations": ["00", "01"]},
    ...     "time": {"start": "2016-01-01", "end": "2016-04-01"}})
    >>> campaign_workers(campaign.sites), campaign_workers(campaign.sites, "fetch")
    (14, 6)
    >>> campaign_workers(campaign.sites, max_workers=4), campaign_workers([])
    (4, 1)
    """
    from vegdask.pipeline._plan import location_workload  # the plan sizes its pool from here

    tasks = 0
    for site in sites:
        work = location_workload(site.config)
        tasks += (
            work["tasks"] if until == "analyse" else work["stage_tasks"] * (1 + (until != "fetch"))
        )
    wanted = max(tasks, 1)
    return wanted if max_workers is None else max(min(wanted, max_workers), 1)


@contextlib.contextmanager
def campaign_client(
    campaign: Any, to_compute: Sequence[Any], until: str = "analyse"
) -> Iterator[Any]:
    """A ``distributed.Client`` on the campaign's one cluster, released on exit.

    Parameters
    ----------
    campaign : Campaign
        Its ``[cluster]`` section says where the work runs (``kind``, ``workers``).
    to_compute : sequence of Site
        The locations with work left: on Azure Batch they size the pool (`campaign_workers`,
        capped by ``vegdask.azure.max-nodes``).
    until : {"fetch", "process", "analyse"}
        The campaign's last stage.

    Examples
    --------
    A campaign on Azure Batch from Python, as ``vegdask run CAMPAIGN.toml --cluster azure-batch``
    runs it (Batch and storage settings from ``AZURE_BATCH_*`` and
    ``AZURE_STORAGE_CONNECTION_STRING``; the output an ``abfs://`` URL):

    >>> from vegdask.pipeline import campaign_to_compute, check_campaign, load_job, run_campaign
    >>> campaign = load_job("campaign.toml", overrides={"cluster": {"kind": "azure-batch"}})
    ... # doctest: +SKIP
    >>> campaign = check_campaign(campaign)  # each run.json read once  # doctest: +SKIP
    >>> todo = campaign_to_compute(campaign)  # doctest: +SKIP
    >>> with campaign_client(campaign, todo) as client:  # doctest: +SKIP
    ...     record = run_campaign(campaign, client=client, to_compute=todo)
    """
    cluster = campaign.config["cluster"]
    adapt_to = None
    if cluster["kind"] == "azure-batch":
        adapt_to = campaign_workers(
            to_compute, until, max_workers=int(settings.get("azure.max-nodes"))
        )
    with job_client(cluster["kind"], cluster["workers"], campaign.output, adapt_to=adapt_to) as c:
        yield c
