"""Helpers shared by the LDS file parsers: unwrap a file's outer tag, turn any decoding slip into a ParseError."""

from __future__ import annotations

from mrtd._errors import ParseError
from mrtd._files import FileId
from mrtd._tlv import TLV, parse_one

# A chip file larger than this is not an LDS file (DG2 portraits are tens of kilobytes, DG3 less than 1 MB).
MAX_FILE_SIZE = 4 * 1024 * 1024


def unwrap(data: bytes, file: FileId) -> TLV:
    """The outer data object of ``file``, after checking its tag; trailing ``00``/``FF`` padding is tolerated."""
    if not data:
        raise ParseError(f"{file.label} is empty")
    if len(data) > MAX_FILE_SIZE:
        raise ParseError(f"{file.label} is {len(data)} bytes, more than an LDS file can hold")
    top = parse_one(data)
    if file.tag is not None and top.tag != file.tag:
        raise ParseError(f"{file.label} starts with tag {top.tag:X}, expected {file.tag:X}")
    return top


def version_text(value: bytes, digits: int, what: str) -> str:
    """A version as EF.COM and the SOD's LDSVersionInfo store it, two digits per part: ``0107`` is ``1.7``."""
    text = value.decode("ascii", errors="replace")
    if len(text) != digits or not text.isdigit():
        raise ParseError(f"{what} {text!r} is not {digits} digits")
    return ".".join(str(int(text[i : i + 2])) for i in range(0, digits, 2))


# What asn1crypto raises on malformed input (it decodes lazily, so these can surface on any field access).
ASN1_ERRORS: tuple[type[Exception], ...] = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    OverflowError,
    RecursionError,
)
