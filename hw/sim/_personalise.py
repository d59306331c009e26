"""Personalisation: the files of a CCCD chip built from a citizen record, signed by a test document signer.

The layouts follow what real cards carry (../reference/cccd-spec.md §3–4): a TD1 MRZ whose document number is the
last 9 digits of the ID, DG2 as ISO/IEC 19794-5 with a JPEG, the Vietnamese DG13 with each parent in its own
SEQUENCE, DG14 with an ECDH chip-authentication key, DG15 with the active-authentication key, EF.COM listing them,
EF.CardAccess announcing PACE ECDH-GM AES-128 on brainpoolP256r1, and EF.SOD over every data group.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from hw.sim._faults import ChipFaults, Fault
from hw.sim._pki import TestPki, derive_ec_key, make_csca, sign_sod
from hw.sim._population import Citizen
from hw.sim._portrait import HEIGHT, WIDTH, portrait_jpeg
from mrtd import (
    ECDSA_PLAIN_SIGNATURES,
    ID_AA,
    ID_CA_ECDH,
    ID_PACE_ECDH_GM,
    ID_PK_ECDH,
    ID_TA,
    NO_EXPIRY,
    FileId,
    check_digit,
    encode_integer,
    encode_oid,
    encode_tlv,
    mrz_date,
)

# DG13's envelope: version 1 and the OID 1.0.10646.1.0.8 (ISO/IEC 10646, UTF-8) that real cards carry.
DG13_OID = "1.0.10646.1.0.8"
NO_EXPIRY_TEXT = "Không thời hạn"

PACE_PROTOCOL = ID_PACE_ECDH_GM + ".2"  # id-PACE-ECDH-GM-AES-CBC-CMAC-128
PACE_PARAMETER_ID = 13  # brainpoolP256r1
CA_PROTOCOL = ID_CA_ECDH + ".2"  # id-CA-ECDH-AES-CBC-CMAC-128
CA_CURVE = "brainpoolP256r1"
AA_CURVE = "brainpoolP256r1"
AA_EC_SIGNATURE = ECDSA_PLAIN_SIGNATURES + ".3"  # ecdsa-plain-SHA256 (BSI TR-03111)
DEFAULT_PORTRAIT_SIZE = 15_000
# Many issued chips still carry RSA-1024 active-authentication keys; test keys, never used for anything else.
RSA_AA_BITS = 1024


def _seq(*parts: bytes) -> bytes:
    return encode_tlv(0x30, b"".join(parts))


def _set(*parts: bytes) -> bytes:
    return encode_tlv(0x31, b"".join(parts))


def _int(value: int) -> bytes:
    return encode_tlv(0x02, encode_integer(value))


def _oid(dotted: str) -> bytes:
    return encode_tlv(0x06, encode_oid(dotted))


def _utf8(text: str) -> bytes:
    return encode_tlv(0x0C, unicodedata.normalize("NFC", text).encode("utf-8"))


def _printable(text: str) -> bytes:
    return encode_tlv(0x13, text.encode("ascii"))


# --- MRZ ---------------------------------------------------------------------------------------------------------


def mrz_name(full_name: str) -> str:
    """``SURNAME<<MIDDLE<GIVEN`` without diacritics, as line 3 of a CCCD MRZ prints it."""
    plain = unicodedata.normalize("NFD", full_name.replace("Đ", "D").replace("đ", "d"))
    plain = "".join(c for c in plain if not unicodedata.combining(c)).upper()
    words = ["".join(c for c in word if "A" <= c <= "Z") for word in plain.split()]
    words = [w for w in words if w]
    if not words:
        raise ValueError("the name has no letters")
    text = words[0] + "<<" + "<".join(words[1:])
    return text[:30].ljust(30, "<")


def _mrz_date(day: dt.date | None) -> str:
    return NO_EXPIRY if day is None else mrz_date(day)


def td1_mrz(
    citizen: Citizen, *, document_number: str | None = None, date_of_expiry: str | None = None
) -> tuple[str, str, str]:
    """The three 30-character lines of the citizen's CCCD (cccd-spec §1.1)."""
    number = document_number or citizen.document_number
    line1 = f"IDVNM{number}{check_digit(number)}{citizen.id_number}<<{check_digit(citizen.id_number)}"
    dob = mrz_date(citizen.date_of_birth)
    expiry = date_of_expiry or _mrz_date(citizen.date_of_expiry)
    head = f"{dob}{check_digit(dob)}{citizen.sex}{expiry}{check_digit(expiry)}VNM"
    composite = line1[5:30] + head[0:7] + head[8:15] + "<" * 11
    line2 = f"{head}{'<' * 11}{check_digit(composite)}"
    line3 = mrz_name(citizen.full_name)
    if not len(line1) == len(line2) == len(line3) == 30:
        raise ValueError("a TD1 line must be 30 characters")
    return line1, line2, line3


