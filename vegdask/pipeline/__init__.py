"""Pipeline layer: the validated job config and the run as resumable stages."""

from vegdask.pipeline._campaign import (
    DEMO_CAMPAIGN,
    Campaign,
    Site,
    campaign_to_compute,
    check_campaign,
    load_job,
    run_campaign,
    validate_campaign,
)
from vegdask.pipeline._campaign_cluster import campaign_client, campaign_workers
from vegdask.pipeline._config import (
    DEMO_CONFIG,
    MAX_SIZE,
    ConfigError,
    config_warnings,
    dump_config,
    load_config,
    read_config,
    validate_config,
)
from vegdask.pipeline._dask_client import job_client
from vegdask.pipeline._lock import OutputInUseError, check_output, output_lock
from vegdask.pipeline._manifest import STAGES, check_job, read_manifest, stages_to_compute
from vegdask.pipeline._plan import (
    VM_PRICES,
    Calibration,
    calibrate,
    format_plan,
    load_calibration,
    make_plan,
    plan_job,
    vm_price,
)
from vegdask.pipeline._quiet import drop_unclosed_session_notes
from vegdask.pipeline._run import (
    JobRead,
    PreparedJob,
    check_credentials,
    prepare_job,
    read_job,
    run_job,
)
from vegdask.pipeline._types import JobConfig, Manifest, StageEntry

__all__ = [
    "DEMO_CAMPAIGN",
    "DEMO_CONFIG",
    "MAX_SIZE",
    "STAGES",
    "VM_PRICES",
    "Calibration",
    "Campaign",
    "ConfigError",
    "JobConfig",
    "JobRead",
    "Manifest",
    "OutputInUseError",
    "PreparedJob",
    "Site",
    "StageEntry",
    "calibrate",
    "campaign_client",
    "campaign_to_compute",
    "campaign_workers",
    "check_campaign",
    "check_credentials",
    "check_job",
    "check_output",
    "config_warnings",
    "drop_unclosed_session_notes",
    "dump_config",
    "format_plan",
    "job_client",
    "load_calibration",
    "load_config",
    "load_job",
    "make_plan",
    "output_lock",
    "plan_job",
    "prepare_job",
    "read_config",
    "read_job",
    "read_manifest",
    "run_campaign",
    "run_job",
    "stages_to_compute",
    "validate_campaign",
    "validate_config",
    "vm_price",
]
