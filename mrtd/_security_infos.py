"""SecurityInfos (ICAO 9303-11 §9.2, BSI TR-03110): what EF.CardAccess and DG14 announce.

EF.CardAccess tells a terminal how to run PACE; DG14 carries the chip-authentication key and, for chips with an EC
active-authentication key, the signature algorithm. Entries this module does not know are kept raw, as the standard
requires of a terminal, so a newer chip does not break an older reader.
"""

from __future__ import annotations

from dataclasses import dataclass

from mrtd._crypto import CipherSuite
from mrtd._errors import ParseError, ProtocolNotSupported
from mrtd._oids import (
    ID_AA,
    ID_CA_DH,
    ID_CA_ECDH,
    ID_PACE_DH_GM,
    ID_PACE_DH_IM,
    ID_PACE_ECDH_CAM,
    ID_PACE_ECDH_GM,
    ID_PACE_ECDH_IM,
    ID_PK_DH,
    ID_PK_ECDH,
    ID_TA,
    decode_integer,
    decode_oid,
)
from mrtd._tlv import TLV, parse_one

_INTEGER, _OID, _SEQUENCE, _SET = 0x02, 0x06, 0x30, 0x31

_CIPHERS = {1: CipherSuite.DES3, 2: CipherSuite.AES128, 3: CipherSuite.AES192, 4: CipherSuite.AES256}
_PACE_MAPPINGS = {
    ID_PACE_DH_GM: "DH-GM",
    ID_PACE_ECDH_GM: "ECDH-GM",
    ID_PACE_DH_IM: "DH-IM",
    ID_PACE_ECDH_IM: "ECDH-IM",
    ID_PACE_ECDH_CAM: "ECDH-CAM",
}


@dataclass(frozen=True, slots=True)
class PaceInfo:
    """One PACE variant the chip offers: mapping and cipher (from the OID) and standardized domain parameters."""

    protocol: str
    version: int
    parameter_id: int | None

    @property
    def mapping(self) -> str:
        """``ECDH-GM``, ``ECDH-IM``, ``ECDH-CAM``, ``DH-GM`` or ``DH-IM``."""
        return _PACE_MAPPINGS[self.protocol.rsplit(".", 1)[0]]

    @property
    def cipher(self) -> CipherSuite:
        return protocol_cipher(self.protocol)


@dataclass(frozen=True, slots=True)
class PaceDomainParameterInfo:
    """Proprietary PACE domain parameters (an AlgorithmIdentifier, kept as DER)."""

    protocol: str
    algorithm_identifier: bytes
    parameter_id: int | None


@dataclass(frozen=True, slots=True)
class ChipAuthenticationInfo:
    protocol: str
    version: int
    key_id: int | None

    @property
    def cipher(self) -> CipherSuite:
        return protocol_cipher(self.protocol)

    @property
    def is_ecdh(self) -> bool:
        return self.protocol.startswith(ID_CA_ECDH + ".")


@dataclass(frozen=True, slots=True)
class ChipAuthenticationPublicKeyInfo:
    """The chip's static key agreement key; ``public_key`` is the DER SubjectPublicKeyInfo."""

    protocol: str
    public_key: bytes
    key_id: int | None

    @property
    def is_ecdh(self) -> bool:
        return self.protocol == ID_PK_ECDH


@dataclass(frozen=True, slots=True)
class TerminalAuthenticationInfo:
    protocol: str
    version: int


@dataclass(frozen=True, slots=True)
class ActiveAuthenticationInfo:
    """Present when the active-authentication key is EC: names the signature algorithm (an OID)."""

    protocol: str
    version: int
    signature_algorithm: str


@dataclass(frozen=True, slots=True)
class UnknownSecurityInfo:
    protocol: str
    encoded: bytes


SecurityInfo = (
    PaceInfo
    | PaceDomainParameterInfo
    | ChipAuthenticationInfo
    | ChipAuthenticationPublicKeyInfo
    | TerminalAuthenticationInfo
    | ActiveAuthenticationInfo
    | UnknownSecurityInfo
)


