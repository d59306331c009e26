"""A plain eMRTD chip written from ICAO Doc 9303 alone, to judge the reader against a card it did not grow up with.

Nothing here comes from ``mrtd``, ``hw`` or ``agent``: BER-TLV, 3DES, the ISO/IEC 9797-1 retail MAC, BAC, secure
messaging, the ISO/IEC 9796-2 signature of active authentication, the LDS files and the Vietnamese DG13 are written
out from the texts (ICAO 9303-10 for the LDS, 9303-11 §4.3, §6.1, §9.7, §9.8 and Appendix D for the protocols), and
the EF.SOD is signed by the ``openssl`` command under a CSCA and a DSC that ``openssl`` made. Only primitives come
from ``cryptography`` (DES/3DES blocks, hashes, RSA key generation).

The chip is what an older CCCD looks like: BAC only (no EF.CardAccess: ``6A82``), EF.COM, DG1 (a TD1 MRZ whose
document number is the last 9 digits of the ID), DG2, DG13, DG15 (RSA active authentication), no DG14. It keeps
access control as a card does: ``6982`` for the LDS files before BAC, ``6300`` for a wrong EXTERNAL AUTHENTICATE,
``6988`` (in clear, session ended) for a command whose MAC does not verify, a plain command ends secure messaging,
and power off/on/reset starts a fresh session. READ BINARY returns exactly Le bytes; past the end it returns what is
left with ``6282`` (MACed like any answer). ``Quirks`` turn on the habits of particular chips.

It speaks vsmartcard's vpcd protocol as a TCP client (``VpcdLink``) so the reader reaches it through real pcscd:
2-byte big-endian length framing both ways, control bytes 00 (power off), 01 (power on), 02 (reset), 04 (ATR);
TCP_QUICKACK before every ``recv`` and one ``sendall`` per reply (../shared/reference/vsmartcard.md §4).

Run one by hand with ``python tests/e2e/independent_card.py --port 35964 --out DIR``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import hmac
import io
import os
import secrets
import socket
import subprocess
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, modes
from PIL import Image

# --- BER-TLV and DER ------------------------------------------------------------------------------------------------


def ber_length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def tlv(tag: int, value: bytes) -> bytes:
    """One BER-TLV object; ``tag`` is the tag's bytes read as a number (0x5F1F, 0x7F61, 0x87 ...)."""
    return tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big") + ber_length(len(value)) + value


class TlvError(ValueError):
    pass


def read_tlv(data: bytes, pos: int = 0) -> tuple[int, bytes, int]:
    """(tag, value, end) of the object at ``pos``."""
    if pos >= len(data):
        raise TlvError("no tag")
    start = pos
    first = data[pos]
    pos += 1
    if first & 0x1F == 0x1F:
        while True:
            if pos >= len(data):
                raise TlvError("truncated tag")
            pos += 1
            if not data[pos - 1] & 0x80:
                break
    tag = int.from_bytes(data[start:pos], "big")
    if pos >= len(data):
        raise TlvError("no length")
    length = data[pos]
    pos += 1
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 3 or pos + count > len(data):
            raise TlvError("bad length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise TlvError("value runs past the end")
    return tag, data[pos : pos + length], pos + length


def der_integer(value: int) -> bytes:
    body = value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True) if value else b"\x00"
    return tlv(0x02, body)


def der_oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    body = bytearray((40 * arcs[0] + arcs[1],))
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        rest = arc >> 7
        while rest:
            chunk.append(0x80 | (rest & 0x7F))
            rest >>= 7
        body.extend(reversed(chunk))
    return tlv(0x06, bytes(body))


def der_sequence(*items: bytes) -> bytes:
    return tlv(0x30, b"".join(items))


def der_set(*items: bytes) -> bytes:
    return tlv(0x31, b"".join(items))


def der_octets(value: bytes) -> bytes:
    return tlv(0x04, value)


def der_utf8(text: str) -> bytes:
    return tlv(0x0C, text.encode("utf-8"))


def der_printable(text: str) -> bytes:
    return tlv(0x13, text.encode("ascii"))


# --- 3DES, retail MAC, key derivation (ICAO 9303-11 §9.7.1, §9.8.6; ISO/IEC 9797-1) ----------------------------------


def pad(data: bytes, block: int = 8) -> bytes:
    """ISO/IEC 9797-1 padding method 2: 80, then zeros to a whole block (always adds at least one byte)."""
    data += b"\x80"
    return data + bytes(-len(data) % block)


def unpad(data: bytes) -> bytes:
    stripped = data.rstrip(b"\x00")
    if not stripped.endswith(b"\x80"):
        raise ValueError("no ISO 9797-1 method 2 padding")
    return stripped[:-1]


def _des(key: bytes) -> TripleDES:
    # Keying option 2 (K1 ‖ K2 ‖ K1) or, for an 8-byte key, single DES (K1 = K2 = K3), spelled out in 24 bytes.
    return TripleDES(key * 3 if len(key) == 8 else key + key[:8])


def des3_cbc(key: bytes, data: bytes, *, decrypt: bool = False) -> bytes:
    """Two-key 3DES in CBC mode with a zero IV, as BAC and 3DES secure messaging use it."""
    cipher = Cipher(_des(key), modes.CBC(bytes(8)))
    op = cipher.decryptor() if decrypt else cipher.encryptor()
    return op.update(data) + op.finalize()


def _des_block(key8: bytes, block: bytes, *, decrypt: bool = False) -> bytes:
    cipher = Cipher(_des(key8), modes.ECB())  # one 8-byte key: single DES (K1 = K2 = K3)
    op = cipher.decryptor() if decrypt else cipher.encryptor()
    return op.update(block) + op.finalize()


def retail_mac(key: bytes, data: bytes) -> bytes:
    """ISO/IEC 9797-1 MAC algorithm 3 (single-DES CBC, 3DES on the last block) over ``data`` padded by method 2."""
    ka, kb = key[:8], key[8:16]
    message = pad(data)
    h = bytes(8)
    for i in range(0, len(message), 8):
        h = _des_block(ka, bytes(a ^ b for a, b in zip(h, message[i : i + 8], strict=True)))
    h = _des_block(kb, h, decrypt=True)
    return _des_block(ka, h)


def _parity(key: bytes) -> bytes:
    return bytes((b & 0xFE) | ((bin(b & 0xFE).count("1") + 1) % 2) for b in key)


