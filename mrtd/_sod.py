"""EF.SOD (ICAO 9303-10 §4.6.2): CMS SignedData around the LDSSecurityObject, the data group hashes.

Real documents bend the rules in ways a verifier must accept (see testdata/sod/expected.json): BER indefinite
lengths inside the ``77`` wrapper (NZ), ``id-data`` as eContentType instead of ``id-icao-ldsSecurityObject`` (CN), the
signer identified by issuer and serial with its RDNs in another order (MY) or by subject key identifier. The parser
decodes everything passive authentication needs up front, so hostile bytes end here as one :class:`ParseError`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from asn1crypto import cms, core

from mrtd._certificates import Certificate, NameKey, name_key, parse_certificate
from mrtd._errors import ParseError, PassiveAuthError
from mrtd._files import FileId
from mrtd._lds import ASN1_ERRORS, unwrap, version_text
from mrtd._oids import ID_LDS_SECURITY_OBJECT, decode_integer, decode_oid
from mrtd._signatures import SignatureAlgorithm, hash_name_of_oid, verify_signature
from mrtd._tlv import TLV, parse_one

ID_DATA = "1.2.840.113549.1.7.1"
ID_SIGNED_DATA = "1.2.840.113549.1.7.2"
ACCEPTED_ECONTENT_TYPES = (ID_LDS_SECURITY_OBJECT, ID_DATA)
"""What an EF.SOD's eContentType may be; passive authentication fails any other (``content_type_mismatch``)."""
_DIGEST_SIZES = {"sha1": 20, "sha224": 28, "sha256": 32, "sha384": 48, "sha512": 64}
_INTEGER, _OCTET_STRING, _OID, _PRINTABLE, _SEQUENCE = 0x02, 0x04, 0x06, 0x13, 0x30
_ATTR_CONTENT_TYPE = "1.2.840.113549.1.9.3"
_ATTR_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
_ATTR_SIGNING_TIME = "1.2.840.113549.1.9.5"


@dataclass(frozen=True, slots=True)
class LdsSecurityObject:
    """The signed content: the hash algorithm and one hash per data group (LDS v1.8 adds the version info)."""

    version: int
    hash_algorithm: str
    dg_hashes: Mapping[int, bytes]
    lds_version: str | None = None
    unicode_version: str | None = None

    @property
    def data_groups(self) -> tuple[FileId, ...]:
        return tuple(FileId.data_group(n) for n in sorted(self.dg_hashes))


@dataclass(frozen=True, slots=True)
class SignerInfo:
    """One CMS SignerInfo. ``signed_attributes`` is the DER of the attributes re-tagged as SET, as they are signed."""

    sid_issuer: NameKey | None
    sid_issuer_text: str | None
    sid_serial: int | None
    sid_key_id: bytes | None
    digest_algorithm: str
    signature_algorithm: SignatureAlgorithm
    signed_attributes: bytes | None
    content_type: str | None
    message_digest: bytes | None
    signing_time: dt.datetime | None
    signature: bytes

    def identifies(self, cert: Certificate) -> bool:
        """True when this SignerInfo's sid names ``cert`` (issuer + serial, RDN order ignored; or the SKI)."""
        if self.sid_key_id is not None:
            return cert.subject_key_id == self.sid_key_id
        return cert.serial == self.sid_serial and cert.issuer == self.sid_issuer


@dataclass(frozen=True, slots=True)
class SignedData:
    """A decoded CMS SignedData with its encapsulated content."""

    econtent_type: str
    econtent: bytes
    certificates: tuple[Certificate, ...]
    signer_infos: tuple[SignerInfo, ...]

    def signer_certificate(self, signer: SignerInfo) -> Certificate | None:
        return next((c for c in self.certificates if signer.identifies(c)), None)


@dataclass(frozen=True, slots=True)
class SOD:
    """EF.SOD: the SignedData, its LDSSecurityObject, and whether the file used BER indefinite lengths."""

    signed_data: SignedData
    lds: LdsSecurityObject
    indefinite_length: bool = field(default=False)

    @property
    def signer(self) -> SignerInfo:
        return self.signed_data.signer_infos[0]

    @property
    def dsc(self) -> Certificate | None:
        """The Document Signer certificate the SignerInfo names, if the SOD carries it."""
        return self.signed_data.signer_certificate(self.signer)


