"""From messages to signed bytes and back: canonical CBOR payloads inside ES256 COSE_Sign1 envelopes.

Compatibility rules for the schema (``v``):

1. ``v`` is the major version. A receiver refuses a ``v`` it does not support (``UNSUPPORTED_VERSION``) instead of
   guessing; a breaking change (a field removed, retyped or given a new meaning) needs a new ``v``.
2. Within a version a producer may add optional fields. A receiver keeps unknown top-level fields in ``extra``
   (unknown fields inside nested maps are ignored). Old terminals therefore keep working when the server learns
   new fields, and the signature still covers every byte that was sent.
3. Required fields are enforced (``MISSING_FIELD``); wrongly typed or out-of-range values are refused
   (``INVALID_FIELD``), and so are unknown values of enumerated fields, which a receiver must understand to act.
4. A new kind of message is a new ``type``; receivers refuse types they do not know (``UNKNOWN_TYPE``). New commands
   need no new type: ``Command.name`` is open and an old terminal replies ``unsupported``.
5. Payloads are deterministic CBOR: one message has exactly one encoding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from wire._cbor import CborKey, CborValue, dumps, loads
from wire._cose import HEADER_ALG, Signer, parse_sign1, sign1, verify_sign1
from wire._errors import DecodeError, Reason, SchemaError, VerificationError
from wire._fields import TEXT, UINT, take_field, take_fields, write_fields
from wire._messages import MESSAGE_TYPES, SCHEMA_VERSION, Header, Message, is_uplink
from wire._topics import Channel, parse_topic

SUPPORTED_VERSIONS = frozenset({SCHEMA_VERSION})
_KIB = 1024
# COSE overhead on top of the payload: headers (~60 bytes with a 64-character kid) and the 64-byte signature.
_ENVELOPE_OVERHEAD = 256
_DEFAULT_PAYLOAD_LIMITS: Mapping[Channel, int] = MappingProxyType(
    {
        Channel.RESULT: 256 * _KIB,  # room for the evidence including DG2 when a site asks for the portrait
        Channel.TRUST: 512 * _KIB,  # a CSCA list with CRLs
        Channel.CONFIG: 64 * _KIB,
        Channel.COMMAND: 64 * _KIB,
        Channel.COMMAND_REPLY: 64 * _KIB,
        Channel.ACK: 4 * _KIB,
        Channel.HEARTBEAT: 4 * _KIB,
        Channel.STATE: 4 * _KIB,
        Channel.CONFIG_REPORTED: 4 * _KIB,
    }
)


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds applied before and while decoding; the broker's packet limit is derived from ``max_envelope``."""

    payload: Mapping[Channel, int] = field(default_factory=lambda: _DEFAULT_PAYLOAD_LIMITS)
    max_depth: int = 8
    max_items: int = 1024

    @property
    def max_payload(self) -> int:
        return max(self.payload.values())

    @property
    def max_envelope(self) -> int:
        return self.max_payload + _ENVELOPE_OVERHEAD


DEFAULT_LIMITS = Limits()


def encode_payload(message: Message) -> bytes:
    """The deterministic CBOR map of ``message`` (what gets signed)."""
    fields: dict[CborKey, CborValue] = {"v": SCHEMA_VERSION, "type": message.CHANNEL.value}
    fields.update(write_fields(message.header))
    fields.update(write_fields(message))
    fields.update(message.extra)
    return dumps(fields)


