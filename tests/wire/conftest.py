from __future__ import annotations

import pytest
from wirekit import DEVICE, OTHER_DEVICE, SERVER, Party


@pytest.fixture(scope="session")
def device() -> Party:
    return Party(DEVICE)


@pytest.fixture(scope="session")
def other_device() -> Party:
    return Party(OTHER_DEVICE)


@pytest.fixture(scope="session")
def server() -> Party:
    return Party(SERVER)
