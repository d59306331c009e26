"""The virtual chip's card side against the ICAO 9303-11 worked examples, and its access control."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from hw.sim import ChipFaults, ChipRemoved, ChipState, Fault, TestPki, VirtualChip, citizen, personalise
from hw.sim._personalise import CardProfile
from mrtd._curves import curve_by_name
from mrtd._files import FileId
from mrtd._mrz import check_digit

# ICAO Doc 9303-11 Appendix D (../shared/reference/emrtd-anchors.md §3.1, §3.2).
TD1_SPECIMEN = ("I<UTOL898902C<3<<<<<<<<<<<<<<<", "6908061F9406236UTO<<<<<<<<<<<2", "ERIKSSON<<ANNA<MARIA<<<<<<<<<<")
RND_IC = bytes.fromhex("4608F91988702212")
K_IC = bytes.fromhex("0B4F80323EB3191CB04970CB4052790B")
EXTERNAL_AUTHENTICATE = bytes.fromhex(
    "008200002872C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F25F1448EEA8AD90A728"
)
E_IC_M_IC = bytes.fromhex("46B9342A41396CD7386BF5803104D7CEDC122B9132139BAF2EEDC94EE178534F2F2D235D074D7449")
EF_COM = bytes.fromhex("60145F0104303130365F36063034303030305C026175")
SM_EXCHANGES = [
    ("0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800", "990290008E08FA855A5D4C50A8ED9000"),
    ("0CB000000D9701048E08ED6705417E96BA5500", "8709019FF0EC34F9922651990290008E08AD55CC17140B2DED9000"),
    (
        "0CB000040D9701128E082EA28A70F3C7B53500",
        "871901FB9235F4E4037F2327DCC8964F1F9B8C30F42C8E2FFF224A990290008E08C8B2787EAEA07D749000",
    ),
]


def scripted_rng(*chunks: bytes) -> Iterator[bytes]:
    yield from chunks


@pytest.fixture(scope="module")
def pki() -> TestPki:
    return TestPki.create(seed="tests")


@pytest.fixture(scope="module")
def profile(pki: TestPki) -> CardProfile:
    return personalise(citizen(5), pki=pki, seed="tests", portrait_size=3000)


def icao_chip(profile: CardProfile) -> VirtualChip:
    specimen = dataclasses.replace(profile, mrz=TD1_SPECIMEN, files={FileId.COM: EF_COM})
    chunks = iter([RND_IC, K_IC])
    return VirtualChip(specimen, rng=lambda n: next(chunks))


def test_bac_and_secure_messaging_reproduce_icao_appendix_d(profile: CardProfile) -> None:
    chip = icao_chip(profile)
    chip.power_on()
    assert chip.transmit(bytes.fromhex("0084000008")) == RND_IC + b"\x90\x00"
    assert chip.transmit(EXTERNAL_AUTHENTICATE) == E_IC_M_IC + b"\x90\x00"
    assert chip.state is ChipState.SECURED
    for command, response in SM_EXCHANGES:
        assert chip.transmit(bytes.fromhex(command)).hex().upper() == response


def test_wrong_bac_key_is_6300_and_keeps_the_chip_closed(profile: CardProfile) -> None:
    chip = icao_chip(profile)
    chip.power_on()
    chip.transmit(bytes.fromhex("0084000008"))
    tampered = bytearray(EXTERNAL_AUTHENTICATE)
    tampered[10] ^= 0x01  # another MRZ gives another E.IFD, whose MAC no longer verifies
    assert chip.transmit(bytes(tampered)) == b"\x63\x00"
    assert chip.state is ChipState.APPLICATION
    assert chip.transmit(bytes.fromhex("00A4020C02011E")) == b"\x69\x82"


def test_nothing_but_card_access_before_authentication(profile: CardProfile) -> None:
    chip = VirtualChip(profile)
    chip.power_on()
    # EF.CardAccess is free to read, from the MF, by FID or SFI.
    assert chip.transmit(bytes.fromhex("00A4020C02011C")) == b"\x90\x00"
    card_access = profile.files[FileId.CARD_ACCESS]
    assert chip.transmit(bytes.fromhex("00B0000000")) == card_access + b"\x62\x82"
    assert chip.transmit(bytes([0x00, 0xB0, 0x9C, 0x00, len(card_access)])) == card_access + b"\x90\x00"
    assert chip.transmit(bytes.fromhex("00A4040C07A0000002471001")) == b"\x90\x00"
    for fid in ("011E", "011D", "0101", "0102", "010D", "010E", "010F"):
        assert chip.transmit(bytes.fromhex(f"00A4020C02{fid}")) == b"\x69\x82", fid
    for sfi in (0x81, 0x82, 0x8D, 0x9D):
        assert chip.transmit(bytes([0x00, 0xB0, sfi, 0x00, 0x04])) == b"\x69\x82"
    assert chip.transmit(bytes.fromhex("0088000008" + "00" * 8 + "00")) == b"\x69\x82"
    assert chip.transmit(bytes.fromhex("00A4020C020103")) == b"\x6a\x82"  # DG3 is not on this card


def test_old_card_has_no_card_access_and_refuses_pace(pki: TestPki) -> None:
    profile = personalise(
        citizen(5), pki=pki, seed="tests", portrait_size=3000, faults=ChipFaults(frozenset({Fault.NO_PACE}))
    )
    chip = VirtualChip(profile)
    chip.power_on()
    assert chip.transmit(bytes.fromhex("00A4020C02011C")) == b"\x6a\x82"
    set_at = bytes.fromhex("0022C1A40F800A04007F00070202040202830102")
    assert chip.transmit(set_at) == b"\x69\x82"


def test_removed_after_n_commands(pki: TestPki) -> None:
    profile = personalise(
        citizen(5), pki=pki, seed="tests", portrait_size=3000, faults=ChipFaults.parse(["removed-after=2"])
    )
    chip = VirtualChip(profile)
    chip.power_on()
    chip.transmit(bytes.fromhex("00A4040C07A0000002471001"))
    chip.transmit(bytes.fromhex("0084000008"))
    with pytest.raises(ChipRemoved):
        chip.transmit(bytes.fromhex("0084000008"))
    chip.power_on()  # a removed card stays away whatever the reader does
    assert chip.removed


def test_power_cycle_wipes_the_session(profile: CardProfile) -> None:
    chip = icao_chip(profile)
    chip.power_on()
    chip.transmit(bytes.fromhex("0084000008"))
    chip.transmit(EXTERNAL_AUTHENTICATE)
    assert chip.secure_messaging is not None
    chip.reset()
    assert chip.secure_messaging is None
    assert chip.state is ChipState.IDLE


def test_secure_messaging_mac_error_ends_the_session(profile: CardProfile) -> None:
    chip = icao_chip(profile)
    chip.power_on()
    chip.transmit(bytes.fromhex("0084000008"))
    chip.transmit(EXTERNAL_AUTHENTICATE)
    command = bytearray.fromhex(SM_EXCHANGES[0][0])
    command[-3] ^= 0xFF  # the MAC's last byte
    assert chip.transmit(bytes(command)) == b"\x69\x88"
    assert chip.secure_messaging is None
    # The genuine command no longer works either: the session is gone.
    assert chip.transmit(bytes.fromhex(SM_EXCHANGES[0][0])) == b"\x69\x88"


# ICAO Doc 9303-11 Appendix G.1: PACE ECDH-GM, brainpoolP256r1, AES-128, MRZ password (emrtd-anchors.md §3.3).
G1 = {
    "nonce": "3F00C4D39D153F2B2A214A078D899B22",
    "sk_map_ic": "498FF49756F2DC1587840041839A85982BE7761D14715FB091EFA7BCE9058560",
    "sk_dh_ic": "107CF58696EF6155053340FD633392BA81909DF7B9706F226F32086C7AFF974A",
    "pk_map_ifd": "047ACF3EFC982EC45565A4B155129EFBC74650DCBFA6362D896FC70262E0C2CC5E544552DCB6725218799115B55C9BAA6D9F"
    "6BC3A9618E70C25AF71777A9C4922D",
    "pk_map_ic": "04824FBA91C9CBE26BEF53A0EBE7342A3BF178CEA9F45DE0B70AA601651FBA3F5730D8C879AAA9C9F73991E61B58F4D52EB8"
    "7A0A0C709A49DC63719363CCD13C54",
    "pk_dh_ifd": "042DB7A64C0355044EC9DF190514C625CBA2CEA48754887122F3A5EF0D5EDD301C3556F3B3B186DF10B857B58F6A7EB80F20"
    "BA5DC7BE1D43D9BF850149FBB36462",
    "pk_dh_ic": "049E880F842905B8B3181F7AF7CAA9F0EFB743847F44A306D2D28C1D9EC65DF6DB7764B22277A2EDDC3C265A9F018F9CB852E1"
    "11B768B326904B59A0193776F094",
}


def g1_mrz() -> tuple[str, str, str]:
    line1 = "I<UTOT22000129" + check_digit("T22000129") + "<" * 15
    head = "640812" + check_digit("640812") + "F" + "101031" + check_digit("101031") + "UTO"
    composite = check_digit(line1[5:30] + head[0:7] + head[8:15] + "<" * 11)
    return line1, head + "<" * 11 + composite, "MUSTERMANN<<ERIKA<<<<<<<<<<<<"[:30].ljust(30, "<")


def test_pace_generic_mapping_reproduces_icao_appendix_g1(profile: CardProfile) -> None:
    n = curve_by_name("brainpoolP256r1").n
    # The chip takes its private keys from the random source as they come, so the vector's keys replay exactly.
    chunks = iter([bytes.fromhex(G1["nonce"]), bytes.fromhex(G1["sk_map_ic"]), bytes.fromhex(G1["sk_dh_ic"])])
    assert int(G1["sk_map_ic"], 16) < n
    chip = VirtualChip(dataclasses.replace(profile, mrz=g1_mrz()), rng=lambda size: next(chunks))
    chip.power_on()
    assert chip.transmit(bytes.fromhex("0022C1A40F800A04007F00070202040202830101")) == b"\x90\x00"
    assert chip.transmit(bytes.fromhex("10860000027C0000")).hex().upper() == (
        "7C12801095A3A016522EE98D01E76CB6B98B42C39000"
    )
    response = chip.transmit(bytes.fromhex("10860000457C438141" + G1["pk_map_ifd"] + "00"))
    assert response.hex().upper() == "7C438241" + G1["pk_map_ic"] + "9000"
    response = chip.transmit(bytes.fromhex("10860000457C438341" + G1["pk_dh_ifd"] + "00"))
    assert response.hex().upper() == "7C438441" + G1["pk_dh_ic"] + "9000"
    response = chip.transmit(bytes.fromhex("008600000C7C0A8508C2B0BD78D94BA86600"))
    assert response.hex().upper() == "7C0A86083ABB9674BCE93C089000"
    sm = chip.secure_messaging
    assert sm is not None
    assert sm.keys.k_enc.hex().upper() == "F5F0E35C0D7161EE6724EE513A0D9A7F"
    assert sm.keys.k_mac.hex().upper() == "FE251C7858B356B24514B3BD5F4297D1"
    assert sm.ssc == 0


def test_pace_with_a_wrong_token_is_6300(profile: CardProfile) -> None:
    chunks = iter([bytes.fromhex(G1["nonce"]), bytes.fromhex(G1["sk_map_ic"]), bytes.fromhex(G1["sk_dh_ic"])])
    chip = VirtualChip(dataclasses.replace(profile, mrz=g1_mrz()), rng=lambda size: next(chunks))
    chip.power_on()
    chip.transmit(bytes.fromhex("0022C1A40F800A04007F00070202040202830101"))
    chip.transmit(bytes.fromhex("10860000027C0000"))
    chip.transmit(bytes.fromhex("10860000457C438141" + G1["pk_map_ifd"] + "00"))
    chip.transmit(bytes.fromhex("10860000457C438341" + G1["pk_dh_ifd"] + "00"))
    assert chip.transmit(bytes.fromhex("008600000C7C0A8508C2B0BD78D94BA86700")) == b"\x63\x00"
    assert chip.secure_messaging is None
    assert chip.state is ChipState.APPLICATION
