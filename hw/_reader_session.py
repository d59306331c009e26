"""A whole card read at the terminal: connect to the reader, run the chip session, verify, report.

This is the glue between a :class:`~hw.CardReader` and the chip core: ``mrtd.read_card`` opens and reads the chip
through ``connection.transmit`` and ``mrtd.verify_card_read`` turns what it read into a verdict, under the live-read
rules. The result carries the report (the document ``cccd card verify`` prints) and what the session cost
(``"session"`` in ``cccd card read --json``).

The printed QR code is read by ``agent``, which ``hw`` may not import: :class:`QrSupport` is how ``cccd`` hands its
parser and its QR ↔ chip cross-check to ``cccd card read --qr-text``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from hw._reader import CardReader, CardRemoved, NoCard, ReaderState
from mrtd import (
    DEFAULT_FILES,
    AccessKey,
    CardReadResult,
    ExternalCheck,
    FileId,
    FileSelection,
    Holder,
    ReadOptions,
    Rng,
    SessionOptions,
    TrustStore,
    VerificationReport,
    cccd_can,
    cccd_mrz_keys,
    read_card,
    verify_card_read,
)

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class CardVerification:
    """One card read and verified: the report, the raw session result and the timings (milliseconds)."""

    report: VerificationReport
    result: CardReadResult
    timings: dict[str, float]
    chained: tuple[int, int] = (0, 0)  # GET RESPONSE exchanges the link added (T=0), and their bytes

    @property
    def portrait(self) -> bytes | None:
        dg2 = self.report.parsed.dg2
        return dg2.faces[0].image if dg2 is not None and dg2.faces else None

    def session_json(self) -> dict[str, Any]:
        total = self.result.total
        return {
            "protocol": self.result.access.value,
            "variant": self.result.access_variant,
            "password": self.result.password_type.name,
            # What crossed the link: the chip core's commands plus the GET RESPONSEs a T=0 card made necessary.
            "apdus": total.apdus + self.chained[0],
            "bytes": total.bytes_sent + total.bytes_received + self.chained[1],
            "get_responses": self.chained[0],
            "ms": {name: round(value, 2) for name, value in self.timings.items()},
        }

    def to_json(self) -> dict[str, Any]:
        """``cccd card verify``'s document plus ``"session"``."""
        return {**self.report.to_json(), "session": self.session_json()}

    def with_check(self, name: str, check: ExternalCheck) -> CardVerification:
        """This verification with a check made outside the chip (``qr_match``) added to its report."""
        return dataclasses.replace(self, report=self.report.with_check(name, check))


async def wait_for_card(reader: CardReader, seconds: float) -> bool:
    """Wait up to ``seconds`` for a card on ``reader``; True when one is there, False at once when the reader or
    the PC/SC service is not there to begin with. A reader or service that goes away during the wait (unplugged,
    pcscd restarting) is waited for too, until the time is up."""
    events = reader.events()
    seen = False
    try:
        async with asyncio.timeout(seconds):
            async for event in events:
                if event.state is ReaderState.CARD_PRESENT:
                    return True
                if event.state is ReaderState.UNAVAILABLE and not seen:
                    return False  # no service or no such reader: connecting says which, at once
                seen = True
    except TimeoutError:
        return False
    finally:
        await events.aclose()  # type: ignore[attr-defined]
    return False


def keys_from_id(
    id_number: str, date_of_birth: dt.date, *, issued: dt.date | None = None, today: dt.date | None = None
) -> list[AccessKey]:
    """What opens a CCCD given its ID and date of birth: the CAN (PACE) first, then the MRZ key for each expiry date
    the renewal rule allows (BAC, or PACE with the MRZ), most likely first."""
    keys: list[AccessKey] = [cccd_can(id_number)]
    keys.extend(cccd_mrz_keys(id_number, date_of_birth, issued=issued, today=today))
    return keys


def session_options(
    *,
    extended_length: bool,
    portrait: bool,
    selection: FileSelection = FileSelection.FID,
    chip_authentication: bool = True,
    short_apdus_only: bool = False,
) -> SessionOptions:
    files = (*DEFAULT_FILES, FileId.DG2) if portrait else DEFAULT_FILES
    return SessionOptions(
        files=files,
        chip_authentication=chip_authentication,
        read=ReadOptions(selection=selection, extended_length=extended_length),
        short_apdus_only=short_apdus_only,
    )