def _attributes(signer: cms.SignerInfo) -> tuple[bytes | None, str | None, bytes | None, dt.datetime | None]:
    attrs = signer["signed_attrs"]
    if attrs.__class__ is core.Void or not len(attrs):
        return None, None, None, None
    encoded = attrs.dump()
    # The signature covers the attributes with their universal SET tag, not the [0] IMPLICIT tag they travel with.
    as_set = b"\x31" + encoded[1:]
    content_type = message_digest = signing_time = None
    seen: set[str] = set()
    for attr in attrs:
        oid = attr["type"].dotted
        if oid in seen:
            raise ParseError(f"signed attribute {oid} appears twice")
        seen.add(oid)
        values = attr["values"]
        if len(values) != 1 and oid in (_ATTR_CONTENT_TYPE, _ATTR_MESSAGE_DIGEST, _ATTR_SIGNING_TIME):
            raise ParseError(f"signed attribute {oid} must have exactly one value")
        if oid == _ATTR_CONTENT_TYPE:
            content_type = values[0].dotted
        elif oid == _ATTR_MESSAGE_DIGEST:
            message_digest = bytes(values[0].native)
        elif oid == _ATTR_SIGNING_TIME:
            when = values[0].native
            if isinstance(when, dt.datetime):
                signing_time = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    return as_set, content_type, message_digest, signing_time


def _signer_info(signer: cms.SignerInfo) -> SignerInfo:
    sid = signer["sid"]
    issuer_key = issuer_text = serial = key_id = None
    if sid.name == "issuer_and_serial_number":
        issuer = sid.chosen["issuer"]
        issuer_key, issuer_text = name_key(issuer), str(issuer.human_friendly)
        serial = int(sid.chosen["serial_number"].native)
    else:
        key_id = bytes(sid.chosen.native)
    signed, content_type, message_digest, signing_time = _attributes(signer)
    return SignerInfo(
        sid_issuer=issuer_key,
        sid_issuer_text=issuer_text,
        sid_serial=serial,
        sid_key_id=key_id,
        digest_algorithm=hash_name_of_oid(signer["digest_algorithm"]["algorithm"].dotted),
        signature_algorithm=SignatureAlgorithm.from_asn1(signer["signature_algorithm"]),
        signed_attributes=signed,
        content_type=content_type,
        message_digest=message_digest,
        signing_time=signing_time,
        signature=bytes(signer["signature"].native),
    )


def _econtent_bytes(content: core.Asn1Value) -> bytes:
    if isinstance(content, core.Void):
        raise ParseError("SignedData has no encapsulated content (a detached signature)")
    if isinstance(content, core.ParsableOctetString | core.OctetString):
        # A BER constructed OCTET STRING arrives in chunks; bytes() joins them, and the digest covers the join.
        return bytes(content)
    raise ParseError("encapsulated content is not an OCTET STRING")


def parse_signed_data(data: bytes, *, accepted_types: tuple[str, ...] | None = None) -> SignedData:
    """Decode a CMS ContentInfo holding SignedData (EF.SOD's content, a CSCA master list, EF.CardSecurity)."""
    try:
        info = cms.ContentInfo.load(data, strict=True)
        if info["content_type"].dotted != ID_SIGNED_DATA:
            raise ParseError(f"CMS content type {info['content_type'].dotted} is not SignedData")
        signed = info["content"]
        encap = signed["encap_content_info"]
        econtent_type = encap["content_type"].dotted
        if accepted_types is not None and econtent_type not in accepted_types:
            raise ParseError(f"eContentType {econtent_type} is not one of {', '.join(accepted_types)}")
        econtent = _econtent_bytes(encap["content"])
        certificates: list[Certificate] = []
        certs = signed["certificates"]
        if certs.__class__ is not core.Void:
            for index, choice in enumerate(certs):
                if choice.name != "certificate":
                    continue
                try:
                    certificates.append(parse_certificate(choice.chosen.dump()))
                except ParseError as exc:
                    raise ParseError(f"certificate {index + 1} in SignedData: {exc}") from exc
        signer_infos = tuple(_signer_info(si) for si in signed["signer_infos"])
    except ParseError:
        raise
    except ASN1_ERRORS as exc:
        raise ParseError(f"malformed CMS SignedData: {exc}") from exc
    if not signer_infos:
        raise ParseError("SignedData has no SignerInfo")
    return SignedData(
        econtent_type=econtent_type,
        econtent=econtent,
        certificates=tuple(certificates),
        signer_infos=signer_infos,
    )


def signed_message(signed: SignedData, signer: SignerInfo) -> bytes:
    """The bytes ``signer``'s signature covers (RFC 5652 §5.4): the signed attributes, once they are shown to name
    ``signed``'s content (message digest, content type), or the content itself when there are none.

    A :class:`PassiveAuthError` says which binding is broken: ``message_digest_missing``,
    ``message_digest_mismatch`` or ``content_type_mismatch``.
    """
    if signer.signed_attributes is None:
        return signed.econtent
    if signer.message_digest is None:
        raise PassiveAuthError("the signed attributes have no message digest", reason="message_digest_missing")
    if hashlib.new(signer.digest_algorithm, signed.econtent).digest() != signer.message_digest:
        raise PassiveAuthError(
            "the content does not match the message digest of the signed attributes", reason="message_digest_mismatch"
        )
    if signer.content_type is None:
        # RFC 5652 §5.3: signed attributes MUST name the content type, or the signature could be moved onto content
        # of another kind with the same digest.
        raise PassiveAuthError("the signed attributes do not name the content type", reason="content_type_mismatch")
    if signer.content_type != signed.econtent_type:
        raise PassiveAuthError(
            "the signed content type differs from the type of the content", reason="content_type_mismatch"
        )
    return signer.signed_attributes


