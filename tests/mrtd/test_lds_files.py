"""EF.COM, DG1, DG2, DG14 and DG15 parsers, on ICAO/BSI/real-passport bytes and hand-built records; fuzzed."""

import contextlib
import hashlib

import pytest
from asn1crypto import x509
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openssl_dump import dg1_bytes, dg2_bytes, ef_com_bytes, face_record, jpeg_bytes, tlv
from real_data import REAL_DG15, TESTDATA

from mrtd import MRZError, ParseError
from mrtd._dg1 import parse_dg1
from mrtd._dg2 import ImageType, image_size, parse_dg2
from mrtd._dg14 import parse_dg14
from mrtd._dg15 import parse_dg15
from mrtd._ef_com import parse_ef_com
from mrtd._files import FileId
from mrtd._security_infos import ActiveAuthenticationInfo, ChipAuthenticationInfo, ChipAuthenticationPublicKeyInfo


def test_ef_com_of_icao_appendix_d4() -> None:
    com = parse_ef_com(bytes.fromhex("60145F0104303130365F36063034303030305C026175"))
    assert (com.lds_version, com.unicode_version) == ("1.6", "4.0.0")
    assert com.data_groups == (FileId.DG1, FileId.DG2)


def test_ef_com_of_the_cccd() -> None:
    com = parse_ef_com(ef_com_bytes())
    assert com.lds_version == "1.7"
    assert com.data_groups == (FileId.DG1, FileId.DG2, FileId.DG3, FileId.DG13, FileId.DG15, FileId.DG14)
    assert com.unknown_tags == ()


def test_ef_com_keeps_unknown_tags() -> None:
    com = parse_ef_com(bytes.fromhex("60145F0104303130375F36063034303030305C02617F"))
    assert com.data_groups == (FileId.DG1,)
    assert com.unknown_tags == (0x7F,)


@pytest.mark.parametrize(
    "hex_data",
    ["", "61035F0100", "60045F010130", "600A5F0104303130375C0161", "60145F0104303130415F36063034303030305C026175"],
)
def test_malformed_ef_com(hex_data: str) -> None:
    with pytest.raises(ParseError):
        parse_ef_com(bytes.fromhex(hex_data))


def test_dg1_of_the_cccd() -> None:
    data = dg1_bytes()
    assert data[:5] == bytes.fromhex("615D5F1F5A")  # cccd-spec §3: 95 bytes
    assert len(data) == 95
    dg1 = parse_dg1(data)
    assert dg1.mrz.id_number == "001090012345"


def test_dg1_with_a_bad_check_digit_is_an_mrz_error() -> None:
    data = bytearray(dg1_bytes())
    data[5 + 14] = ord("1")
    with pytest.raises(MRZError):
        parse_dg1(bytes(data))


@pytest.mark.parametrize("body", [b"", tlv(b"\x5f\x1f", b"ABC"), tlv(b"\x5f\x1f", "é".encode() * 45), tlv(0x04, b"")])
def test_malformed_dg1(body: bytes) -> None:
    with pytest.raises(ParseError):
        parse_dg1(tlv(0x61, body))


def test_dg14_with_the_cccd_security_infos() -> None:
    # The SecurityInfos of cccd-spec §2.1 plus an ActiveAuthenticationInfo (ecdsa-with-SHA256), hand-encoded.
    aa = bytes.fromhex("3015" + "0606678108010105" + "020101" + "06082A8648CE3D040302")
    ca = bytes.fromhex("300F" + "060A04007F000702020302020201" + "01")
    pk_point = bytes.fromhex("04" + "11" * 32 + "22" * 32)
    spki = tlv(
        0x30, tlv(0x30, bytes.fromhex("06072A8648CE3D0201" + "06092B2403030208010107")) + tlv(0x03, b"\x00" + pk_point)
    )
    pk = tlv(0x30, bytes.fromhex("060904007F000702020102") + spki)
    infos = parse_dg14(tlv(0x6E, tlv(0x31, pk + ca + aa))).security_infos
    assert isinstance(infos.chip_authentication_keys[0], ChipAuthenticationPublicKeyInfo)
    assert infos.chip_authentication_keys[0].public_key == spki
    assert isinstance(infos.chip_authentication[0], ChipAuthenticationInfo)
    assert isinstance(infos.active_authentication, ActiveAuthenticationInfo)
    assert infos.active_authentication.signature_algorithm == "1.2.840.10045.4.3.2"


def test_dg15_of_a_real_passport_is_rsa_1024() -> None:
    key = parse_dg15(REAL_DG15).public_key
    assert key.rsa is not None
    assert key.rsa.bits == 1024
    assert key.rsa.e == 65537
    assert key.description == "RSA 1024"