def derive_3des_key(seed: bytes, counter: int) -> bytes:
    """K = SHA-1(K_seed ‖ c)[0:16] with DES parity (c = 1: K_enc, c = 2: K_mac)."""
    return _parity(hashlib.sha1(seed + counter.to_bytes(4, "big")).digest()[:16])  # ICAO's KDF


# --- MRZ (ICAO 9303-3 §4.9, 9303-5 TD1) -----------------------------------------------------------------------------


def check_digit(text: str) -> str:
    weights = (7, 3, 1)
    total = 0
    for i, char in enumerate(text):
        if char.isdigit():
            value = int(char)
        elif char.isalpha():
            value = ord(char.upper()) - ord("A") + 10
        else:
            value = 0
        total += value * weights[i % 3]
    return str(total % 10)


def mrz_information(document_number: str, birth: str, expiry: str) -> str:
    number = document_number.ljust(9, "<")
    return number + check_digit(number) + birth + check_digit(birth) + expiry + check_digit(expiry)


def bac_keys(document_number: str, birth: str, expiry: str) -> tuple[bytes, bytes]:
    """(K_enc, K_mac) from the MRZ information (ICAO 9303-11 §9.7.2, App. D.2)."""
    seed = hashlib.sha1(mrz_information(document_number, birth, expiry).encode("ascii")).digest()[:16]
    return derive_3des_key(seed, 1), derive_3des_key(seed, 2)


# --- the holder ------------------------------------------------------------------------------------------------------

NO_EXPIRY_TEXT = "Không thời hạn"


@dataclass(frozen=True, slots=True)
class Person:
    """A synthetic citizen, with every field a CCCD carries."""

    id_number: str
    full_name: str
    mrz_name: str  # SURNAME<<GIVEN<NAMES, without diacritics
    date_of_birth: dt.date
    sex: Literal["M", "F"]
    date_of_issue: dt.date
    date_of_expiry: dt.date | None  # None: no expiry (MRZ 991231)
    place_of_origin: str
    place_of_residence: str
    identifying_marks: str
    father_name: str
    mother_name: str
    spouse_name: str | None = None
    old_id_number: str | None = None
    nationality: str = "Việt Nam"
    ethnicity: str = "Kinh"
    religion: str = "Không"
    field_16: str = "A1B2C3D4E5F60718"
    birth_day_unknown: bool = False  # the MRZ prints only the year of birth (YY<<<<), as ICAO 9303-3 allows

    @property
    def document_number(self) -> str:
        return self.id_number[-9:]

    @property
    def mrz_birth(self) -> str:
        if self.birth_day_unknown:
            return self.date_of_birth.strftime("%y") + "<<<<"
        return self.date_of_birth.strftime("%y%m%d")

    @property
    def mrz_expiry(self) -> str:
        return self.date_of_expiry.strftime("%y%m%d") if self.date_of_expiry else "991231"

    def td1(self) -> tuple[str, str, str]:
        """The printed MRZ: doc number = last 9 digits of the ID, the full ID in the optional data, its check
        digit in position 30 (cccd-spec §1.1)."""
        number = self.document_number
        line1 = "IDVNM" + number + check_digit(number) + self.id_number + "<<" + check_digit(self.id_number)
        upper = line1[5:30]
        middle = self.mrz_birth + check_digit(self.mrz_birth) + self.sex + self.mrz_expiry
        middle += check_digit(self.mrz_expiry) + "VNM"
        optional2 = "<" * 11
        composite = check_digit(upper + middle[0:7] + middle[8:15] + optional2)
        line2 = middle + optional2 + composite
        line3 = self.mrz_name.ljust(30, "<")
        assert len(line1) == len(line2) == len(line3) == 30
        return line1, line2, line3

    def qr_text(self) -> str:
        """The printed QR code: ID|CMND|name|DOB ddmmyyyy|Nam/Nữ|residence|issue ddmmyyyy (cccd-spec §5)."""
        return "|".join(
            (
                self.id_number,
                self.old_id_number or "",
                self.full_name,
                self.date_of_birth.strftime("%d%m%Y"),
                "Nam" if self.sex == "M" else "Nữ",
                self.place_of_residence,
                self.date_of_issue.strftime("%d%m%Y"),
            )
        )


def person_with_everything() -> Person:
    """A married woman born in 1988 with an old CMND; her card expires on her 40th birthday."""
    return Person(
        id_number="079188004217",  # 079 Hồ Chí Minh, 1 = woman born 1900-1999, 88 = 1988
        full_name="Trần Thị Ngọc Ánh",
        mrz_name="TRAN<<THI<NGOC<ANH",
        date_of_birth=dt.date(1988, 3, 14),
        sex="F",
        date_of_issue=dt.date(2021, 5, 20),
        date_of_expiry=dt.date(2028, 3, 14),
        place_of_origin="Xã Phước Hưng, Huyện Long Điền, Bà Rịa - Vũng Tàu",
        place_of_residence="12 Đường Lê Thánh Tôn, Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh",
        identifying_marks="Nốt ruồi C:1cm trên sau đuôi mắt phải",
        father_name="Trần Văn Đức",
        mother_name="Lê Thị Hương",
        spouse_name="Phạm Quốc Bảo",
        old_id_number="025931764",
    )


def person_without_expiry() -> Person:
    """An unmarried man born in 1958 (card without expiry, MRZ 991231), no old CMND, a Hoa with a religion."""
    return Person(
        id_number="001058017733",  # 001 Hà Nội, 0 = man born 1900-1999, 58 = 1958
        full_name="Lưu Quang Vĩnh",
        mrz_name="LUU<<QUANG<VINH",
        date_of_birth=dt.date(1958, 11, 2),
        sex="M",
        date_of_issue=dt.date(2021, 8, 9),
        date_of_expiry=None,
        place_of_origin="Phường Hàng Bồ, Quận Hoàn Kiếm, Hà Nội",
        place_of_residence="Số 7 ngõ 41 Phố Huế, Phường Ngô Thì Nhậm, Quận Hai Bà Trưng, Hà Nội",
        identifying_marks="Sẹo chấm C:2cm dưới trước cằm",
        father_name="Lưu Chí Thành",
        mother_name="Hà Thị Nguyệt",
        ethnicity="Hoa",
        religion="Phật giáo",
    )