def signer_verifies(signed: SignedData, signer: SignerInfo, certificate: Certificate) -> bool:
    """Whether ``signer``'s signature over ``signed`` verifies with ``certificate``'s key.

    Raises :func:`signed_message`'s :class:`PassiveAuthError` when the signed attributes do not name the content
    (checked first), and a :class:`ParseError` for a key or an algorithm this package does not implement.
    """
    message = signed_message(signed, signer)
    return verify_signature(
        certificate.public_key(),
        signer.signature_algorithm,
        message,
        signer.signature,
        digest_algorithm=signer.digest_algorithm,
    )


def _children(tlv: TLV, tag: int, what: str) -> list[TLV]:
    if tlv.tag != tag:
        raise ParseError(f"{what} has tag {tlv.tag:02X}, expected {tag:02X}")
    return tlv.children()


def parse_lds_security_object(data: bytes) -> LdsSecurityObject:
    """Decode ``LDSSecurityObject ::= SEQUENCE { version, hashAlgorithm, dataGroupHashValues, ldsVersionInfo? }``."""
    items = _children(parse_one(data), _SEQUENCE, "LDSSecurityObject")
    if len(items) not in (3, 4) or items[0].tag != _INTEGER:
        raise ParseError("LDSSecurityObject is not SEQUENCE { version, hashAlgorithm, dataGroupHashValues, ... }")
    version = decode_integer(items[0].value)
    if version not in (0, 1):
        raise ParseError(f"LDSSecurityObject version {version} is neither v0 nor v1")
    algorithm = _children(items[1], _SEQUENCE, "hashAlgorithm")
    if not algorithm or algorithm[0].tag != _OID:
        raise ParseError("LDSSecurityObject hashAlgorithm has no OID")
    hash_name = hash_name_of_oid(decode_oid(algorithm[0].value))
    hashes: dict[int, bytes] = {}
    for entry in _children(items[2], _SEQUENCE, "dataGroupHashValues"):
        pair = _children(entry, _SEQUENCE, "DataGroupHash")
        if len(pair) != 2 or pair[0].tag != _INTEGER or pair[1].tag != _OCTET_STRING:
            raise ParseError("DataGroupHash is not SEQUENCE { INTEGER, OCTET STRING }")
        number = decode_integer(pair[0].value)
        if not 1 <= number <= 16:
            raise ParseError(f"LDSSecurityObject lists data group {number}; only 1..16 exist")
        if number in hashes:
            raise ParseError(f"LDSSecurityObject lists DG{number} twice")
        if len(pair[1].value) != _DIGEST_SIZES[hash_name]:
            raise ParseError(
                f"the DG{number} hash is {len(pair[1].value)} bytes; {hash_name} gives {_DIGEST_SIZES[hash_name]}"
            )
        hashes[number] = pair[1].value
    if not hashes:
        raise ParseError("LDSSecurityObject lists no data group")
    lds_version = unicode_version = None
    if len(items) == 4:
        info = _children(items[3], _SEQUENCE, "ldsVersionInfo")
        if len(info) != 2 or any(i.tag != _PRINTABLE for i in info):
            raise ParseError("ldsVersionInfo is not two PrintableStrings")
        lds_version = version_text(info[0].value, 4, "LDS version info")
        unicode_version = version_text(info[1].value, 6, "LDS version info")
    return LdsSecurityObject(
        version=version,
        hash_algorithm=hash_name,
        dg_hashes=hashes,
        lds_version=lds_version,
        unicode_version=unicode_version,
    )


def parse_sod(data: bytes) -> SOD:
    """Decode EF.SOD: the ``77`` wrapper, the SignedData and its LDSSecurityObject."""
    top = unwrap(data, FileId.SOD)
    indefinite = len(data) > 1 and data[1] == 0x80
    inner_indefinite = len(top.value) > 1 and top.value[1] == 0x80
    # Any eContentType is decoded, so that passive authentication can name a wrong one (content_type_mismatch)
    # rather than call the file malformed; its content must still be an LDSSecurityObject.
    signed = parse_signed_data(top.value)
    return SOD(
        signed_data=signed,
        lds=parse_lds_security_object(signed.econtent),
        indefinite_length=indefinite or inner_indefinite,
    )
