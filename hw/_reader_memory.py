"""An in-process card reader holding a virtual chip, with an optional model of the radio link's timing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

from hw._reader import (
    CardRemoved,
    NoCard,
    ReaderEvent,
    ReaderState,
    ReaderUnavailable,
    atr_supports_extended_length,
)
from hw.sim._chip import ChipRemoved
from hw.sim._link import LinkModel, SimulatedClock


class SimulatedCard(Protocol):
    """What the reader needs of a card: its ATR, power control and the APDU exchange (``hw.sim.VirtualChip``)."""

    @property
    def atr(self) -> bytes: ...

    @property
    def removed(self) -> bool: ...

    def power_on(self) -> None: ...

    def reset(self) -> None: ...

    def transmit(self, raw: bytes) -> bytes: ...


class MemoryReader:
    """A reader in the same process as its card: tests, the demo's fallback and the benchmarks use it.

    ``link`` models the contactless link (per-APDU turnaround and bit rate); the modelled time adds up on ``clock``
    without sleeping, unless ``realtime`` asks for the delays to be waited out.
    """

    def __init__(
        self,
        card: SimulatedCard | None = None,
        *,
        name: str = "Virtual CCCD reader (in-process)",
        link: LinkModel | None = None,
        clock: SimulatedClock | None = None,
        realtime: bool = False,
    ) -> None:
        self._name = name
        self._card = card
        self.link = link
        self.clock = clock or SimulatedClock()
        self._realtime = realtime
        self._in_use = False
        self._changed = asyncio.Event()

    @property
    def name(self) -> str:
        return self._name

    @property
    def card(self) -> SimulatedCard | None:
        return self._card

    def insert(self, card: SimulatedCard) -> None:
        self._card = card
        self._notify()

    def remove(self) -> None:
        self._card = None
        self._notify()

    def _notify(self) -> None:
        self._changed.set()

    def _state(self) -> ReaderEvent:
        card = self._card
        if card is None or card.removed:
            return ReaderEvent(self._name, ReaderState.EMPTY)
        return ReaderEvent(self._name, ReaderState.CARD_PRESENT, atr=card.atr)

    async def events(self) -> AsyncIterator[ReaderEvent]:
        last = self._state()
        yield last
        while True:
            self._changed.clear()
            await self._changed.wait()
            current = self._state()
            if current != last:
                last = current
                yield current

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[MemoryConnection]:
        card = self._card
        if card is None or card.removed:
            raise NoCard(f"no card on {self._name}")
        if self._in_use:
            raise ReaderUnavailable(f"{self._name} is in use by another session")
        self._in_use = True
        card.power_on()
        try:
            yield MemoryConnection(self, card)
        finally:
            self._in_use = False
            if not card.removed:
                card.reset()  # disconnecting powers the field down


class MemoryConnection:
    def __init__(self, reader: MemoryReader, card: SimulatedCard) -> None:
        self._reader = reader
        self._card = card

    @property
    def atr(self) -> bytes:
        return self._card.atr

    @property
    def extended_length(self) -> bool:
        return atr_supports_extended_length(self._card.atr)

    @property
    def short_apdus_only(self) -> bool:
        return False  # in-process, any APDU reaches the chip as it is

    @property
    def chained(self) -> tuple[int, int]:
        return 0, 0  # answers are never split in-process

    async def transmit(self, command: bytes) -> bytes:
        if self._reader.card is not self._card:
            raise CardRemoved()
        try:
            response = self._card.transmit(command)
        except ChipRemoved as exc:
            self._reader._notify()
            raise CardRemoved() from exc
        link = self._reader.link
        if link is not None:
            seconds = link.exchange_seconds(len(command), len(response))
            self._reader.clock.advance(seconds)
            if self._reader._realtime:
                await asyncio.sleep(seconds)
        return response

    async def reset(self) -> None:
        if self._reader.card is not self._card or self._card.removed:
            raise CardRemoved()
        self._card.reset()
