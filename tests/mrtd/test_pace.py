"""PACE against ICAO 9303-11 App. G.1 (GM, replayed APDU for APDU), App. H.1 (IM), App. I (CAM) and the BSI TR-03110
worked example (GM with a PIN, replayed with its published keys)."""

import pytest
from apdu_script import ReplayRng, ScriptedCard
from hypothesis import given, settings
from hypothesis import strategies as st
from pace_chip import SimulatedPaceChip

from mrtd import ParseError, ProtocolNotSupported, SecureMessagingError, WrongAccessKey
from mrtd._access_keys import Can, MrzKey, PasswordType, Pin, pace_password_key
from mrtd._apdu import CommandAPDU
from mrtd._crypto import CipherSuite, KdfCounter, kdf
from mrtd._curves import Point, curve_by_pace_parameter_id
from mrtd._pace import (
    CamEvidence,
    PaceMapping,
    PaceProtocol,
    authentication_token,
    decrypt_chip_authentication_data,
    decrypt_nonce,
    encrypt_chip_authentication_data,
    encrypt_nonce,
    generate_key_pair,
    generic_mapping,
    integrated_mapping,
    key_agreement,
    nonce_length,
    point_encoding,
    preference,
    pseudo_random_bytes,
    pseudo_random_number,
    public_key_data_object,
    run_pace,
)
from mrtd._security_infos import PaceInfo, parse_security_infos
from mrtd._sm import SessionKeys

BP256 = curve_by_pace_parameter_id(13)
GM_AES128 = "0.4.0.127.0.7.2.2.4.2.2"
IM_AES128 = "0.4.0.127.0.7.2.2.4.4.2"
CAM_AES128 = "0.4.0.127.0.7.2.2.4.6.2"

# ICAO 9303-11 App. G.1.
G1_MRZ = MrzKey("T22000129", "640812", "101031")
G1_CARD_ACCESS = "31143012060A04007F0007020204020202010202010D"
SK_MAP_IFD = "7F4EF07B9EA82FD78AD689B38D0BC78CF21F249D953BC46F4C6E19259C010F99"
PK_MAP_IFD = (
    "047ACF3EFC982EC45565A4B155129EFBC74650DCBFA6362D896FC70262E0C2CC5E"
    "544552DCB6725218799115B55C9BAA6D9F6BC3A9618E70C25AF71777A9C4922D"
)
PK_MAP_IC = (
    "04824FBA91C9CBE26BEF53A0EBE7342A3BF178CEA9F45DE0B70AA601651FBA3F57"
    "30D8C879AAA9C9F73991E61B58F4D52EB87A0A0C709A49DC63719363CCD13C54"
)
SK_DH_IFD = "A73FB703AC1436A18E0CFA5ABB3F7BEC7A070E7A6788486BEE230C4A22762595"
PK_DH_IFD = (
    "042DB7A64C0355044EC9DF190514C625CBA2CEA48754887122F3A5EF0D5EDD301C"
    "3556F3B3B186DF10B857B58F6A7EB80F20BA5DC7BE1D43D9BF850149FBB36462"
)
PK_DH_IC = (
    "049E880F842905B8B3181F7AF7CAA9F0EFB743847F44A306D2D28C1D9EC65DF6DB"
    "7764B22277A2EDDC3C265A9F018F9CB852E111B768B326904B59A0193776F094"
)
G1_EXCHANGE: list[tuple[str | None, str]] = [
    ("0022C1A40F800A04007F00070202040202830101", "9000"),
    ("10860000027C0000", "7C12801095A3A016522EE98D01E76CB6B98B42C39000"),
    ("10860000457C438141" + PK_MAP_IFD + "00", "7C438241" + PK_MAP_IC + "9000"),
    ("10860000457C438341" + PK_DH_IFD + "00", "7C438441" + PK_DH_IC + "9000"),
    ("008600000C7C0A8508C2B0BD78D94BA86600", "7C0A86083ABB9674BCE93C089000"),
]