# --- LDS files (ICAO 9303-10) ----------------------------------------------------------------------------------------

FID_COM, FID_SOD = 0x011E, 0x011D
FID_DG = {n: 0x0100 + n for n in range(1, 17)}
DG_TAG = {1: 0x61, 2: 0x75, 3: 0x63, 13: 0x6D, 14: 0x6E, 15: 0x6F}
EMRTD_AID = bytes.fromhex("A0000002471001")


def ef_com(data_groups: Iterable[int]) -> bytes:
    tags = bytes(DG_TAG[n] for n in data_groups)
    return tlv(0x60, tlv(0x5F01, b"0107") + tlv(0x5F36, b"040000") + tlv(0x5C, tags))


def dg1(person: Person) -> bytes:
    return tlv(0x61, tlv(0x5F1F, "".join(person.td1()).encode("ascii")))


def tiny_jpeg() -> bytes:
    image = Image.new("RGB", (24, 32), (196, 160, 140))
    for x in range(6, 18):
        for y in range(8, 26):
            image.putpixel((x, y), (120, 80, 60))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=60)
    return out.getvalue()


def dg2(jpeg: bytes, *, width: int = 24, height: int = 32) -> bytes:
    """DG2 with one ISO/IEC 19794-5 facial record around a JPEG (9303-10 §4.7.2)."""
    facial_information = (
        (20 + 12 + len(jpeg)).to_bytes(4, "big")  # facial record data length
        + bytes(2)  # feature points
        + b"\x00\x00\x00"  # gender, eye colour, hair colour: unspecified
        + bytes(3)  # feature mask
        + bytes(2)  # expression
        + bytes(3)  # pose angle
        + bytes(3)  # pose angle uncertainty
    )
    image_information = (
        b"\x01"  # full frontal
        + b"\x00"  # JPEG
        + width.to_bytes(2, "big")
        + height.to_bytes(2, "big")
        + b"\x01"  # 24-bit RGB
        + b"\x00"  # source: unspecified
        + bytes(2)  # device type
        + bytes(2)  # quality
    )
    record_length = 14 + len(facial_information) + len(image_information) + len(jpeg)
    record = b"FAC\x00" + b"010\x00" + record_length.to_bytes(4, "big") + b"\x00\x01"
    record += facial_information + image_information + jpeg
    header = tlv(0x80, b"\x01\x01") + tlv(0x81, b"\x02") + tlv(0x87, b"\x01\x01") + tlv(0x88, b"\x00\x08")
    instance = tlv(0x7F60, tlv(0xA1, header) + tlv(0x5F2E, record))
    return tlv(0x75, tlv(0x7F61, tlv(0x02, b"\x01") + instance))


ParentsLayout = Literal["separate", "together"]


def _date_text(day: dt.date) -> str:
    return day.strftime("%d/%m/%Y")


def dg13(
    person: Person,
    *,
    parents: ParentsLayout = "separate",
    normalisation: Literal["NFC", "NFD"] = "NFC",
    der_set_order: bool = False,
) -> bytes:
    """The Vietnamese DG13 (cccd-spec §4): 6D { SEQ { INTEGER 1, OID 1.0.10646.1.0.8, SET { SEQ { INTEGER n, v } } } }.

    Field 13 holds the parents either each in its own SEQUENCE (``separate``, what card dumps show) or both names in
    one SEQUENCE (``together``, as some parsers expect). Field 14 is an empty SEQUENCE for an unmarried holder; field
    15 (old CMND) is left out when there was none. Text is written in ``normalisation`` (some chips carry NFD).
    The fields go in number order, as card dumps show; ``der_set_order`` sorts them by their encodings instead, as a
    strict DER encoder sorts a SET OF (X.690 §11.6), which puts short fields such as an empty field 14 first.
    """

    def text(value: str) -> bytes:
        return der_utf8(unicodedata.normalize(normalisation, value))

    def item(n: int, value: bytes) -> bytes:
        return der_sequence(der_integer(n), value)

    if parents == "separate":
        parent_value = der_sequence(text(person.father_name)) + der_sequence(text(person.mother_name))
    else:
        parent_value = der_sequence(text(person.father_name), text(person.mother_name))
    expiry = _date_text(person.date_of_expiry) if person.date_of_expiry else NO_EXPIRY_TEXT
    fields = [
        item(1, der_printable(person.id_number)),
        item(2, text(person.full_name)),
        item(3, der_printable(_date_text(person.date_of_birth))),
        item(4, text("Nam" if person.sex == "M" else "Nữ")),
        item(5, text(person.nationality)),
        item(6, text(person.ethnicity)),
        item(7, text(person.religion)),
        item(8, text(person.place_of_origin)),
        item(9, text(person.place_of_residence)),
        item(10, text(person.identifying_marks)),
        item(11, der_printable(_date_text(person.date_of_issue))),
        item(12, text(expiry)),
        der_sequence(der_integer(13), parent_value),
        der_sequence(der_integer(14), der_sequence(text(person.spouse_name)) if person.spouse_name else b""),
    ]
    if person.old_id_number:
        fields.append(item(15, der_printable(person.old_id_number)))
    fields.append(item(16, der_printable(person.field_16)))
    if der_set_order:
        fields.sort()
    body = der_sequence(der_integer(1), der_oid("1.0.10646.1.0.8"), der_set(*fields))
    return tlv(0x6D, body)


def dg15(public_key: rsa.RSAPublicKey) -> bytes:
    spki = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return tlv(0x6F, spki)


# --- EF.SOD through the openssl command (ICAO 9303-10 §4.6.2) -------------------------------------------------------

_HASH_OIDS = {
    "sha1": "1.3.14.3.2.26",
    "sha256": "2.16.840.1.101.3.4.2.1",
    "sha384": "2.16.840.1.101.3.4.2.2",
    "sha512": "2.16.840.1.101.3.4.2.3",
}
LDS_SECURITY_OBJECT_OID = "2.23.136.1.1.1"