@dataclass(frozen=True, slots=True)
class SecurityInfos:
    """The decoded set, with the lookups terminals need."""

    infos: tuple[SecurityInfo, ...]

    @property
    def pace(self) -> tuple[PaceInfo, ...]:
        return tuple(i for i in self.infos if isinstance(i, PaceInfo))

    @property
    def chip_authentication(self) -> tuple[ChipAuthenticationInfo, ...]:
        return tuple(i for i in self.infos if isinstance(i, ChipAuthenticationInfo))

    @property
    def chip_authentication_keys(self) -> tuple[ChipAuthenticationPublicKeyInfo, ...]:
        return tuple(i for i in self.infos if isinstance(i, ChipAuthenticationPublicKeyInfo))

    @property
    def active_authentication(self) -> ActiveAuthenticationInfo | None:
        return next((i for i in self.infos if isinstance(i, ActiveAuthenticationInfo)), None)

    @property
    def terminal_authentication(self) -> TerminalAuthenticationInfo | None:
        return next((i for i in self.infos if isinstance(i, TerminalAuthenticationInfo)), None)


def _integer(tlv: TLV, what: str) -> int:
    if tlv.tag != _INTEGER:
        raise ParseError(f"{what} is not an INTEGER")
    value = decode_integer(tlv.value)
    if value < 0:
        raise ParseError(f"{what} is negative")
    return value


def _optional_integer(items: list[TLV], index: int, what: str) -> int | None:
    return _integer(items[index], what) if len(items) > index else None


def _parse_info(entry: TLV) -> SecurityInfo:
    if entry.tag != _SEQUENCE:
        raise ParseError("a SecurityInfo is not a SEQUENCE")
    items = entry.children()
    if len(items) < 2 or items[0].tag != _OID:
        raise ParseError("a SecurityInfo needs a protocol OID and its data")
    oid = decode_oid(items[0].value)
    arcs = oid.split(".")
    parent = oid.rsplit(".", 1)[0]
    if parent in _PACE_MAPPINGS and int(arcs[-1]) in _CIPHERS:
        return PaceInfo(oid, _integer(items[1], "PACEInfo version"), _optional_integer(items, 2, "parameterId"))
    if oid in _PACE_MAPPINGS:
        if items[1].tag != _SEQUENCE:
            raise ParseError("PACEDomainParameterInfo has no AlgorithmIdentifier")
        return PaceDomainParameterInfo(oid, items[1].encode(), _optional_integer(items, 2, "parameterId"))
    if parent in (ID_CA_DH, ID_CA_ECDH) and int(arcs[-1]) in _CIPHERS:
        return ChipAuthenticationInfo(oid, _integer(items[1], "CA version"), _optional_integer(items, 2, "keyId"))
    if oid in (ID_PK_DH, ID_PK_ECDH):
        if items[1].tag != _SEQUENCE:
            raise ParseError("ChipAuthenticationPublicKeyInfo has no SubjectPublicKeyInfo")
        return ChipAuthenticationPublicKeyInfo(oid, items[1].encode(), _optional_integer(items, 2, "keyId"))
    if oid == ID_TA:
        return TerminalAuthenticationInfo(oid, _integer(items[1], "TA version"))
    if oid == ID_AA:
        if len(items) < 3 or items[2].tag != _OID:
            raise ParseError("ActiveAuthenticationInfo has no signature algorithm")
        return ActiveAuthenticationInfo(oid, _integer(items[1], "AA version"), decode_oid(items[2].value))
    return UnknownSecurityInfo(oid, entry.encode())


def parse_security_infos(data: bytes) -> SecurityInfos:
    """Decode a DER ``SET OF SecurityInfo`` (EF.CardAccess content, or DG14's content inside its ``6E`` tag)."""
    top = parse_one(data)
    if top.tag != _SET:
        raise ParseError("SecurityInfos is not a SET")
    return SecurityInfos(tuple(_parse_info(entry) for entry in top.children()))


def protocol_cipher(protocol: str) -> CipherSuite:
    """The cipher a PACE or chip-authentication protocol OID names in its last arc (BSI TR-03110 A.1.1):
    1 3DES, 2 AES-128, 3 AES-192, 4 AES-256. Any other is ProtocolNotSupported."""
    _, _, arc = protocol.rpartition(".")
    suite = _CIPHERS.get(int(arc)) if arc.isascii() and arc.isdigit() else None
    if suite is None:
        raise ProtocolNotSupported(f"protocol {protocol} names no cipher this terminal knows")
    return suite