def _g1_info() -> PaceInfo:
    (info,) = parse_security_infos(bytes.fromhex(G1_CARD_ACCESS)).pace
    return info


async def test_generic_mapping_replays_appendix_g1() -> None:
    # After PACE the terminal selects the eMRTD application under SM with SSC 0 (javacard-express aes-session).
    select = (
        "0CA4040C1D871101752F676B09FAC86A87D632749A49C7CC8E08C18BA1FCE707BD9F00",
        "990290008E08BEA7B381C494A0799000",
    )
    card = ScriptedCard([*G1_EXCHANGE, select])
    rng = ReplayRng(SK_MAP_IFD, SK_DH_IFD)
    result = await run_pace(card, G1_MRZ, _g1_info(), rng=rng)
    assert result.protocol.mapping is PaceMapping.GENERIC
    assert result.protocol.label == "ECDH-GM AES-128 brainpoolP256r1"
    assert result.password_type is PasswordType.MRZ
    assert result.chip_public_key.hex().upper() == PK_DH_IC
    assert result.terminal_public_key.hex().upper() == PK_DH_IFD
    assert result.cam is None
    keys = result.channel.sm.keys
    assert keys.k_enc.hex().upper() == "F5F0E35C0D7161EE6724EE513A0D9A7F"
    assert keys.k_mac.hex().upper() == "FE251C7858B356B24514B3BD5F4297D1"
    assert result.channel.sm.ssc == 0
    answer = await result.channel.send(CommandAPDU(0x00, 0xA4, 0x04, 0x0C, data=bytes.fromhex("A0000002471001")))
    assert answer.ok
    assert card.done


async def test_parameter_id_in_mse_set_at() -> None:
    # The gmrtd form of MSE:Set AT adds 84 01 0D.
    card = ScriptedCard([("0022C1A412800A04007F0007020204020283010184010D", "9000"), *G1_EXCHANGE[1:]])
    await run_pace(card, G1_MRZ, _g1_info(), rng=ReplayRng(SK_MAP_IFD, SK_DH_IFD), send_parameter_id=True)
    assert card.done


def test_appendix_g1_pieces() -> None:
    k_pi = pace_password_key(G1_MRZ, CipherSuite.AES128)
    s = decrypt_nonce(k_pi, bytes.fromhex("95A3A016522EE98D01E76CB6B98B42C3"), CipherSuite.AES128)
    assert s.hex().upper() == "3F00C4D39D153F2B2A214A078D899B22"
    assert encrypt_nonce(k_pi, s, CipherSuite.AES128).hex().upper() == "95A3A016522EE98D01E76CB6B98B42C3"
    sk_map_ic = int("498FF49756F2DC1587840041839A85982BE7761D14715FB091EFA7BCE9058560", 16)
    assert (BP256.generator * sk_map_ic).encode().hex().upper() == PK_MAP_IC
    h = key_agreement(sk_map_ic, BP256.decode_point(bytes.fromhex(PK_MAP_IFD)))
    assert h.encode().hex().upper().startswith("0460332EF2450B5D247EF6D3868397D398852ED6E8CAF6FFEEF6BF85CA57057FD5")
    g_tilde = generic_mapping(BP256, s, h)
    assert (
        g_tilde.encode().hex().upper().startswith("048CED63C91426D4F0EB1435E7CB1D74A46723A0AF21C89634F65A9AE87A9265E2")
    )
    sk_dh_ic = int("107CF58696EF6155053340FD633392BA81909DF7B9706F226F32086C7AFF974A", 16)
    assert (g_tilde * sk_dh_ic).encode().hex().upper() == PK_DH_IC
    k = key_agreement(sk_dh_ic, BP256.decode_point(bytes.fromhex(PK_DH_IFD))).x_bytes()
    assert k.hex().upper() == "28768D20701247DAE81804C9E780EDE582A9996DB4A315020B2733197DB84925"
    assert public_key_data_object(GM_AES128, bytes.fromhex(PK_DH_IC)).hex().upper() == (
        "7F494F060A04007F00070202040202864104" + PK_DH_IC[2:]
    )
    k_mac = kdf(k, KdfCounter.MAC, CipherSuite.AES128)
    assert authentication_token(CipherSuite.AES128, k_mac, GM_AES128, bytes.fromhex(PK_DH_IC)).hex().upper() == (
        "C2B0BD78D94BA866"
    )


