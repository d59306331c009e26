"""X.509 certificates and CRLs of the ICAO PKI (CSCA, link, DSC, master-list signer), decoded once into plain data.

asn1crypto decodes lazily, so a malformed field would otherwise surface deep inside verification; everything needed
later is extracted here, up front, and any decoding failure becomes one :class:`ParseError`. Names are compared as
an order-independent multiset of normalised attributes: Malaysia's SOD names its DSC issuer with the RDNs in another
order than the certificate does, and a strict comparison would reject a genuine document.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509

from mrtd._errors import ParseError
from mrtd._keys import PublicKey, load_public_key
from mrtd._lds import ASN1_ERRORS
from mrtd._oids import decode_oid
from mrtd._signatures import SignatureAlgorithm, verify_signature
from mrtd._tlv import TLV, parse_one

_BOOLEAN, _BIT_STRING, _OCTET_STRING, _OID, _SEQUENCE, _SET = 0x01, 0x03, 0x04, 0x06, 0x30, 0x31

NameKey = tuple[tuple[str, str], ...]

_OID_COMMON_NAME = "2.5.4.3"
_OID_COUNTRY = "2.5.4.6"
_EXT_SKI, _EXT_KEY_USAGE, _EXT_BASIC, _EXT_AKI = "2.5.29.14", "2.5.29.15", "2.5.29.19", "2.5.29.35"
_EXT_EXTENDED_KEY_USAGE = "2.5.29.37"
_KEY_USAGE_BITS = (
    "digital_signature",
    "non_repudiation",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
    "encipher_only",
    "decipher_only",
)
_STRING_CODECS = {
    0x0C: "utf-8",  # UTF8String
    0x12: "ascii",  # NumericString
    0x13: "ascii",  # PrintableString
    0x14: "latin-1",  # TeletexString, Latin-1 in practice
    0x16: "ascii",  # IA5String
    0x1A: "ascii",  # VisibleString
    0x1C: "utf-32-be",  # UniversalString
    0x1E: "utf-16-be",  # BMPString
}


def _attribute_value(tlv: TLV) -> str:
    codec = _STRING_CODECS.get(tlv.tag)
    if codec is None:
        return tlv.encode().hex()
    # Names are compared, not trusted: a stray byte must not make two encodings of one name differ in kind.
    return tlv.value.decode(codec, errors="replace")


def _name_attributes(der: bytes) -> list[tuple[str, str]]:
    """(OID, text) of every attribute of a DER Name, in encoding order.

    Walked with the BER-TLV reader rather than asn1crypto: loading a master list decodes about 2,000 names, and this
    is several times faster.
    """
    name = parse_one(der)
    if name.tag != _SEQUENCE:
        raise ParseError("a distinguished name is not a SEQUENCE")
    out: list[tuple[str, str]] = []
    for rdn in name.children():
        if rdn.tag != _SET:
            raise ParseError("a relative distinguished name is not a SET")
        for atv in rdn.children():
            items = atv.children() if atv.tag == _SEQUENCE else []
            if len(items) != 2 or items[0].tag != _OID:
                raise ParseError("a name attribute is not SEQUENCE { OID, value }")
            out.append((decode_oid(items[0].value), _attribute_value(items[1])))
    return out


def _normalise(text: str) -> str:
    return " ".join(text.split()).casefold()


def _key(attributes: list[tuple[str, str]]) -> NameKey:
    return tuple(sorted((oid, _normalise(value)) for oid, value in attributes))


def name_key_of(der: bytes) -> NameKey:
    """An order-independent, case- and space-insensitive key of a DER distinguished name."""
    return _key(_name_attributes(der))


def name_key(name: asn1_x509.Name) -> NameKey:
    """:func:`name_key_of` for an asn1crypto Name."""
    return name_key_of(name.dump())


def _name_text(der: bytes) -> str:
    try:
        return str(asn1_x509.Name.load(der).human_friendly)
    except ASN1_ERRORS:
        return "(unreadable name)"


@dataclass(frozen=True, slots=True)
class _Extensions:
    subject_key_id: bytes | None = None
    authority_key_id: bytes | None = None
    key_usage: frozenset[str] | None = None
    is_ca: bool | None = None
    extended_key_usage: frozenset[str] | None = None  # purpose OIDs, dotted
    unknown_critical: tuple[str, ...] = ()


# Extensions whose meaning is understood here (checked, or harmless to a verifier that only builds DSC → CSCA
# chains): a certificate marking any other extension critical must not be used (RFC 5280 §4.2).
_UNDERSTOOD = frozenset(
    {
        _EXT_SKI,
        _EXT_KEY_USAGE,
        _EXT_BASIC,
        _EXT_AKI,
        _EXT_EXTENDED_KEY_USAGE,
        "2.5.29.16",  # privateKeyUsagePeriod
        "2.5.29.17",  # subjectAltName
        "2.5.29.18",  # issuerAltName
        "2.5.29.31",  # cRLDistributionPoints
        "2.23.136.1.1.6.1",  # ICAO name change
        "2.23.136.1.1.6.2",  # ICAO document type list
    }
)


def _extensions(tbs_items: list[TLV]) -> _Extensions:
    """The extensions chain building and the trust store use, from the ``[3]`` field of a TBSCertificate."""
    wrapper = next((item for item in tbs_items if item.tag == 0xA3), None)
    if wrapper is None:
        return _Extensions()
    found: dict[str, bytes] = {}
    unknown_critical: list[str] = []
    for extension in parse_one(wrapper.value).children():
        parts = extension.children() if extension.tag == _SEQUENCE else []
        if len(parts) not in (2, 3) or parts[0].tag != _OID or parts[-1].tag != _OCTET_STRING:
            raise ParseError("a certificate extension is not SEQUENCE { OID, critical?, OCTET STRING }")
        oid = decode_oid(parts[0].value)
        if oid in found:
            raise ParseError(f"certificate extension {oid} appears twice")
        found[oid] = parts[-1].value
        critical = len(parts) == 3 and parts[1].tag == _BOOLEAN and parts[1].value not in (b"", b"\x00")
        if critical and oid not in _UNDERSTOOD:
            unknown_critical.append(oid)
    ski = aki = usage = None
    is_ca = None
    if _EXT_SKI in found:
        inner = parse_one(found[_EXT_SKI])
        if inner.tag != _OCTET_STRING:
            raise ParseError("subjectKeyIdentifier is not an OCTET STRING")
        ski = inner.value
    if _EXT_AKI in found:
        inner = parse_one(found[_EXT_AKI])
        if inner.tag != _SEQUENCE:
            raise ParseError("authorityKeyIdentifier is not a SEQUENCE")
        aki = next((c.value for c in inner.children() if c.tag == 0x80), None)
    if _EXT_KEY_USAGE in found:
        bits = parse_one(found[_EXT_KEY_USAGE])
        if bits.tag != _BIT_STRING or not bits.value or bits.value[0] > 7:
            raise ParseError("keyUsage is not a BIT STRING")
        flags = int.from_bytes(bits.value[1:], "big") if len(bits.value) > 1 else 0
        width = 8 * (len(bits.value) - 1)
        usage = frozenset(name for i, name in enumerate(_KEY_USAGE_BITS) if i < width and flags >> (width - 1 - i) & 1)
    if _EXT_BASIC in found:
        inner = parse_one(found[_EXT_BASIC])
        if inner.tag != _SEQUENCE:
            raise ParseError("basicConstraints is not a SEQUENCE")
        first = inner.children()[:1]
        is_ca = bool(first and first[0].tag == _BOOLEAN and first[0].value not in (b"", b"\x00"))
    purposes = None
    if _EXT_EXTENDED_KEY_USAGE in found:
        inner = parse_one(found[_EXT_EXTENDED_KEY_USAGE])
        if inner.tag != _SEQUENCE or any(child.tag != _OID for child in inner.children()):
            raise ParseError("extendedKeyUsage is not a SEQUENCE OF OBJECT IDENTIFIER")
        purposes = frozenset(decode_oid(child.value) for child in inner.children())
    return _Extensions(
        subject_key_id=ski,
        authority_key_id=aki,
        key_usage=usage,
        is_ca=is_ca,
        extended_key_usage=purposes,
        unknown_critical=tuple(unknown_critical),
    )


@dataclass(frozen=True, slots=True)
class Certificate:
    """The parts of an X.509 certificate that passive authentication and the trust store use."""

    der: bytes
    tbs: bytes
    subject: NameKey
    issuer: NameKey
    subject_der: bytes
    issuer_der: bytes
    common_name: str | None
    serial: int
    not_before: dt.datetime
    not_after: dt.datetime
    subject_key_id: bytes | None
    authority_key_id: bytes | None
    key_usage: frozenset[str] | None
    is_ca: bool | None
    spki: bytes
    extended_key_usage: frozenset[str] | None
    unknown_critical: tuple[str, ...]  # critical extensions not understood here: the certificate is unusable
    signature_algorithm: SignatureAlgorithm
    signature: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.der).hexdigest()

    @property
    def subject_text(self) -> str:
        """The subject for people (``Common Name: ..., Country: VN``)."""
        return _name_text(self.subject_der)

    @property
    def issuer_text(self) -> str:
        return _name_text(self.issuer_der)

    @property
    def country(self) -> str | None:
        return next((value.upper() for oid, value in self.subject if oid == _OID_COUNTRY), None)

    @property
    def label(self) -> str:
        """A short name for messages: the subject's common name (or the whole subject) and its country."""
        name = self.common_name or self.subject_text
        return f"{name} ({self.country})" if self.country else name

    @property
    def is_self_issued(self) -> bool:
        return self.subject == self.issuer

    def public_key(self) -> PublicKey:
        """The subject's key; a :class:`ParseError` when it is malformed or of an unsupported kind."""
        return load_public_key(self.spki)

    def valid_at(self, when: dt.datetime) -> bool:
        return self.not_before <= when <= self.not_after

    def is_signed_by(self, issuer: Certificate) -> bool:
        """True when ``issuer``'s key verifies this certificate's signature (False also for unsupported algorithms)."""
        return _signed_by(issuer, self.signature_algorithm, self.tbs, self.signature)


