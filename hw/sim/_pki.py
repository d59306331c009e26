"""A test PKI for virtual chips: a CSCA, a document signer (DSC) under it, and the EF.SOD the DSC signs.

Keys can be derived from a seed, so a virtual card played twice with the same seed chains to the same CSCA and a
trust file written by one run still verifies the next. The SOD is CMS SignedData (RFC 5652) holding an ICAO
LDSSecurityObject (ICAO 9303-10 §4.6.2), built with asn1crypto and signed with ECDSA.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mrtd import ID_LDS_SECURITY_OBJECT, curve_by_name, encode_integer, encode_oid, encode_tlv

_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "secp256r1": ec.SECP256R1,
    "brainpoolP256r1": ec.BrainpoolP256R1,
    "secp384r1": ec.SECP384R1,
}
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_ECDSA_ALGORITHMS = {"sha256": "sha256_ecdsa", "sha384": "sha384_ecdsa", "sha512": "sha512_ecdsa"}

# A fixed validity window keeps certificates built from the same seed interchangeable as trust anchors.
CSCA_NOT_BEFORE = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
CSCA_NOT_AFTER = dt.datetime(2045, 1, 1, tzinfo=dt.UTC)
DSC_NOT_BEFORE = dt.datetime(2021, 1, 1, tzinfo=dt.UTC)
DSC_NOT_AFTER = dt.datetime(2036, 1, 1, tzinfo=dt.UTC)
EXPIRED_DSC_NOT_AFTER = dt.datetime(2022, 1, 1, tzinfo=dt.UTC)


def derive_ec_key(seed: int | str | None, label: str, curve: str = "brainpoolP256r1") -> ec.EllipticCurvePrivateKey:
    """A private key derived from ``seed`` and ``label`` (a fresh random key when ``seed`` is None).

    Test keys only: derivation makes simulated cards reproducible, which is exactly what a real chip must not be.
    """
    crypto_curve = _CURVES[curve]()
    if seed is None:
        return ec.generate_private_key(crypto_curve)
    order = curve_by_name(curve).n
    material = hashlib.sha512(f"cccd-sim/{seed}/{label}".encode()).digest()
    return ec.derive_private_key(int.from_bytes(material, "big") % (order - 1) + 1, crypto_curve)


def _name(common_name: str, *, serial: str | None = None) -> x509.Name:
    attributes = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "cccd-edge test PKI"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ]
    if serial is not None:
        attributes.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial))
    return x509.Name(attributes)


def _serial(seed: int | str | None, label: str) -> int:
    if seed is None:
        return x509.random_serial_number()
    return int.from_bytes(hashlib.sha256(f"cccd-sim/{seed}/{label}/serial".encode()).digest()[:15], "big") | 1


def make_csca(
    *, seed: int | str | None, label: str = "csca", curve: str = "secp256r1"
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A self-signed CSCA certificate (keyCertSign, cRLSign; CA with pathLen 0), as ICAO 9303-12 profiles it."""
    key = derive_ec_key(seed, label, curve)
    name = _name("CSCA Test Vietnam" if label == "csca" else f"CSCA Test Vietnam ({label})", serial="001")
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(_serial(seed, label))
        .not_valid_before(CSCA_NOT_BEFORE)
        .not_valid_after(CSCA_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_dsc(
    csca_key: ec.EllipticCurvePrivateKey,
    csca_cert: x509.Certificate,
    *,
    seed: int | str | None,
    label: str = "dsc",
    curve: str = "brainpoolP256r1",
    not_before: dt.datetime = DSC_NOT_BEFORE,
    not_after: dt.datetime = DSC_NOT_AFTER,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A document signer certificate (digitalSignature only) issued by ``csca_cert``."""
    key = derive_ec_key(seed, label, curve)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Document Signer Test Vietnam", serial=label))
        .issuer_name(csca_cert.subject)
        .public_key(public)
        .serial_number(_serial(seed, label))
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(csca_key.public_key()),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(csca_key, hashes.SHA256())
    )
    return key, cert


@dataclass(frozen=True, slots=True)
class TestPki:
    """A CSCA and one DSC under it. ``csca_cert`` is what a terminal must trust."""

    csca_key: ec.EllipticCurvePrivateKey
    csca_cert: x509.Certificate
    dsc_key: ec.EllipticCurvePrivateKey
    dsc_cert: x509.Certificate

    __test__ = False  # not a pytest class, whatever its name

    @classmethod
    def create(cls, *, seed: int | str | None = None, dsc_label: str = "dsc", expired_dsc: bool = False) -> TestPki:
        csca_key, csca_cert = make_csca(seed=seed)
        return cls.under(csca_key, csca_cert, seed=seed, dsc_label=dsc_label, expired_dsc=expired_dsc)

    @classmethod
    def under(
        cls,
        csca_key: ec.EllipticCurvePrivateKey,
        csca_cert: x509.Certificate,
        *,
        seed: int | str | None,
        dsc_label: str = "dsc",
        expired_dsc: bool = False,
    ) -> TestPki:
        not_after = EXPIRED_DSC_NOT_AFTER if expired_dsc else DSC_NOT_AFTER
        label = f"{dsc_label}-expired" if expired_dsc else dsc_label
        dsc_key, dsc_cert = make_dsc(csca_key, csca_cert, seed=seed, label=label, not_after=not_after)
        return cls(csca_key, csca_cert, dsc_key, dsc_cert)

    def csca_pem(self) -> bytes:
        return self.csca_cert.public_bytes(serialization.Encoding.PEM)


# --- EF.SOD --------------------------------------------------------------------------------------------------------


_DIGEST_OIDS = {
    "sha256": "2.16.840.1.101.3.4.2.1",
    "sha384": "2.16.840.1.101.3.4.2.2",
    "sha512": "2.16.840.1.101.3.4.2.3",
}


def lds_security_object(data_groups: Mapping[int, bytes], *, hash_name: str = "sha256") -> bytes:
    """DER LDSSecurityObject v0 (ICAO 9303-10 §4.6.2.2) over the data groups, in ascending order of number."""
    hashes_der = b"".join(
        encode_tlv(
            0x30,
            encode_tlv(0x02, encode_integer(number)) + encode_tlv(0x04, hashlib.new(hash_name, content).digest()),
        )
        for number, content in sorted(data_groups.items())
    )
    algorithm = encode_tlv(0x30, encode_tlv(0x06, encode_oid(_DIGEST_OIDS[hash_name])))
    return encode_tlv(0x30, encode_tlv(0x02, encode_integer(0)) + algorithm + encode_tlv(0x30, hashes_der))


def sign_sod(
    data_groups: Mapping[int, bytes],
    *,
    dsc_key: ec.EllipticCurvePrivateKey,
    dsc_cert: x509.Certificate,
    hash_name: str = "sha256",
    signing_time: dt.datetime | None = None,
) -> bytes:
    """EF.SOD (``77`` ‖ ContentInfo) over ``data_groups`` (number → file bytes as the chip serves them)."""
    content = lds_security_object(data_groups, hash_name=hash_name)
    signing_time = signing_time or max(
        dsc_cert.not_valid_before_utc + dt.timedelta(days=1),
        min(dt.datetime.now(dt.UTC), dsc_cert.not_valid_after_utc - dt.timedelta(days=1)),
    )
    signed_attrs = cms.CMSAttributes(
        [
            cms.CMSAttribute({"type": "content_type", "values": [ID_LDS_SECURITY_OBJECT]}),
            cms.CMSAttribute({"type": "signing_time", "values": [cms.Time({"utc_time": signing_time})]}),
            cms.CMSAttribute({"type": "message_digest", "values": [hashlib.new(hash_name, content).digest()]}),
        ]
    )
    signature = dsc_key.sign(signed_attrs.dump(), ec.ECDSA(_HASHES[hash_name]()))
    certificate = asn1_x509.Certificate.load(dsc_cert.public_bytes(serialization.Encoding.DER))
    signer = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": {
                        "issuer": certificate.issuer,
                        "serial_number": certificate.serial_number,
                    }
                }
            ),
            "digest_algorithm": {"algorithm": hash_name},
            "signed_attrs": signed_attrs,
            "signature_algorithm": {"algorithm": _ECDSA_ALGORITHMS[hash_name]},
            "signature": signature,
        }
    )
    signed_data = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [{"algorithm": hash_name}],
            "encap_content_info": {"content_type": ID_LDS_SECURITY_OBJECT, "content": content},
            "certificates": [certificate],
            "signer_infos": [signer],
        }
    )
    info = cms.ContentInfo({"content_type": "signed_data", "content": signed_data})
    der: bytes = info.dump()
    return encode_tlv(0x77, der)