# ICAO 9303-11 App. H.1 (ECDH-IM, AES-128).
H1_S = "2923BE84E16CD6AE529049F1F1BBE9EB"
H1_T = "5DD4CBFC96F5453B130D890A1CDBAE32"
H1_PK_IFD = (
    "0489CBA23FFE96AA18D824627C3E934E54A9FD0B87A95D1471DC1C0ABFDCD640D4"
    "6755DE9B7B778280B6BEBD57439ADFEB0E21FD4ED6DF42578C13418A59B34C37"
)
H1_PK_IC = (
    "0467F78E5F7F7686082B293E8D087E056916D0F74BC01A5F8957D0DE45691E51E8"
    "932B69A962B52A0985AD2C0A271EE6A13A8ADDDCD1A3A994B9DED257F4D22753"
)


def test_integrated_mapping_of_appendix_h1() -> None:
    s, t = bytes.fromhex(H1_S), bytes.fromhex(H1_T)
    r = pseudo_random_bytes(s, t, CipherSuite.AES128, BP256.p.bit_length())
    assert r.hex().upper() == (
        "E4447E2DFB3586BAC05DDB00156B57FBB2179A3949294C97254189800C517BAA8DA0FF397ED8C445D3E421E4FEB57322"
    )
    r_p = pseudo_random_number(s, t, CipherSuite.AES128, BP256.p)
    assert f"{r_p:064X}" == "A2F8FF2DF50E52C6599F386ADCB595D229F6A167ADE2BE5F2C3296ADD5B7430E"
    assert point_encoding(BP256, r_p).encode().hex().upper() == (
        "048E82D31559ED0FDE92A4D0498ADD3C23BABA94FB77691E31E90AEA77FB17D427"
        "4C1AE14BD0C3DBAC0C871B7F3608169364437CA30AC243A089D3F266C1E60FAD"
    )


async def test_integrated_mapping_run_reproduces_appendix_h1() -> None:
    # H.1 does not print the encrypted nonce; the chip here encrypts s with the G.1 password key (checked above).
    info = PaceInfo(IM_AES128, 2, 13)
    z = encrypt_nonce(pace_password_key(G1_MRZ, CipherSuite.AES128), bytes.fromhex(H1_S), CipherSuite.AES128)
    card = ScriptedCard(
        [
            ("0022C1A40F800A04007F00070202040402830101", "9000"),
            ("10860000027C0000", "7C1280" + "10" + z.hex() + "9000"),
            ("10860000147C128110" + H1_T + "00", "7C009000"),
            ("10860000457C438341" + H1_PK_IFD + "00", "7C438441" + H1_PK_IC + "9000"),
            ("008600000C7C0A8508450F02B86F6A090900", "7C0A860875D4D96E8D5B03089000"),
        ]
    )
    result = await run_pace(card, G1_MRZ, info, rng=ReplayRng(H1_T, SK_DH_IFD))
    keys = result.channel.sm.keys
    assert keys.k_enc.hex().upper() == "0D3FEB33251A6370893D62AE8DAAF51B"
    assert keys.k_mac.hex().upper() == "B01E89E3D9E8719E586B50B4A7506E0B"
    assert result.protocol.mapping is PaceMapping.INTEGRATED
    assert card.done


