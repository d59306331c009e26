"""PACE on the MODP groups of RFC 5114: ICAO 9303-11 App. G.2 (DH-GM, replayed APDU for APDU) and App. H.2 (DH-IM),
the group constants against OpenSSL's own copy, and a chip's hostile public values."""

import base64
import shutil
import subprocess
from pathlib import Path

import pytest
from apdu_script import ReplayRng, ScriptedCard
from asn1crypto import keys as asn1_keys
from hypothesis import given, settings
from hypothesis import strategies as st
from pace_chip import SimulatedPaceChip

from mrtd import ParseError, ProtocolNotSupported
from mrtd._access_keys import Can, MrzKey, pace_password_key
from mrtd._crypto import CipherSuite
from mrtd._modp import MODP_1024_160, PACE_MODP_GROUPS, ModpElement, ModpGroup
from mrtd._pace import (
    PaceMapping,
    PaceProtocol,
    authentication_token,
    decrypt_nonce,
    generic_mapping,
    integrated_mapping,
    key_agreement,
    preference,
    pseudo_random_bytes,
    public_key_data_object,
    run_pace,
)
from mrtd._security_infos import PaceInfo
from mrtd._sm import SessionKeys
from mrtd._tlv import encode_tlv

DH_GM_AES128 = "0.4.0.127.0.7.2.2.4.1.2"
DH_IM_AES128 = "0.4.0.127.0.7.2.2.4.3.2"
MRZ = MrzKey("T22000129", "640812", "101031")  # the MRZ of every ICAO 9303-11 worked example


def _hex(text: str) -> str:
    return "".join(text.split())


# ICAO 9303-11 App. G.2: PACE DH-GM, AES-128, standardized domain parameters 0 (RFC 5114 §2.1).
G2 = {
    "z": "854D8DF5827FA6852D1A4FA701CDDDCA",
    "s": "FA5B7E3E49753A0DB9178B7B9BD898C8",
    "sk_map_ifd": "5265030F751F4AD18B08AC565FC7AC952E41618D",
    "pk_map_ifd": _hex(
        """23FB3749EA030D2A25B278D2A562047ADE3F01B74F17A15402CB7352CA7D2B3EB71C343DB13D1DEBCE9A3666DBCFC920B49174A602CB47
        965CAA73DC702489A44D41DB914DE9613DC5E98C94160551C0DF86274B9359BC0490D01B03AD54022DCB4F57FAD6322497D7A1E28D46710F
        461AFE710FBBBC5F8BA166F4311975EC6C"""
    ),
    "pk_map_ic": _hex(
        """78879F57225AA8080D52ED0FC890A4B25336F699AA89A2D3A189654AF70729E623EA5738B26381E4DA19E004706FACE7B235C2DBF2F387
        48312F3C98C2DD4882A41947B324AA1259AC22579DB93F7085655AF30889DBB845D9E6783FE42C9F2449400306254C8AE8EE9DD812A804C0
        B66E8CAFC14F84D8258950A91B44126EE6"""
    ),
    "g_tilde": _hex(
        """7C9CBFE98F9FBDDA8D143506FA7D9306F4CB17E3C71707AFF5E1C1A12370249684D64EE37AF44B8DBD9D45BF6023919CBAA027AB97ACC7
        71666C8E98FF483301BFA4872DEDE9034EDFACB70814166B7F360676829B826BEA57291B5AD69FBC84EF1E779032A305803F74341793E869
        742D401325B37EE8565FFCDEE618342DC5"""
    ),
    "sk_ifd": "89CCD99B0E8D3B1F11E1296DCA68EC53411CF2CA",
    "pk_ifd": _hex(
        """907D89E2D425A178AA81AF4A7774EC8E388C115CAE67031E85EECE520BD911551B9AE4D04369F29A02626C86FBC6747CC7BC352645B616
        1A2A42D44EDA80A08FA8D61B76D3A154AD8A5A51786B0BC07147057871A922212C5F67F43173172236B7747D1671E6D692A3C7D40A0C3C5C
        E397545D015C175EB5130551EDBC2EE5D4"""
    ),
    "pk_ic": _hex(
        """075693D9AE941877573E634B6E644F8E60AF17A0076B8B123D9201074D36152BD8B3A213F53820C42ADC79AB5D0AEEC3AEFB91394DA476
        BD97B9B14D0A65C1FC71A0E019CB08AF55E1F729005FBA7E3FA5DC41899238A250767A6D46DB974064386CD456743585F8E5D90CC8B4004B
        1F6D866C79CE0584E49687FF61BC29AEA1"""
    ),
    "k": _hex(
        """6BABC7B3A72BCD7EA385E4C62DB2625BD8613B24149E146A629311C4CA6698E38B834B6A9E9CD7184BA8834AFF5043D436950C4C1E7832
        367C10CB8C314D40E5990B0DF7013E64B4549E2270923D06F08CFF6BD3E977DDE6ABE4C31D55C0FA2E465E553E77BDF75E3193D3834FC26E
        8EB1EE2FA1E4FC97C18C3F6CFFFE2607FD"""
    ),
    "t_ifd": "B46DD9BD4D98381F",
    "t_ic": "917F37B5C0E6D8D1",
}


