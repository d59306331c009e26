"""Signature verification by AlgorithmIdentifier, for the SOD, certificates, CRLs and master lists.

Covers what issuing states actually use (see testdata/sod/expected.json): RSA PKCS#1 v1.5 (including the bare
``rsaEncryption`` OID, whose hash then comes from the SignerInfo's digestAlgorithm), RSASSA-PSS with its parameters,
ECDSA with the X9.62 OIDs (DER signatures) and BSI TR-03111 "plain" ECDSA (r ‖ s), on any curve ``_curves`` knows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from asn1crypto import algos
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from mrtd._errors import ParseError
from mrtd._keys import PublicKey
from mrtd._lds import ASN1_ERRORS
from mrtd._oids import EC_PUBLIC_KEY, ECDSA_PLAIN_SIGNATURES, RSA_ENCRYPTION, RSASSA_PSS

HASH_OIDS = {
    "1.3.14.3.2.26": "sha1",
    "2.16.840.1.101.3.4.2.4": "sha224",
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
}

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
    "sha512_224": hashes.SHA512_224,
    "sha512_256": hashes.SHA512_256,
}

_RSA_PKCS1 = {
    "1.2.840.113549.1.1.5": "sha1",
    "1.3.14.3.2.29": "sha1",
    "1.2.840.113549.1.1.14": "sha224",
    "1.2.840.113549.1.1.11": "sha256",
    "1.2.840.113549.1.1.12": "sha384",
    "1.2.840.113549.1.1.13": "sha512",
}
_ECDSA_DER = {
    "1.2.840.10045.4.1": "sha1",
    "1.2.840.10045.4.3.1": "sha224",
    "1.2.840.10045.4.3.2": "sha256",
    "1.2.840.10045.4.3.3": "sha384",
    "1.2.840.10045.4.3.4": "sha512",
}
# BSI TR-03111 §5.2.1: ecdsa-plain-SHA1 .1, -SHA224 .2, -SHA256 .3, -SHA384 .4, -SHA512 .5.
_ECDSA_PLAIN = {
    ECDSA_PLAIN_SIGNATURES + ".1": "sha1",
    ECDSA_PLAIN_SIGNATURES + ".2": "sha224",
    ECDSA_PLAIN_SIGNATURES + ".3": "sha256",
    ECDSA_PLAIN_SIGNATURES + ".4": "sha384",
    ECDSA_PLAIN_SIGNATURES + ".5": "sha512",
}

_NAMES = {
    RSA_ENCRYPTION: "rsaEncryption",
    RSASSA_PSS: "RSASSA-PSS",
    EC_PUBLIC_KEY: "ecPublicKey",
    **{oid: f"{h}WithRSA" for oid, h in _RSA_PKCS1.items()},
    **{oid: f"ecdsa-with-{h.upper()}" for oid, h in _ECDSA_DER.items()},
    **{oid: f"ecdsa-plain-{h.upper()}" for oid, h in _ECDSA_PLAIN.items()},
}


def hash_algorithm(name: str) -> hashes.HashAlgorithm:
    try:
        return _HASHES[name]()
    except KeyError:
        raise ParseError(f"unsupported hash algorithm {name}") from None


def hash_name_of_oid(oid: str) -> str:
    try:
        return HASH_OIDS[oid]
    except KeyError:
        raise ParseError(f"unsupported digest algorithm {oid}") from None


def ecdsa_hash_of_oid(oid: str) -> str | None:
    """The hash of an ECDSA signature OID (X9.62 or BSI plain), or None if ``oid`` is not one."""
    return _ECDSA_DER.get(oid) or _ECDSA_PLAIN.get(oid)


@dataclass(frozen=True, slots=True)
class SignatureAlgorithm:
    """An AlgorithmIdentifier: the OID and the DER of its parameters (None when absent)."""

    oid: str
    parameters: bytes | None = None

    @property
    def name(self) -> str:
        return _NAMES.get(self.oid, self.oid)

    @classmethod
    def from_asn1(cls, value: algos.SignedDigestAlgorithm) -> SignatureAlgorithm:
        try:
            oid = value["algorithm"].dotted
            params = value["parameters"]
            encoded = None if params.__class__.__name__ in ("Void", "Null") else params.dump()
        except ASN1_ERRORS as exc:
            raise ParseError(f"malformed algorithm identifier: {exc}") from exc
        return cls(oid=oid, parameters=encoded)


def _pss_parameters(parameters: bytes | None) -> tuple[str, str, int]:
    """Message hash, MGF1 hash and salt length of RSASSA-PSS (RFC 4055 defaults: SHA-1, MGF1-SHA-1, 20)."""
    if parameters is None:
        return "sha1", "sha1", 20
    try:
        params = algos.RSASSAPSSParams.load(parameters, strict=True)
        message_hash = params["hash_algorithm"]["algorithm"].dotted
        mgf = params["mask_gen_algorithm"]
        if mgf["algorithm"].dotted != "1.2.840.113549.1.1.8":
            raise ParseError("RSASSA-PSS mask generation function is not MGF1")
        mgf_hash = mgf["parameters"]["algorithm"].dotted
        salt = int(params["salt_length"].native)
        trailer = params["trailer_field"].native
    except ASN1_ERRORS as exc:
        raise ParseError(f"malformed RSASSA-PSS parameters: {exc}") from exc
    if trailer not in (1, "trailer_field_bc"):
        raise ParseError("RSASSA-PSS trailer field is not 1 (0xBC)")
    if not 0 <= salt <= 1024:
        raise ParseError("RSASSA-PSS salt length is outside 0..1024")
    return hash_name_of_oid(message_hash), hash_name_of_oid(mgf_hash), salt


def verify_signature(
    key: PublicKey,
    algorithm: SignatureAlgorithm,
    message: bytes,
    signature: bytes,
    *,
    digest_algorithm: str | None = None,
) -> bool:
    """True when ``signature`` over ``message`` verifies with ``key`` under ``algorithm``.

    ``digest_algorithm`` (a hash name) is needed when the algorithm OID does not name a hash (``rsaEncryption``,
    ``ecPublicKey``), as some SODs have it. An algorithm this module does not implement, or one that does not fit the
    key type, is a :class:`ParseError`: the caller reports it differently from a wrong signature.
    """
    oid = algorithm.oid
    if key.rsa is not None:
        public = key.rsa.to_cryptography()
        if oid == RSASSA_PSS:
            message_hash, mgf_hash, salt = _pss_parameters(algorithm.parameters)
            pad: padding.AsymmetricPadding = padding.PSS(mgf=padding.MGF1(hash_algorithm(mgf_hash)), salt_length=salt)
            chosen = hash_algorithm(message_hash)
        elif oid in _RSA_PKCS1 or oid == RSA_ENCRYPTION:
            name = _RSA_PKCS1.get(oid) or digest_algorithm
            if name is None:
                raise ParseError("rsaEncryption signature without a digest algorithm")
            pad, chosen = padding.PKCS1v15(), hash_algorithm(name)
        else:
            raise ParseError(f"signature algorithm {algorithm.name} does not fit an RSA key")
        if len(signature) > key.rsa.size:
            return False
        try:
            public.verify(signature, message, pad, chosen)
        except (InvalidSignature, ValueError):
            return False
        return True
    if key.ec is not None:
        name = ecdsa_hash_of_oid(oid) or (digest_algorithm if oid == EC_PUBLIC_KEY else None)
        if name is None:
            raise ParseError(f"signature algorithm {algorithm.name} does not fit an EC key")
        digest = hashlib.new(name, message).digest()
        if oid in _ECDSA_PLAIN:
            return key.ec.verify_plain(signature, digest, hash_algorithm(name))
        return key.ec.verify_digest(signature, digest, hash_algorithm(name))
    raise ParseError("public key has neither an RSA nor an EC component")