# ICAO 9303-11 App. I (ECDH-CAM, AES-128).
I_K = "67950559D0C06B4D4B86972D14460837461087F8419FDBC36AAF6CEAAC462832"
I_PK_DH_IC = (
    "0402AD566F3C6EC7F9324509AD50A51FA52030782A4968FCFEDF737DAEA9933331"
    "11C3B9B4C2287789BD137E7F8AA882E2A3C633CCD6ECC2C63C57AD401A09C2E1"
)
I_PK_DH_IFD = (
    "04446C934084D9DAB863944F219520076C29EE3F7AE6722B11FF319EC1C7728F95"
    "5483400BFF60BF0C5929270009277DC2A515E12575010AD9BA916CF1BF86FEFC"
)
I_A_IC = "1EEA964DAAE372AC990E3EFDE6333353BFC89A6704D93DA8798CF77F5B7A54BD10CBA372B42BE0B9B5F28AA8DE2F4F92"
I_PK_IC = (
    "041872709494399E7470A6431BE25E83EEE24FEA568C2ED28DB48E05DB3A610DC8"
    "84D256A40E35EFCB59BF6753D3A489D28C7A4D973C2DA138A6E7A4A08F68E16F"
)
I_PK_MAP_IC = (
    "04A234236AA9B9621E8EFB73B5245C0E09D2576E5277183C1208BDD55280CAE8B3"
    "04F365713A356E65A451E165ECC9AC0AC46E3771342C8FE5AEDD092685338E23"
)


def test_chip_authentication_mapping_of_appendix_i() -> None:
    keys = SessionKeys.derive(bytes.fromhex(I_K), CipherSuite.AES128)
    assert keys.k_enc.hex().upper() == "0A9DA4DB03BDDE39FC5202BC44B2E89E"
    assert keys.k_mac.hex().upper() == "4B1C06491ED5140CA2B537D344C6C0B1"
    t_ifd = authentication_token(CipherSuite.AES128, keys.k_mac, CAM_AES128, bytes.fromhex(I_PK_DH_IC))
    t_ic = authentication_token(CipherSuite.AES128, keys.k_mac, CAM_AES128, bytes.fromhex(I_PK_DH_IFD))
    assert (t_ifd.hex().upper(), t_ic.hex().upper()) == ("E86BD06018A1CD3B", "8596CF055C67C1A3")
    ca_ic = decrypt_chip_authentication_data(CipherSuite.AES128, keys.k_enc, bytes.fromhex(I_A_IC))
    assert f"{ca_ic:064X}" == "85DC3FA93D0952BFA82F5FD189EE75BD82F11D1F0B8ED4BF5319AC9B53C426B3"
    assert encrypt_chip_authentication_data(CipherSuite.AES128, keys.k_enc, ca_ic, BP256).hex().upper() == I_A_IC
    evidence = CamEvidence(BP256, ca_ic, bytes.fromhex(I_PK_MAP_IC))
    assert evidence.verify(BP256.decode_point(bytes.fromhex(I_PK_IC)))
    assert not evidence.verify(BP256.generator)  # another chip's static key
    assert not CamEvidence(BP256, ca_ic + 1, bytes.fromhex(I_PK_MAP_IC)).verify(
        BP256.decode_point(bytes.fromhex(I_PK_IC))
    )


async def test_chip_authentication_mapping_run() -> None:
    info = PaceInfo(CAM_AES128, 2, 13)
    protocol = PaceProtocol.from_info(info)
    can = Can("012345")
    static_key = 0x1234567890ABCDEF
    chip = SimulatedPaceChip(
        protocol, pace_password_key(can, CipherSuite.AES128), static_key=static_key, rng=ReplayRng("11" * 32, "22" * 32)
    )
    result = await run_pace(chip, can, info, rng=ReplayRng("33" * 32, "44" * 32))
    assert result.cam is not None
    assert result.cam.verify(BP256.generator * static_key)
    assert not result.cam.verify(BP256.generator * (static_key + 1))
    assert result.channel.sm.keys == chip.keys


