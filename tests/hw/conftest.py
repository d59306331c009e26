"""Fixtures of the hardware tests: pcscd with vsmartcard's virtual readers, started here when it is not running and
stopped by its PID afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hw._reader_pcscd import VPCD_READER, PcscDaemon, pcscd_usable


@pytest.fixture(scope="module")
def pcscd() -> Iterator[PcscDaemon]:
    if not pcscd_usable():
        pytest.skip("pcscd and vsmartcard-vpcd are not installed")
    daemon = PcscDaemon()
    daemon.ensure(wait_for_reader=VPCD_READER)
    yield daemon
    daemon.stop()
