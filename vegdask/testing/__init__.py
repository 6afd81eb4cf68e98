"""Test utilities that users can use too: emulators for Azure services and hypothesis strategies."""

from vegdask.testing._azurite import (
    AZURITE_ACCOUNT_KEY,
    AZURITE_ACCOUNT_NAME,
    Azurite,
    find_azurite,
)

__all__ = ["AZURITE_ACCOUNT_KEY", "AZURITE_ACCOUNT_NAME", "Azurite", "find_azurite"]