# BSI TR-03110 "Worked Example for EAC 1.01" (PIN 123456, ECDH-GM AES-128, brainpoolP256r1).
BSI = {
    "z": "CE834CDE69FFBB1D1EB21585CD709F18",
    "sk_map_pcd": "752287F5B02DE3C4BC3E17945118C51B23C97278E4CD748048AC56BA5BDC3D46",
    "pk_map_pcd": "043DD29BBE5907FD21A152ADA4895FAAE7ACC55F5E50EFBFDE5AB0C6EB54F198D6"
    "15913635F0FDF5BEB383E00355F82D3C41ED0DF2E28363433DFB73856A15DC9F",
    "pk_map_picc": "049CFCF7582AC986D0DD52FA53123414C3E1B96B4D00ABA8E574679B70EFB5BC3B"
    "45D2F13729CC2AE178E7E241B443213533B77DBB44649A815DDC4A2384BA422A",
    "sk_pcd": "9D9A32DF93A57CCE33CA3CDD3457E33A976F293546C73550F397259C93BE0120",
    "pk_pcd": "04518BC4E532AD2A9BD6527804D5D665ABD51041037A0CC8AA922804EB501C222B"
    "3427388599AFAAE9FBACE2DF93E13C3C4979CD12F0AE3E3C0126028391554582",
    "pk_picc": "04282CF38073036AFAC216AF135BD994DA0C357F10BD4C34AFEA1042B2EB0FD680"
    "4DF3658B835AC2E7133F13691184542BB50B109963A4662ABDC08B9763AF4B5B",
}


async def test_bsi_worked_example_replay() -> None:
    card = ScriptedCard(
        [
            ("0022C1A40F800A04007F00070202040202830103", "9000"),
            ("10860000027C0000", "7C128010" + BSI["z"] + "9000"),
            ("10860000457C438141" + BSI["pk_map_pcd"] + "00", "7C438241" + BSI["pk_map_picc"] + "9000"),
            ("10860000457C438341" + BSI["pk_pcd"] + "00", "7C438441" + BSI["pk_picc"] + "9000"),
            ("008600000C7C0A8508A27AE7B36573C1D900", "7C0A8608A2658C2F38600B0F9000"),
        ]
    )
    info = PaceInfo(GM_AES128, 2, 13)
    result = await run_pace(card, Pin("123456"), info, rng=ReplayRng(BSI["sk_map_pcd"], BSI["sk_pcd"]))
    keys = result.channel.sm.keys
    assert keys.k_enc.hex().upper() == "68406B4162100563D9C901A6154D2901"
    assert keys.k_mac.hex().upper() == "73FF268784F72AF833FDC9464049AFC9"
    assert card.done


def test_bsi_worked_example_intermediate_values() -> None:
    k_pi = pace_password_key(Pin("123456"), CipherSuite.AES128)
    s = decrypt_nonce(k_pi, bytes.fromhex(BSI["z"]), CipherSuite.AES128)
    assert s.hex().upper() == "7D98C00FC6C9E9543BBF94A87073A123"
    h = key_agreement(int(BSI["sk_map_pcd"], 16), BP256.decode_point(bytes.fromhex(BSI["pk_map_picc"])))
    assert h.encode().hex().upper() == (
        "0471850CFD80FB475947E5B1AF10FE8E6663967C2D264935B31951F763A4B03A57"
        "49167388F88F52A109167E3E6592CA0820468D1157A8E781D2F7049179B1D114"
    )
    g_tilde = generic_mapping(BP256, s, h)
    assert g_tilde.encode().hex().upper() == (
        "043929D28BA1E5339D6C5DADE5E33BD3C2F0BD14DD77C7521532261659C918FA60"
        "14DD48FA84E62BDE438EDB4C9771D042CDB24B7788BDBAB2031C45751E777F66"
    )
    k = key_agreement(int(BSI["sk_pcd"], 16), BP256.decode_point(bytes.fromhex(BSI["pk_picc"])))
    assert k.x_bytes().hex().upper() == "6E7D077CCD367C2EAA683F1E8EC534302E2D00B6ADAF8A87A6EDA78740F17606"


@pytest.mark.parametrize("sw", ["6982", "6985", "6A80", "6A86", "6A88", "6D00"])
async def test_refusal_at_mse_set_at_is_protocol_not_supported(sw: str) -> None:
    # Refused without the parameter id, then with it: the chip does not do this PACE.
    card = ScriptedCard([(G1_EXCHANGE[0][0], sw), ("0022C1A412800A04007F0007020204020283010184010D", sw)])
    with pytest.raises(ProtocolNotSupported) as info:
        await run_pace(card, G1_MRZ, _g1_info(), rng=ReplayRng())
    assert info.value.sw == int(sw, 16)
    assert card.done


