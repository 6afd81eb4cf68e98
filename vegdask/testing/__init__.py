"""Test helpers users can use too: Azurite, dask checks, waiting, digests, campaign tables, sites.

The Batch emulator and the managed-identity endpoint live in `vegdask.batch_emulator` and are
re-exported here for tests. `strategies` (hypothesis strategies) is imported on first use, so
importing `vegdask.testing` does not need hypothesis.
"""

import importlib
from types import ModuleType

from vegdask.batch_emulator import (
    BATCH_RESOURCE,
    BatchEmulator,
    ManagedIdentityEndpoint,
    TokenRequest,
)
from vegdask.testing._azurite import (
    AZURITE_ACCOUNT_KEY,
    AZURITE_ACCOUNT_NAME,
    Azurite,
    find_azurite,
)
from vegdask.testing._campaigns import campaign_tables, table_differences
from vegdask.testing._digest import (
    BLOCKS,
    RTOL,
    digest_differences,
    float_summary,
    output_digest,
)
from vegdask.testing._schedulers import CountingScheduler
from vegdask.testing._sites import (
    NULL_PHI,
    RAMP,
    SITE_CONDITIONS,
    pooled_rejection_rate,
    simulated_site,
)
from vegdask.testing._waiting import process_alive, wait_until

__all__ = [
    "AZURITE_ACCOUNT_KEY",
    "AZURITE_ACCOUNT_NAME",
    "BATCH_RESOURCE",
    "BLOCKS",
    "NULL_PHI",
    "RAMP",
    "RTOL",
    "SITE_CONDITIONS",
    "Azurite",
    "BatchEmulator",
    "CountingScheduler",
    "ManagedIdentityEndpoint",
    "TokenRequest",
    "campaign_tables",
    "digest_differences",
    "find_azurite",
    "float_summary",
    "output_digest",
    "pooled_rejection_rate",
    "process_alive",
    "simulated_site",
    "strategies",
    "table_differences",
    "wait_until",
]


def __getattr__(name: str) -> ModuleType:
    if name == "strategies":
        return importlib.import_module("vegdask.testing.strategies")
    raise AttributeError(f"module 'vegdask.testing' has no attribute {name!r}")
