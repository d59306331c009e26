"""How a message's fields travel: each dataclass field that goes on the wire names its map key and its codec.

One declaration beside the field's type drives the encoder, the decoder and the set of keys a message reserves, so
the three cannot drift apart. Decoding checks only a value's CBOR type; every rule about its content (ranges,
patterns, sizes, rules across fields) lives in the dataclass's ``__post_init__``, which runs alike for a message
built here and for one decoded from the network.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NoReturn

from wire._cbor import CborKey, CborValue
from wire._errors import Reason, SchemaError

# The unsigned range a receiver can store in a signed 64-bit column.
MAX_UINT = (1 << 63) - 1
_SPEC = "wire"


def fail(name: str, why: str) -> NoReturn:
    raise SchemaError(Reason.INVALID_FIELD, f"{name}: {why}")


def check_uint(name: str, value: object, *, maximum: int = MAX_UINT) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        fail(name, f"must be an integer from 0 to {maximum}")


@dataclass(frozen=True, slots=True)
class Codec:
    """How values of one kind are written as CBOR, and read back from a (non-null) decoded value."""

    encode: Callable[[Any], CborValue]
    decode: Callable[[str, CborValue], Any]


@dataclass(frozen=True, slots=True)
class WireField:
    key: str
    codec: Codec
    # An optional field is left out when it is None or empty, and a receiver does not require it.
    optional: bool


def on_wire(key: str, codec: Codec, *, optional: bool = False) -> Mapping[str, WireField]:
    """The ``metadata`` of a dataclass field that travels under ``key``."""
    return {_SPEC: WireField(key, codec, optional)}


# Per class, computed once: encoding and decoding run for every message.
_FIELDS: dict[type, tuple[tuple[str, WireField], ...]] = {}
_KEYS: dict[type, frozenset[str]] = {}


def wire_fields(cls: type) -> tuple[tuple[str, WireField], ...]:
    """``(attribute, spec)`` of each field of ``cls`` that goes on the wire, in declaration order."""
    found = _FIELDS.get(cls)
    if found is None:
        found = tuple((f.name, f.metadata[_SPEC]) for f in dataclasses.fields(cls) if _SPEC in f.metadata)
        _FIELDS[cls] = found
    return found


def wire_keys(cls: type) -> frozenset[str]:
    """The map keys the wire fields of ``cls`` use."""
    found = _KEYS.get(cls)
    if found is None:
        found = _KEYS[cls] = frozenset(spec.key for _, spec in wire_fields(cls))
    return found


def write_fields(value: object) -> dict[CborKey, CborValue]:
    """The wire fields of a dataclass instance. Absent optional fields are left out rather than sent as null or
    as an empty array or map: one encoding per message."""
    out: dict[CborKey, CborValue] = {}
    for name, spec in wire_fields(type(value)):
        item = getattr(value, name)
        if item is None:
            continue
        encoded = spec.codec.encode(item)
        if spec.optional and isinstance(encoded, (list, dict)) and not encoded:
            continue
        out[spec.key] = encoded
    return out


def take_field(fields: dict[str, CborValue], key: str, codec: Codec) -> Any:
    """Take one required field out of a decoded map (also the schema version and the message type, which belong to
    no dataclass)."""
    raw = fields.pop(key, None)
    if raw is None:
        raise SchemaError(Reason.MISSING_FIELD, f"{key}: required")
    return codec.decode(key, raw)


def take_fields(cls: type, fields: dict[str, CborValue]) -> dict[str, Any]:
    """Take the wire fields of ``cls`` out of a decoded map, as constructor arguments; what is left in ``fields``
    is what this version does not know. A null counts as absent."""
    values: dict[str, Any] = {}
    for name, spec in wire_fields(cls):
        if spec.optional and fields.get(spec.key) is None:
            fields.pop(spec.key, None)
            continue
        values[name] = take_field(fields, spec.key, spec.codec)
    return values


# ----------------------------------------------------------------------------------------------- type checks


def _same(value: CborValue) -> CborValue:
    return value


def _uint(key: str, value: CborValue) -> int:
    check_uint(key, value)
    assert isinstance(value, int)
    return value


def _scalar(kind: type, what: str) -> Callable[[str, CborValue], Any]:
    def decode(key: str, value: CborValue) -> Any:
        # A CBOR true or false is never an integer, although Python's bool is an int.
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            fail(key, f"must be {what}")
        return value

    return decode


def _array_of(kind: type, what: str) -> Callable[[str, CborValue], Any]:
    def decode(key: str, value: CborValue) -> tuple[Any, ...]:
        if not isinstance(value, list) or not all(isinstance(v, kind) for v in value):
            fail(key, f"must be an array of {what}")
        return tuple(value)

    return decode


_int = _scalar(int, "an integer")
_text = _scalar(str, "text")
_bytes = _scalar(bytes, "bytes")
_bool = _scalar(bool, "true or false")


def _message_id(key: str, value: CborValue) -> uuid.UUID:
    raw = _bytes(key, value)
    if len(raw) != 16:
        fail(key, "a message id is 16 bytes")
    return uuid.UUID(bytes=raw)


def text_map(key: str, value: CborValue) -> dict[str, CborValue]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        fail(key, "must be a map with text keys")
    return {k: v for k, v in value.items() if isinstance(k, str)}


def _message_id_bytes(value: uuid.UUID) -> CborValue:
    return value.bytes


def _list(value: tuple[CborValue, ...]) -> CborValue:
    return list(value)


def _map(value: Mapping[str, CborValue]) -> CborValue:
    return dict(value.items())


UINT = Codec(_same, _uint)
INT = Codec(_same, _int)
TEXT = Codec(_same, _text)
BYTES = Codec(_same, _bytes)
BOOL = Codec(_same, _bool)
MESSAGE_ID = Codec(_message_id_bytes, _message_id)
TEXTS = Codec(_list, _array_of(str, "text"))
BYTE_STRINGS = Codec(_list, _array_of(bytes, "byte strings"))
MAP = Codec(_map, text_map)


def uint_codec(maximum: int) -> Codec:
    """An unsigned integer with a tighter bound than :data:`UINT`."""

    def decode(key: str, value: CborValue) -> int:
        check_uint(key, value, maximum=maximum)
        assert isinstance(value, int)
        return value

    return Codec(_same, decode)


def enum_codec(kind: type[StrEnum]) -> Codec:
    """An enumerated field travels as its text value; a value this version does not know is refused."""

    def decode(key: str, value: CborValue) -> StrEnum:
        raw = _text(key, value)
        try:
            return kind(raw)
        except ValueError as exc:
            raise SchemaError(Reason.INVALID_FIELD, f"{key}: {raw!r} is not a known {kind.__name__}") from exc

    return Codec(_enum_value, decode)


def _enum_value(value: StrEnum) -> CborValue:
    return value.value


def nested_codec(kind: type) -> Codec:
    """A dataclass with wire fields of its own, as a map; unknown keys inside it are ignored. An empty map is no
    value at all."""

    def decode(key: str, value: CborValue) -> object:
        fields = text_map(key, value)
        return kind(**take_fields(kind, fields)) if fields else None

    return Codec(write_fields, decode)
