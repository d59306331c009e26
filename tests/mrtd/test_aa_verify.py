"""Active authentication: ICAO 9303-11 App. F, four real-passport exchanges, the BouncyCastle ISO 9796-2 vector
(all as carried by pymrtd's tests, emrtd-anchors §3.7), SHA-2 trailers signed by raw RSA in OpenSSL, and ECDSA."""

import hashlib
from pathlib import Path

import pytest
from openssl_dump import ecdsa_plain, run
from real_data import REAL_DG15

from mrtd import ActiveAuthError
from mrtd._aa_verify import decode_message_representative, open_signature, verify_active_authentication
from mrtd._dg15 import parse_dg15
from mrtd._keys import load_public_key
from mrtd._security_infos import ActiveAuthenticationInfo

ICAO_F = bytes.fromhex(
    "6A9D2784A67F8E7C659973EA1AEA25D95B6C8F91E5002F369F0FBDCE8A3CEC1991B543F1696546C5524CF23A5303CD6C98599F40B79F377B"
    "5F3A1406B3B4D8F96784D23AA88DB7E1032A405E69325FA91A6E86F5C71AEA978264C4A207446DAD4E7292E2DCDA3024B47DA8C063AA1E6D"
    "22FBD976AB0FE73D94D2D9C6D88127BC"
)
ICAO_RND_IFD = bytes.fromhex("F173589974BF40C6")

REAL_EXCHANGES = [
    (
        "47E4EE7F211F7326",
        "8AECE4E0AB1A6B9E06B31ACBA51AE316D0B7B48E2F5FE13E575060F6B9DC27A2F9D03DCF67A141F466EEC753879106BE0992F46F5EAAD0"
        "75EB1886D2ACE90D60C2EDA69880780CE4FA36EF27AB01C47527BD23B178EC8F213307281572C219487FC11B2C3D9C144DC98D96D1A79A"
        "7478449D692D3D14E8C044F81B3ADF0047E0",
        "60735d54c4fc7759a2093c4b6f6f09dac2ddb103bd14b512e5683aed8ed7eb8fd3dd6bf122dadf8c2c43d359f8f6e6537dadec03d21b385a"
        "9b3bf6111751558f860ce3701574d742962110ad81d08f13e5e9439d912ac2b3f61d60cc48700f5260a82ca06362dd077e75",
    ),
    (
        "5DD17658F6E21C13",
        "97251259E9EB453A8DC2D9CD85D5A49D2E83F31D6465CB1FBD09C5E7800D4F0FB9FF7312343CD3955CA3BE6768AD7938F3D36B0C9E2205"
        "923786949B5F48FBF1C94D01B5BC9DA88C8293E118F87E14E4CC409D52AA7ED266E20248AB3C04949838540DEB24588436607EA620B482"
        "5D002C5FAB4F07B618D72C0A9EC247653FE7",
        "51d3acac47e1f3b2f438218d4deb5386f6a53d74271c4c2498c86c721f485f0332ff4d1ab94b559fbf4c6c73917647eaa09ff5d179fb7a5e"
        "84327b6ded162a967ef0fd78d8f3f05cb360a4aa78651f4464c830a62575d4fbea6fe56f6021e50970925c7447b7d0274f68",
    ),
    (
        "18BD6C81F37598E2",
        "12C0972DFE9E1DDB42B46130D64339E0845578D85E5F0ED7C9E12036AE0C3D417BBAAA6CA5579E782DDEADA825E432C2AE9593B8DB5806"
        "327E22B18CD0AB86353C314925A01390806A1D6E8DDE2CD0D82D9671457139241E93BC308E5573C335D14EF6182A5171A443A82A2568D6"
        "B1373A1F227377C584ABA7B1E8B1F47E393F",
        "097d0235b982189b854a80e67ad9087b22590b49279727d471c12fa40412c499aefc6a38faacb1e5042b9fb06826c678dca36e61e16ea3a7"
        "c17ead774a28f66a6a21d2277355ce134b59d8953dda7ce37ea836210aa3a2abed9159e91ea047223dcb16578537864642b2",
    ),
    (
        "0A2756299542EFCF",
        "0854CF7B69FB54286F97FC8B396722E21156DFEEC38CF5C63035B09A59C4EA7FCA79865D5EE166548AAE5AE1F629A57459B46F5D1D1E4E"
        "FE9369C0075903D3CA282D6B2CF5843E62CE53BEA33E3D6AA7A48147CC38C9B534437FD0DCD0F0C787BE74061DFA844435253D651E7986"
        "BA47F49FA49D7041BD1FE72B5E5D09221FD1",
        "6ed132d3836b72e561edfb1948b8cfc6049de6d00a724a9747f13fb2ad26676455bf1bf2a7b29a5b27b34c893bdabee203e1c8a20ffb2779"
        "71363fc74543ac6419916ae2179360252519e25e4f2e5534810071072a34c25b92773e61f6ab75c35da4238bd78eb6cbbdde",
    ),
]