def lds_security_object(
    data_groups: Mapping[int, bytes], *, hash_name: str = "sha256", null_parameters: bool = False, v1: bool = False
) -> bytes:
    """LDSSecurityObject ::= SEQUENCE { version, hashAlgorithm, SEQUENCE OF DataGroupHash [, ldsVersionInfo] }.

    Version 0 (LDS 1.7), or version 1 with LDSVersionInfo { "0108", "040000" } (LDS 1.8). The hash algorithm's
    parameters are absent (RFC 5754) or NULL, as older signers write them.
    """
    algorithm = der_sequence(der_oid(_HASH_OIDS[hash_name]), *([b"\x05\x00"] if null_parameters else []))
    hashes = [
        der_sequence(der_integer(n), der_octets(hashlib.new(hash_name, data).digest()))
        for n, data in sorted(data_groups.items())
    ]
    version_info = [der_sequence(der_printable("0108"), der_printable("040000"))] if v1 else []
    return der_sequence(der_integer(1 if v1 else 0), algorithm, der_sequence(*hashes), *version_info)


def _openssl(*args: str, cwd: Path) -> None:
    completed = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {completed.stderr.decode(errors='replace')}")


KeyKind = Literal["rsa", "ec", "rsa-pss", "ec-explicit"]


def _newkey(kind: KeyKind) -> list[str]:
    if kind.startswith("rsa"):
        return ["-newkey", "rsa:2048"]
    explicit = ["-pkeyopt", "ec_param_enc:explicit"] if kind == "ec-explicit" else []
    return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", *explicit]


def _signature_options(kind: KeyKind) -> list[str]:
    return ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"] if kind == "rsa-pss" else []


@dataclass(frozen=True, slots=True)
class OpenSslPki:
    """A CSCA and a document signer made by ``openssl req``/``openssl x509``, and ``openssl cms -sign`` for SODs.

    ``rsa``/``ec``: RSA 2048 or P-256 keys, certificates signed with SHA-256 (PKCS #1 v1.5 or ECDSA). ``rsa-pss``:
    the certificates signed with RSASSA-PSS. ``ec-explicit``: P-256 keys written with explicit domain parameters in
    the certificates, as ICAO 9303-12 asks of CSCAs and document signers.
    """

    directory: Path
    kind: KeyKind

    @property
    def csca_pem(self) -> Path:
        return self.directory / "csca.pem"

    @classmethod
    def create(cls, directory: Path, *, kind: KeyKind, name: str = "Independent") -> OpenSslPki:
        directory.mkdir(parents=True, exist_ok=True)
        label = kind.upper()
        _openssl("req", "-x509", *_newkey(kind), "-sha256", *_signature_options(kind), "-nodes",
                 "-keyout", "csca.key", "-out", "csca.pem", "-days", "3650",
                 "-subj", f"/C=VN/O={name} Test Issuer/CN={name} CSCA {label}",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=directory)  # fmt: skip
        _openssl("req", "-new", *_newkey(kind), "-nodes", "-keyout", "dsc.key", "-out", "dsc.csr",
                 "-subj", f"/C=VN/O={name} Test Issuer/CN={name} Document Signer {label}",
                 cwd=directory)  # fmt: skip
        (directory / "dsc.ext").write_text(
            "keyUsage=critical,digitalSignature\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
        )
        _openssl("x509", "-req", "-in", "dsc.csr", "-CA", "csca.pem", "-CAkey", "csca.key",
                 "-set_serial", str(secrets.randbits(63)), "-days", "1095", "-sha256", *_signature_options(kind),
                 "-extfile", "dsc.ext", "-out", "dsc.pem", cwd=directory)  # fmt: skip
        for key in ("csca.key", "dsc.key"):
            (directory / key).chmod(0o600)
        return cls(directory, kind)

    def sign_sod(
        self,
        lds_security_object_der: bytes,
        *,
        pss: bool = False,
        md: str = "sha256",
        keyid: bool = False,
        with_csca: bool = False,
        attributes: bool = True,
    ) -> bytes:
        """EF.SOD: tag 77 around the CMS SignedData ``openssl cms -sign`` makes over the LDSSecurityObject.

        ``keyid`` names the signer by subject key identifier instead of issuer and serial; ``with_csca`` adds the
        CSCA certificate to the SignedData; ``attributes=False`` signs the content directly (no signed attributes,
        which ICAO 9303-10 §4.6.2.2 requires: a reader must refuse such an SOD).
        """
        work = self.directory / f"sod-{secrets.token_hex(4)}"
        work.mkdir()
        (work / "lds.der").write_bytes(lds_security_object_der)
        extra = ["-keyopt", "rsa_padding_mode:pss"] if pss else []
        extra += ["-keyid"] if keyid else []
        extra += ["-certfile", str(self.csca_pem)] if with_csca else []
        extra += [] if attributes else ["-noattr"]
        _openssl("cms", "-sign", "-nodetach", "-binary", "-outform", "DER", "-econtent_type", LDS_SECURITY_OBJECT_OID,
                 "-md", md, "-signer", str(self.directory / "dsc.pem"), "-inkey", str(self.directory / "dsc.key"),
                 *extra, "-in", "lds.der", "-out", "sod.der", cwd=work)  # fmt: skip
        return tlv(0x77, (work / "sod.der").read_bytes())


# --- Active authentication: ISO/IEC 9796-2 digital signature scheme 1 (ICAO 9303-11 §6.1) ---------------------------


# ISO/IEC 10118-3 hash-function identifiers for the two-byte trailer XX CC; SHA-1 may use the one-byte trailer BC.
_TRAILER_ID = {"sha1": 0x33, "sha256": 0x34, "sha512": 0x35, "sha384": 0x36, "sha224": 0x38}
AaHash = Literal["sha1", "sha224", "sha256", "sha384", "sha512"]


def _trailer(hash_name: AaHash) -> bytes:
    return b"\xbc" if hash_name == "sha1" else bytes((_TRAILER_ID[hash_name], 0xCC))


def iso9796_2_sign(key: rsa.RSAPrivateKey, challenge: bytes, *, hash_name: AaHash = "sha1") -> bytes:
    """Sign ``challenge`` (M2) with partial message recovery: F = 6A ‖ M1 ‖ H(M1 ‖ M2) ‖ trailer, S = F^d mod n.

    SHA-1 takes the implicit trailer BC (what ICAO 9303-11 §6.1 shows); other hashes the explicit XX CC.
    """
    numbers = key.private_numbers()
    n, d = numbers.public_numbers.n, numbers.d
    k = n.bit_length()
    if k % 8:
        raise ValueError("the AA key's modulus length must be a whole number of bytes")
    size = k // 8
    trailer = _trailer(hash_name)
    digest_size = hashlib.new(hash_name).digest_size
    m1 = secrets.token_bytes(size - 1 - digest_size - len(trailer))  # the recoverable nonce fills F up to |n|
    digest = hashlib.new(hash_name, m1 + challenge).digest()
    f = int.from_bytes(b"\x6a" + m1 + digest + trailer, "big")
    return pow(f, d, n).to_bytes(size, "big")


