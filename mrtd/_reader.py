"""Reading elementary files through a channel with few APDUs.

One SELECT (or none, with a short file identifier), one small READ BINARY to learn the TLV length, then chunks as
large as the channel allows. Chips disagree on what "as large as allowed" means, so every refusal has a fallback and
every loop is bounded: a hostile chip cannot make the reader spin or allocate more than ``max_file_size``.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, replace
from typing import Final

from mrtd._apdu import Channel, CommandAPDU, IoCounters, ResponseAPDU, StatusWord, status_error, wrong_le_hint
from mrtd._errors import (
    AccessDenied,
    CardError,
    FileNotFound,
    ParseError,
    ProtocolNotSupported,
    SecureMessagingError,
    TLVError,
)
from mrtd._files import FileId
from mrtd._tlv import decode_header, encode_tlv, parse_one

# Under secure messaging a short response carries at most 256 bytes: DO'87' (tag, 2 length bytes, the padding
# indicator and the cryptogram), DO'99' (4 bytes) and DO'8E' (10 bytes). 223 bytes of data pad to 224, so the
# protected answer is 4 + 224 + 4 + 10 = 242 bytes; 224 to 239 bytes would pad to 240 and need 258. 223 is therefore
# the largest Le that fits for both 3DES and AES (JMRTD's DEFAULT_MAX_BLOCKSIZE, pypassport's 0xDF).
SHORT_SM_MAX_LE: Final = 223
# The largest data an extended SM response can wrap: 65536 minus the SM objects (DO'87' with a 3-byte length and the
# padding indicator, up to 16 bytes of padding, DO'99', DO'8E').
EXTENDED_SM_MAX_LE: Final = 65536 - (1 + 4 + 1 + 16) - 4 - 10
# READ BINARY with an even INS addresses offsets up to 32767 (P1 bit 8 selects the SFI form); beyond, odd INS B1.
MAX_EVEN_OFFSET: Final = 0x7FFF
# Le values tried, largest first, when the chip refuses a length (6700, 6282 without data, 6B00).
LE_LADDER: Final = (223, 192, 160, 128, 96, 64, 32, 16, 8, 4, 1)
_MAX_HEADER: Final = 10  # 4 tag bytes + 5 length bytes, plus one for good measure
_B1_OVERHEAD: Final = 4  # DO'53' tag and up to 3 length bytes inside the odd-INS answer


class FileSelection(enum.Enum):
    """How the reader addresses a file."""

    FID = "fid"
    """SELECT EF by file identifier (``00 A4 02 0C 02 xx xx``), then READ BINARY by offset: what every CCCD accepts."""
    FID_ANY = "fid_any"
    """SELECT by file identifier with P1 = 00 (``00 A4 00 0C 02 xx xx``), for chips that refuse ICAO's P1 = 02 with
    6A86. The reader falls back to it by itself and keeps it for the next files."""
    SFI = "sfi"
    """READ BINARY with the short file identifier in P1, which selects the file in the same APDU (one APDU less)."""


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """Tuning of the file reader. The defaults are what real CCCDs and most passports accept."""

    selection: FileSelection = FileSelection.FID
    header_length: int = 8  # JMRTD's read-ahead: enough for any LDS tag with a 4-byte length
    max_le: int = SHORT_SM_MAX_LE
    extended_length: bool = False  # only when both the reader and the chip support it
    extended_le: int = EXTENDED_SM_MAX_LE
    max_file_size: int = 1 << 20

    def __post_init__(self) -> None:
        if not 1 <= self.header_length <= SHORT_SM_MAX_LE:
            raise ValueError("header_length must be 1..223")
        if not 1 <= self.max_le <= 256:
            raise ValueError("max_le must be 1..256")
        if not 1 <= self.extended_le <= 65536:
            raise ValueError("extended_le must be 1..65536")
        if self.max_file_size < 1:
            raise ValueError("max_file_size must be positive")


@dataclass(frozen=True, slots=True)
class FileRead:
    """The content of one file and what reading it cost. ``options`` carries any Le the chip forced down, for the
    next file."""

    file: FileId
    data: bytes
    apdus: int
    bytes_sent: int
    bytes_received: int
    options: ReadOptions


class _Counter:
    """Counts at the channel (plain) level, used when the caller has no meter on the wire."""

    def __init__(self, channel: Channel, meter: IoCounters | None) -> None:
        self._channel = channel
        self._meter = meter
        self._start = meter.snapshot() if meter else None
        self.local = IoCounters()

    async def send(self, command: CommandAPDU) -> ResponseAPDU:
        self.local.apdus += 1
        self.local.bytes_sent += len(command.encode())
        response = await self._channel.send(command)
        self.local.bytes_received += len(response.data) + 2
        return response

    def totals(self) -> IoCounters:
        if self._meter is not None and self._start is not None:
            return self._meter.since(self._start)
        return self.local


def select_file_command(file: FileId, *, any_level: bool = False) -> CommandAPDU:
    """SELECT EF by FID without FCI (P2 = 0C): P1 = 02 ("EF under the current DF"), the form ICAO 9303-10 gives and
    every CCCD accepts, or with ``any_level`` P1 = 00 (ISO/IEC 7816-4 "MF, DF or EF"), which some chips want."""
    return CommandAPDU(0x00, 0xA4, 0x00 if any_level else 0x02, 0x0C, data=file.fid.to_bytes(2, "big"))


def read_binary_command(offset: int, le: int, *, sfi: int | None = None) -> CommandAPDU:
    """READ BINARY at ``offset``: with an SFI (offset ≤ 255), even INS (≤ 32767) or odd INS B1 with DO'54'."""
    if sfi is not None:
        if not 0 <= offset <= 0xFF or not 1 <= sfi <= 30:
            raise ValueError("an SFI read addresses offsets 0..255 of files 1..30")
        return CommandAPDU(0x00, 0xB0, 0x80 | sfi, offset, le=le)
    if offset <= MAX_EVEN_OFFSET:
        return CommandAPDU(0x00, 0xB0, offset >> 8, offset & 0xFF, le=le)
    width = max(2, (offset.bit_length() + 7) // 8)
    return CommandAPDU(0x00, 0xB1, 0x00, 0x00, data=encode_tlv(0x54, offset.to_bytes(width, "big")), le=le)


def _refusal_error(file: FileId, sw: int, *, what: str) -> Exception:
    context = f"{what} {file.label}"
    if sw == StatusWord.FILE_NOT_FOUND:
        return FileNotFound(f"the chip has no {file.label} ({sw:04X})", sw=sw)
    if sw == StatusWord.SECURITY_STATUS_NOT_SATISFIED:
        return AccessDenied(f"the chip protects {file.label} ({sw:04X}); it needs extended access control", sw=sw)
    return status_error(sw, context=context)


async def _checked(counter: _Counter, command: CommandAPDU, file: FileId, *, what: str) -> ResponseAPDU:
    """Send a command; a file the chip lacks or protects is FileNotFound / AccessDenied even when the chip answered
    that status in clear under secure messaging (many chips do, and keep the session)."""
    try:
        return await counter.send(command)
    except SecureMessagingError as exc:
        if exc.sw in (StatusWord.FILE_NOT_FOUND, StatusWord.SECURITY_STATUS_NOT_SATISFIED):
            raise _refusal_error(file, exc.sw, what=what) from exc
        raise


async def _select(counter: _Counter, file: FileId, *, any_level: bool) -> bool:
    """SELECT ``file``; returns whether the chip needed the P1 = 00 form.

    A chip that refuses ICAO's P1 = 02 with 6A86 ("incorrect P1-P2") gets P1 = 00 once. Some chips answer that
    refusal in clear under secure messaging and keep the session, as they do 6A82: the retry is just as safe, since
    at worst a forged status costs one more SELECT.
    """
    try:
        response = await _checked(counter, select_file_command(file, any_level=any_level), file, what="selecting")
    except SecureMessagingError as exc:
        if any_level or exc.sw != StatusWord.INCORRECT_P1_P2:
            raise
        response = ResponseAPDU(b"", exc.sw)
    if response.sw == StatusWord.INCORRECT_P1_P2 and not any_level:
        any_level = True
        response = await _checked(counter, select_file_command(file, any_level=True), file, what="selecting")
    _raise_unless_ok(response, file)
    return any_level


def _next_le(current: int, sw: int) -> int | None:
    """A smaller Le after a refusal, or None when there is none left."""
    hint = wrong_le_hint(sw)
    if hint is not None and hint < current:
        return hint
    return next((le for le in LE_LADDER if le < current), None)


async def read_file(
    channel: Channel,
    file: FileId,
    *,
    options: ReadOptions | None = None,
    meter: IoCounters | None = None,
) -> FileRead:
    """Read a whole elementary file: its TLV header first, then the rest in large chunks.

    ``meter`` is the counter of the transmit under ``channel`` (``MeteredTransmit.counters``), so the statistics
    count the bytes on the wire; without it they count plain APDUs. Raises FileNotFound (6A82), AccessDenied (6982),
    ParseError for a malformed or oversized file, CardError for other refusals.
    """
    opts = options or ReadOptions()
    counter = _Counter(channel, meter)
    sfi: int | None = None
    any_level = opts.selection is FileSelection.FID_ANY
    if opts.selection is FileSelection.SFI and 1 <= file.sfi <= 30:
        sfi = file.sfi
    else:
        any_level = await _select(counter, file, any_level=any_level)

    short_cap = opts.max_le
    extended = opts.extended_length
    data = b""
    total: int | None = None
    end_of_file = False
    refusals = 0
    budget: int | None = None
    while True:
        if total is None:
            total = _total_length(data, opts, end_of_file=end_of_file)
        if total is not None and budget is None:
            # Bounded: the chunks still needed at the current size (twice, for chips that answer short), the Le
            # ladder and a few spare. Recomputed whenever the chunk size changes.
            chunk = opts.extended_le if extended else short_cap
            budget = counter.local.apdus + 2 * math.ceil(max(total - len(data), 0) / chunk) + len(LE_LADDER) + 4
        if total is not None and len(data) >= total:
            break
        if total is not None and end_of_file:
            raise ParseError(f"{file.label} ends at {len(data)} bytes but its header claims {total}")
        if budget is not None and counter.local.apdus >= budget:
            raise CardError(f"the chip returns {file.label} in pieces too small to read it in reasonable time")
        offset = len(data)
        wanted = (total - offset) if total is not None else max(opts.header_length - offset, 1)
        cap = opts.extended_le if extended else short_cap
        le = min(wanted, cap)
        odd = offset > MAX_EVEN_OFFSET
        if odd:
            le = min(le + _B1_OVERHEAD, cap)
        # With an SFI the first read selects the file; later reads address it by offset like any selected file.
        command = read_binary_command(offset, le, sfi=sfi if offset == 0 else None)
        response = await _checked(counter, command, file, what="reading")
        sw = response.sw
        chunk_data = response.data
        if odd and chunk_data:
            chunk_data = _odd_ins_content(chunk_data, file)
        if sw == StatusWord.SUCCESS and chunk_data:
            data += chunk_data
            if total is None and len(chunk_data) < le:
                end_of_file = True
            continue
        if sw == StatusWord.END_OF_FILE and chunk_data:
            data += chunk_data
            end_of_file = True
            continue
        if sw in (StatusWord.FILE_NOT_FOUND, StatusWord.SECURITY_STATUS_NOT_SATISFIED):
            raise _refusal_error(file, sw, what="reading")
        if (
            sfi is not None
            and offset == 0
            and not data
            and sw
            in (
                StatusWord.INCORRECT_P1_P2,
                StatusWord.WRONG_PARAMETERS,
                StatusWord.FUNCTION_NOT_SUPPORTED,
                StatusWord.COMMAND_NOT_ALLOWED,
                StatusWord.INS_NOT_SUPPORTED,
            )
        ):
            # The chip does not take short file identifiers: select the file and read by offset instead.
            sfi = None
            any_level = await _select(counter, file, any_level=any_level)
            continue
        if odd and sw in (StatusWord.INS_NOT_SUPPORTED, StatusWord.INCORRECT_P1_P2):
            raise ProtocolNotSupported(
                f"{file.label} is longer than 32767 bytes and the chip refuses READ BINARY B1 ({sw:04X})", sw=sw
            )
        refused_length = sw in (StatusWord.WRONG_LENGTH, StatusWord.WRONG_PARAMETERS, StatusWord.END_OF_FILE) or (
            wrong_le_hint(sw) is not None
        )
        if sw == StatusWord.SUCCESS and not chunk_data:
            refused_length = True
        if not refused_length:
            raise status_error(sw, context=f"reading {file.label} at offset {offset}")
        refusals += 1
        budget = None
        if refusals > len(LE_LADDER) + 2:
            raise CardError(f"the chip refuses every read length for {file.label} ({sw:04X})", sw=sw)
        if extended:
            extended = False  # the chip or reader does not take extended length: back to short APDUs
            short_cap = min(short_cap, SHORT_SM_MAX_LE)
            continue
        smaller = _next_le(min(le, short_cap), sw)
        if smaller is None:
            raise CardError(f"the chip refuses to return {file.label} at offset {offset} ({sw:04X})", sw=sw)
        short_cap = smaller
    totals = counter.totals()
    assert total is not None
    selection = FileSelection.FID_ANY if any_level and opts.selection is FileSelection.FID else opts.selection
    learned = replace(opts, selection=selection, max_le=min(opts.max_le, short_cap), extended_length=extended)
    return FileRead(file, data[:total], totals.apdus, totals.bytes_sent, totals.bytes_received, learned)


def _raise_unless_ok(response: ResponseAPDU, file: FileId) -> None:
    if response.sw != StatusWord.SUCCESS:
        raise _refusal_error(file, response.sw, what="selecting")


def _total_length(data: bytes, options: ReadOptions, *, end_of_file: bool) -> int | None:
    """The file's total length once its TLV header is complete; None while more bytes are needed."""
    try:
        _, length, header_size = decode_header(data)
    except TLVError as exc:
        if end_of_file or len(data) >= _MAX_HEADER:
            raise ParseError(f"the file does not start with a valid TLV header: {exc}") from exc
        return None
    if length is None:
        raise ParseError("an LDS file with an indefinite length is not supported")
    total = header_size + length
    if total > options.max_file_size:
        raise ParseError(f"the file claims {total} bytes, more than the {options.max_file_size} allowed")
    return total


def _odd_ins_content(data: bytes, file: FileId) -> bytes:
    try:
        wrapped = parse_one(data)
    except ParseError as exc:
        raise ParseError(f"malformed READ BINARY B1 answer for {file.label}: {exc}") from exc
    if wrapped.tag != 0x53:
        raise ParseError(f"READ BINARY B1 answer for {file.label} is not a DO'53'")
    return wrapped.value
