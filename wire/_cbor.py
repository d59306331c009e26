"""Deterministic CBOR (RFC 8949 §4.2.1): cbor2 encodes, a strict decoder of our own reads.

Encoding goes through ``cbor2.dumps(canonical=True)``: shortest integer and length forms, definite lengths, map keys
sorted length-first, then by their encoded bytes (RFC 8949 §4.2.3, which cbor2 implements). Message keys are all
text strings, and for keys of one major type that order is the same as the core deterministic order of §4.2.1.
Signed bytes must be stable, so there is exactly one encoder.

Decoding is ours because the input is hostile and cbor2's decoder is too generous for it: it decodes semantic tags
into Python objects (dates, regular expressions, MIME messages, shared references that build cyclic lists) and
ignores trailing bytes. This decoder accepts only the subset the contract uses: unsigned and negative integers,
byte and text strings, arrays, maps with integer or text keys, ``false``/``true``/``null``, and the tags the caller
names. It rejects indefinite lengths, duplicate keys, invalid UTF-8, floats, undefined and other simple values, and
bounds nesting and container sizes. With ``canonical=True`` it also rejects any encoding that is not the
deterministic one, so a message has one byte representation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Union

import cbor2

from wire._errors import DecodeError, Reason

MAX_DEPTH = 16
MAX_ITEMS = 4096

_FALSE, _TRUE, _NULL = 0xF4, 0xF5, 0xF6


@dataclass(frozen=True, slots=True)
class Tag:
    """A CBOR tag the caller allowed (``18`` for a COSE_Sign1)."""

    number: int
    value: CborValue


CborKey = int | str
CborValue = Union[int, bytes, str, bool, None, list["CborValue"], dict[CborKey, "CborValue"], Tag]  # noqa: UP007


def dumps(value: object) -> bytes:
    """Deterministic encoding of plain values (int, bytes, str, bool, None, list, tuple, dict, :class:`Tag`)."""
    return cbor2.dumps(_to_cbor2(value), canonical=True)


def _to_cbor2(value: object) -> object:
    if isinstance(value, Tag):
        return cbor2.CBORTag(value.number, _to_cbor2(value.value))
    if isinstance(value, Mapping):
        return {k: _to_cbor2(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_cbor2(v) for v in value]
    if value is None or isinstance(value, (bool, int, bytes, str)):
        return value
    raise TypeError(f"{type(value).__name__} has no place in a wire message")


def loads(
    data: bytes | bytearray | memoryview,
    *,
    canonical: bool = True,
    allowed_tags: frozenset[int] = frozenset(),
    max_depth: int = MAX_DEPTH,
    max_items: int = MAX_ITEMS,
) -> CborValue:
    """Decode exactly one data item; anything else in ``data`` is an error."""
    decoder = _Decoder(memoryview(bytes(data)), canonical=canonical, allowed_tags=allowed_tags, max_items=max_items)
    value = decoder.item(max_depth)
    if decoder.pos != len(decoder.data):
        raise DecodeError(Reason.TRAILING_BYTES, f"{len(decoder.data) - decoder.pos} bytes after the data item")
    return value


class _Decoder:
    __slots__ = ("allowed_tags", "canonical", "data", "max_items", "pos")

    def __init__(self, data: memoryview, *, canonical: bool, allowed_tags: frozenset[int], max_items: int) -> None:
        self.data = data
        self.pos = 0
        self.canonical = canonical
        self.allowed_tags = allowed_tags
        self.max_items = max_items

    def _take(self, n: int) -> memoryview:
        end = self.pos + n
        if end > len(self.data):
            raise DecodeError(Reason.MALFORMED_CBOR, f"truncated: need {n} bytes at offset {self.pos}")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def _argument(self, info: int) -> int:
        if info < 24:
            return info
        if info > 27:
            # 28-30 are reserved, 31 is an indefinite length: neither is allowed here.
            raise DecodeError(Reason.MALFORMED_CBOR, f"indefinite length or reserved additional info {info}")
        size = 1 << (info - 24)
        value = int.from_bytes(self._take(size), "big")
        if self.canonical and value < (24 if size == 1 else 1 << (4 * size)):
            raise DecodeError(Reason.NOT_CANONICAL, "integer or length not in its shortest form")
        return value

    def _count(self, info: int) -> int:
        count = self._argument(info)
        if count > self.max_items:
            raise DecodeError(Reason.TOO_LARGE, f"container of {count} items exceeds {self.max_items}")
        return count

    def item(self, depth: int) -> CborValue:
        if depth <= 0:
            raise DecodeError(Reason.TOO_DEEP, "nesting deeper than allowed")
        start = self.pos
        initial = self._take(1)[0]
        major, info = initial >> 5, initial & 0x1F
        if major == 0:
            return self._argument(info)
        if major == 1:
            return -1 - self._argument(info)
        if major in (2, 3):
            length = self._argument(info)
            raw = bytes(self._take(length))
            if major == 2:
                return raw
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DecodeError(Reason.MALFORMED_CBOR, "text string is not valid UTF-8") from exc
        if major == 4:
            return [self.item(depth - 1) for _ in range(self._count(info))]
        if major == 5:
            return self._map(info, depth)
        if major == 6:
            number = self._argument(info)
            if number not in self.allowed_tags:
                raise DecodeError(Reason.MALFORMED_CBOR, f"tag {number} is not allowed here")
            return Tag(number, self.item(depth - 1))
        if initial == _FALSE:
            return False
        if initial == _TRUE:
            return True
        if initial == _NULL:
            return None
        raise DecodeError(Reason.MALFORMED_CBOR, f"unsupported simple value or float 0x{initial:02x} at {start}")

    def _map(self, info: int, depth: int) -> dict[CborKey, CborValue]:
        result: dict[CborKey, CborValue] = {}
        previous: tuple[int, bytes] | None = None
        for _ in range(self._count(info)):
            key_start = self.pos
            key = self.item(depth - 1)
            if isinstance(key, bool) or not isinstance(key, (int, str)):
                raise DecodeError(Reason.MALFORMED_CBOR, "map keys must be integers or text strings")
            encoded_key = bytes(self.data[key_start : self.pos])
            if key in result:
                raise DecodeError(Reason.MALFORMED_CBOR, f"duplicate map key {key!r}")
            order = (len(encoded_key), encoded_key)
            if self.canonical and previous is not None and order <= previous:
                raise DecodeError(Reason.NOT_CANONICAL, "map keys are not in deterministic order")
            previous = order
            result[key] = self.item(depth - 1)
        return result


def as_map(value: CborValue, what: str) -> dict[CborKey, CborValue]:
    if not isinstance(value, dict):
        raise DecodeError(Reason.MALFORMED_CBOR, f"{what} must be a map")
    return value


def as_list(value: CborValue, what: str) -> Sequence[CborValue]:
    if not isinstance(value, list):
        raise DecodeError(Reason.MALFORMED_CBOR, f"{what} must be an array")
    return value