def iso9796_2_recover(
    public_key: rsa.RSAPublicKey, signature: bytes, challenge: bytes, *, hash_name: AaHash = "sha1"
) -> bool:
    """Verifier counterpart (for this module's own tests)."""
    numbers = public_key.public_numbers()
    size = (numbers.n.bit_length() + 7) // 8
    f = pow(int.from_bytes(signature, "big"), numbers.e, numbers.n).to_bytes(size, "big")
    trailer = _trailer(hash_name)
    digest_size = hashlib.new(hash_name).digest_size
    if f[0] != 0x6A or not f.endswith(trailer):
        return False
    body = f[1 : -len(trailer)]
    m1, digest = body[:-digest_size], body[-digest_size:]
    return hmac.compare_digest(hashlib.new(hash_name, m1 + challenge).digest(), digest)


# --- the card image --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CardImage:
    """What a chip holds: its files by FID, the BAC key inputs and the active-authentication private key."""

    person: Person
    files: Mapping[int, bytes]
    aa_key: rsa.RSAPrivateKey
    csca_pem: Path

    def cloned(self, *, bits: int | None = None) -> CardImage:
        """The same files on another chip: active authentication answers with a key of its own."""
        size = bits or self.aa_key.key_size
        return replace(self, aa_key=rsa.generate_private_key(public_exponent=65537, key_size=size))


@dataclass(frozen=True, slots=True)
class SodStyle:
    """How the EF.SOD is made: the data-group hash, the CMS digest, RSA-PSS, NULL hash parameters, LDS 1.8, the signer
    named by key identifier, the CSCA carried along, or (wrongly) no signed attributes."""

    hash_name: str = "sha256"
    md: str = "sha256"
    pss: bool = False
    null_parameters: bool = False
    v1: bool = False
    keyid: bool = False
    with_csca: bool = False
    attributes: bool = True


def personalise(
    person: Person,
    pki: OpenSslPki,
    *,
    aa_bits: int = 1024,
    parents: ParentsLayout = "separate",
    normalisation: Literal["NFC", "NFD"] = "NFC",
    der_set_order: bool = False,
    sod: SodStyle | None = None,
    aa_key: rsa.RSAPrivateKey | None = None,
) -> CardImage:
    """The card of ``person``: EF.COM, DG1, DG2, DG13, DG15 with a fresh RSA key, and an EF.SOD signed by ``pki``."""
    style = sod or SodStyle()
    key = aa_key or rsa.generate_private_key(public_exponent=65537, key_size=aa_bits)
    groups = {
        1: dg1(person),
        2: dg2(tiny_jpeg()),
        13: dg13(person, parents=parents, normalisation=normalisation, der_set_order=der_set_order),
        15: dg15(key.public_key()),
    }
    files = {FID_DG[n]: data for n, data in groups.items()}
    files[FID_COM] = ef_com(groups)
    lds = lds_security_object(groups, hash_name=style.hash_name, null_parameters=style.null_parameters, v1=style.v1)
    files[FID_SOD] = pki.sign_sod(
        lds, pss=style.pss, md=style.md, keyid=style.keyid, with_csca=style.with_csca, attributes=style.attributes
    )
    return CardImage(person, files, key, pki.csca_pem)


# --- the chip --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Quirks:
    """Habits of particular chips, all off by default."""

    select_p2_0c_only: bool = False  # SELECT answers 6A86 to any P2 but 0C (no FCI/FCP returned)
    select_aid_p2_00_only: bool = False  # SELECT by AID only with P2 = 00 (returns the FCI); 0C gets 6A86
    select_ef_p1_00_only: bool = False  # SELECT EF by FID only with P1 = 00; P1 = 02 gets 6A86
    no_do99_on_success: bool = False  # successful SM answers carry no DO'99' (errors still do)
    max_le: int | None = None  # a READ BINARY with a larger Le is refused with 6700 (e.g. 0xDF)
    eof_6700: bool = False  # 6700 (no data) instead of 6282 when Le runs past the end of the file
    extended_length: bool = True  # accepts extended-length APDUs (answers 6700 to them otherwise)
    atr_extended_length: bool = False  # the ATR's card capabilities announce extended length
    plain_errors: bool = False  # under SM, errors (6A82 ...) answered in clear; the session and its SSC go on
    aa_hash: AaHash = "sha1"  # the hash of the ISO 9796-2 AA signature (sha1: trailer BC; others: XX CC)
    get_response: bool = False  # answers with data come as 61xx and are fetched with GET RESPONSE, as on T=0
    one_session: bool = False  # after its first session ends, BAC is refused (6983) until the card is powered again


class _Refused(Exception):
    """A status word the chip answers instead of data."""

    def __init__(self, sw: int) -> None:
        super().__init__(f"{sw:04X}")
        self.sw = sw


@dataclass(frozen=True, slots=True)
class Apdu:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None  # 1..65536
    extended: bool = False

    @property
    def header(self) -> bytes:
        return bytes((self.cla, self.ins, self.p1, self.p2))


def parse_apdu(raw: bytes) -> Apdu:
    """ISO/IEC 7816-3 §12.1.3 cases 1, 2S/E, 3S/E, 4S/E."""
    if len(raw) < 4:
        raise _Refused(0x6700)
    cla, ins, p1, p2 = raw[:4]
    body = raw[4:]
    if not body:
        return Apdu(cla, ins, p1, p2)
    if len(body) == 1:
        return Apdu(cla, ins, p1, p2, le=body[0] or 256)
    if body[0] != 0:
        lc = body[0]
        if len(body) == 1 + lc:
            return Apdu(cla, ins, p1, p2, body[1:])
        if len(body) == 2 + lc:
            return Apdu(cla, ins, p1, p2, body[1 : 1 + lc], body[-1] or 256)
        raise _Refused(0x6700)
    if len(body) == 3:
        return Apdu(cla, ins, p1, p2, le=int.from_bytes(body[1:3], "big") or 65536, extended=True)
    lc = int.from_bytes(body[1:3], "big")
    if lc == 0 or len(body) < 3 + lc:
        raise _Refused(0x6700)
    if len(body) == 3 + lc:
        return Apdu(cla, ins, p1, p2, body[3:], extended=True)
    if len(body) == 5 + lc:
        return Apdu(cla, ins, p1, p2, body[3 : 3 + lc], int.from_bytes(body[-2:], "big") or 65536, extended=True)
    raise _Refused(0x6700)


