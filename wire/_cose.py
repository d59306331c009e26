"""COSE_Sign1 (RFC 9052 §4.2) with ES256 (RFC 9053 §2.1), written over cryptography and our CBOR codec.

A COSE_Sign1 is ``[protected: bstr, unprotected: map, payload: bstr, signature: bstr]``, optionally wrapped in tag 18.
The signature is ECDSA P-256 / SHA-256 over the deterministic encoding of
``["Signature1", protected, external_aad, payload]``, in the fixed-width ``r || s`` form (64 bytes), not DER.

Parsing is generous in what other conforming encoders may send (key order, ``alg`` in the unprotected bucket,
an empty protected map sent as ``h'A0'``, tagged or untagged) and strict about everything that affects security:
duplicate or contradictory header parameters, ``crit`` parameters we do not understand, and any algorithm but ES256.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

from wire._cbor import CborKey, CborValue, Tag, dumps, loads
from wire._errors import DecodeError, Reason, VerificationError

COSE_SIGN1_TAG = 18
ALG_ES256 = -7
HEADER_ALG = 1
HEADER_CRIT = 2
HEADER_CONTENT_TYPE = 3
HEADER_KID = 4
HEADER_X5CHAIN = 33
# Header parameters whose meaning this implementation knows, so a sender may mark them critical.
_UNDERSTOOD = frozenset({HEADER_ALG, HEADER_CRIT, HEADER_CONTENT_TYPE, HEADER_KID, HEADER_X5CHAIN})
_P256_COORDINATE = 32
SIGNATURE_SIZE = 2 * _P256_COORDINATE
# Header maps are small; a sender that needs more is not talking to us.
_MAX_HEADER_DEPTH = 4


class Signer(Protocol):
    """Something that holds a P-256 key: a key file today, a secure element or TPM later."""

    @property
    def kid(self) -> str:
        """The key identifier placed in the protected header: the device id (certificate CN)."""
        ...

    def sign(self, data: bytes) -> bytes:
        """ECDSA P-256 / SHA-256 over ``data``, as the 64-byte ``r || s`` concatenation."""
        ...


class KeySigner:
    """A :class:`Signer` over a ``cryptography`` P-256 private key.

    Signatures are deterministic (RFC 6979), so the same message always seals to the same bytes and a faulty random
    source on a small board cannot leak the key.
    """

    def __init__(self, key: ec.EllipticCurvePrivateKey, *, kid: str) -> None:
        if not isinstance(key.curve, ec.SECP256R1):
            raise VerificationError(Reason.UNSUPPORTED_KEY, f"ES256 needs a P-256 key, not {key.curve.name}")
        self._key = key
        self._kid = kid

    @property
    def kid(self) -> str:
        return self._kid

    def sign(self, data: bytes) -> bytes:
        der = self._key.sign(data, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
        r, s = utils.decode_dss_signature(der)
        return r.to_bytes(_P256_COORDINATE, "big") + s.to_bytes(_P256_COORDINATE, "big")


@dataclass(frozen=True, slots=True)
class Sign1:
    """A parsed, not yet verified, COSE_Sign1."""

    protected_bytes: bytes
    protected: Mapping[CborKey, CborValue]
    unprotected: Mapping[CborKey, CborValue]
    payload: bytes
    signature: bytes
    tagged: bool

    @property
    def alg(self) -> CborValue:
        return self.protected.get(HEADER_ALG, self.unprotected.get(HEADER_ALG))

    @property
    def kid(self) -> bytes | None:
        value = self.protected.get(HEADER_KID, self.unprotected.get(HEADER_KID))
        return value if isinstance(value, bytes) else None

    @property
    def kid_is_protected(self) -> bool:
        return HEADER_KID in self.protected

    @property
    def x5chain(self) -> tuple[bytes, ...]:
        """Certificates (DER, leaf first) the sender attached under label 33 (RFC 9360), if any."""
        value = self.protected.get(HEADER_X5CHAIN, self.unprotected.get(HEADER_X5CHAIN))
        if value is None:
            return ()
        if isinstance(value, bytes):
            return (value,)
        if isinstance(value, list) and value and all(isinstance(v, bytes) for v in value):
            return tuple(v for v in value if isinstance(v, bytes))
        raise DecodeError(Reason.BAD_HEADER, "x5chain must be a certificate or an array of certificates")

    def to_be_signed(self, external_aad: bytes = b"") -> bytes:
        # RFC 9052 §3: an empty protected map, however it was sent, enters the Sig_structure as a zero-length bstr.
        body_protected = self.protected_bytes if self.protected else b""
        return sig_structure(body_protected, self.payload, external_aad=external_aad)


def sig_structure(protected_bytes: bytes, payload: bytes, *, external_aad: bytes = b"") -> bytes:
    return dumps(["Signature1", protected_bytes, external_aad, payload])


def sign1(
    payload: bytes,
    *,
    signer: Signer,
    external_aad: bytes = b"",
    x5chain: Sequence[bytes] = (),
) -> bytes:
    """Seal ``payload`` as a tagged COSE_Sign1; ``alg`` (ES256) and ``kid`` (``signer.kid``) are protected, and the
    only unprotected parameter is ``x5chain`` (DER certificates, leaf first) when given."""
    protected_bytes = dumps({HEADER_ALG: ALG_ES256, HEADER_KID: signer.kid.encode("utf-8")})
    header: dict[CborKey, CborValue] = {}
    if x5chain:
        header[HEADER_X5CHAIN] = bytes(x5chain[0]) if len(x5chain) == 1 else [bytes(c) for c in x5chain]
    signature = signer.sign(sig_structure(protected_bytes, payload, external_aad=external_aad))
    if len(signature) != SIGNATURE_SIZE:
        raise VerificationError(Reason.BAD_SIGNATURE, f"signer returned {len(signature)} bytes, not r || s")
    return dumps(Tag(COSE_SIGN1_TAG, [protected_bytes, header, payload, signature]))


def parse_sign1(data: bytes, *, max_size: int) -> Sign1:
    """Check the structure of a COSE_Sign1 (tagged or not) without verifying it."""
    if len(data) > max_size:
        raise DecodeError(Reason.TOO_LARGE, f"envelope of {len(data)} bytes exceeds {max_size}")
    value = loads(data, canonical=False, allowed_tags=frozenset({COSE_SIGN1_TAG}))
    tagged = isinstance(value, Tag)
    if isinstance(value, Tag):
        value = value.value
    if not isinstance(value, list) or len(value) != 4:
        raise DecodeError(Reason.NOT_COSE_SIGN1, "a COSE_Sign1 is an array of four items")
    protected_bytes, unprotected, payload, signature = value
    if not isinstance(protected_bytes, bytes):
        raise DecodeError(Reason.NOT_COSE_SIGN1, "the protected header must be a byte string")
    if not isinstance(unprotected, dict):
        raise DecodeError(Reason.NOT_COSE_SIGN1, "the unprotected header must be a map")
    if payload is None:
        raise DecodeError(Reason.NOT_COSE_SIGN1, "detached payloads are not part of this contract")
    if not isinstance(payload, bytes):
        raise DecodeError(Reason.NOT_COSE_SIGN1, "the payload must be a byte string")
    if not isinstance(signature, bytes):
        raise DecodeError(Reason.NOT_COSE_SIGN1, "the signature must be a byte string")
    protected: dict[CborKey, CborValue] = {}
    if protected_bytes:
        decoded = loads(protected_bytes, canonical=False, max_depth=_MAX_HEADER_DEPTH)
        if not isinstance(decoded, dict):
            raise DecodeError(Reason.BAD_HEADER, "the protected header must encode a map")
        protected = decoded
    _check_headers(protected, unprotected)
    return Sign1(protected_bytes, protected, unprotected, payload, signature, tagged)


def _check_headers(protected: Mapping[CborKey, CborValue], unprotected: Mapping[CborKey, CborValue]) -> None:
    both = set(protected) & set(unprotected)
    if both:
        raise DecodeError(Reason.BAD_HEADER, f"header parameters {sorted(map(str, both))} are both protected and not")
    if HEADER_CRIT in unprotected:
        raise DecodeError(Reason.BAD_HEADER, "crit must be protected")
    crit = protected.get(HEADER_CRIT)
    if crit is not None:
        if not isinstance(crit, list) or not crit:
            raise DecodeError(Reason.BAD_HEADER, "crit must be a non-empty array of labels")
        for label in crit:
            if isinstance(label, bool) or not isinstance(label, (int, str)) or label not in protected:
                raise DecodeError(Reason.BAD_HEADER, f"crit names {label!r}, which is not a protected parameter")
            if label not in _UNDERSTOOD:
                raise DecodeError(Reason.BAD_HEADER, f"critical header parameter {label!r} is not understood")
    kid = protected.get(HEADER_KID, unprotected.get(HEADER_KID))
    if kid is not None and not isinstance(kid, bytes):
        raise DecodeError(Reason.BAD_HEADER, "kid must be a byte string")


def verify_sign1(message: Sign1, public_key: ec.EllipticCurvePublicKey, *, external_aad: bytes = b"") -> None:
    """Verify an ES256 COSE_Sign1 with ``public_key``; raises :class:`VerificationError` when it does not hold."""
    if message.alg != ALG_ES256:
        raise VerificationError(Reason.UNSUPPORTED_ALGORITHM, f"algorithm {message.alg!r} is not ES256 (-7)")
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(public_key.curve, ec.SECP256R1):
        raise VerificationError(Reason.UNSUPPORTED_KEY, "ES256 needs a P-256 public key")
    if len(message.signature) != SIGNATURE_SIZE:
        raise VerificationError(Reason.BAD_SIGNATURE, f"an ES256 signature is 64 bytes, not {len(message.signature)}")
    r = int.from_bytes(message.signature[:_P256_COORDINATE], "big")
    s = int.from_bytes(message.signature[_P256_COORDINATE:], "big")
    try:
        public_key.verify(
            utils.encode_dss_signature(r, s), message.to_be_signed(external_aad), ec.ECDSA(hashes.SHA256())
        )
    except InvalidSignature as exc:
        raise VerificationError(Reason.BAD_SIGNATURE, "the signature does not verify") from exc
