"""Chip authentication against the BSI TR-03110 worked example (CA values as carried in OpenPACE's eactest.c): the
terminal's ephemeral key and the session keys it derives must be the published ones; a clone is caught by the probe."""

from dataclasses import dataclass, field

import pytest
from apdu_script import ReplayRng
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mrtd import (
    ID_CA_ECDH,
    ID_PACE_ECDH_GM,
    ChipAuthError,
    ParseError,
    ProtocolNotSupported,
    SecureMessagingError,
    protocol_cipher,
)
from mrtd._apdu import CommandAPDU, ResponseAPDU
from mrtd._chip_auth import (
    ChipAuthenticationFailed,
    chip_authentication_key,
    run_chip_authentication,
)
from mrtd._crypto import CipherSuite, KdfCounter, kdf
from mrtd._curves import curve_by_pace_parameter_id
from mrtd._files import FileId
from mrtd._oids import encode_oid
from mrtd._pace import key_agreement
from mrtd._security_infos import ChipAuthenticationInfo, ChipAuthenticationPublicKeyInfo
from mrtd._sm import SecureChannel, SecureMessaging, SessionKeys, sm_error_response
from mrtd._tlv import encode_tlv, parse_all, parse_one

BP256 = curve_by_pace_parameter_id(13)
# EF.CardSecurity of the worked example: ChipAuthenticationPublicKeyInfo (id-PK-ECDH, standardized parameters 13).
CA_PUBLIC_KEY_SPKI = bytes.fromhex(
    "3052300C060704007F0007010202010D03420004"
    "A44EBE5451DF7AADB01E459B8C928A87746A57927C8C28A6775C97A7E1FE8D9A"
    "46FF4A1CC7E4D1389AEA19758E4F75C28C598FD734AEBEB135337CF95BE12E94"
)
CA_PICC_PRIVATE = int("7984674CF3B3A524BF929CE8A67FCF22173DA0BAD595EED6DEB72D22C542FA9D", 16)
CA_PCD_PRIVATE = "A6A4D255C5BF7A77EC3D0553DB74F693CF044E18C98364D4977A296108AF19BD"
CA_PCD_PUBLIC = (
    "045A7A377FC9CAFC03AC7FF45441A8B2909D88EAB8E6B0173847AB49B949DF3799"
    "A34EE57EC55268CF8B1C3EC489F8BF4CF4C68D3FD9670E89C0D5D3FFF1AAF89F"
)
KEY_INFO = ChipAuthenticationPublicKeyInfo("0.4.0.127.0.7.2.2.1.2", CA_PUBLIC_KEY_SPKI, 1)
AES_INFO = ChipAuthenticationInfo("0.4.0.127.0.7.2.2.3.2.2", 2, 1)
PACE_KEYS = SessionKeys(
    CipherSuite.AES128,
    bytes.fromhex("68406B4162100563D9C901A6154D2901"),
    bytes.fromhex("73FF268784F72AF833FDC9464049AFC9"),
)


@dataclass
class CaChip:
    """The chip side of CA: old secure messaging, then new keys derived with ``private_key``."""

    sm: SecureMessaging
    private_key: int
    log: list[CommandAPDU] = field(default_factory=list)
    pending: SessionKeys | None = None

    async def __call__(self, raw: bytes) -> bytes:
        try:
            command = self.sm.unprotect_command(CommandAPDU.decode(raw))
        except SecureMessagingError as exc:  # a chip answers SM failures in clear
            return sm_error_response(exc).encode()
        self.log.append(command)
        suite = CipherSuite.DES3 if command.p2 == 0xA6 else CipherSuite.AES128
        terminal_key: bytes | None = None
        if command.ins == 0x22 and command.p2 == 0xA6:
            terminal_key = next(o.value for o in parse_all(command.data) if o.tag == 0x91)
        if command.ins == 0x86:
            terminal_key = parse_one(parse_one(command.data).value).value
        answer = self.sm.protect_response(ResponseAPDU(b"\x7c\x00" if command.ins == 0x86 else b"", 0x9000))
        if terminal_key is not None:
            shared = key_agreement(self.private_key, BP256.decode_point(terminal_key)).x_bytes()
            self.sm = SecureMessaging(SessionKeys.derive(shared, suite), ssc=0)
        return answer.encode()


