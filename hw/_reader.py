"""The card-reader boundary: a small protocol every reader implements, its events and its errors.

A terminal opens an exclusive connection to the card on a reader and hands ``connection.transmit`` to the chip
core (``mrtd``), which knows nothing about readers. Insertions, removals and a reader or service going away arrive as
:class:`ReaderEvent` values from ``reader.events()``. Errors are this package's own: a card that leaves the field
mid-read is :class:`CardRemoved` (also an ``mrtd.CardRemoved``, so the chip core stops at once), never a partial
result; no reader or no PC/SC service is :class:`ReaderUnavailable`; an empty reader is :class:`NoCard`.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

import mrtd


class HwError(Exception):
    """Base class of the hardware boundary's errors; each message is meant for the person at the terminal."""


class ReaderError(HwError):
    """Something between the terminal and the card failed."""


class ReaderUnavailable(ReaderError):
    """No PC/SC service, no such reader, or the reader is held by another program."""


class NoCard(ReaderError):
    """The reader is there but no card is on it."""


class CardRemoved(ReaderError, mrtd.CardRemoved):
    """The card left the reader in the middle of an exchange: nothing read is used; place it again."""

    def __init__(self, message: str = "the card was removed during the read; place it on the reader again") -> None:
        super().__init__(message)


class ReaderState(enum.StrEnum):
    UNAVAILABLE = "unavailable"  # no service, or the reader is unplugged
    EMPTY = "empty"
    CARD_PRESENT = "card-present"


@dataclass(frozen=True, slots=True)
class ReaderEvent:
    """A change of what a reader sees. ``atr`` is set when a card is present; ``detail`` says why it is unavailable."""

    reader: str
    state: ReaderState
    atr: bytes | None = None
    detail: str = ""


class CardConnection(Protocol):
    """An exclusive connection to the card on a reader (the card is powered while it lasts)."""

    @property
    def atr(self) -> bytes: ...

    @property
    def extended_length(self) -> bool:
        """Whether the card accepts extended Lc/Le (so a whole file can be read with one command)."""
        ...

    @property
    def short_apdus_only(self) -> bool:
        """Whether the link cannot carry an extended-length APDU at all (T=0, or a driver limited to short APDUs):
        a long answer then comes only through ``61xx`` and GET RESPONSE."""
        ...

    async def transmit(self, command: bytes) -> bytes:
        """Send a command APDU, return the response APDU. Raises CardRemoved when the card has gone."""
        ...

    @property
    def chained(self) -> tuple[int, int]:
        """The GET RESPONSE exchanges the link added to gather split answers so far, and their bytes both ways."""
        ...

    async def reset(self) -> None:
        """Warm-reset the card: the chip forgets its session (keys, selected file)."""
        ...


class CardReader(Protocol):
    """A card reader: PC/SC (``PcscReader``) or in-process with a virtual chip (``MemoryReader``)."""

    @property
    def name(self) -> str: ...

    def events(self) -> AsyncIterator[ReaderEvent]:
        """The reader's state now, then every change (card placed, removed, reader or service lost and back)."""
        ...

    def connect(self) -> AbstractAsyncContextManager[CardConnection]:
        """Connect to the card exclusively. Raises NoCard, ReaderUnavailable."""
        ...


def atr_historical_bytes(atr: bytes) -> bytes:
    """The historical bytes of an ATR (ISO/IEC 7816-3 §8.2), or b"" when the ATR is malformed."""
    if len(atr) < 2 or atr[0] not in (0x3B, 0x3F):
        return b""
    t0 = atr[1]
    count = t0 & 0x0F
    pos = 2
    indicator = t0 >> 4
    while True:
        pos += bin(indicator & 0x07).count("1")  # TA, TB, TC
        if indicator & 0x08:  # TD present
            if pos >= len(atr):
                return b""
            indicator = atr[pos] >> 4
            pos += 1
        else:
            break
    historical = atr[pos : pos + count]
    return historical if len(historical) == count else b""


def atr_supports_extended_length(atr: bytes) -> bool:
    """Whether the ATR's card capabilities (compact-TLV tag 7, third byte, bit 7) announce extended Lc/Le.

    ISO/IEC 7816-4 §12.1.1.9; a contactless reader copies the card's ATS historical bytes here (PC/SC part 3).
    """
    historical = atr_historical_bytes(atr)
    if not historical or historical[0] != 0x80:
        return False
    pos = 1
    while pos < len(historical):
        tag, length = historical[pos] >> 4, historical[pos] & 0x0F
        value = historical[pos + 1 : pos + 1 + length]
        if len(value) != length:
            return False
        if tag == 0x7 and length >= 3:
            return bool(value[2] & 0x40)
        pos += 1 + length
    return False
