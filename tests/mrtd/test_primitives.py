"""The shared symmetric and EC primitives, against ICAO 9303-11 App. D and G.1 and the real Vietnamese CSCA."""

import hashlib
from pathlib import Path

import pytest
from asn1crypto import x509
from cryptography.hazmat.primitives import hashes
from hypothesis import given
from hypothesis import strategies as st

from mrtd import ParseError
from mrtd._crypto import CipherSuite, KdfCounter, cbc_decrypt, cbc_encrypt, kdf, pad, retail_mac, unpad
from mrtd._curves import curve_by_pace_parameter_id, load_ec_public_key
from mrtd._oids import decode_integer, decode_oid, encode_oid
from mrtd._security_infos import ChipAuthenticationInfo, PaceInfo, TerminalAuthenticationInfo, parse_security_infos
from mrtd._tlv import encode_tlv

TESTDATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "testdata"


def test_bac_keys_of_icao_appendix_d() -> None:
    k_seed = hashlib.sha1(b"L898902C<369080619406236").digest()[:16]
    assert k_seed.hex().upper() == "239AB9CB282DAF66231DC5A4DF6BFBAE"
    assert kdf(k_seed, KdfCounter.ENC, CipherSuite.DES3).hex().upper() == "AB94FDECF2674FDFB9B391F85D7F76F2"
    assert kdf(k_seed, KdfCounter.MAC, CipherSuite.DES3).hex().upper() == "7962D9ECE03D1ACD4C76089DCE131543"


def test_external_authenticate_cryptogram_of_icao_appendix_d() -> None:
    k_enc = bytes.fromhex("AB94FDECF2674FDFB9B391F85D7F76F2")
    k_mac = bytes.fromhex("7962D9ECE03D1ACD4C76089DCE131543")
    s = bytes.fromhex("781723860C06C226" + "4608F91988702212" + "0B795240CB7049B01C19B33E32804F0B")
    e_ifd = cbc_encrypt(CipherSuite.DES3, k_enc, s)
    assert e_ifd.hex().upper() == "72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F2"
    assert retail_mac(k_mac, e_ifd).hex().upper() == "5F1448EEA8AD90A7"
    assert cbc_decrypt(CipherSuite.DES3, k_enc, e_ifd) == s


def test_pace_password_key_of_icao_appendix_g() -> None:
    k = hashlib.sha1(b"T22000129364081251010318").digest()
    assert kdf(k, KdfCounter.PACE, CipherSuite.AES128).hex().upper() == "89DED1B26624EC1E634C1989302849DD"


@given(st.binary(max_size=64), st.sampled_from([8, 16]))
def test_padding_round_trips(data: bytes, block: int) -> None:
    padded = pad(data, block)
    assert len(padded) % block == 0
    assert len(padded) > len(data)
    assert unpad(padded) == data


def test_bad_padding_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        unpad(b"abc\x00\x00")


@pytest.mark.parametrize("oid", ["0.4.0.127.0.7.2.2.4.2.2", "2.23.136.1.1.5", "1.2.840.10045.2.1", "2.999.1"])
def test_oid_round_trip(oid: str) -> None:
    assert decode_oid(encode_oid(oid)) == oid


def test_oversized_arcs_and_integers_are_parse_errors() -> None:
    # Python will not print an integer of more than 4300 digits: unbounded, these would escape as a ValueError.
    with pytest.raises(ParseError):
        decode_oid(b"\x2a" + b"\xff" * 2100 + b"\x7f")
    with pytest.raises(ParseError):
        decode_integer(b"\x01" * 2000)
    uuid_arc = f"2.25.{2**128 - 1}"  # the largest arcs in use: UUIDs (ITU-T X.667)
    assert decode_oid(encode_oid(uuid_arc)) == uuid_arc


