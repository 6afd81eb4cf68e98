"""Run the whole job from a script, on a local Dask cluster, and read the results.

Run: python examples/run_job.py [OUTPUT_DIR]
"""

import json
import sys

from vegdask.pipeline import job_client, run_job, validate_config


def main(output: str) -> None:
    config = validate_config(
        {
            "location": {"longitude": 27.94, "latitude": 11.58, "size": 300},
            "time": {"start": "2016-01-01", "end": "2018-01-01", "period": "1m"},
            "output": {"url": output},
        }
    )
    with job_client("local", workers=2, output=output) as client:
        print("dashboard:", client.dashboard_link)
        run_job(config, client=client)

    with open(f"{output}/analysis/resilience.json") as f:
        resilience = json.load(f)
    for series, indicators in resilience.items():
        # tau is null where an indicator could not be computed (e.g. too few valid periods).
        taus = {k: v["kendall_tau"] for k, v in indicators.items() if "kendall_tau" in v}
        print(series, {k: None if t is None else round(t, 2) for k, t in taus.items()})
    print("report:", f"{output}/report.html")


# Dask's worker processes import this file again: the guard keeps them from running the job.
if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "vegdask-example")
