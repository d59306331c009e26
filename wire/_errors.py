"""The error hierarchy of the wire contract.

Every rejection carries a :class:`Reason` so a receiver can count, log and answer rejections by kind without
parsing messages. Library exceptions (cbor2, cryptography) are re-raised as one of these with ``raise ... from exc``.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why bytes from the network were refused."""

    TOO_LARGE = "too_large"
    TOO_DEEP = "too_deep"
    MALFORMED_CBOR = "malformed_cbor"
    NOT_CANONICAL = "not_canonical"
    TRAILING_BYTES = "trailing_bytes"
    NOT_COSE_SIGN1 = "not_cose_sign1"
    BAD_HEADER = "bad_header"
    UNSUPPORTED_ALGORITHM = "unsupported_algorithm"
    UNSUPPORTED_KEY = "unsupported_key"
    BAD_SIGNATURE = "bad_signature"
    KID_MISMATCH = "kid_mismatch"
    BAD_TOPIC = "bad_topic"
    TOPIC_MISMATCH = "topic_mismatch"
    UNSUPPORTED_VERSION = "unsupported_version"
    UNKNOWN_TYPE = "unknown_type"
    MISSING_FIELD = "missing_field"
    INVALID_FIELD = "invalid_field"


class WireError(Exception):
    """Base class of every error raised by ``wire``; ``reason`` says which rule was broken."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


class DecodeError(WireError):
    """The bytes are not a well-formed, bounded, deterministic CBOR or COSE_Sign1 structure."""


class SchemaError(DecodeError):
    """Well-formed CBOR that does not follow the message schema (or a message built with invalid fields)."""


class VerificationError(WireError):
    """The envelope is well formed but its signature, key or identity binding does not check out."""