def decode_payload(data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> Message:
    """Parse and validate a payload; raises :class:`DecodeError` (or its :class:`SchemaError`) with a reason."""
    if len(data) > limits.max_payload:
        raise DecodeError(Reason.TOO_LARGE, f"payload of {len(data)} bytes exceeds {limits.max_payload}")
    value = loads(data, canonical=True, max_depth=limits.max_depth, max_items=limits.max_items)
    if not isinstance(value, dict):
        raise SchemaError(Reason.INVALID_FIELD, "a message is a map")
    if not all(isinstance(k, str) for k in value):
        raise SchemaError(Reason.INVALID_FIELD, "message keys are text")
    fields = {k: v for k, v in value.items() if isinstance(k, str)}
    version = take_field(fields, "v", UINT)
    if version not in SUPPORTED_VERSIONS:
        raise SchemaError(Reason.UNSUPPORTED_VERSION, f"schema version {version} (this side speaks {SCHEMA_VERSION})")
    kind = take_field(fields, "type", TEXT)
    try:
        channel = Channel(kind)
    except ValueError as exc:
        raise SchemaError(Reason.UNKNOWN_TYPE, f"message type {kind!r}") from exc
    if len(data) > limits.payload[channel]:
        raise DecodeError(Reason.TOO_LARGE, f"{kind} payload of {len(data)} bytes exceeds {limits.payload[channel]}")
    header = Header(**take_fields(Header, fields))
    kind_of = MESSAGE_TYPES[channel]
    body = take_fields(kind_of, fields)
    # What is left over are the fields this version does not know.
    return kind_of(header=header, extra=fields, **body)


def seal(message: Message, *, signer: Signer, x5chain: Sequence[bytes] = ()) -> bytes:
    """Sign ``message`` as a COSE_Sign1 with ``kid`` = ``signer.kid``.

    An uplink is signed by the device it comes from, so ``signer.kid`` must be ``message.header.device_id``.
    A downlink is signed by the server, which may attach its certificate chain (``x5chain``, DER, leaf first) so
    that a terminal can check it against the fleet CA.
    """
    if is_uplink(message) and signer.kid != message.header.device_id:
        raise VerificationError(
            Reason.KID_MISMATCH, f"{message.CHANNEL} of {message.header.device_id} signed as {signer.kid}"
        )
    return sign1(encode_payload(message), signer=signer, x5chain=x5chain)


def certificate_identity(certificate: x509.Certificate) -> str:
    """The identity a certificate names: its subject CN, which is what mosquitto uses as the MQTT username."""
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(names) != 1 or not isinstance(names[0].value, str):
        raise VerificationError(Reason.UNSUPPORTED_KEY, "the certificate must have exactly one common name")
    return names[0].value


def open_message(
    envelope: bytes,
    *,
    certificate: x509.Certificate,
    identity: str | None = None,
    topic: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Message:
    """Verify and decode an envelope.

    ``certificate`` is the sender's certificate as the caller knows it (for a device: the one the broker
    authenticated, looked up by the MQTT username; for the server: the one the fleet CA issued it). The protected
    ``kid`` must name that certificate's identity (its CN), and so must ``identity`` when given (the username the
    broker saw). The signature must verify with the certificate's P-256 key. An uplink must come from the device it
    names; when ``topic`` is given it must be the topic of this message type for this device.

    Checking that the certificate itself is valid, unexpired and not revoked is the caller's job (it has the CA and
    the deny list); this function binds the message to the certificate.
    """
    parsed = parse_sign1(envelope, max_size=limits.max_envelope)
    expected = certificate_identity(certificate)
    if identity is not None and identity != expected:
        raise VerificationError(
            Reason.KID_MISMATCH, f"broker identity {identity!r} is not the certificate's {expected!r}"
        )
    if not parsed.kid_is_protected or parsed.kid is None:
        raise VerificationError(Reason.BAD_HEADER, "kid must be in the protected header")
    try:
        kid = parsed.kid.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise VerificationError(Reason.KID_MISMATCH, "kid is not UTF-8 text") from exc
    if kid != expected:
        raise VerificationError(Reason.KID_MISMATCH, f"kid {kid!r} is not the certificate identity {expected!r}")
    if HEADER_ALG not in parsed.protected:
        raise VerificationError(Reason.BAD_HEADER, "alg must be in the protected header")
    public_key = certificate.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise VerificationError(Reason.UNSUPPORTED_KEY, "the certificate key is not an EC key")
    verify_sign1(parsed, public_key)
    message = decode_payload(parsed.payload, limits=limits)
    if is_uplink(message) and message.header.device_id != kid:
        raise VerificationError(Reason.KID_MISMATCH, f"device {kid} sent a message for {message.header.device_id}")
    if topic is not None:
        device_id, channel = parse_topic(topic)
        if channel is not message.CHANNEL or device_id != message.header.device_id:
            raise VerificationError(
                Reason.TOPIC_MISMATCH, f"a {message.CHANNEL} for {message.header.device_id} arrived on {topic}"
            )
    return message