class _SecureMessaging:
    """The chip's end of 3DES secure messaging (ICAO 9303-11 §9.8): SSC, DO'87'/'97'/'8E' in, DO'87'/'99'/'8E' out."""

    def __init__(self, ks_enc: bytes, ks_mac: bytes, ssc: int) -> None:
        self.ks_enc = ks_enc
        self.ks_mac = ks_mac
        self.ssc = ssc

    def _ssc(self) -> bytes:
        self.ssc = (self.ssc + 1) % (1 << 64)
        return self.ssc.to_bytes(8, "big")

    def unwrap(self, apdu: Apdu) -> Apdu:
        ssc = self._ssc()
        objects: list[tuple[int, bytes, bytes]] = []
        pos = 0
        try:
            while pos < len(apdu.data):
                tag, value, end = read_tlv(apdu.data, pos)
                objects.append((tag, value, apdu.data[pos:end]))
                pos = end
        except TlvError:
            raise _Refused(0x6988) from None
        tags = [o[0] for o in objects]
        if not tags or tags[-1] != 0x8E or tags.count(0x8E) != 1:
            raise _Refused(0x6987)
        order = (0x87, 0x97, 0x8E)
        if any(t not in order for t in tags) or len(set(tags)) != len(tags) or tags != sorted(tags, key=order.index):
            raise _Refused(0x6988)
        covered = b"".join(raw for tag, _, raw in objects if tag != 0x8E)
        header = pad(bytes((apdu.cla, apdu.ins, apdu.p1, apdu.p2)))
        if not hmac.compare_digest(retail_mac(self.ks_mac, ssc + header + covered), objects[-1][1]):
            raise _Refused(0x6988)
        data = b""
        le: int | None = None
        for tag, value, _ in objects[:-1]:
            if tag == 0x87:
                if not value or value[0] != 0x01 or (len(value) - 1) % 8:
                    raise _Refused(0x6988)
                try:
                    data = unpad(des3_cbc(self.ks_enc, value[1:], decrypt=True))
                except ValueError:
                    raise _Refused(0x6988) from None
            elif tag == 0x97:
                if len(value) == 1:
                    le = value[0] or 256
                elif len(value) == 2:
                    le = int.from_bytes(value, "big") or 65536
                elif value:
                    raise _Refused(0x6988)
        return Apdu(apdu.cla & ~0x0C & 0xFF, apdu.ins, apdu.p1, apdu.p2, data, le, apdu.extended)

    def wrap(self, data: bytes, sw: int, *, status_object: bool = True) -> bytes:
        ssc = self._ssc()
        body = b""
        if data:
            body += tlv(0x87, b"\x01" + des3_cbc(self.ks_enc, pad(data)))
        if status_object:
            body += tlv(0x99, sw.to_bytes(2, "big"))
        body += tlv(0x8E, retail_mac(self.ks_mac, ssc + body))
        return body + sw.to_bytes(2, "big")


def make_atr(*, extended_length: bool) -> bytes:
    """A PC/SC contactless-style ATR (3B 8n 80 01 ‖ historical bytes ‖ TCK) with its own historical bytes, so a test
    can tell this card from any other on the reader. Card capabilities (tag 7): byte 3 bit 7 = extended Lc/Le."""
    historical = b"\x80" + b"\x73\x00\x00" + (b"\x40" if extended_length else b"\x00") + b"INDEP"
    t0 = 0x80 | len(historical)
    body = bytes((t0, 0x80, 0x01)) + historical
    tck = 0
    for byte in body:
        tck ^= byte
    return b"\x3b" + body + bytes((tck,))


_SW_OK = 0x9000


