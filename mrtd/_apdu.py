"""ISO/IEC 7816-4 APDUs: command and response encoding, the status words eMRTD readers meet, and their typed errors.

Everything here is pure: a multi-step exchange gets a ``transmit`` callable (bytes in, bytes out) and this module only
builds and parses what crosses it. ``CommandAPDU.decode`` is the card side's strict parser, so the virtual chip and the
terminal agree byte for byte on every case of ISO/IEC 7816-3 §12.1 (short and extended length).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from mrtd._errors import (
    AccessDenied,
    CardError,
    FileNotFound,
    MrtdError,
    ParseError,
    ProtocolNotSupported,
    SecureMessagingError,
)

Transmit = Callable[[bytes], Awaitable[bytes]]
"""Send one command APDU to the card and return its response APDU (data ‖ SW1 SW2)."""

Rng = Callable[[int], bytes]
"""A source of random bytes: ``rng(n)`` returns n bytes. Injected so the worked examples can be replayed."""


def random_bytes(rng: Rng, length: int) -> bytes:
    """``rng(length)``, checked: a source that returns another length would weaken a protocol silently."""
    value = rng(length)
    if len(value) != length:
        raise ValueError(f"the random source returned {len(value)} bytes instead of {length}")
    return value


SHORT_MAX_LC = 255
SHORT_MAX_LE = 256
EXTENDED_MAX_LC = 65535
EXTENDED_MAX_LE = 65536


class StatusWord(enum.IntEnum):
    """Status words (SW1 SW2) an ICAO 9303 reader meets. ``63Cx``, ``6Cxx`` and ``61xx`` are families: see helpers."""

    SUCCESS = 0x9000
    MORE_DATA = 0x6100  # 61xx: xx more bytes with GET RESPONSE (T=0; the reader driver normally hides it)
    END_OF_FILE = 0x6282  # fewer bytes than Le: end of file reached
    VERIFICATION_FAILED = 0x6300
    RETRIES_LEFT = 0x63C0  # 63Cx: authentication failed, x tries left
    MEMORY_FAILURE = 0x6581
    WRONG_LENGTH = 0x6700
    SECURITY_STATUS_NOT_SATISFIED = 0x6982
    AUTHENTICATION_METHOD_BLOCKED = 0x6983
    REFERENCE_DATA_NOT_USABLE = 0x6984
    CONDITIONS_OF_USE_NOT_SATISFIED = 0x6985
    COMMAND_NOT_ALLOWED = 0x6986  # no current EF
    SM_DATA_OBJECTS_MISSING = 0x6987
    SM_DATA_OBJECTS_INCORRECT = 0x6988
    INCORRECT_DATA = 0x6A80
    FUNCTION_NOT_SUPPORTED = 0x6A81
    FILE_NOT_FOUND = 0x6A82
    RECORD_NOT_FOUND = 0x6A83
    INCORRECT_P1_P2 = 0x6A86
    REFERENCED_DATA_NOT_FOUND = 0x6A88
    WRONG_PARAMETERS = 0x6B00  # offset outside the EF
    WRONG_LE = 0x6C00  # 6Cxx: wrong Le, xx is the exact length
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00
    NO_PRECISE_DIAGNOSIS = 0x6F00


_DESCRIPTIONS: dict[int, str] = {
    0x9000: "success",
    0x6282: "end of file reached before the requested length",
    0x6300: "authentication failed",
    0x6581: "memory failure in the chip",
    0x6700: "wrong length",
    0x6982: "security status not satisfied (the file or command needs access control first)",
    0x6983: "authentication method blocked",
    0x6984: "reference data not usable",
    0x6985: "conditions of use not satisfied",
    0x6986: "command not allowed (no current file)",
    0x6987: "secure messaging data objects missing",
    0x6988: "secure messaging data objects incorrect (bad MAC)",
    0x6A80: "incorrect data in the command",
    0x6A81: "function not supported",
    0x6A82: "file not found",
    0x6A83: "record not found",
    0x6A86: "incorrect parameters P1-P2",
    0x6A88: "referenced data not found",
    0x6B00: "wrong parameters (offset outside the file)",
    0x6D00: "instruction not supported",
    0x6E00: "class not supported",
    0x6F00: "no precise diagnosis",
}


def describe_status(sw: int) -> str:
    """A short English description of a status word, for messages and logs."""
    if sw in _DESCRIPTIONS:
        return _DESCRIPTIONS[sw]
    if sw & 0xFFF0 == 0x63C0:
        return f"authentication failed, {sw & 0x0F} tries left"
    if sw & 0xFF00 == 0x6C00:
        return f"wrong length, the chip expects Le={(sw & 0xFF) or 256}"
    if sw & 0xFF00 == 0x6100:
        return f"{(sw & 0xFF) or 256} more bytes available"
    return "unknown status"


def is_authentication_failure(sw: int) -> bool:
    """``6300`` or ``63Cx``: the chip did not accept a cryptogram or token."""
    return sw == StatusWord.VERIFICATION_FAILED or sw & 0xFFF0 == 0x63C0


def wrong_le_hint(sw: int) -> int | None:
    """For ``6Cxx`` the exact Le the chip wants (``6C00`` means 256), otherwise None."""
    if sw & 0xFF00 == 0x6C00:
        return (sw & 0xFF) or 256
    return None


def status_error(sw: int, *, context: str) -> MrtdError:
    """The typed error for an error status word, with ``context`` (what was attempted) in the message."""
    message = f"{context}: the chip answered {sw:04X} ({describe_status(sw)})"
    if sw == StatusWord.FILE_NOT_FOUND:
        return FileNotFound(message, sw=sw)
    if sw in (
        StatusWord.SECURITY_STATUS_NOT_SATISFIED,
        StatusWord.AUTHENTICATION_METHOD_BLOCKED,
        StatusWord.REFERENCE_DATA_NOT_USABLE,
        StatusWord.CONDITIONS_OF_USE_NOT_SATISFIED,
    ) or is_authentication_failure(sw):
        return AccessDenied(message, sw=sw)
    if sw in (StatusWord.SM_DATA_OBJECTS_MISSING, StatusWord.SM_DATA_OBJECTS_INCORRECT):
        return SecureMessagingError(message, sw=sw)
    if sw in (StatusWord.INS_NOT_SUPPORTED, StatusWord.CLA_NOT_SUPPORTED, StatusWord.FUNCTION_NOT_SUPPORTED):
        return ProtocolNotSupported(message, sw=sw)
    return CardError(message, sw=sw)


def _check_byte(name: str, value: int) -> None:
    if not 0 <= value <= 0xFF:
        raise ValueError(f"{name} must be one byte, not {value}")


@dataclass(frozen=True, slots=True)
class CommandAPDU:
    """A command APDU. ``le`` is the number of bytes expected (1..65536) or None; 256 and 65536 encode as zeros.

    ``extended`` forces the extended-length encoding; it is chosen anyway when the data or Le do not fit the short
    one. ``decode`` sets it when the bytes it parsed were extended, so a decoded APDU re-encodes to the same bytes.
    """

    cla: int
    ins: int
    p1: int
    p2: int
    _: dataclasses.KW_ONLY
    data: bytes = b""
    le: int | None = None
    extended: bool = False

    def __post_init__(self) -> None:
        for name in ("cla", "ins", "p1", "p2"):
            _check_byte(name, getattr(self, name))
        if len(self.data) > EXTENDED_MAX_LC:
            raise ValueError(f"command data of {len(self.data)} bytes exceeds 65535")
        if self.le is not None and not 1 <= self.le <= EXTENDED_MAX_LE:
            raise ValueError(f"Le must be 1..65536, not {self.le}")

    @property
    def is_extended(self) -> bool:
        """Whether ``encode`` uses the extended-length form (case 1, header only, has none)."""
        if not self.data and self.le is None:
            return False
        return self.extended or len(self.data) > SHORT_MAX_LC or (self.le is not None and self.le > SHORT_MAX_LE)

    @property
    def header(self) -> bytes:
        return bytes((self.cla, self.ins, self.p1, self.p2))

    def encode(self) -> bytes:
        out = bytearray(self.header)
        if self.is_extended:
            if self.data:
                out += b"\x00" + len(self.data).to_bytes(2, "big") + self.data
            if self.le is not None:
                le = (self.le % EXTENDED_MAX_LE).to_bytes(2, "big")
                out += le if self.data else b"\x00" + le
        else:
            if self.data:
                out += bytes((len(self.data),)) + self.data
            if self.le is not None:
                out.append(self.le % SHORT_MAX_LE)
        return bytes(out)

    @classmethod
    def decode(cls, raw: bytes) -> CommandAPDU:
        """Parse a command APDU strictly (the cases of ISO/IEC 7816-3 §12.1); anything else is a ParseError."""
        if len(raw) < 4:
            raise ParseError(f"a command APDU needs 4 header bytes, got {len(raw)}")
        cla, ins, p1, p2 = raw[0], raw[1], raw[2], raw[3]
        body = raw[4:]
        if not body:
            return cls(cla, ins, p1, p2)
        if len(body) == 1:
            return cls(cla, ins, p1, p2, le=body[0] or SHORT_MAX_LE)
        if body[0] != 0:
            lc = body[0]
            if len(body) == 1 + lc:
                return cls(cla, ins, p1, p2, data=bytes(body[1:]))
            if len(body) == 2 + lc:
                return cls(cla, ins, p1, p2, data=bytes(body[1:-1]), le=body[-1] or SHORT_MAX_LE)
            raise ParseError(f"command APDU body of {len(body)} bytes does not match Lc={lc}")
        if len(body) == 3:
            return cls(cla, ins, p1, p2, le=int.from_bytes(body[1:3], "big") or EXTENDED_MAX_LE, extended=True)
        if len(body) < 3:
            raise ParseError("truncated extended-length field")
        lc = int.from_bytes(body[1:3], "big")
        if lc == 0:
            raise ParseError("extended Lc of zero")
        if len(body) == 3 + lc:
            return cls(cla, ins, p1, p2, data=bytes(body[3:]), extended=True)
        if len(body) == 5 + lc:
            le = int.from_bytes(body[-2:], "big") or EXTENDED_MAX_LE
            return cls(cla, ins, p1, p2, data=bytes(body[3:-2]), le=le, extended=True)
        raise ParseError(f"command APDU body of {len(body)} bytes does not match extended Lc={lc}")


@dataclass(frozen=True, slots=True)
class ResponseAPDU:
    """A response APDU: data and the status word."""

    data: bytes
    sw: int

    def __post_init__(self) -> None:
        if not 0 <= self.sw <= 0xFFFF:
            raise ValueError(f"status word must be two bytes, not {self.sw}")

    @classmethod
    def decode(cls, raw: bytes) -> ResponseAPDU:
        if len(raw) < 2:
            raise ParseError(f"a response APDU needs a status word, got {len(raw)} bytes")
        return cls(bytes(raw[:-2]), int.from_bytes(raw[-2:], "big"))

    def encode(self) -> bytes:
        return self.data + self.sw.to_bytes(2, "big")

    @property
    def ok(self) -> bool:
        return self.sw == StatusWord.SUCCESS

    def check(self, *, context: str, accept: tuple[int, ...] = (StatusWord.SUCCESS,)) -> ResponseAPDU:
        """Return self when the status word is in ``accept``; otherwise raise its typed error."""
        if self.sw not in accept:
            raise status_error(self.sw, context=context)
        return self


@dataclass(slots=True)
class IoCounters:
    """Running totals of what crossed a transmit callable: APDUs and bytes each way."""

    apdus: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0

    def snapshot(self) -> IoCounters:
        return IoCounters(self.apdus, self.bytes_sent, self.bytes_received)

    def since(self, earlier: IoCounters) -> IoCounters:
        return IoCounters(
            self.apdus - earlier.apdus,
            self.bytes_sent - earlier.bytes_sent,
            self.bytes_received - earlier.bytes_received,
        )


class MeteredTransmit:
    """Wraps a transmit callable and counts what goes through it (the bytes on the wire, SM included)."""

    def __init__(self, transmit: Transmit) -> None:
        self._transmit = transmit
        self.counters = IoCounters()

    async def __call__(self, command: bytes) -> bytes:
        self.counters.apdus += 1
        self.counters.bytes_sent += len(command)
        response = await self._transmit(command)
        self.counters.bytes_received += len(response)
        return response


class Channel(Protocol):
    """Sends a command APDU and returns the plain response: in clear, or wrapped in secure messaging."""

    async def send(self, command: CommandAPDU) -> ResponseAPDU: ...

    @property
    def secure(self) -> bool: ...


class PlainChannel:
    """Commands in clear, as before access control (EF.CardAccess, GET CHALLENGE, PACE)."""

    def __init__(self, transmit: Transmit) -> None:
        self._transmit = transmit

    @property
    def secure(self) -> bool:
        return False

    async def send(self, command: CommandAPDU) -> ResponseAPDU:
        return ResponseAPDU.decode(await self._transmit(command.encode()))
