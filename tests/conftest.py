"""Session fixtures shared by every test area."""

import pytest

from vegdask.testing import Azurite


@pytest.fixture(scope="session")
def azurite():
    """A real Azurite blob service for the whole session (fails, never skips, if not installed)."""
    with Azurite() as service:
        yield service