class IndependentChip:
    """The chip's command processor: ``process(apdu) -> response``; ``power_cycle()`` is the field dropping."""

    def __init__(self, image: CardImage, *, quirks: Quirks | None = None, rng: Callable[[int], bytes] | None = None):
        self.image = image
        self.quirks = quirks or Quirks()
        self.atr = make_atr(extended_length=self.quirks.atr_extended_length)
        self._rng = rng or secrets.token_bytes
        self._k_enc, self._k_mac = bac_keys(image.person.document_number, image.person.mrz_birth,
                                            image.person.mrz_expiry)  # fmt: skip
        self._sfi = {fid & 0x1F: fid for fid in image.files}  # DGn: SFI n; EF.COM 1E, EF.SOD 1D
        self.sessions = 0
        self.power_cycle()

    def power_cycle(self) -> None:
        self._pending = b""
        self._pending_sw = b"\x90\x00"
        self._application = False
        self._current: int | None = None
        self._challenge: bytes | None = None
        self._sm: _SecureMessaging | None = None
        self._opened_since_power = False
        self.sessions += 1

    @property
    def authenticated(self) -> bool:
        return self._sm is not None

    # -- dispatch --

    def process(self, raw: bytes) -> bytes:
        if not self.quirks.get_response:
            return self._process(raw)
        # T=0 (ISO/IEC 7816-3 §10.3.1, 7816-4 §5.1.3): the answer's data waits behind 61xx for GET RESPONSE, which
        # is a transport exchange and leaves secure messaging alone.
        if raw[:2] == b"\x00\xc0" and len(raw) == 5:
            if not self._pending:
                return b"\x69\x85"
            size = raw[4] or 256
            piece, self._pending = self._pending[:size], self._pending[size:]
            if self._pending:
                return piece + bytes((0x61, min(len(self._pending), 256) & 0xFF))
            return piece + self._pending_sw
        self._pending = b""
        response = self._process(raw)
        if len(response) == 2:
            return response
        self._pending, self._pending_sw = response[:-2], response[-2:]
        return bytes((0x61, min(len(self._pending), 256) & 0xFF))

    def _process(self, raw: bytes) -> bytes:
        try:
            apdu = parse_apdu(raw)
        except _Refused as refused:
            self._sm = None
            return refused.sw.to_bytes(2, "big")
        if apdu.extended and not self.quirks.extended_length:
            self._sm = None
            return b"\x67\x00"
        if apdu.cla & 0x0C == 0x0C:
            return self._secure(apdu)
        if apdu.cla != 0x00:
            return b"\x6e\x00"
        # ICAO 9303-11 §9.8.2: a plain command ends secure messaging; the chip is then unauthenticated again.
        self._sm = None
        try:
            data, sw = self._execute(apdu)
        except _Refused as refused:
            return refused.sw.to_bytes(2, "big")
        return data + sw.to_bytes(2, "big")

    def _secure(self, outer: Apdu) -> bytes:
        sm = self._sm
        if sm is None or outer.cla & ~0x0C & 0xFF != 0x00:
            self._sm = None
            return b"\x69\x88"
        try:
            inner = sm.unwrap(outer)
        except _Refused as refused:
            self._sm = None  # a MAC that does not verify ends the session (answered in clear)
            return refused.sw.to_bytes(2, "big")
        try:
            data, sw = self._execute(inner)
        except _Refused as refused:
            data, sw = b"", refused.sw
            if self.quirks.plain_errors:
                sm.ssc += 1  # the answer counts as one, although it carries no MAC
                return sw.to_bytes(2, "big")
        if self._sm is not sm:  # the command itself ended the session (cannot happen for the commands here)
            return sw.to_bytes(2, "big")
        answer = sm.wrap(data, sw, status_object=not (self.quirks.no_do99_on_success and sw == _SW_OK))
        if not outer.extended and not self.quirks.get_response and len(answer) - 2 > 256:
            # The protected answer does not fit a short response: the chip refuses the length instead. (Under
            # T=0 it is not bound by one response: 61xx hands it out in as many GET RESPONSE pieces as it takes.)
            sm.ssc -= 1
            answer = sm.wrap(b"", 0x6700)
        return answer

    def _execute(self, apdu: Apdu) -> tuple[bytes, int]:
        handlers = {
            0xA4: self._select,
            0x84: self._get_challenge,
            0x82: self._external_authenticate,
            0xB0: self._read_binary,
            0x88: self._internal_authenticate,
        }
        handler = handlers.get(apdu.ins)
        if handler is None:
            raise _Refused(0x6D00)
        return handler(apdu)

    # -- SELECT --

    def _select(self, apdu: Apdu) -> tuple[bytes, int]:
        q = self.quirks
        if q.select_p2_0c_only and apdu.p2 != 0x0C:
            raise _Refused(0x6A86)
        if apdu.p2 not in (0x00, 0x04, 0x0C):
            raise _Refused(0x6A86)
        if apdu.p1 == 0x04:
            if q.select_aid_p2_00_only and apdu.p2 != 0x00:
                raise _Refused(0x6A86)
            if apdu.data != EMRTD_AID:
                raise _Refused(0x6A82)
            self._application = True
            self._current = None
            fci = tlv(0x6F, tlv(0x84, EMRTD_AID))
            return (fci if apdu.p2 == 0x00 else b""), _SW_OK
        if apdu.p1 not in (0x00, 0x02):
            raise _Refused(0x6A86)
        if apdu.p1 == 0x02 and q.select_ef_p1_00_only:
            raise _Refused(0x6A86)
        if apdu.p1 == 0x00 and apdu.data in (b"", b"\x3f\x00"):
            self._application = False
            self._current = None
            return b"", _SW_OK
        if len(apdu.data) != 2:
            raise _Refused(0x6700)
        fid = int.from_bytes(apdu.data, "big")
        if not self._application:
            raise _Refused(0x6A82)  # the MF holds no EF.CardAccess, no EF.ATR/INFO, no EF.DIR
        if not self.authenticated:
            raise _Refused(0x6982)
        if fid not in self.image.files:
            raise _Refused(0x6A82)
        self._current = fid
        if apdu.p2 == 0x0C:
            return b"", _SW_OK
        size = len(self.image.files[fid])
        fcp = tlv(0x62, tlv(0x80, size.to_bytes(2, "big")) + tlv(0x82, b"\x01") + tlv(0x83, apdu.data))
        return fcp, _SW_OK

    # -- BAC --

    def _get_challenge(self, apdu: Apdu) -> tuple[bytes, int]:
        if apdu.p1 or apdu.p2:
            raise _Refused(0x6A86)
        if apdu.le != 8:
            raise _Refused(0x6700)
        self._challenge = self._rng(8)
        return self._challenge, _SW_OK

    def _external_authenticate(self, apdu: Apdu) -> tuple[bytes, int]:
        if apdu.p1 or apdu.p2:
            raise _Refused(0x6A86)
        challenge, self._challenge = self._challenge, None
        if not self._application or challenge is None:
            raise _Refused(0x6985)
        if len(apdu.data) != 40 or (apdu.le is not None and apdu.le < 40):
            raise _Refused(0x6700)
        if self.quirks.one_session and self._opened_since_power:
            raise _Refused(0x6983)
        e_ifd, m_ifd = apdu.data[:32], apdu.data[32:]
        if not hmac.compare_digest(retail_mac(self._k_mac, e_ifd), m_ifd):
            raise _Refused(0x6300)
        s = des3_cbc(self._k_enc, e_ifd, decrypt=True)
        rnd_ifd, rnd_ic, k_ifd = s[:8], s[8:16], s[16:32]
        if not hmac.compare_digest(rnd_ic, challenge):
            raise _Refused(0x6300)
        k_ic = self._rng(16)
        e_ic = des3_cbc(self._k_enc, rnd_ic + rnd_ifd + k_ic)
        seed = bytes(a ^ b for a, b in zip(k_ifd, k_ic, strict=True))
        ssc = int.from_bytes(rnd_ic[4:] + rnd_ifd[4:], "big")
        self._sm = _SecureMessaging(derive_3des_key(seed, 1), derive_3des_key(seed, 2), ssc)
        self._opened_since_power = True
        return e_ic + retail_mac(self._k_mac, e_ic), _SW_OK

    # -- READ BINARY --

    def _read_binary(self, apdu: Apdu) -> tuple[bytes, int]:
        if apdu.p1 & 0x80:
            if apdu.p1 & 0x60:
                raise _Refused(0x6A86)
            offset = apdu.p2
            fid = self._sfi.get(apdu.p1 & 0x1F) if self._application else None
            if not self.authenticated and self._application:
                raise _Refused(0x6982)
            if fid is None:
                raise _Refused(0x6A82)
            self._current = fid
        else:
            offset = (apdu.p1 << 8) | apdu.p2
            if not self.authenticated:
                raise _Refused(0x6982)
            fid = self._current
            if fid is None:
                raise _Refused(0x6986)
        if apdu.le is None:
            raise _Refused(0x6700)
        if self.quirks.max_le is not None and apdu.le > self.quirks.max_le:
            raise _Refused(0x6700)
        content = self.image.files[fid]
        if offset >= len(content):
            raise _Refused(0x6B00)
        chunk = content[offset : offset + apdu.le]
        if len(chunk) < apdu.le:
            if self.quirks.eof_6700:
                raise _Refused(0x6700)
            return chunk, 0x6282
        return chunk, _SW_OK

    # -- active authentication --

    def _internal_authenticate(self, apdu: Apdu) -> tuple[bytes, int]:
        if not self.authenticated:
            raise _Refused(0x6982)
        if apdu.p1 or apdu.p2:
            raise _Refused(0x6A86)
        if len(apdu.data) != 8:
            raise _Refused(0x6700)
        signature = iso9796_2_sign(self.image.aa_key, apdu.data, hash_name=self.quirks.aa_hash)
        if apdu.le is None or apdu.le < len(signature):
            raise _Refused(0x6700)
        return signature, _SW_OK


