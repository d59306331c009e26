"""Message ids (UUIDv7), the transaction-bound active authentication challenge, and header stamping."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Callable

from wire._errors import Reason, SchemaError

_RANDOM_BYTES = 10
_MAX_UNIX_MS = (1 << 48) - 1
AA_CHALLENGE_SIZE = 8


def uuid7(*, unix_ms: int, random_bytes: bytes) -> uuid.UUID:
    """A version 7 UUID (RFC 9562 §5.7): 48 bits of Unix milliseconds, then 74 random bits.

    Time-ordered ids keep the server's index append-mostly and let an operator read the creation time off an id.
    """
    if not 0 <= unix_ms <= _MAX_UNIX_MS:
        raise SchemaError(Reason.INVALID_FIELD, "id: time does not fit in 48 bits")
    if len(random_bytes) != _RANDOM_BYTES:
        raise SchemaError(Reason.INVALID_FIELD, f"id: need {_RANDOM_BYTES} random bytes")
    rand = int.from_bytes(random_bytes, "big")
    rand_a = (rand >> 68) & 0xFFF
    rand_b = rand & ((1 << 62) - 1)
    return uuid.UUID(int=(unix_ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b)


def is_uuid7(value: uuid.UUID) -> bool:
    return value.version == 7 and value.variant == uuid.RFC_4122


def uuid7_time_ms(value: uuid.UUID) -> int:
    return value.int >> 80


def aa_challenge(result_id: uuid.UUID, time_ms: int) -> bytes:
    """The 8-byte active authentication challenge bound to one result.

    ``SHA-256(result_id (16 bytes) || time_ms (8 bytes, big-endian, unsigned))[:8]``. The server recomputes it from
    the signed result, so a chip signature over any other challenge (an old read replayed as new) does not fit.
    """
    if not 0 <= time_ms < 1 << 64:
        raise SchemaError(Reason.INVALID_FIELD, "time: out of range for the challenge")
    return hashlib.sha256(result_id.bytes + time_ms.to_bytes(8, "big")).digest()[:AA_CHALLENGE_SIZE]


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def new_message_id(*, unix_ms: int, random_source: Callable[[int], bytes] = os.urandom) -> uuid.UUID:
    return uuid7(unix_ms=unix_ms, random_bytes=random_source(_RANDOM_BYTES))
