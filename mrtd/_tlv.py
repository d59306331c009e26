"""BER-TLV as used by ISO/IEC 7816-4 and ICAO 9303 (tags up to 4 bytes, definite and indefinite lengths).

Everything read from a chip goes through here first, so every function treats its input as hostile: lengths are
checked against the bytes actually present and nesting is bounded.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from mrtd._errors import TLVError

# Indefinite lengths nest; a hostile file must not drive the parser into deep recursion.
MAX_DEPTH = 32
_MAX_TAG_BYTES = 4
_MAX_LENGTH_BYTES = 4


@dataclass(frozen=True, slots=True)
class TLV:
    """One decoded data object. ``tag`` keeps its encoded bytes as an integer (``0x5F1F``, ``0x7F61``)."""

    tag: int
    value: bytes

    @property
    def constructed(self) -> bool:
        return is_constructed(self.tag)

    def children(self) -> list[TLV]:
        """The data objects inside a constructed object."""
        if not self.constructed:
            raise TLVError(f"tag {self.tag:X} is primitive and has no children")
        return parse_all(self.value)

    def find(self, tag: int) -> TLV | None:
        """The first direct child with ``tag``, or None."""
        return next((c for c in self.children() if c.tag == tag), None)

    def require(self, tag: int) -> TLV:
        """The first direct child with ``tag``; a TLVError names it when it is missing."""
        child = self.find(tag)
        if child is None:
            raise TLVError(f"data object {self.tag:X} has no child {tag:X}")
        return child

    def encode(self) -> bytes:
        return encode_tlv(self.tag, self.value)


def is_constructed(tag: int) -> bool:
    first = tag
    while first > 0xFF:
        first >>= 8
    return bool(first & 0x20)


def _read_tag(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    if pos >= len(data):
        raise TLVError("truncated data object: no tag")
    first = data[pos]
    tag = first
    pos += 1
    if first & 0x1F == 0x1F:
        count = 1
        while True:
            if pos >= len(data):
                raise TLVError("truncated tag")
            byte = data[pos]
            tag = (tag << 8) | byte
            pos += 1
            count += 1
            if count > _MAX_TAG_BYTES:
                raise TLVError("tag longer than 4 bytes")
            if not byte & 0x80:
                break
    if tag == 0:
        raise TLVError("tag 00 is not a data object")
    return tag, pos


def _read_length(data: bytes | memoryview, pos: int) -> tuple[int | None, int]:
    """The length and the position after it; None for the indefinite form (``80``)."""
    if pos >= len(data):
        raise TLVError("truncated data object: no length")
    first = data[pos]
    pos += 1
    if first < 0x80:
        return first, pos
    if first == 0x80:
        return None, pos
    count = first & 0x7F
    if count > _MAX_LENGTH_BYTES:
        raise TLVError(f"length field of {count} bytes is not supported")
    if pos + count > len(data):
        raise TLVError("truncated length")
    return int.from_bytes(data[pos : pos + count], "big"), pos + count


def decode_header(data: bytes) -> tuple[int, int | None, int]:
    """Tag, length (None if indefinite) and header size of the object at the start of ``data``.

    Only the header has to be present: a reader calls this on the first bytes of a file to learn its total size.
    """
    tag, pos = _read_tag(data, 0)
    length, pos = _read_length(data, pos)
    return tag, length, pos


def _skip_indefinite(data: bytes | memoryview, pos: int, depth: int) -> int:
    """Position just after the end-of-contents octets closing an indefinite value that starts at ``pos``."""
    if depth > MAX_DEPTH:
        raise TLVError("data objects nested too deeply")
    while True:
        if pos + 2 <= len(data) and data[pos] == 0 and data[pos + 1] == 0:
            return pos + 2
        _, pos = _read_one(data, pos, depth + 1)


def _read_one(data: bytes | memoryview, pos: int, depth: int) -> tuple[TLV, int]:
    tag, pos = _read_tag(data, pos)
    length, pos = _read_length(data, pos)
    if length is None:
        if not is_constructed(tag):
            raise TLVError(f"primitive tag {tag:X} with indefinite length")
        end = _skip_indefinite(data, pos, depth)
        return TLV(tag, bytes(data[pos : end - 2])), end
    end = pos + length
    if end > len(data):
        raise TLVError(f"data object {tag:X} claims {length} bytes, {len(data) - pos} present")
    return TLV(tag, bytes(data[pos:end])), end


def read_tlv(data: bytes, offset: int = 0) -> tuple[TLV, int]:
    """Decode the data object at ``offset``; returns it and the offset just after it."""
    return _read_one(data, offset, 0)


def parse_one(data: bytes, *, allow_trailing: bool = False) -> TLV:
    """Decode ``data`` as exactly one data object (trailing bytes are an error unless allowed).

    Trailing ``00``/``FF`` padding is tolerated: chips pad files to their allocated size.
    """
    tlv, end = read_tlv(data)
    if not allow_trailing and any(b not in (0x00, 0xFF) for b in data[end:]):
        raise TLVError(f"{len(data) - end} unexpected bytes after data object {tlv.tag:X}")
    return tlv


def iter_tlvs(data: bytes) -> Iterator[TLV]:
    pos = 0
    while pos < len(data):
        tlv, pos = read_tlv(data, pos)
        yield tlv


def parse_all(data: bytes) -> list[TLV]:
    """Decode a concatenation of data objects."""
    return list(iter_tlvs(data))


def encode_length(length: int) -> bytes:
    if length < 0:
        raise ValueError("negative length")
    if length < 0x80:
        return bytes([length])
    size = (length.bit_length() + 7) // 8
    if size > _MAX_LENGTH_BYTES:
        raise ValueError("length too large for BER-TLV")
    return bytes([0x80 | size]) + length.to_bytes(size, "big")


def encode_tag(tag: int) -> bytes:
    if tag <= 0:
        raise ValueError("tag must be positive")
    return tag.to_bytes((tag.bit_length() + 7) // 8, "big")


def encode_tlv(tag: int, value: bytes) -> bytes:
    return encode_tag(tag) + encode_length(len(value)) + value
