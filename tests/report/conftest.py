"""A small demo-like run, analysed with its report, shared by the report tests."""

import dask
import pytest

from vegdask.pipeline import job_client, run_job, validate_config

# The demo's config on a smaller scene and period (9 tiles, 30 months), fewer surrogates.
SMALL_DEMO = {
    "location": {"size": 150},
    "time": {"start": "2016-01-01", "end": "2018-07-01", "period": "1m"},
    "cluster": {"kind": "local", "workers": 2},
}
FEW_SURROGATES = {
    "vegdask.analysis.n-surrogates": 99,
    "vegdask.analysis.sensitivity-surrogates": 9,
    "vegdask.analysis.tile-surrogates": 19,
    "vegdask.analysis.spatial-permutations": 9,
}


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """The output folder of a finished small demo-like run (``vegdask run`` on local workers)."""
    output = tmp_path_factory.mktemp("demo")
    config = validate_config({**SMALL_DEMO, "output": {"url": str(output)}})
    with dask.config.set(FEW_SURROGATES), job_client("local", 2, str(output)) as client:
        run_job(config, client=client, progress=False, log=lambda message: None)
    return output
