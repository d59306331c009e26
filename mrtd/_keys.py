"""Public keys of certificates and DG15: RSA or EC (named or explicit curve parameters), loaded from DER SPKI.

Keys are decoded with asn1crypto rather than pyca/cryptography because ICAO certificates routinely carry explicit
EC parameters that cryptography refuses; RSA keys are rebuilt from their numbers for the same reason (some issuers
use the RSASSA-PSS key OID, which cryptography's SPKI loader does not accept either).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from asn1crypto import keys as asn1_keys
from cryptography.hazmat.primitives.asymmetric import rsa

from mrtd._curves import EcPublicKey, load_ec_public_key
from mrtd._errors import ParseError
from mrtd._lds import ASN1_ERRORS
from mrtd._oids import EC_PUBLIC_KEY, RSA_ENCRYPTION, RSASSA_PSS

# Bounds keep a hostile key from turning one modular exponentiation into a denial of service.
MIN_RSA_BITS = 1000
MAX_RSA_BITS = 8192


@dataclass(frozen=True, slots=True)
class RsaPublicKey:
    n: int
    e: int

    @property
    def bits(self) -> int:
        return self.n.bit_length()

    @property
    def size(self) -> int:
        """Bytes in the modulus."""
        return (self.n.bit_length() + 7) // 8

    def to_cryptography(self) -> rsa.RSAPublicKey:
        return rsa.RSAPublicNumbers(self.e, self.n).public_key()


@dataclass(frozen=True, slots=True)
class PublicKey:
    """Exactly one of ``rsa`` and ``ec`` is set; ``spki`` keeps the DER it came from."""

    spki: bytes
    rsa: RsaPublicKey | None = None
    ec: EcPublicKey | None = None

    @property
    def description(self) -> str:
        """``RSA 2048`` or ``EC brainpoolP256r1``."""
        if self.rsa is not None:
            return f"RSA {self.rsa.bits}"
        assert self.ec is not None
        return f"EC {self.ec.curve.name}"


def _load_rsa(info: asn1_keys.PublicKeyInfo) -> RsaPublicKey:
    try:
        parsed = asn1_keys.RSAPublicKey.load(bytes(info["public_key"].contents[1:]), strict=True)
        n = int(parsed["modulus"].native)
        e = int(parsed["public_exponent"].native)
    except ASN1_ERRORS as exc:
        raise ParseError(f"malformed RSA public key: {exc}") from exc
    if not MIN_RSA_BITS <= n.bit_length() <= MAX_RSA_BITS:
        raise ParseError(f"RSA modulus of {n.bit_length()} bits is outside {MIN_RSA_BITS}..{MAX_RSA_BITS}")
    if n % 2 == 0 or e < 3 or e % 2 == 0 or e >= n:
        raise ParseError("RSA public key has an invalid modulus or exponent")
    return RsaPublicKey(n=n, e=e)


@lru_cache(maxsize=4096)
def load_public_key(spki: bytes) -> PublicKey:
    """Decode a DER SubjectPublicKeyInfo holding an RSA or EC key (cached: trust stores ask for the same keys often)."""
    try:
        info = asn1_keys.PublicKeyInfo.load(spki, strict=True)
        oid = info["algorithm"]["algorithm"].dotted
    except ASN1_ERRORS as exc:
        raise ParseError(f"malformed public key: {exc}") from exc
    if oid in (RSA_ENCRYPTION, RSASSA_PSS):
        return PublicKey(spki=spki, rsa=_load_rsa(info))
    if oid == EC_PUBLIC_KEY:
        try:
            ec_key = load_ec_public_key(spki)
        except ASN1_ERRORS as exc:
            raise ParseError(f"malformed EC public key: {exc}") from exc
        return PublicKey(spki=spki, ec=ec_key)
    raise ParseError(f"public key algorithm {oid} is neither RSA nor EC")