# --- data groups -------------------------------------------------------------------------------------------------


def encode_com(data_groups: list[FileId]) -> bytes:
    """EF.COM: LDS 1.7, Unicode 4.0.0 and the tags of the data groups present."""
    tags = bytes(f.tag for f in data_groups if f.tag is not None)
    return encode_tlv(0x60, encode_tlv(0x5F01, b"0107") + encode_tlv(0x5F36, b"040000") + encode_tlv(0x5C, tags))


def encode_dg1(lines: tuple[str, str, str]) -> bytes:
    return encode_tlv(0x61, encode_tlv(0x5F1F, "".join(lines).encode("ascii")))


def _iso19794_5(jpeg: bytes, *, width: int, height: int, sex: str) -> bytes:
    """An ISO/IEC 19794-5:2005 facial record holding one frontal JPEG image."""
    gender = {"M": 1, "F": 2}.get(sex, 0)
    facial_information = (
        b"\x00\x00"  # number of feature points
        + bytes([gender, 0, 0])  # gender, eye colour, hair colour (unspecified)
        + b"\x00\x00\x00"  # feature mask
        + b"\x00\x00"  # expression
        + b"\x00\x00\x00"  # pose angles
        + b"\x00\x00\x00"  # pose angle uncertainty
    )
    image_information = (
        bytes([1, 0])  # full frontal, JPEG
        + width.to_bytes(2, "big")
        + height.to_bytes(2, "big")
        + bytes([1, 2])  # sRGB; digital still camera
        + b"\x00\x00"  # device type
        + b"\x00\x00"  # quality
    )
    block_length = 4 + len(facial_information) + len(image_information) + len(jpeg)
    header = b"FAC\x00" + b"010\x00" + (14 + block_length).to_bytes(4, "big") + (1).to_bytes(2, "big")
    return header + block_length.to_bytes(4, "big") + facial_information + image_information + jpeg


def encode_dg2(jpeg: bytes, *, width: int, height: int, sex: str) -> bytes:
    """DG2: one biometric information template with the header ICAO 9303-10 §4.7.2 requires."""
    header = encode_tlv(
        0xA1,
        encode_tlv(0x80, b"\x01\x01")  # ICAO header version
        + encode_tlv(0x81, b"\x02")  # biometric type: facial features
        + encode_tlv(0x87, b"\x01\x01")  # format owner: ISO/IEC JTC 1/SC 37
        + encode_tlv(0x88, b"\x00\x08"),  # format type: face image (19794-5)
    )
    template = encode_tlv(0x7F60, header + encode_tlv(0x5F2E, _iso19794_5(jpeg, width=width, height=height, sex=sex)))
    return encode_tlv(0x75, encode_tlv(0x7F61, encode_tlv(0x02, b"\x01") + template))


def _dg13_date(day: dt.date) -> str:
    return day.strftime("%d/%m/%Y")


def encode_dg13(citizen: Citizen) -> bytes:
    """DG13, the Vietnamese profile: SEQUENCE {1, OID, SET OF SEQUENCE {INTEGER n, value}} (cccd-spec §4).

    Field 13 holds each parent in its own SEQUENCE (an absent parent as an empty string, so the mother is never
    read as the father); field 14 is empty when there is no spouse; field 15 is left out without an old ID.
    """
    if citizen.date_of_issue is None:
        raise ValueError("this citizen holds no card")

    def entry(number: int, value: bytes) -> bytes:
        return _seq(_int(number), value)

    fields = [
        entry(1, _printable(citizen.id_number)),
        entry(2, _utf8(citizen.full_name)),
        entry(3, _printable(_dg13_date(citizen.date_of_birth))),
        entry(4, _utf8("Nam" if citizen.sex == "M" else "Nữ")),
        entry(5, _utf8(citizen.nationality)),
        entry(6, _utf8(citizen.ethnicity)),
        entry(7, _utf8(citizen.religion)),
        entry(8, _utf8(citizen.place_of_origin)),
        entry(9, _utf8(citizen.place_of_residence)),
        entry(10, _utf8(citizen.identifying_marks or "")),
        entry(11, _printable(_dg13_date(citizen.date_of_issue))),
        entry(
            12,
            _utf8(_dg13_date(citizen.date_of_expiry) if citizen.date_of_expiry else NO_EXPIRY_TEXT),
        ),
        _seq(_int(13), _seq(_utf8(citizen.father_name or "")), _seq(_utf8(citizen.mother_name or ""))),
        _seq(_int(14), _seq(_utf8(citizen.spouse_name))) if citizen.spouse_name else _seq(_int(14)),
    ]
    if citizen.old_id_number:
        fields.append(entry(15, _printable(citizen.old_id_number)))
    if citizen.card_serial:
        fields.append(entry(16, _printable(citizen.card_serial)))
    return encode_tlv(0x6D, _seq(_int(1), _oid(DG13_OID), _set(*fields)))