def test_dg15_with_an_explicit_parameter_brainpool_key() -> None:
    # The Vietnamese CSCA's key (explicit brainpoolP512r1) as a DG15 key: cryptography alone cannot load it.
    cert = x509.Certificate.load((TESTDATA / "masterlists" / "VN_CSCA_ePassport_Vietnam_2022.cer").read_bytes())
    spki = cert["tbs_certificate"]["subject_public_key_info"].dump()
    key = parse_dg15(tlv(0x6F, spki)).public_key
    assert key.ec is not None
    assert key.ec.curve.name == "brainpoolP512r1"


@pytest.mark.parametrize(
    "body",
    [b"", bytes.fromhex("3003020101"), bytes.fromhex("300D06092A864886F70D0101010500"), REAL_DG15[3:-10]],
)
def test_malformed_dg15(body: bytes) -> None:
    with pytest.raises(ParseError):
        parse_dg15(tlv(0x6F, body))


def test_dg2_with_an_iso_19794_5_jpeg_record() -> None:
    image = jpeg_bytes(40, 48)
    assert image[:3] == b"\xff\xd8\xff"
    dg2 = parse_dg2(dg2_bytes(face_record(image, width=40, height=48, gender=2)))
    face = dg2.portrait
    assert face.image_type is ImageType.JPEG
    assert (face.width, face.height) == (40, 48)
    assert face.image == image
    assert face.gender == 2
    # The record's size agrees with the JPEG's own SOF header.
    assert image_size(face.image, face.image_type) == (40, 48)


def test_dg2_with_a_jpeg_2000_codestream() -> None:
    # A minimal JPEG 2000 codestream header: SOC, SIZ with Xsiz=64, Ysiz=80 and zero offsets.
    codestream = bytes.fromhex("FF4FFF51002F0000" + "00000040" + "00000050" + "00000000" * 2) + bytes(40)
    face = parse_dg2(dg2_bytes(face_record(codestream, width=64, height=80, data_type=1))).portrait
    assert face.image_type is ImageType.JPEG2000
    assert image_size(face.image, face.image_type) == (64, 80)


def test_dg2_declared_type_must_match_the_image_magic() -> None:
    with pytest.raises(ParseError, match="declared jpeg2000"):
        parse_dg2(dg2_bytes(face_record(jpeg_bytes(), width=24, height=32, data_type=1)))
    with pytest.raises(ParseError, match="declared jpeg"):
        parse_dg2(dg2_bytes(face_record(b"\x89PNG\r\n\x1a\n" + bytes(20), width=24, height=32)))


def test_dg2_in_an_iso_39794_block_yields_the_image() -> None:
    image = jpeg_bytes(30, 20)
    block = tlv(b"\x7f\x2e", tlv(0xA1, tlv(0xA0, tlv(0x80, b"\x01")) + tlv(0x82, image)))
    template = tlv(b"\x7f\x60", tlv(0xA1, tlv(0x87, b"\x01\x01")) + block)
    face = parse_dg2(tlv(0x75, tlv(b"\x7f\x61", tlv(0x02, b"\x01") + template))).portrait
    assert face.image == image
    assert (face.width, face.height) == (30, 20)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda r: b"FAX" + r[3:],
        lambda r: r[:4] + b"030\x00" + r[8:],
        lambda r: r[:8] + (len(r) + 5).to_bytes(4, "big") + r[12:],
        lambda r: r[:12] + b"\x00\x00" + r[14:],
        lambda r: r[:14] + (10**6).to_bytes(4, "big") + r[18:],
        lambda r: r[:40],
    ],
)
def test_malformed_face_records(mutate: object) -> None:
    record = face_record(jpeg_bytes(), width=24, height=32)
    assert callable(mutate)
    with pytest.raises(ParseError):
        parse_dg2(dg2_bytes(mutate(record)))


_SAMPLES = [
    ef_com_bytes(),
    dg1_bytes(),
    dg2_bytes(face_record(hashlib.sha256(b"x").digest() * 2, width=1, height=1, data_type=0)),
    REAL_DG15,
]
_PARSERS = [parse_ef_com, parse_dg1, parse_dg2, parse_dg14, parse_dg15]


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=300)
@given(st.sampled_from(_SAMPLES), st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 255)), max_size=6))
def test_mutated_files_raise_only_parse_errors(sample: bytes, changes: list[tuple[int, int]]) -> None:
    data = bytearray(sample)
    for position, value in changes:
        data[position % len(data)] = value
    for parser in _PARSERS:
        with contextlib.suppress(ParseError):
            parser(bytes(data))


@given(st.binary(max_size=300))
def test_random_bytes_raise_only_parse_errors(data: bytes) -> None:
    for parser in _PARSERS:
        with contextlib.suppress(ParseError):
            parser(data)