BC_KEY = bytes.fromhex(
    "30819f300d06092a864886f70d010101050003818d0030818902818100CDCBDABBF93BE8E8294E32B055256BBD0397735189BF75816341BB0D"
    "488D05D627991221DF7D59835C76A4BB4808ADEEB779E7794504E956ADC2A661B46904CDC71337DD29DDDD454124EF79CFDD7BC2C21952573C"
    "EFBA485CC38C6BD2428809B5A31A898A6B5648CAA4ED678D9743B589134B7187478996300EDBA16271A8610203010001"
)
BC_SIGNATURE = bytes.fromhex(
    "482E20D1EDDED34359C38F5E7C01203F9D6B2641CDCA5C404D49ADAEDE034C7481D781D043722587761C90468DE69C6585A1E8B9C322F90E1B"
    "580EEDAB3F6007D0C366CF92B4DB8B41C8314929DCE2BE889C0129123484D2FD3D12763D2EBFD12AC8E51D7061AFCA1A53DEDEC7B9A617472A"
    "78C952CCC72467AE008E5F132994"
)


def test_icao_appendix_f_message_representative() -> None:
    recovered = decode_message_representative(ICAO_F)
    assert recovered.partial
    assert recovered.hash_name == "sha1"
    assert recovered.digest.hex().upper() == "C063AA1E6D22FBD976AB0FE73D94D2D9C6D88127"
    assert len(recovered.m1) == 106
    assert hashlib.sha1(recovered.m1 + ICAO_RND_IFD).digest() == recovered.digest


@pytest.mark.parametrize(("challenge", "signature", "m1"), REAL_EXCHANGES)
def test_real_passport_exchanges(challenge: str, signature: str, m1: str) -> None:
    key = parse_dg15(REAL_DG15).public_key
    assert key.rsa is not None
    recovered = decode_message_representative(open_signature(key.rsa, bytes.fromhex(signature)))
    assert recovered.m1.hex() == m1
    verify_active_authentication(key, challenge=bytes.fromhex(challenge), signature=bytes.fromhex(signature))