async def test_a_chip_that_wants_the_parameter_id_gets_it_on_a_second_try() -> None:
    card = ScriptedCard(
        [(G1_EXCHANGE[0][0], "6A80"), ("0022C1A412800A04007F0007020204020283010184010D", "9000"), *G1_EXCHANGE[1:]]
    )
    result = await run_pace(card, G1_MRZ, _g1_info(), rng=ReplayRng(SK_MAP_IFD, SK_DH_IFD))
    assert result.channel.sm.keys.k_enc.hex().upper() == "F5F0E35C0D7161EE6724EE513A0D9A7F"
    assert card.done


@pytest.mark.parametrize("sw", ["6982", "6985", "6A80"])
async def test_refusal_at_general_authenticate_is_protocol_not_supported(sw: str) -> None:
    card = ScriptedCard([G1_EXCHANGE[0], (G1_EXCHANGE[1][0], sw)])
    with pytest.raises(ProtocolNotSupported, match="refused PACE"):
        await run_pace(card, G1_MRZ, _g1_info(), rng=ReplayRng())


@pytest.mark.parametrize("sw", ["6300", "63C2", "6982", "6A80"])
@pytest.mark.parametrize(("key", "message"), [(Can("123456"), "CAN"), (G1_MRZ, "MRZ key")])
async def test_wrong_password_is_wrong_access_key(key: Can | MrzKey, message: str, sw: str) -> None:
    # Refused at the token step, whatever the word (a CCCD says 6982), the password was wrong: not a refused PACE.
    exchange = [
        ("0022C1A40F800A04007F000702020402028301" + ("02" if isinstance(key, Can) else "01"), "9000"),
        *[(None, response) for _, response in G1_EXCHANGE[1:4]],
        (None, sw),
    ]
    with pytest.raises(WrongAccessKey, match=message):
        await run_pace(ScriptedCard(exchange), key, _g1_info(), rng=ReplayRng(SK_MAP_IFD, SK_DH_IFD))


async def test_forged_chip_token_is_rejected() -> None:
    card = ScriptedCard([*G1_EXCHANGE[:4], (G1_EXCHANGE[4][0], "7C0A86083ABB9674BCE93C099000")])
    with pytest.raises(SecureMessagingError, match="token"):
        await run_pace(card, G1_MRZ, _g1_info(), rng=ReplayRng(SK_MAP_IFD, SK_DH_IFD))


async def test_chip_key_off_the_curve_is_rejected() -> None:
    bad = PK_MAP_IC[:-2] + "55"
    card = ScriptedCard([*G1_EXCHANGE[:2], (G1_EXCHANGE[2][0], "7C438241" + bad + "9000")])
    with pytest.raises(ParseError, match="not on"):
        await run_pace(card, G1_MRZ, _g1_info(), rng=ReplayRng(SK_MAP_IFD))


async def test_echoed_terminal_key_is_rejected() -> None:
    card = ScriptedCard([*G1_EXCHANGE[:2], (G1_EXCHANGE[2][0], "7C438241" + PK_MAP_IFD + "9000")])
    with pytest.raises(SecureMessagingError, match="echoed"):
        await run_pace(card, G1_MRZ, _g1_info(), rng=ReplayRng(SK_MAP_IFD))


@pytest.mark.parametrize(
    ("protocol", "version", "parameter_id", "message"),
    [
        ("0.4.0.127.0.7.2.2.4.1.2", 2, 13, "not a MODP group"),
        ("0.4.0.127.0.7.2.2.4.1.2", 2, 3, "not a MODP group"),
        ("0.4.0.127.0.7.2.2.4.2.2", 1, 13, "version 1"),
        ("0.4.0.127.0.7.2.2.4.2.2", 2, None, "parameter id"),
        ("0.4.0.127.0.7.2.2.4.2.2", 2, 2, "not a supported elliptic curve"),
        ("0.4.0.127.0.7.2.2.4.4.2", 2, 10, "Integrated Mapping cannot be used with secp224r1"),
    ],
)
def test_unsupported_variants(protocol: str, version: int, parameter_id: int | None, message: str) -> None:
    with pytest.raises(ProtocolNotSupported, match=message):
        PaceProtocol.from_info(PaceInfo(protocol, version, parameter_id))