# --- the vpcd link ---------------------------------------------------------------------------------------------------


class _Closed(Exception):
    """vpcd closed the connection (pcscd stopped, or the card was taken away)."""


@dataclass
class Exchange:
    command: bytes
    response: bytes


@dataclass
class VpcdLink:
    """Plays ``chip`` on vpcd's slot at ``port`` from a thread: ``start`` connects (card inserted), ``stop``
    disconnects (card removed). ``trace`` keeps every exchange, for a failing test's message."""

    chip: IndependentChip
    port: int = 35963
    host: str = "127.0.0.1"
    leave_after: int | None = None  # the card leaves the field after this many APDUs (a card pulled mid-read)
    mute_after: int | None = None  # the card stays but answers nothing after this many APDUs (a hung chip)
    trace: list[Exchange] = field(default_factory=list)
    controls: list[int] = field(default_factory=list)
    _socket: socket.socket | None = None
    _thread: threading.Thread | None = None

    def start(self, *, timeout: float = 5.0) -> VpcdLink:
        deadline = time.monotonic() + timeout
        while True:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket = sock
        self._thread = threading.Thread(target=self._serve, name=f"independent-card-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        sock, self._socket = self._socket, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> VpcdLink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def connected(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def swap(self, chip: IndependentChip) -> None:
        """Put another chip behind the same connection, between two reads. pcscd powers the card up for every
        connection, so the next reader meets ``chip`` fresh, as it would a card placed anew (without the wait for
        pcscd's 400 ms poll to notice a removal and an insertion)."""
        if chip.atr != self.chip.atr:
            raise ValueError("pcscd keeps the ATR it read at insertion: a chip with another ATR must be inserted")
        self.chip = chip
        self.trace.clear()
        self.controls.clear()

    def transcript(self, last: int = 40) -> str:
        return "\n".join(f"> {e.command.hex().upper()}\n< {e.response.hex().upper()}" for e in self.trace[-last:])

    def _recv(self, sock: socket.socket, n: int) -> bytes:
        buffer = bytearray()
        while len(buffer) < n:
            # vpcd writes the length and the APDU in two segments without TCP_NODELAY: acknowledge at once, or
            # Nagle and delayed ACK hold every APDU for about 40 ms. The flag does not stick: set it every time.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            chunk = sock.recv(n - len(buffer))
            if not chunk:
                raise _Closed
            buffer += chunk
        return bytes(buffer)

    def _serve(self) -> None:
        sock = self._socket
        assert sock is not None
        try:
            while True:
                size = int.from_bytes(self._recv(sock, 2), "big")
                payload = self._recv(sock, size)
                if size == 1:
                    control = payload[0]
                    self.controls.append(control)
                    if control in (0x00, 0x01, 0x02):
                        self.chip.power_cycle()  # field off, on, or a warm reset: nothing of the session survives
                    elif control == 0x04:
                        sock.sendall(len(self.chip.atr).to_bytes(2, "big") + self.chip.atr)
                    continue
                if self.leave_after is not None and len(self.trace) >= self.leave_after:
                    return  # pulled away: the connection closes with the command unanswered
                if self.mute_after is not None and len(self.trace) >= self.mute_after:
                    continue  # hung: still in the field, never answering
                response = self.chip.process(payload)
                self.trace.append(Exchange(payload, response))
                sock.sendall(len(response).to_bytes(2, "big") + response)  # one segment per reply
        except (_Closed, OSError):
            return
        finally:
            with contextlib.suppress(OSError):
                sock.close()


# --- by hand ---------------------------------------------------------------------------------------------------------


def main() -> None:  # pragma: no cover - a manual tool
    parser = argparse.ArgumentParser(description="Play the independent eMRTD card on vpcd until Ctrl-C.")
    parser.add_argument("--port", type=int, default=35963)
    parser.add_argument("--out", type=Path, required=True, help="where the OpenSSL PKI and card.txt go")
    parser.add_argument("--pki", choices=("rsa", "ec"), default="ec")
    parser.add_argument("--person", choices=("everything", "no-expiry"), default="everything")
    parser.add_argument("--clone", action="store_true")
    args = parser.parse_args()
    person = person_with_everything() if args.person == "everything" else person_without_expiry()
    image = personalise(person, OpenSslPki.create(args.out, kind=args.pki))
    if args.clone:
        image = image.cloned()
    (args.out / "card.txt").write_text("\n".join([*person.td1(), person.qr_text(), ""]), encoding="utf-8")
    print(f"card on port {args.port}; CSCA {image.csca_pem}; MRZ and QR in {args.out / 'card.txt'}")
    with VpcdLink(IndependentChip(image), port=args.port), contextlib.suppress(KeyboardInterrupt):
        while True:
            time.sleep(1)


if __name__ == "__main__":
    os.umask(0o077)
    main()
