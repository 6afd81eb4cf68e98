"""Pipeline layer: the validated job config and the run as resumable stages."""

from vegdask.pipeline._cluster import job_client
from vegdask.pipeline._config import DEMO_CONFIG, ConfigError, load_config, validate_config
from vegdask.pipeline._run import STAGES, read_manifest, results_summary, run_job

__all__ = [
    "DEMO_CONFIG",
    "STAGES",
    "ConfigError",
    "job_client",
    "load_config",
    "read_manifest",
    "results_summary",
    "run_job",
    "validate_config",
]