def issuer_problem(cert: Certificate) -> str | None:
    """Why ``cert`` may not issue certificates (a reason key), or None when it may.

    ICAO 9303-12 wants basicConstraints cA and keyUsage keyCertSign in a CSCA, but real ones bend it: China's has no
    keyUsage, and the Italian, Turkish and Luxembourg CSCAs in the German master list say cA FALSE with keyCertSign.
    So either statement makes a certificate an issuer; a keyUsage without keyCertSign, or neither statement (an
    end-entity certificate given as a trust anchor), does not.
    """
    if cert.key_usage is not None:
        return None if "key_cert_sign" in cert.key_usage else "csca_key_usage"
    return None if cert.is_ca else "csca_not_ca"


def _signed_by(issuer: Certificate, algorithm: SignatureAlgorithm, tbs: bytes, signature: bytes) -> bool:
    try:
        return verify_signature(issuer.public_key(), algorithm, tbs, signature)
    except ParseError:
        return False


def parse_certificate(der: bytes) -> Certificate:
    """Decode a DER certificate; a :class:`ParseError` says what is wrong with it."""
    try:
        cert = asn1_x509.Certificate.load(der, strict=True)
        tbs = cert["tbs_certificate"]
        validity = tbs["validity"]
        tbs_der = tbs.dump()
        subject_der, issuer_der = tbs["subject"].dump(), tbs["issuer"].dump()
        extensions = _extensions(parse_one(tbs_der).children())
        subject_attributes = _name_attributes(subject_der)
        return Certificate(
            der=bytes(der),
            tbs=tbs_der,
            subject=_key(subject_attributes),
            issuer=name_key_of(issuer_der),
            subject_der=subject_der,
            issuer_der=issuer_der,
            common_name=next((v for oid, v in subject_attributes if oid == _OID_COMMON_NAME), None),
            serial=int(tbs["serial_number"].native),
            not_before=_utc(validity["not_before"].native),
            not_after=_utc(validity["not_after"].native),
            subject_key_id=extensions.subject_key_id,
            authority_key_id=extensions.authority_key_id,
            key_usage=extensions.key_usage,
            is_ca=extensions.is_ca,
            spki=tbs["subject_public_key_info"].dump(),
            extended_key_usage=extensions.extended_key_usage,
            unknown_critical=extensions.unknown_critical,
            signature_algorithm=SignatureAlgorithm.from_asn1(cert["signature_algorithm"]),
            signature=bytes(cert["signature_value"].native),
        )
    except ParseError:
        raise
    except ASN1_ERRORS as exc:
        raise ParseError(f"malformed certificate: {exc}") from exc


