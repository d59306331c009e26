"""ATR capabilities, the link model and the in-process reader's simulated time."""

from __future__ import annotations

import pytest

from hw import MemoryReader, atr_supports_extended_length
from hw._reader import atr_historical_bytes
from hw.sim import TestPki, VirtualChip, citizen, contactless_atr, personalise
from hw.sim._link import BitRate, LinkModel, SimulatedClock


@pytest.mark.parametrize(
    ("atr", "historical", "extended"),
    [
        # vsmartcard's vicc (T=1, TA1 and TD1/TD2): card capabilities 73 FF 01 00, no extended length.
        ("3B9513810180 73FF01000B", "8073FF0100", False),
        # A PC/SC contactless ATR whose capabilities announce extended Lc/Le (third byte 0x40).
        ("3B8580018073000040B7", "8073000040", True),
        ("3B8580018073000000F7", "8073000000", False),
        # Historical bytes without the 0x80 category indicator carry no compact-TLV capabilities.
        ("3B888001000000007781710079", "0000000077817100", False),
        ("3B", "", False),
        ("", "", False),
    ],
)
def test_atr_capabilities(atr: str, historical: str, extended: bool) -> None:
    raw = bytes.fromhex(atr.replace(" ", ""))
    assert atr_historical_bytes(raw).hex().upper() == historical
    assert atr_supports_extended_length(raw) is extended


def test_virtual_chip_atr_is_well_formed() -> None:
    for extended in (True, False):
        atr = contactless_atr(extended_length=extended)
        check = 0
        for byte in atr[1:]:
            check ^= byte
        assert check == 0  # TCK makes the XOR of T0..TCK zero (ISO/IEC 7816-3 §8.2.5)
        assert atr_supports_extended_length(atr) is extended


def test_link_model_arithmetic() -> None:
    link = LinkModel(bit_rate=BitRate.KBPS_106, turnaround=0.003)
    assert link.transfer_seconds(106_000 // 8) == pytest.approx(1.0)
    assert link.exchange_seconds(5, 10) == pytest.approx(0.003 + 15 * 8 / 106_000)
    assert BitRate.from_kbps(848) is BitRate.KBPS_848
    with pytest.raises(ValueError, match="106, 212, 424 and 848"):
        BitRate.from_kbps(300)
    with pytest.raises(ValueError, match="positive"):
        LinkModel(bit_rate=0)


async def test_memory_reader_adds_up_simulated_time() -> None:
    profile = personalise(citizen(9), pki=TestPki.create(seed="link"), seed="link", portrait_size=None)
    link = LinkModel(bit_rate=BitRate.KBPS_212, turnaround=0.004)
    clock = SimulatedClock()
    reader = MemoryReader(VirtualChip(profile), link=link, clock=clock)
    commands = [bytes.fromhex("00A4040C07A0000002471001"), bytes.fromhex("0084000008"), bytes.fromhex("00B0000004")]
    expected = 0.0
    async with reader.connect() as connection:
        for command in commands:
            response = await connection.transmit(command)
            expected += link.exchange_seconds(len(command), len(response))
    assert clock.seconds == pytest.approx(expected)
    assert clock.seconds > 3 * 0.004