def _spki(key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def pace_info() -> bytes:
    return _seq(_oid(PACE_PROTOCOL), _int(2), _int(PACE_PARAMETER_ID))


def chip_authentication_info() -> bytes:
    return _seq(_oid(CA_PROTOCOL), _int(1))


def encode_card_access(*, with_chip_auth: bool) -> bytes:
    """EF.CardAccess: TerminalAuthenticationInfo, ChipAuthenticationInfo and PACEInfo, as real cards announce."""
    infos = [_seq(_oid(ID_TA), _int(1))]
    if with_chip_auth:
        infos.append(chip_authentication_info())
    infos.append(pace_info())
    return _set(*infos)


def encode_dg14(*, ca_public: ec.EllipticCurvePublicKey | None, aa_is_ec: bool, with_pace: bool) -> bytes:
    infos = []
    if ca_public is not None:
        infos.append(_seq(_oid(ID_PK_ECDH), _spki(ca_public)))
        infos.append(chip_authentication_info())
    if aa_is_ec:
        infos.append(_seq(_oid(ID_AA), _int(1), _oid(AA_EC_SIGNATURE)))
    if with_pace:
        infos.append(pace_info())
    return encode_tlv(0x6E, _set(*infos))


def encode_dg15(aa_public: ec.EllipticCurvePublicKey | rsa.RSAPublicKey) -> bytes:
    return encode_tlv(0x6F, _spki(aa_public))


# --- the whole card ----------------------------------------------------------------------------------------------

AaKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True, slots=True)
class CardProfile:
    """Everything a virtual chip needs: its files, its secrets and how it misbehaves.

    ``mrz`` and ``can`` are the chip's own access secrets (they differ from the printed ones under the wrong-key
    fault); ``trusted_csca`` is the certificate a terminal should trust for this card's issuer (under the
    foreign-CSCA fault, the DSC chains to another CSCA). ``aa_key`` and ``ca_key`` are what the chip answers with
    (another key than DG15/DG14 hold for a clone; None: the chip has no such key).
    """

    citizen: Citizen
    files: Mapping[FileId, bytes]
    mrz: tuple[str, str, str]
    can: str
    aa_key: AaKey | None
    ca_key: ec.EllipticCurvePrivateKey | None
    trusted_csca: x509.Certificate
    faults: ChipFaults = field(default_factory=ChipFaults)

    @property
    def offers_pace(self) -> bool:
        return FileId.CARD_ACCESS in self.files

    @property
    def printed_mrz(self) -> tuple[str, str, str]:
        """The MRZ printed on the card (what DG1 holds)."""
        return td1_mrz(self.citizen)

    def file(self, file_id: FileId) -> bytes | None:
        return self.files.get(file_id)