async def test_bsi_worked_example_chip_authentication() -> None:
    chip = CaChip(SecureMessaging(PACE_KEYS, ssc=5), CA_PICC_PRIVATE)
    channel = SecureChannel(chip, SecureMessaging(PACE_KEYS, ssc=5))
    result = await run_chip_authentication(channel, KEY_INFO, info=AES_INFO, rng=ReplayRng(CA_PCD_PRIVATE))
    assert result.terminal_public_key.hex().upper() == CA_PCD_PUBLIC
    shared = key_agreement(int(CA_PCD_PRIVATE, 16), chip_authentication_key(KEY_INFO)).x_bytes()
    assert shared.hex().upper() == "791DA04273CCFE862E52DF60347E2557192E1F8D7517822CE3D306056C1CDEB4"
    # ICAO 9303 chip authentication (version 1) derives KDF(K, c); the new channel uses exactly those keys.
    assert result.channel.sm.keys == SessionKeys.derive(shared, CipherSuite.AES128)
    # The worked example is BSI's CA version 2, whose keys also include the chip's nonce r_PICC: KDF(K ‖ r, c).
    # Our K gives the published values that way, which checks K end to end.
    r_picc = bytes.fromhex("4287B3072A3EDC60")
    assert kdf(shared + r_picc, KdfCounter.ENC, CipherSuite.AES128).hex().upper() == "94ABCD271AB7D9A5590BA52CB518B831"
    assert kdf(shared + r_picc, KdfCounter.MAC, CipherSuite.AES128).hex().upper() == "78B5709E7ABEDB185B424D0EE3A82499"
    assert result.cipher is CipherSuite.AES128
    assert result.key_id == 1
    mse, ga, probe = chip.log
    assert mse.encode().hex().upper() == "002241A40F800A04007F00070202030202840101"
    assert ga.encode().hex().upper() == "0086000045" + "7C438041" + CA_PCD_PUBLIC + "00"
    assert probe.encode().hex().upper() == "00A4020C02011E"
    assert result.channel.sm.ssc == 2  # the probe ran under the new keys from SSC 0


async def test_clone_without_the_private_key_fails_the_probe() -> None:
    clone = CaChip(SecureMessaging(PACE_KEYS, ssc=0), CA_PICC_PRIVATE + 1)
    channel = SecureChannel(clone, SecureMessaging(PACE_KEYS, ssc=0))
    with pytest.raises(ChipAuthenticationFailed, match="clone") as info:
        await run_chip_authentication(channel, KEY_INFO, info=AES_INFO, rng=ReplayRng(CA_PCD_PRIVATE))
    assert info.value.keys_changed
    assert isinstance(info.value, ChipAuthError)


async def test_refusal_keeps_the_old_channel() -> None:
    chip_sm = SecureMessaging(PACE_KEYS, ssc=0)

    async def refusing(raw: bytes) -> bytes:
        chip_sm.unprotect_command(CommandAPDU.decode(raw))
        return chip_sm.protect_response(ResponseAPDU(b"", 0x6A80)).encode()

    channel = SecureChannel(refusing, SecureMessaging(PACE_KEYS, ssc=0))
    with pytest.raises(ChipAuthenticationFailed) as info:
        await run_chip_authentication(channel, KEY_INFO, info=AES_INFO, rng=ReplayRng(CA_PCD_PRIVATE))
    assert not info.value.keys_changed
    assert info.value.sw == 0x6A80
    assert channel.sm.ssc == chip_sm.ssc == 2  # both ends still in step on the old keys