def _ga(tag: int, value: str) -> str:
    """GENERAL AUTHENTICATE, chained (CLA 10), with one data object in 7C and Le 00 (short APDU)."""
    data = encode_tlv(0x7C, encode_tlv(tag, bytes.fromhex(value)))
    return f"10860000{len(data):02X}{data.hex().upper()}00"


def _answer(tag: int, value: str, extra: bytes = b"") -> str:
    return encode_tlv(0x7C, encode_tlv(tag, bytes.fromhex(value)) + extra).hex().upper() + "9000"


async def test_dh_generic_mapping_replays_appendix_g2() -> None:
    card_reference = encode_tlv(0x87, b"DETESTCVCA00003")  # the chip's CAR, which the terminal may ignore
    card = ScriptedCard(
        [
            ("0022C1A40F800A04007F00070202040102830101", "9000"),
            ("10860000027C0000", _answer(0x80, G2["z"])),
            (_ga(0x81, G2["pk_map_ifd"]), _answer(0x82, G2["pk_map_ic"])),
            (_ga(0x83, G2["pk_ifd"]), _answer(0x84, G2["pk_ic"])),
            ("008600000C7C0A8508" + G2["t_ifd"] + "00", _answer(0x86, G2["t_ic"], card_reference)),
        ]
    )
    result = await run_pace(card, MRZ, PaceInfo(DH_GM_AES128, 2, 0), rng=ReplayRng(G2["sk_map_ifd"], G2["sk_ifd"]))
    assert card.done
    assert result.protocol.label == "DH-GM AES-128 MODP-1024-160"
    keys = result.channel.sm.keys
    assert keys.k_enc.hex().upper() == "2F7F46ADCC9E7E521B45D192FAFA9126"
    assert keys.k_mac.hex().upper() == "805A1D27D45A5116F73C54469462B7D8"
    assert result.channel.sm.ssc == 0


def test_appendix_g2_pieces() -> None:
    group = MODP_1024_160
    assert pace_password_key(MRZ, CipherSuite.AES128).hex().upper() == "89DED1B26624EC1E634C1989302849DD"
    s = decrypt_nonce(pace_password_key(MRZ, CipherSuite.AES128), bytes.fromhex(G2["z"]), CipherSuite.AES128)
    assert s.hex().upper() == G2["s"]
    assert (group.generator * int(G2["sk_map_ifd"], 16)).encode().hex().upper() == G2["pk_map_ifd"]
    h = key_agreement(int(G2["sk_map_ifd"], 16), group.decode(bytes.fromhex(G2["pk_map_ic"])))
    g_tilde = generic_mapping(group, s, h)
    assert g_tilde.encode().hex().upper() == G2["g_tilde"]
    assert (g_tilde * int(G2["sk_ifd"], 16)).encode().hex().upper() == G2["pk_ifd"]
    k = key_agreement(int(G2["sk_ifd"], 16), group.decode(bytes.fromhex(G2["pk_ic"])))
    assert k.x_bytes().hex().upper() == G2["k"]