def test_preference_order() -> None:
    infos = [
        PaceInfo("0.4.0.127.0.7.2.2.4.4.4", 2, 13),  # IM AES-256
        PaceInfo("0.4.0.127.0.7.2.2.4.2.1", 2, 13),  # GM 3DES
        PaceInfo("0.4.0.127.0.7.2.2.4.2.4", 2, 12),  # GM AES-256 P-256
        PaceInfo("0.4.0.127.0.7.2.2.4.2.4", 2, 13),  # GM AES-256 bp256
        PaceInfo("0.4.0.127.0.7.2.2.4.6.2", 2, 13),  # CAM AES-128
    ]
    ranked = sorted((PaceProtocol.from_info(i) for i in infos), key=preference)
    assert [p.label for p in ranked] == [
        "ECDH-GM AES-256 brainpoolP256r1",
        "ECDH-GM AES-256 secp256r1",
        "ECDH-GM 3DES brainpoolP256r1",
        "ECDH-CAM AES-128 brainpoolP256r1",
        "ECDH-IM AES-256 brainpoolP256r1",
    ]


@pytest.mark.parametrize("parameter_id", [8, 9, 11, 12, 13, 14, 15, 16, 17, 18])
@pytest.mark.parametrize("suite_arc", [1, 2, 3, 4])
async def test_generic_mapping_on_every_curve_and_cipher(parameter_id: int, suite_arc: int) -> None:
    info = PaceInfo(f"0.4.0.127.0.7.2.2.4.2.{suite_arc}", 2, parameter_id)
    protocol = PaceProtocol.from_info(info)
    can = Can("654321")
    size = (protocol.group.order.bit_length() + 7) // 8
    chip = SimulatedPaceChip(
        protocol, pace_password_key(can, protocol.suite), static_key=1, rng=ReplayRng("5A" * size, "6B" * size)
    )
    result = await run_pace(chip, can, info, rng=ReplayRng("2C" * size, "3D" * size))
    assert result.channel.sm.keys == chip.keys
    assert result.channel.sm.keys.suite is protocol.suite


@pytest.mark.parametrize("parameter_id", [8, 9, 11, 12, 13, 14, 15, 16, 17, 18])
@pytest.mark.parametrize("suite", [CipherSuite.DES3, CipherSuite.AES128, CipherSuite.AES192, CipherSuite.AES256])
def test_point_encoding_lands_on_the_curve(parameter_id: int, suite: CipherSuite) -> None:
    curve = curve_by_pace_parameter_id(parameter_id)
    nonce = bytes(range(nonce_length(suite)))
    point = integrated_mapping(curve, nonce, bytes(range(100, 100 + suite.key_length)), suite)
    assert isinstance(point, Point)
    assert point.x is not None
    assert point.y is not None
    assert curve.contains(point.x, point.y)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, BP256.p - 1))
def test_point_encoding_is_always_a_curve_point(u: int) -> None:
    if u in (1, BP256.p - 1):
        # α + α² = 0: the encoding is undefined there (probability 2⁻²⁵⁵), and refused with a typed error.
        with pytest.raises(ParseError, match="exceptional"):
            point_encoding(BP256, u)
        return
    point = point_encoding(BP256, u)
    assert point.x is not None
    assert point.y is not None
    assert BP256.contains(point.x, point.y)


def test_key_generation_redraws_out_of_range() -> None:
    rng = ReplayRng("FF" * 32, "00" * 32, "01" + "00" * 31)
    secret, public = generate_key_pair(BP256.generator, rng)
    assert secret == 1 << 248
    assert public == BP256.generator * secret
    assert rng.calls == 3
