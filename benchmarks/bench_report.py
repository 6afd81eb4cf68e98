"""Analysis + report of the demo, its report's size, and the rerun of a finished job.

Targets (issue 10, 2-core machine): the demo's analysis and report (``analyse_results`` on a
finished demo run, its tasks - series, tile maps, spatial indicators, figures - on 2 fresh local
single-threaded worker processes, as the analyse stage of ``vegdask run``) <= 10 s;
``report.html`` <= 2 MB with every section and figure; a rerun of the finished job (every stage
skipped, no cluster) <= 10 s. ``setup_cache`` runs the whole demo once.
"""

import shutil
import tempfile
from pathlib import Path

from distributed import Client, LocalCluster

from vegdask.analysis import analyse_results
from vegdask.pipeline import DEMO_CONFIG, job_client, run_job, validate_config


def _demo_config(output):
    return validate_config({**DEMO_CONFIG, "output": {"url": str(output)}})


class DemoAnalysis:
    """The demo's 48 periods, 100 tiles and 500x500-pixel scene."""

    timeout = 1800
    number = 1
    repeat = 3

    def setup_cache(self):
        run = Path(tempfile.mkdtemp()) / "demo"
        with job_client("local", 2, str(run)) as client:
            run_job(_demo_config(run), client=client, progress=False, log=lambda m: None)
        return str(run)

    def setup(self, run):
        self.out = tempfile.mkdtemp()
        self.cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0")
        self.client = Client(self.cluster, set_as_default=False)

    def teardown(self, run):
        self.client.close()
        self.cluster.close()
        shutil.rmtree(self.out)

    def time_analyse_and_report_on_the_job_cluster(self, run):
        with self.client.as_current():
            analyse_results(run, self.out)

    def time_analyse_and_report_without_a_cluster(self, run):
        analyse_results(run, self.out)  # vegdask analyse: figures one after the other

    def track_report_html_megabytes(self, run):
        return (Path(run) / "report.html").stat().st_size / 1e6

    track_report_html_megabytes.unit = "MB"

    def time_rerun_of_the_finished_job(self, run):
        run_job(_demo_config(run), client=None, progress=False, log=lambda m: None)