# ICAO 9303-11 App. H.2: PACE DH-IM, AES-128, standardized domain parameters 0.
H2 = {
    "s": "FA5B7E3E49753A0DB9178B7B9BD898C8",
    "t": "B3A6DB3C870C3E99245E0D1C06B747DE",
    "r": _hex(
        """EAB98D13E09052952AA729907C3C946184DEA0FE74AD2B3AF506F0A83018459C38099CD1F7FF4EA0A078DB1FAC1365505E3DC85500EF95
        E20B4EEF2E88489233BEE0546B472F994B618D168702406791DEEF3CB4810932EC278F3533FDB860EB4835C36FA4F1BF3FA0B828A718C96B
        DE88FBA38A3E6C35AAA10959251EB5FC710FC187258995944C0F926E249373F485"""
    ),
    "g_tilde": _hex(
        """1D7D767F11E333BCD6DBAEF40E799E7A926B96973550656FF3C830726D118D61C276CDCC61D475CF03A98E0C0E79CAEBA5BE25578BD455
        1D0B10903236F0B0F976852FA78EEA14EA0ACA87D1E91F688FE0DFF897BBE35A472621D343564B262F34223AE8FC59B664BFEDFA2BFE7516
        CA5510A6BBB633D517EC25D4E0BBAA16C2"""
    ),
    "sk_ifd": _hex(
        """4BD0E54740F9A028E6A515BFDAF967848C4F5F5FFF65AA0915947FFD1A0DF2FA6981271BC905F3551457B7E03AC3B8066DE4AA406C1171
        FB43DD939C4BA16175103BA3DEE16419AA248118F90CC36A3D6F4C373652E0C3CCE7F0F1D0C5425B3600F0F0D6A67F004C8BBA33F2B4733C
        7252445C1DFC4F1107203F71D2EFB28161"""
    ),
    "pk_ifd": _hex(
        """0F0CC62945A8029251FB7EF3C094E12EC68E4EF07F27CB9D9CD04C5C4250FAE0E4F8A951557E929AEB48E5C6DD47F2F5CD7C351A9BD2CD
        722C07EDE166770F08FFCB370262CF308DD7B07F2E0DA9CAAA1492344C852906919538C98A4BA4187E76CE9D87832386D319CE2E043C3343
        AEAE6EDBA1A9894DC5094D22F7FE1351D5"""
    ),
    "pk_ic": _hex(
        """928D9A0F9DBA450F13FC859C6F290D1D36E42431138A4378500BEB4E0401854CFF111F71CB6DC1D0335807A11388CC8EAA87B07907AAD9
        FBA6B169AF6D8C26AF8DDDC39ADC3AD2E3FF882B84D23E9768E95A80E4746FB07A9767679FE92133B4D379935C771BD7FBED6C7BB4B1708B
        275EA75679524CDC9C6A91370CC662A2F3"""
    ),
    "k": _hex(
        """419410D6C0A17A4C07C54872CE1CBCEB0A2705C1A434C8A89A4CFE41F1D78124CA7EC52BDE7615E5345E48AB1ABB6E7D1D59A57F317408
        4D3CA4570397C1F62228BDFDB2DA191EA2239E2C060DBE3BBC23C2FCD0AF12E0F9E0B99FCF91FF1959011D5798B2FCBC1F14FCC24E441F4C
        8F9B08D977E9498560E63E7FFAB3134EA7"""
    ),
}


def test_appendix_h2_pieces() -> None:
    group = MODP_1024_160
    s, t = bytes.fromhex(H2["s"]), bytes.fromhex(H2["t"])
    assert pseudo_random_bytes(s, t, CipherSuite.AES128, group.p.bit_length()).hex().upper() == H2["r"]
    g_tilde = integrated_mapping(group, s, t, CipherSuite.AES128)
    assert g_tilde.encode().hex().upper() == H2["g_tilde"]
    assert (g_tilde * int(H2["sk_ifd"], 16)).encode().hex().upper() == H2["pk_ifd"]
    k = key_agreement(int(H2["sk_ifd"], 16), group.decode(bytes.fromhex(H2["pk_ic"])))
    assert k.x_bytes().hex().upper() == H2["k"]
    keys = SessionKeys.derive(k.x_bytes(), CipherSuite.AES128)
    assert keys.k_enc.hex().upper() == "01AFC10CF87BE36D8179E87370171F07"
    assert keys.k_mac.hex().upper() == "23F0FBD05FD6C7B8B88F4C8309669061"
    t_ifd = authentication_token(CipherSuite.AES128, keys.k_mac, DH_IM_AES128, bytes.fromhex(H2["pk_ic"]))
    t_ic = authentication_token(CipherSuite.AES128, keys.k_mac, DH_IM_AES128, bytes.fromhex(H2["pk_ifd"]))
    assert (t_ifd.hex().upper(), t_ic.hex().upper()) == ("55D61977CBF5307E", "C2F04230187E1525")


def test_dh_token_encodes_the_public_value_as_an_unsigned_integer() -> None:
    # BSI TR-03110-3 D.3.2: 84 holds y without leading zero bytes, however the chip padded it in GENERAL AUTHENTICATE.
    padded = bytes(3) + bytes.fromhex("0102")
    assert public_key_data_object(DH_GM_AES128, padded).hex().upper() == "7F4910060A04007F0007020204010284020102"