def test_negative_security_info_numbers_are_parse_errors() -> None:
    # A keyId of -1 would otherwise reach chip authentication's key reference and fail there untyped.
    def infos(key_id: bytes) -> bytes:
        oid = encode_tlv(0x06, encode_oid("0.4.0.127.0.7.2.2.3.2.2"))  # id-CA-ECDH-AES-CBC-CMAC-128
        return encode_tlv(0x31, encode_tlv(0x30, oid + encode_tlv(0x02, b"\x01") + encode_tlv(0x02, key_id)))

    assert parse_security_infos(infos(b"\x01")).chip_authentication[0].key_id == 1
    with pytest.raises(ParseError, match="negative"):
        parse_security_infos(infos(b"\xff"))


def test_vietnamese_card_access_as_published() -> None:
    # EF.CardAccess that Vietnamese reader apps hard-code for iOS (cccd-spec §2.1).
    infos = parse_security_infos(
        bytes.fromhex(
            "3134300d060804007f0007020202020101300f060a04007f000702020302020201013012060a04007f0007020204020202010202010d"
        )
    )
    (pace,) = infos.pace
    assert isinstance(pace, PaceInfo)
    assert (pace.mapping, pace.cipher, pace.version, pace.parameter_id) == ("ECDH-GM", CipherSuite.AES128, 2, 13)
    assert curve_by_pace_parameter_id(13).name == "brainpoolP256r1"
    (ca,) = infos.chip_authentication
    assert isinstance(ca, ChipAuthenticationInfo)
    assert ca.is_ecdh
    assert ca.cipher is CipherSuite.AES128
    assert isinstance(infos.terminal_authentication, TerminalAuthenticationInfo)


def test_vietnamese_csca_self_signature_with_explicit_brainpool_parameters() -> None:
    cert = x509.Certificate.load((TESTDATA / "masterlists" / "VN_CSCA_ePassport_Vietnam_2022.cer").read_bytes())
    key = load_ec_public_key(cert["tbs_certificate"]["subject_public_key_info"].dump())
    assert key.curve.name == "brainpoolP512r1"
    digest = hashlib.sha512(cert["tbs_certificate"].dump()).digest()
    signature = cert["signature_value"].native
    assert key.verify_digest(signature, digest, hashes.SHA512())
    assert not key.verify_digest(signature, hashlib.sha512(b"other").digest(), hashes.SHA512())


def test_point_arithmetic_matches_icao_appendix_g_mapping() -> None:
    curve = curve_by_pace_parameter_id(13)
    sk_map_ifd = int("7F4EF07B9EA82FD78AD689B38D0BC78CF21F249D953BC46F4C6E19259C010F99", 16)
    pk_map_ic = curve.decode_point(
        bytes.fromhex(
            "04824FBA91C9CBE26BEF53A0EBE7342A3BF178CEA9F45DE0B70AA601651FBA3F5730D8C879AAA9C9F73991E61B58F4D52EB87A0A0C709A49DC63719363CCD13C54"
        )
    )
    h = pk_map_ic * sk_map_ifd
    assert h.encode().hex().upper() == (
        "0460332EF2450B5D247EF6D3868397D398852ED6E8CAF6FFEEF6BF85CA57057FD5"
        "0840CA7415BAF3E43BD414D35AA4608B93A2CAF3A4E3EA4E82C9C13D03EB7181"
    )
    s = int("3F00C4D39D153F2B2A214A078D899B22", 16)
    g_tilde = curve.generator * s + h
    assert g_tilde.encode().hex().upper() == (
        "048CED63C91426D4F0EB1435E7CB1D74A46723A0AF21C89634F65A9AE87A9265E2"
        "8C879506743F8611AC33645C5B985C80B5F09A0B83407C1B6A4D857AE76FE522"
    )


def test_point_off_the_curve_is_refused() -> None:
    curve = curve_by_pace_parameter_id(13)
    point = curve.generator.encode()
    with pytest.raises(ParseError, match="not on"):
        curve.decode_point(point[:-1] + bytes([point[-1] ^ 1]))
