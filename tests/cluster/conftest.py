"""Fixtures of the cluster tests."""

import pytest

from vegdask.testing import BatchEmulator


@pytest.fixture
def batch_emulator():
    """A Batch emulator with a short node allocation delay."""
    with BatchEmulator(allocation_delay=0.2) as service:
        yield service
