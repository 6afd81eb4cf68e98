"""``vegdask run CONFIG`` and ``vegdask fetch CONFIG`` when CONFIG is a campaign (many sites)."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path
from typing import Any

from vegdask.cli._common import CLIError

__all__ = ["CAMPAIGN_FAILED", "run_campaign_command"]

#: Exit status of a campaign in which some locations failed (or were left pending).
CAMPAIGN_FAILED = 3


def run_campaign_command(args: argparse.Namespace, campaign: Any, until: str) -> int:
    """Run every location of ``campaign`` on one cluster; exit status 0, or 3 if some failed."""
    from vegdask.cluster import WorkersLostError
    from vegdask.data import EarthEngineAuthError, RunStore
    from vegdask.data.storage import is_remote
    from vegdask.pipeline import (
        OutputInUseError,
        campaign_client,
        campaign_to_compute,
        check_campaign,
        check_credentials,
        check_output,
        config_warnings,
        format_plan,
        output_lock,
        plan_job,
        run_campaign,
    )

    try:
        plan = plan_job(campaign)
    except ValueError as err:  # a VM size the table does not know
        raise CLIError(str(err)) from err
    print("\n".join(format_plan(plan)))
    warnings = [w for site in campaign.sites for w in config_warnings(site.config)]
    if warnings:
        more = f" (and {len(warnings) - 1} other locations)" if len(warnings) > 1 else ""
        print(f"vegdask {args.command}: warning: {warnings[0]}{more}", file=sys.stderr)
    output = campaign.output
    started = time.perf_counter()
    try:
        store = RunStore(output)  # its container made sure of once, for every location
        store.ensure_container()  # storage that refuses or does not answer: before the cluster
        check_output(output, force=args.force)
        with output_lock(output):  # one lock for the whole campaign
            checks = {"until": until, "force": args.force, "verify": args.verify, "store": store}
            campaign = check_campaign(campaign, **checks)  # every run.json read once, here
            todo = campaign_to_compute(campaign, **checks)
            if todo:  # signed in to the shared source before any location is written
                check_credentials(todo[0].config)
            # A finished campaign reruns without a cluster: every location is complete. On
            # Batch the pool adapts to the work and is released however the block ends.
            dask_client = campaign_client(campaign, todo, until) if todo else None
            with dask_client or contextlib.nullcontext() as client:
                where_runs = (
                    "nothing to compute" if client is None else f"dashboard {client.dashboard_link}"
                )
                print(
                    f"vegdask {args.command}: campaign of {len(campaign.sites)} locations, "
                    f"{len(todo)} to compute; output {output}; {where_runs}"
                )
                record = run_campaign(
                    campaign,
                    client=client,
                    force=args.force,
                    verify=args.verify,
                    progress=not args.no_progress,
                    until=until,
                    to_compute=todo,
                    plan=plan,
                    store=store,
                )
    except WorkersLostError as err:
        raise CLIError(f"{err}; stopped (rerun the same command to resume)") from err
    except (ValueError, OSError, OutputInUseError, EarthEngineAuthError) as err:
        raise CLIError(str(err)) from err
    where = output if is_remote(output) else str(Path(output).resolve())
    actual, total = record["actual"], len(campaign.sites)
    if actual["done"] < total:
        print(
            f"{actual['done']} of {total} locations done, {actual['failed']} failed: "
            "see campaign.json"
        )
        print(f"results in {where}; map and table: {where}/index.html")
        return CAMPAIGN_FAILED
    elapsed = time.perf_counter() - started
    print(f"{total} of {total} locations done in {elapsed:.0f} s; results in {where}")
    print(f"map and table: {where}/index.html")
    if until == "analyse" and (record.get("summary") or {}).get("error") is None:
        print(f"summary: {where}/summary/summary.html")
    return 0