async def read_and_verify(
    reader: CardReader,
    keys: Sequence[AccessKey],
    *,
    trust_store: TrustStore,
    at: dt.datetime | None = None,
    portrait: bool = False,
    challenge: bytes | None = None,
    selection: FileSelection = FileSelection.FID,
    rng: Rng = secrets.token_bytes,
    progress: Progress | None = None,
    wait: float = 0.0,
    extended_length: bool | None = None,
    chip_authentication: bool = True,
) -> CardVerification:
    """Read the card on ``reader`` with ``keys`` (tried in order) and verify it.

    ``challenge`` is the active-authentication challenge (8 bytes; a fresh random one when None); ``wait`` is how
    long to wait for a card to be placed (seconds); ``extended_length`` overrides what the card's ATR and the reader
    announce (left to them, a read with extended-length commands that ends as if the card left is tried once more
    with short ones). Raises the reader's errors (NoCard, ReaderUnavailable, CardRemoved) and the chip core's
    (WrongAccessKey, ...).
    """
    challenge = challenge if challenge is not None else rng(8)
    notify = progress or (lambda step: None)
    started = time.perf_counter()
    if wait > 0:
        notify("waiting for a card")
        await wait_for_card(reader, wait)
    used_extended = False
    connected = started
    chained = (0, 0)

    async def read(extended: bool | None) -> CardReadResult:
        nonlocal used_extended, connected, chained
        async with reader.connect() as connection:
            connected = time.perf_counter()
            notify("reading")
            used_extended = connection.extended_length if extended is None else extended
            options = session_options(
                extended_length=used_extended,
                portrait=portrait,
                selection=selection,
                chip_authentication=chip_authentication,
                short_apdus_only=connection.short_apdus_only or extended is False,
            )
            try:
                return await read_card(connection.transmit, keys, rng=rng, aa_challenge=challenge, options=options)
            finally:
                chained = connection.chained

    notify("connecting")
    try:
        result = await read(extended_length)
    except CardRemoved:
        if extended_length is not None or not used_extended:
            raise
        # Some readers fail an extended-length command the way a card leaving the field fails, without a status
        # word; the session is gone either way. Once more with short commands: a card really taken away is then
        # simply not there.
        notify("reading again with short commands")
        try:
            result = await read(False)
        except (NoCard, CardRemoved):
            raise CardRemoved() from None
    read_done = time.perf_counter()
    notify("verifying")
    report = verify_card_read(
        result, trust_store=trust_store, at=at or dt.datetime.now(dt.UTC), expected_challenge=challenge
    )
    finished = time.perf_counter()
    timings = {"connect": (connected - started) * 1000}
    for step in result.steps:
        timings[step.step] = timings.get(step.step, 0.0) + step.milliseconds
    timings["verify"] = (finished - read_done) * 1000
    timings["total"] = (finished - started) * 1000
    return CardVerification(report, result, timings, chained)


class PrintedQr(Protocol):
    """What the card's printed QR code gives a terminal towards the chip (``agent.CccdQr`` has these fields)."""

    @property
    def id_number(self) -> str: ...

    @property
    def date_of_birth(self) -> dt.date: ...

    @property
    def date_of_issue(self) -> dt.date | None: ...


QrT = TypeVar("QrT", bound=PrintedQr)


@dataclass(frozen=True, slots=True)
class QrSupport(Generic[QrT]):
    """How ``cccd card read --qr-text`` reads the printed QR code and compares it with the chip.

    ``parse`` validates the QR text (a ValueError carries the reason); ``cross_check`` compares the parsed QR with
    the chip's holder data and returns the report's ``qr_match`` check. Both live in ``agent`` (which ``hw`` may not
    import); ``cccd`` composes them in.
    """

    parse: Callable[[str], QrT]
    cross_check: Callable[[QrT, Holder], ExternalCheck]

    def keys(self, qr: QrT) -> list[AccessKey]:
        """What opens the card of this QR: its CAN, then the MRZ keys of the expiry dates its issue date allows."""
        return keys_from_id(qr.id_number, qr.date_of_birth, issued=qr.date_of_issue)
