"""Verification of active authentication (ICAO 9303-11 §6.1): the chip's signature over the terminal's challenge.

RSA keys sign with ISO/IEC 9796-2 digital signature scheme 1: the signature opens (s^e mod n) to a message
representative F = header ‖ M1 ‖ H ‖ trailer, where the trailer names the hash (``BC`` = SHA-1, or ``xxCC`` with an
ISO/IEC 10118-3 hash identifier) and H = hash(M1 ‖ challenge) for partial recovery (header ``6A``) or hash(M1) with
M1 = challenge for full recovery (``4A``). EC keys sign the challenge with ECDSA, plain r ‖ s, using the hash named by
DG14's ActiveAuthenticationInfo.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from mrtd._errors import ActiveAuthError
from mrtd._keys import PublicKey, RsaPublicKey
from mrtd._security_infos import ActiveAuthenticationInfo
from mrtd._signatures import ecdsa_hash_of_oid, hash_algorithm

# ISO/IEC 10118-3 hash-function identifiers used in the two-byte trailer ``xx CC``.
_TRAILER_HASHES = {
    0x33: "sha1",
    0x34: "sha256",
    0x35: "sha512",
    0x36: "sha384",
    0x38: "sha224",
    0x39: "sha512_224",
    0x3A: "sha512_256",
}


@dataclass(frozen=True, slots=True)
class ActiveAuthEvidence:
    """What a terminal keeps from an INTERNAL AUTHENTICATE: the challenge it sent and the chip's signature."""

    challenge: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class RecoveredMessage:
    """The parts of an ISO/IEC 9796-2 message representative."""

    partial: bool
    m1: bytes
    digest: bytes
    hash_name: str


def open_signature(key: RsaPublicKey, signature: bytes) -> bytes:
    """The message representative F = s^e mod n, as ``key.size`` bytes (ISO/IEC 9796-2 takes n - J if needed)."""
    s = int.from_bytes(signature, "big")
    if not signature or len(signature) > key.size or s >= key.n:
        raise ActiveAuthError("the active-authentication signature does not fit the DG15 key")
    j = pow(s, key.e, key.n)
    if j % 16 != 12:
        j = key.n - j
    return j.to_bytes(key.size, "big")


def decode_message_representative(f: bytes) -> RecoveredMessage:
    """Split F into header, M1, H and trailer, checking header, padding and trailer."""
    representative = f.lstrip(b"\x00")
    if len(representative) < 3:
        raise ActiveAuthError("the recovered message representative is too short")
    first = representative[0] >> 4
    if first not in (0x4, 0x6):
        raise ActiveAuthError("the recovered message representative has no ISO/IEC 9796-2 header")
    nibbles = representative.hex()
    position = 1
    while position < len(nibbles) and nibbles[position] == "b":
        position += 1
    if position >= len(nibbles) or nibbles[position] != "a" or (position + 1) % 2:
        raise ActiveAuthError("the recovered message representative has malformed padding")
    start = (position + 1) // 2
    if representative[-1] == 0xBC:
        hash_name, trailer = "sha1", 1
    elif representative[-1] == 0xCC and representative[-2] in _TRAILER_HASHES:
        hash_name, trailer = _TRAILER_HASHES[representative[-2]], 2
    else:
        raise ActiveAuthError(
            "the recovered message representative has an unknown trailer", reason="aa_algorithm_unknown"
        )
    size = hashlib.new(hash_name).digest_size
    end = len(representative) - trailer - size
    if end <= start:
        raise ActiveAuthError("the recovered message representative is too short for its hash")
    return RecoveredMessage(
        partial=bool(representative[0] & 0x20),
        m1=representative[start:end],
        digest=representative[end : end + size],
        hash_name=hash_name,
    )


def _verify_rsa(key: RsaPublicKey, challenge: bytes, signature: bytes) -> None:
    recovered = decode_message_representative(open_signature(key, signature))
    if recovered.partial:
        expected = hashlib.new(recovered.hash_name, recovered.m1 + challenge).digest()
    else:
        if recovered.m1 != challenge:
            raise ActiveAuthError("the chip signed another challenge", reason="aa_challenge_mismatch")
        expected = hashlib.new(recovered.hash_name, recovered.m1).digest()
    if expected != recovered.digest:
        raise ActiveAuthError("the chip's signature does not cover this challenge")


def _verify_ec(key: PublicKey, challenge: bytes, signature: bytes, info: ActiveAuthenticationInfo | None) -> None:
    assert key.ec is not None
    if info is None:
        raise ActiveAuthError(
            "the DG15 key is EC but DG14 has no ActiveAuthenticationInfo naming the signature algorithm",
            reason="aa_algorithm_unknown",
        )
    name = ecdsa_hash_of_oid(info.signature_algorithm)
    if name is None:
        raise ActiveAuthError(
            f"ActiveAuthenticationInfo names {info.signature_algorithm}, not an ECDSA algorithm",
            reason="aa_algorithm_unknown",
        )
    digest = hashlib.new(name, challenge).digest()
    chosen = hash_algorithm(name)
    if len(signature) == 2 * key.ec.curve.size:
        valid = key.ec.verify_plain(signature, digest, chosen)
    else:
        # Some chips answer with a DER SEQUENCE instead of r ‖ s; the signature is the same.
        try:
            r, s = decode_dss_signature(signature)
        except ValueError:
            raise ActiveAuthError("the chip's ECDSA signature is neither r ‖ s nor DER") from None
        valid = key.ec.verify_digest(encode_dss_signature(r, s), digest, chosen)
    if not valid:
        raise ActiveAuthError("the chip's signature does not verify with the DG15 key")


def verify_active_authentication(
    public_key: PublicKey,
    *,
    challenge: bytes,
    signature: bytes,
    info: ActiveAuthenticationInfo | None = None,
) -> None:
    """Return when ``signature`` is the chip's answer to ``challenge``; raise :class:`ActiveAuthError` otherwise.

    ``info`` is DG14's ActiveAuthenticationInfo, required for an EC key. ``ActiveAuthError.reason`` is
    ``aa_signature_invalid``, ``aa_challenge_mismatch`` or ``aa_algorithm_unknown``.
    """
    if public_key.rsa is not None:
        _verify_rsa(public_key.rsa, challenge, signature)
    elif public_key.ec is not None:
        _verify_ec(public_key, challenge, signature, info)
    else:
        raise ActiveAuthError("the DG15 key is neither RSA nor EC", reason="aa_algorithm_unknown")