def _utc(value: object) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise ParseError(f"certificate time {value!r} is not a date and time")
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class RevokedCertificate:
    serial: int
    revoked_at: dt.datetime


@dataclass(frozen=True, slots=True)
class RevocationList:
    """A CRL: who issued it, when, and the serial numbers it revokes."""

    der: bytes
    tbs: bytes
    issuer: NameKey
    issuer_text: str
    authority_key_id: bytes | None
    this_update: dt.datetime
    next_update: dt.datetime | None
    revoked: tuple[RevokedCertificate, ...]
    signature_algorithm: SignatureAlgorithm
    signature: bytes

    def revocation_of(self, serial: int) -> RevokedCertificate | None:
        return next((r for r in self.revoked if r.serial == serial), None)

    def is_signed_by(self, issuer: Certificate) -> bool:
        return _signed_by(issuer, self.signature_algorithm, self.tbs, self.signature)


def parse_crl(der: bytes) -> RevocationList:
    """Decode a DER certificate revocation list."""
    try:
        crl = asn1_crl.CertificateList.load(der, strict=True)
        tbs = crl["tbs_cert_list"]
        authority = crl.authority_key_identifier_value
        next_update = tbs["next_update"].native
        entries = tbs["revoked_certificates"]
        revoked = tuple(
            RevokedCertificate(serial=int(e["user_certificate"].native), revoked_at=_utc(e["revocation_date"].native))
            for e in entries
        )
        return RevocationList(
            der=bytes(der),
            tbs=tbs.dump(),
            issuer=name_key(tbs["issuer"]),
            issuer_text=_name_text(tbs["issuer"].dump()),
            authority_key_id=authority["key_identifier"].native if authority is not None else None,
            this_update=_utc(tbs["this_update"].native),
            next_update=_utc(next_update) if next_update is not None else None,
            revoked=revoked,
            signature_algorithm=SignatureAlgorithm.from_asn1(crl["signature_algorithm"]),
            signature=bytes(crl["signature"].native),
        )
    except ParseError:
        raise
    except ASN1_ERRORS as exc:
        raise ParseError(f"malformed certificate revocation list: {exc}") from exc