@pytest.mark.parametrize(("challenge", "signature", "m1"), REAL_EXCHANGES[:2])
def test_real_exchange_with_another_challenge_or_a_changed_signature_fails(
    challenge: str, signature: str, m1: str
) -> None:
    key = parse_dg15(REAL_DG15).public_key
    other = bytearray(bytes.fromhex(challenge))
    other[0] ^= 0x01
    with pytest.raises(ActiveAuthError) as excinfo:
        verify_active_authentication(key, challenge=bytes(other), signature=bytes.fromhex(signature))
    assert excinfo.value.reason == "aa_signature_invalid"
    for position in (0, len(signature) // 4, len(signature) // 2 - 1):
        changed = bytearray(bytes.fromhex(signature))
        changed[position] ^= 0x01
        with pytest.raises(ActiveAuthError):
            verify_active_authentication(key, challenge=bytes.fromhex(challenge), signature=bytes(changed))


def test_bouncycastle_iso9796_vector() -> None:
    verify_active_authentication(load_public_key(BC_KEY), challenge=bytes(8), signature=BC_SIGNATURE)


def _raw_rsa(key: Path, cwd: Path) -> bytes:
    """f.bin ^ d mod n by OpenSSL: a "decryption" without padding is the raw private-key operation."""
    return run("pkeyutl", "-decrypt", "-inkey", str(key), "-pkeyopt", "rsa_padding_mode:none", "-in", "f.bin", cwd=cwd)


@pytest.mark.parametrize(
    ("trailer", "hash_name"),
    [(b"\xbc", "sha1"), (b"\x33\xcc", "sha1"), (b"\x34\xcc", "sha256"), (b"\x35\xcc", "sha512"),
     (b"\x36\xcc", "sha384"), (b"\x38\xcc", "sha224"), (b"\x39\xcc", "sha512_224")],
)  # fmt: skip
def test_trailers_sha1_and_sha2_with_raw_rsa_by_openssl(tmp_path: Path, trailer: bytes, hash_name: str) -> None:
    """F = 6A ‖ M1 ‖ hash(M1 ‖ challenge) ‖ trailer, raised to the private exponent by OpenSSL."""
    key = tmp_path / "aa.key"
    run("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1536", "-out", str(key), cwd=tmp_path)
    spki = run("pkey", "-in", str(key), "-pubout", "-outform", "DER", cwd=tmp_path)
    challenge = bytes.fromhex("0102030405060708")
    size = 1536 // 8
    digest_size = hashlib.new(hash_name).digest_size
    m1 = bytes(range(256))[: size - 1 - digest_size - len(trailer)]
    f = b"\x6a" + m1 + hashlib.new(hash_name, m1 + challenge).digest() + trailer
    assert len(f) == size
    (tmp_path / "f.bin").write_bytes(f)
    signature = _raw_rsa(key, tmp_path)
    public = load_public_key(spki)
    verify_active_authentication(public, challenge=challenge, signature=signature)
    with pytest.raises(ActiveAuthError):
        verify_active_authentication(public, challenge=bytes(8), signature=signature)


def test_full_recovery_carries_the_challenge_itself(tmp_path: Path) -> None:
    key = tmp_path / "aa.key"
    run("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out", str(key), cwd=tmp_path)
    spki = run("pkey", "-in", str(key), "-pubout", "-outform", "DER", cwd=tmp_path)
    challenge = bytes.fromhex("1122334455667788")
    # Header 4B then padding nibbles BB..BA before the message, as ISO/IEC 9796-2 allows.
    padding = b"\xbb" * (128 - 1 - 1 - 8 - 20 - 1)
    f = b"\x4b" + padding + b"\xba" + challenge + hashlib.sha1(challenge).digest() + b"\xbc"
    (tmp_path / "f.bin").write_bytes(f)
    signature = _raw_rsa(key, tmp_path)
    verify_active_authentication(load_public_key(spki), challenge=challenge, signature=signature)
    with pytest.raises(ActiveAuthError) as excinfo:
        verify_active_authentication(load_public_key(spki), challenge=bytes(8), signature=signature)
    assert excinfo.value.reason == "aa_challenge_mismatch"


@pytest.mark.parametrize(
    "f",
    [
        bytes.fromhex("8A") + bytes(126) + b"\xbc",  # no 01 header
        bytes.fromhex("6B") + bytes(126) + b"\xbc",  # padding without its border nibble
        bytes.fromhex("6A") + bytes(126) + b"\xcd",  # unknown trailer
        bytes.fromhex("6A") + bytes(125) + b"\x37\xcc",  # hash id 37 (Whirlpool) is not supported
        bytes.fromhex("6A") + bytes(10) + b"\xbc",  # no room for a SHA-1 hash
    ],
)
def test_malformed_representatives(f: bytes) -> None:
    with pytest.raises(ActiveAuthError):
        decode_message_representative(f)


def test_signatures_that_do_not_fit_the_key() -> None:
    key = parse_dg15(REAL_DG15).public_key
    for signature in (b"", bytes(129), b"\xff" * 128):
        with pytest.raises(ActiveAuthError):
            verify_active_authentication(key, challenge=bytes(8), signature=signature)


@pytest.mark.parametrize(
    ("curve", "size", "oid", "digest"),
    [
        ("brainpoolP256r1", 32, "1.2.840.10045.4.3.2", "sha256"),
        ("brainpoolP384r1", 48, "0.4.0.127.0.7.1.1.4.1.4", "sha384"),
        ("prime256v1", 32, "1.2.840.10045.4.3.2", "sha256"),
    ],
)
def test_ecdsa_active_authentication_by_openssl(tmp_path: Path, curve: str, size: int, oid: str, digest: str) -> None:
    key = tmp_path / "aa.key"
    run("genpkey", "-algorithm", "EC", "-pkeyopt", f"ec_paramgen_curve:{curve}", "-out", str(key), cwd=tmp_path)
    spki = run("pkey", "-in", str(key), "-pubout", "-outform", "DER", cwd=tmp_path)
    challenge = bytes.fromhex("A1A2A3A4A5A6A7A8")
    (tmp_path / "challenge.bin").write_bytes(challenge)
    der = run("dgst", f"-{digest}", "-sign", str(key), "challenge.bin", cwd=tmp_path)
    info = ActiveAuthenticationInfo("2.23.136.1.1.5", 1, oid)
    public = load_public_key(spki)
    plain = ecdsa_plain(der, size)
    verify_active_authentication(public, challenge=challenge, signature=plain, info=info)
    verify_active_authentication(public, challenge=challenge, signature=der, info=info)  # DER is tolerated
    with pytest.raises(ActiveAuthError) as excinfo:
        verify_active_authentication(public, challenge=bytes(8), signature=plain, info=info)
    assert excinfo.value.reason == "aa_signature_invalid"
    with pytest.raises(ActiveAuthError) as excinfo:
        verify_active_authentication(public, challenge=challenge, signature=plain)
    assert excinfo.value.reason == "aa_algorithm_unknown"
    wrong_hash = ActiveAuthenticationInfo("2.23.136.1.1.5", 1, "1.2.840.10045.4.3.4")
    with pytest.raises(ActiveAuthError):
        verify_active_authentication(public, challenge=challenge, signature=plain, info=wrong_hash)