def personalise(
    citizen: Citizen,
    *,
    pki: TestPki | None = None,
    faults: ChipFaults | None = None,
    seed: int | str | None = None,
    aa_algorithm: str = "ec",
    portrait_size: int | None = DEFAULT_PORTRAIT_SIZE,
) -> CardProfile:
    """Build and sign a chip for ``citizen``.

    ``pki`` is the issuer (a new one from ``seed`` when None); ``seed`` also derives the chip's own keys, so the same
    seed gives the same card. ``aa_algorithm`` is ``ec`` (ECDSA brainpoolP256r1, plain signatures) or ``rsa``
    (RSA-1024, ISO/IEC 9796-2); the no-active-auth fault leaves it out. ``portrait_size`` fixes the JPEG's size in
    bytes (None: whatever it compresses to).
    """
    faults = faults or ChipFaults()
    if citizen.date_of_issue is None:
        raise ValueError("this citizen holds no card")
    key_seed = None if seed is None else f"{seed}/{citizen.id_number}"
    pki = pki or TestPki.create(seed=seed)
    trusted_csca = pki.csca_cert
    if Fault.FOREIGN_CSCA in faults:
        foreign_key, foreign_cert = make_csca(seed=None if seed is None else f"{seed}/foreign", label="foreign")
        pki = TestPki.under(foreign_key, foreign_cert, seed=None if seed is None else f"{seed}/foreign")
    if Fault.EXPIRED_DSC in faults:
        pki = TestPki.under(pki.csca_key, pki.csca_cert, seed=seed, expired_dsc=True)

    if aa_algorithm not in ("ec", "rsa"):
        raise ValueError("aa_algorithm is 'ec' or 'rsa'")
    aa_key = _aa_key(aa_algorithm, key_seed)
    with_chip_auth = Fault.NO_CHIP_AUTH not in faults
    ca_key = derive_ec_key(key_seed, "ca", CA_CURVE) if with_chip_auth else None
    with_pace = Fault.NO_PACE not in faults

    with_active_auth = Fault.NO_ACTIVE_AUTH not in faults

    printed = td1_mrz(citizen)
    files: dict[FileId, bytes] = {
        FileId.DG1: encode_dg1(printed),
        FileId.DG2: _dg2(citizen, portrait_size),
        FileId.DG13: encode_dg13(citizen),
        FileId.DG14: encode_dg14(
            ca_public=ca_key.public_key() if ca_key else None,
            aa_is_ec=with_active_auth and aa_algorithm == "ec",
            with_pace=with_pace,
        ),
    }
    if with_active_auth:
        files[FileId.DG15] = encode_dg15(aa_key.public_key())
    data_groups = [f for f in FileId if f in files]
    sod = sign_sod({f.dg_number or 0: files[f] for f in data_groups}, dsc_key=pki.dsc_key, dsc_cert=pki.dsc_cert)
    files[FileId.COM] = encode_com(data_groups)
    files[FileId.SOD] = sod
    if with_pace:
        files[FileId.CARD_ACCESS] = encode_card_access(with_chip_auth=with_chip_auth)
    if Fault.CHANGED_DG in faults:
        files[FileId.DG13] = encode_dg13(dataclasses.replace(citizen, full_name=_altered_name(citizen.full_name)))
    if Fault.HIDDEN_KEYS in faults:
        # A copy of the signed files without the two that hold public keys the copier has no private keys for.
        del files[FileId.DG14]
        files.pop(FileId.DG15, None)

    chip_mrz, can = printed, citizen.can
    if Fault.WRONG_KEY in faults:
        # The chip was personalised for another document: neither the printed MRZ nor the printed CAN opens it.
        other = f"{(int(citizen.document_number) + 1) % 10**9:09d}"
        chip_mrz = td1_mrz(citizen, document_number=other)
        can = f"{(int(citizen.can) + 1) % 10**6:06d}"
    if Fault.CLONE in faults:
        # The copier has every file but not the chip's private keys: it answers with keys of its own.
        clone_seed = None if key_seed is None else f"{key_seed}/clone"
        aa_key = _aa_key(aa_algorithm, clone_seed)
        ca_key = derive_ec_key(clone_seed, "ca", CA_CURVE) if ca_key is not None else None
    return CardProfile(
        citizen, files, chip_mrz, can, aa_key if with_active_auth else None, ca_key, trusted_csca, faults
    )


def _aa_key(algorithm: str, seed: str | None) -> AaKey:
    # cryptography has no seeded RSA key generation: an RSA key is a fresh one even on a seeded card.
    if algorithm == "ec":
        return derive_ec_key(seed, "aa", AA_CURVE)
    return rsa.generate_private_key(public_exponent=65537, key_size=RSA_AA_BITS)


def _portrait_seed(citizen: Citizen) -> int:
    return int(citizen.id_number) % 2**31


def _dg2(citizen: Citizen, size: int | None) -> bytes:
    female = citizen.sex == "F"
    jpeg = portrait_jpeg(_portrait_seed(citizen), female=female)
    dg2 = encode_dg2(jpeg, width=WIDTH, height=HEIGHT, sex=citizen.sex)
    if size is None:
        return dg2
    # The templates around the JPEG have a fixed size for a given length class, so one trial gives the JPEG's share.
    overhead = len(dg2) - len(jpeg)
    jpeg = portrait_jpeg(_portrait_seed(citizen), female=female, target_size=size - overhead)
    return encode_dg2(jpeg, width=WIDTH, height=HEIGHT, sex=citizen.sex)


def _altered_name(name: str) -> str:
    words = name.split()
    words[-1] = "Tâm" if words[-1] != "Tâm" else "Tú"
    return " ".join(words)
