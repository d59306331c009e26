"""Fixtures most provisioning tests share: a settable clock and a fleet that runs on it."""

from __future__ import annotations

from pathlib import Path

import pytest
from provkit import Clock, new_fleet

from provisioning import Fleet


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fleet(tmp_path: Path, clock: Clock) -> Fleet:
    return new_fleet(tmp_path / "fleet", clock=clock)
