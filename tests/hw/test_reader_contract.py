"""One contract for every CardReader (STYLE §8): the in-process reader and pyscard → pcscd → vpcd → virtual chip.

The pcscd half starts pcscd itself when it is not running (as our child, stopped by PID) and plays the virtual chip
on vpcd's first slot, so the real PC/SC stack is exercised.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

import mrtd
from hw import CardReader, CardRemoved, MemoryReader, NoCard, PcscReader, ReaderState, ReaderUnavailable
from hw._reader_pcscd import VPCD_READER, PcscDaemon
from hw._reader_session import wait_for_card
from hw.sim import ChipFaults, TestPki, VirtualChip, citizen, personalise
from hw.sim._personalise import CardProfile
from hw.sim._vpcd import VpcdCard
from mrtd._access_keys import MrzKey
from mrtd._apdu import CommandAPDU
from mrtd._bac import run_bac
from mrtd._files import FileId

SELECT_AID = bytes.fromhex("00A4040C07A0000002471001")


@pytest.fixture(scope="module")
def pki() -> TestPki:
    return TestPki.create(seed="contract")


@pytest.fixture(scope="module")
def profiles(pki: TestPki) -> dict[str, CardProfile]:
    person = citizen(1)

    def make(*faults: str) -> CardProfile:
        return personalise(person, pki=pki, seed="contract", faults=ChipFaults.parse(faults), portrait_size=4000)

    return {"plain": make(), "removed": make("removed-after=6"), "small-le": make("small-le")}


@dataclass
class Rig:
    """A reader with a slot to put virtual chips in; ``insert`` returns once the reader sees the new card."""

    reader: CardReader
    place: Any
    take: Any

    async def insert(self, chip: VirtualChip) -> None:
        await self.remove()
        self.place(chip)
        await wait_for(self.reader, ReaderState.CARD_PRESENT)

    async def remove(self) -> None:
        self.take()
        await wait_for(self.reader, ReaderState.EMPTY)


@pytest.fixture(params=["memory", pytest.param("pcscd", marks=pytest.mark.pcscd)])
async def rig(request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    if request.param == "memory":
        reader = MemoryReader()
        yield Rig(reader, reader.insert, reader.remove)
        return
    request.getfixturevalue("pcscd")
    card = VpcdCard().start()
    try:
        yield Rig(PcscReader(VPCD_READER, poll_interval=0.1), card.insert, card.remove)
    finally:
        card.stop()


async def wait_for(reader: CardReader, state: ReaderState, seconds: float = 5.0) -> Any:
    async with asyncio.timeout(seconds):
        async for event in reader.events():
            if event.state is state:
                return event
    return None  # pragma: no cover


async def test_events_follow_insert_and_remove(rig: Rig, profiles: dict[str, CardProfile]) -> None:
    chip = VirtualChip(profiles["plain"])
    await rig.insert(chip)
    event = await wait_for(rig.reader, ReaderState.CARD_PRESENT)
    assert event.atr == chip.atr
    await rig.remove()
    event = await wait_for(rig.reader, ReaderState.EMPTY)
    assert event.atr is None


async def test_no_card_is_no_card(rig: Rig) -> None:
    await rig.remove()
    with pytest.raises(NoCard):
        async with rig.reader.connect():
            pass


async def test_bac_and_secure_read(rig: Rig, profiles: dict[str, CardProfile]) -> None:
    profile = profiles["plain"]
    await rig.insert(VirtualChip(profile))
    async with rig.reader.connect() as connection:
        assert connection.extended_length
        assert await connection.transmit(SELECT_AID) == b"\x90\x00"
        assert await connection.transmit(bytes.fromhex("00A4020C02011E")) == b"\x69\x82"
        person = profile.citizen
        key = MrzKey.for_cccd(person.id_number, person.date_of_birth, person.date_of_expiry)
        channel = await run_bac(connection.transmit, key, rng=os.urandom)
        (await channel.send(CommandAPDU(0x00, 0xA4, 0x02, 0x0C, data=b"\x01\x1e"))).check(context="select")
        com = await channel.send(CommandAPDU(0x00, 0xB0, 0x00, 0x00, le=256))
        assert com.data == profile.files[FileId.COM]
        # An extended read brings a whole data group in one command.
        (await channel.send(CommandAPDU(0x00, 0xA4, 0x02, 0x0C, data=b"\x01\x02"))).check(context="select")
        dg2 = await channel.send(CommandAPDU(0x00, 0xB0, 0x00, 0x00, le=65536))
        assert dg2.data == profile.files[FileId.DG2]
        # A warm reset wipes the chip's session: the old keys no longer work.
        await connection.reset()
        with pytest.raises(mrtd.SecureMessagingError):
            await channel.send(CommandAPDU(0x00, 0xB0, 0x00, 0x00, le=4))


async def test_connection_is_exclusive(rig: Rig, profiles: dict[str, CardProfile]) -> None:
    await rig.insert(VirtualChip(profiles["plain"]))
    async with rig.reader.connect():
        with pytest.raises(ReaderUnavailable):
            async with rig.reader.connect():
                pass


async def test_card_pulled_mid_read_is_card_removed(rig: Rig, profiles: dict[str, CardProfile]) -> None:
    await rig.insert(VirtualChip(profiles["removed"]))
    async with rig.reader.connect() as connection:
        for _ in range(6):  # the chip answers six commands, then leaves the field
            await connection.transmit(bytes.fromhex("0084000008"))
        with pytest.raises(CardRemoved) as caught:
            await connection.transmit(bytes.fromhex("0084000008"))
        assert isinstance(caught.value, mrtd.CardRemoved)
        assert "place it" in str(caught.value)
    await wait_for(rig.reader, ReaderState.EMPTY)


async def test_extended_length_is_detected_from_the_atr(rig: Rig, profiles: dict[str, CardProfile]) -> None:
    await rig.insert(VirtualChip(profiles["small-le"]))
    async with rig.reader.connect() as connection:
        assert not connection.extended_length
        assert connection.atr == VirtualChip(profiles["small-le"]).atr


@pytest.mark.pcscd
async def test_pcscd_restart_is_reported_and_survived(pcscd: PcscDaemon, profiles: dict[str, CardProfile]) -> None:
    if not pcscd.started:
        pytest.skip("pcscd was already running and is not ours to restart")
    reader = PcscReader(VPCD_READER, poll_interval=0.1)
    await wait_for(reader, ReaderState.EMPTY)  # the previous test's card has gone
    with VpcdCard(VirtualChip(profiles["plain"])) as card:
        events = reader.events()
        try:
            async with asyncio.timeout(10):
                async for event in events:
                    if event.state is ReaderState.CARD_PRESENT:
                        break
                pcscd.stop()
                async for event in events:
                    if event.state is ReaderState.UNAVAILABLE:
                        assert "pcscd" in event.detail
                        break
                pcscd.ensure(wait_for_reader=VPCD_READER)
                assert card.wait_connected(5)
                async for event in events:
                    if event.state is ReaderState.CARD_PRESENT:
                        break
        finally:
            await events.aclose()  # type: ignore[attr-defined]
        async with reader.connect() as connection:
            assert await connection.transmit(SELECT_AID) == b"\x90\x00"


@pytest.mark.pcscd
async def test_waiting_for_a_card_outlasts_a_pcscd_restart(pcscd: PcscDaemon, profiles: dict[str, CardProfile]) -> None:
    """An operator waiting to place a card while pcscd restarts: the wait goes on, and the card is seen after."""
    if not pcscd.started:
        pytest.skip("pcscd was already running and is not ours to restart")
    reader = PcscReader(VPCD_READER, poll_interval=0.1)
    await wait_for(reader, ReaderState.EMPTY)
    waiting = asyncio.create_task(wait_for_card(reader, 20))
    await asyncio.sleep(0.5)
    pcscd.stop()
    await asyncio.sleep(1.0)
    assert not waiting.done()
    pcscd.ensure(wait_for_reader=VPCD_READER)
    with VpcdCard(VirtualChip(profiles["plain"])) as card:
        assert card.wait_connected(5)
        assert await waiting is True


@pytest.mark.pcscd
async def test_vpcd_round_trip_is_fast(pcscd: PcscDaemon, profiles: dict[str, CardProfile]) -> None:
    """Without TCP_QUICKACK on the card side every APDU through vpcd waits ~40 ms for a delayed ACK."""
    reader = PcscReader(VPCD_READER, poll_interval=0.05)
    await wait_for(reader, ReaderState.EMPTY)  # the previous test's card has gone
    with VpcdCard(VirtualChip(profiles["plain"])):
        await wait_for(reader, ReaderState.CARD_PRESENT)
        async with reader.connect() as connection:
            timings = []
            for _ in range(60):
                started = time.perf_counter()
                await connection.transmit(bytes.fromhex("0084000008"))
                timings.append(time.perf_counter() - started)
    assert statistics.median(timings) < 0.01, statistics.median(timings)


@pytest.mark.pcscd
async def test_unknown_reader_is_unavailable(pcscd: PcscDaemon) -> None:
    with pytest.raises(ReaderUnavailable, match="no reader named"):
        async with PcscReader("No Such Reader").connect():
            pass
    with pytest.raises(ReaderUnavailable, match="no reader 7"):
        async with PcscReader(7).connect():
            pass