def _openssl_rfc5114(number: int, tmp_path: Path) -> ModpGroup:
    """OpenSSL's built-in copy of an RFC 5114 group, written out as X9.42 domain parameters (p, g, q)."""
    out = tmp_path / f"rfc5114-{number}.pem"
    subprocess.run(
        ["openssl", "genpkey", "-genparam", "-algorithm", "DHX", "-pkeyopt", f"dh_rfc5114:{number}", "-out", str(out)],
        check=True,
        capture_output=True,
    )
    lines = out.read_text().splitlines()
    assert lines[0] == "-----BEGIN X9.42 DH PARAMETERS-----"
    der = base64.b64decode("".join(line for line in lines if not line.startswith("-----")))
    numbers = asn1_keys.DomainParameters.load(der).native
    return ModpGroup("openssl", numbers["p"], numbers["g"], numbers["q"])


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
@pytest.mark.parametrize("parameter_id", [0, 1, 2])
def test_groups_are_openssls_rfc5114_groups(parameter_id: int, tmp_path: Path) -> None:
    ours = PACE_MODP_GROUPS[parameter_id]
    theirs = _openssl_rfc5114(parameter_id + 1, tmp_path)
    assert (ours.p, ours.g, ours.q) == (theirs.p, theirs.g, theirs.q)
    assert pow(ours.g, ours.q, ours.p) == 1


@pytest.mark.parametrize("parameter_id", [0, 1, 2])
@pytest.mark.parametrize("mapping_arc", [1, 3])  # DH-GM, DH-IM
@pytest.mark.parametrize("suite_arc", [1, 2, 4])
async def test_dh_runs_on_every_group(parameter_id: int, mapping_arc: int, suite_arc: int) -> None:
    info = PaceInfo(f"0.4.0.127.0.7.2.2.4.{mapping_arc}.{suite_arc}", 2, parameter_id)
    protocol = PaceProtocol.from_info(info)
    assert protocol.is_dh
    can = Can("654321")
    size = (protocol.group.order.bit_length() + 7) // 8
    chip = SimulatedPaceChip(
        protocol, pace_password_key(can, protocol.suite), static_key=1, rng=ReplayRng("5A" * size, "6B" * size)
    )
    terminal = ["2C" * size, "3D" * size]
    if protocol.mapping is PaceMapping.INTEGRATED:
        terminal = ["2C" * protocol.suite.key_length, "3D" * size]
    result = await run_pace(chip, can, info, rng=ReplayRng(*terminal))
    assert result.channel.sm.keys == chip.keys
    assert len(result.chip_public_key) == protocol.group.size


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("01", "subgroup"),  # the identity: every key agreement would give 1
        (MODP_1024_160.p.to_bytes(128, "big").hex()[:-2] + "00", "subgroup"),  # p - 1, of order 2
        ("02", "subgroup"),  # 2 generates far more than the order-q subgroup
        ("00" * 129, "1 to 128 bytes"),
    ],
)
async def test_hostile_chip_mapping_keys_are_refused(value: str, reason: str) -> None:
    card = ScriptedCard(
        [
            ("0022C1A40F800A04007F00070202040102830101", "9000"),
            ("10860000027C0000", _answer(0x80, G2["z"])),
            (_ga(0x81, G2["pk_map_ifd"]), _answer(0x82, value)),
        ]
    )
    with pytest.raises(ParseError, match=reason):
        await run_pace(card, MRZ, PaceInfo(DH_GM_AES128, 2, 0), rng=ReplayRng(G2["sk_map_ifd"]))


def test_integrated_mapping_refuses_the_identity() -> None:
    with pytest.raises(ParseError, match="usable element"):
        MODP_1024_160.element(1)
    assert ModpElement(MODP_1024_160, 5) + ModpElement(MODP_1024_160, 7) == ModpElement(MODP_1024_160, 35)


def test_curves_are_preferred_to_modp_groups() -> None:
    infos = [PaceInfo(DH_GM_AES128, 2, 2), PaceInfo("0.4.0.127.0.7.2.2.4.2.1", 2, 13), PaceInfo(DH_IM_AES128, 2, 0)]
    ranked = sorted((PaceProtocol.from_info(i) for i in infos), key=preference)
    assert [p.label for p in ranked] == [
        "ECDH-GM 3DES brainpoolP256r1",
        "DH-GM AES-128 MODP-2048-256",
        "DH-IM AES-128 MODP-1024-160",
    ]


def test_a_dh_mapping_with_curve_parameters_is_not_supported() -> None:
    with pytest.raises(ProtocolNotSupported, match="not a MODP group"):
        PaceProtocol.from_info(PaceInfo(DH_GM_AES128, 2, 13))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_any_public_value_decodes_to_a_subgroup_element_or_a_parse_error(data: bytes) -> None:
    group = MODP_1024_160
    try:
        element = group.decode(data)
    except ParseError:
        return
    assert 1 < element.value < group.p - 1
    assert pow(element.value, group.q, group.p) == 1
