"""The demo simulates a collapse (declining rainfall): its pooled verdict must catch it."""

import json

import pytest
from distributed import Client, LocalCluster

from vegdask.pipeline import load_config, run_job


@pytest.mark.slow
def test_the_demo_collapse_is_caught_by_the_pooled_test(tmp_path):
    # The demo exactly as `vegdask run` runs it (48 months, 100 tiles, the default analysis).
    config = load_config(None, overrides={"output": {"url": str(tmp_path)}})
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=False) as cluster,
        Client(cluster) as client,
    ):
        run_job(config, client=client, progress=False, log=lambda message: None)
    resilience = json.loads((tmp_path / "analysis" / "resilience.json").read_text())
    ndvi = resilience["location"]["ndvi_mean"]["ar1"]
    assert ndvi["tiles"] == 100
    assert ndvi["n_surrogates"] == 1000
    assert ndvi["kendall_tau"] > 0
    # Significant even after a Bonferroni correction for the two series tested (offset50, NDVI).
    assert ndvi["p_value"] < 0.025
