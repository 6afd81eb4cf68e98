"""Test utilities that users can use too: emulators for Azure services, dask helpers, strategies."""

from vegdask.testing._azurite import (
    AZURITE_ACCOUNT_KEY,
    AZURITE_ACCOUNT_NAME,
    Azurite,
    find_azurite,
)
from vegdask.testing._batch_emulator import BatchEmulator
from vegdask.testing._identity import BATCH_RESOURCE, ManagedIdentityEndpoint, TokenRequest
from vegdask.testing._schedulers import CountingScheduler
from vegdask.testing._waiting import process_alive, wait_until

__all__ = [
    "AZURITE_ACCOUNT_KEY",
    "AZURITE_ACCOUNT_NAME",
    "BATCH_RESOURCE",
    "Azurite",
    "BatchEmulator",
    "CountingScheduler",
    "ManagedIdentityEndpoint",
    "TokenRequest",
    "find_azurite",
    "process_alive",
    "wait_until",
]