async def test_3des_uses_mse_set_kat() -> None:
    old = SessionKeys(CipherSuite.DES3, bytes(range(16)), bytes(range(16, 32)))
    chip = CaChip(SecureMessaging(old, ssc=0x1122), CA_PICC_PRIVATE)
    channel = SecureChannel(chip, SecureMessaging(old, ssc=0x1122))
    # No ChipAuthenticationInfo: ICAO 9303-11 says the protocol is id-CA-ECDH-3DES-CBC-CBC.
    result = await run_chip_authentication(channel, KEY_INFO, rng=ReplayRng(CA_PCD_PRIVATE), probe=FileId.DG1)
    kat, probe = chip.log
    assert kat.encode().hex().upper() == "002241A646" + "9141" + CA_PCD_PUBLIC + "840101"
    assert probe.data == bytes.fromhex("0101")
    assert result.channel.sm.keys.suite is CipherSuite.DES3
    assert result.cipher is CipherSuite.DES3


def test_named_curve_key_in_dg14() -> None:
    private = ec.derive_private_key(12345, ec.BrainpoolP256R1())
    spki = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    point = chip_authentication_key(ChipAuthenticationPublicKeyInfo("0.4.0.127.0.7.2.2.1.2", spki, None))
    assert point == BP256.generator * 12345


def _spki(algorithm: bytes, key: bytes) -> bytes:
    return encode_tlv(0x30, encode_tlv(0x30, algorithm) + encode_tlv(0x03, b"\x00" + key))


def _oid(dotted: str) -> bytes:
    return encode_tlv(0x06, encode_oid(dotted))


@pytest.mark.parametrize(
    ("spki", "error", "message"),
    [
        (_spki(_oid("1.2.840.10046.2.1") + encode_tlv(0x30, b""), b"\x02\x01\x05"), ProtocolNotSupported, "DH"),
        (bytes.fromhex("3003020101"), ParseError, "malformed"),
        (_spki(_oid("1.3.6.1.4.1.1.1"), b"\x00"), ParseError, "unknown algorithm"),
        (_spki(_oid("0.4.0.127.0.7.1.2") + b"\x02\x01\x0d", b"\x04" + bytes(64)), ParseError, "not on"),
        (_spki(_oid("0.4.0.127.0.7.1.2"), b"\x04" + bytes(64)), ParseError, "parameter id"),
    ],
)
def test_bad_chip_authentication_keys(spki: bytes, error: type[Exception], message: str) -> None:
    info = ChipAuthenticationPublicKeyInfo("0.4.0.127.0.7.2.2.1.2", spki, None)
    with pytest.raises(error, match=message):
        chip_authentication_key(info)


async def test_dh_protocol_is_not_supported() -> None:
    channel = SecureChannel(ReplayRng(), SecureMessaging(PACE_KEYS))  # type: ignore[arg-type]
    with pytest.raises(ProtocolNotSupported, match="DH"):
        await run_chip_authentication(
            channel, KEY_INFO, info=ChipAuthenticationInfo("0.4.0.127.0.7.2.2.3.1.2", 1, None), rng=ReplayRng()
        )


def test_the_cipher_a_protocol_oid_names() -> None:
    # BSI TR-03110 A.1.1: the last arc of a PACE or chip-authentication OID names the cipher.
    expected = {1: CipherSuite.DES3, 2: CipherSuite.AES128, 3: CipherSuite.AES192, 4: CipherSuite.AES256}
    for arc, suite in expected.items():
        assert protocol_cipher(f"{ID_CA_ECDH}.{arc}") is suite
        assert protocol_cipher(f"{ID_PACE_ECDH_GM}.{arc}") is suite
    for unknown in (f"{ID_CA_ECDH}.5", f"{ID_CA_ECDH}.0", "0.4.0.127.0.7.2.2.3.2.x", "", f"{ID_CA_ECDH}.²"):
        with pytest.raises(ProtocolNotSupported):
            protocol_cipher(unknown)
