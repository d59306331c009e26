"""``read_card``: replays of ICAO App. G.1 and App. D through the whole session, then a virtual chip for PACE, the BAC
fallback, the CCCD expiry candidates, chip and active authentication, missing/protected files, a removed card, a
clone, statistics and the state machine."""

import datetime as dt
import itertools
from collections.abc import Callable

import pytest
from apdu_script import ReplayRng, ScriptedCard
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from virtual_chip import VirtualChip, card_access_for, dg14_for, dg15_for, lds

from mrtd import CardRemoved, ProtocolNotSupported, WrongAccessKey
from mrtd._access_keys import Can, MrzKey, PasswordType, cccd_can, cccd_mrz_keys
from mrtd._apdu import Transmit
from mrtd._files import FileId
from mrtd._reader import ReadOptions
from mrtd._session import (
    TRANSITIONS,
    AccessOrder,
    AccessProtocol,
    ChipAuthStatus,
    FileStatus,
    SessionOptions,
    SessionState,
    read_card,
)
from mrtd._tlv import parse_one

EF_COM = "60145F0104303130365F36063034303030305C026175"
G1_CARD_ACCESS = "31143012060A04007F0007020204020202010202010D"


async def test_pace_session_replays_appendix_g1_and_javacard_express() -> None:
    pk_map_ifd = (
        "047ACF3EFC982EC45565A4B155129EFBC74650DCBFA6362D896FC70262E0C2CC5E"
        "544552DCB6725218799115B55C9BAA6D9F6BC3A9618E70C25AF71777A9C4922D"
    )
    pk_map_ic = (
        "04824FBA91C9CBE26BEF53A0EBE7342A3BF178CEA9F45DE0B70AA601651FBA3F57"
        "30D8C879AAA9C9F73991E61B58F4D52EB87A0A0C709A49DC63719363CCD13C54"
    )
    pk_dh_ifd = (
        "042DB7A64C0355044EC9DF190514C625CBA2CEA48754887122F3A5EF0D5EDD301C"
        "3556F3B3B186DF10B857B58F6A7EB80F20BA5DC7BE1D43D9BF850149FBB36462"
    )
    pk_dh_ic = (
        "049E880F842905B8B3181F7AF7CAA9F0EFB743847F44A306D2D28C1D9EC65DF6DB"
        "7764B22277A2EDDC3C265A9F018F9CB852E111B768B326904B59A0193776F094"
    )
    card = ScriptedCard(
        [
            # EF.CardAccess in clear: SELECT, the 4-byte header, the rest.
            ("00A4020C02011C", "9000"),
            ("00B0000004", G1_CARD_ACCESS[:8] + "9000"),
            ("00B0000412", G1_CARD_ACCESS[8:] + "9000"),
            # App. G.1.
            ("0022C1A40F800A04007F00070202040202830101", "9000"),
            ("10860000027C0000", "7C12801095A3A016522EE98D01E76CB6B98B42C39000"),
            ("10860000457C438141" + pk_map_ifd + "00", "7C438241" + pk_map_ic + "9000"),
            ("10860000457C438341" + pk_dh_ifd + "00", "7C438441" + pk_dh_ic + "9000"),
            ("008600000C7C0A8508C2B0BD78D94BA86600", "7C0A86083ABB9674BCE93C089000"),
            # javacard-express aes-session: SELECT eMRTD application, SELECT EF.COM, READ 4, READ 18.
            (
                "0CA4040C1D871101752F676B09FAC86A87D632749A49C7CC8E08C18BA1FCE707BD9F00",
                "990290008E08BEA7B381C494A0799000",
            ),
            (
                "0CA4020C1D8711016EC84E1358184515AB2D827D30A5C92A8E08403D53BA7533FA7800",
                "990290008E08E00BFFE5473D41409000",
            ),
            (
                "0CB000000D9701048E085F466809FF5A7CFA00",
                "871101589BBC0A6D42160A410E922BF9B053C0990290008E08D740B23B68972F959000",
            ),
            (
                "0CB000040D9701128E08BBBF5ED5E05496B900",
                "872101BEF82DED9B5D74478CBF57D8D9A97CA0A734BF04FDFFB15F3E9B17C4CF0C7FAD990290008E08FEF6E216BE55241B9000",
            ),
        ]
    )
    options = SessionOptions(files=(FileId.COM,), read=ReadOptions(header_length=4))
    rng = ReplayRng(
        "7F4EF07B9EA82FD78AD689B38D0BC78CF21F249D953BC46F4C6E19259C010F99",
        "A73FB703AC1436A18E0CFA5ABB3F7BEC7A070E7A6788486BEE230C4A22762595",
    )
    result = await read_card(card, MrzKey("T22000129", "640812", "101031"), rng=rng, options=options)
    assert card.done
    assert result.access is AccessProtocol.PACE
    assert result.access_variant == "ECDH-GM AES-128 brainpoolP256r1"
    assert result.password_type is PasswordType.MRZ
    assert result.card_access == bytes.fromhex(G1_CARD_ACCESS)
    assert result.files[FileId.COM] == bytes.fromhex(EF_COM)
    assert result.chip_auth.status is ChipAuthStatus.NOT_OFFERED
    assert [s.step for s in result.steps] == ["card_access", "access_control", "read_COM"]
    assert result.total.apdus == 12


async def test_bac_session_replays_appendix_d() -> None:
    card = ScriptedCard(
        [
            ("00A4020C02011C", "6A82"),  # no EF.CardAccess: a BAC-only chip
            ("00A4000C023F00", "9000"),
            ("00A4020C02011C", "6A82"),
            ("00A4040C07A0000002471001", "9000"),
            ("0084000008", "4608F919887022129000"),
            (
                "008200002872C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F25F1448EEA8AD90A728",
                "46B9342A41396CD7386BF5803104D7CEDC122B9132139BAF2EEDC94EE178534F2F2D235D074D7449" + "9000",
            ),
            ("0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800", "990290008E08FA855A5D4C50A8ED9000"),
            ("0CB000000D9701048E08ED6705417E96BA5500", "8709019FF0EC34F9922651990290008E08AD55CC17140B2DED9000"),
            (
                "0CB000040D9701128E082EA28A70F3C7B53500",
                "871901FB9235F4E4037F2327DCC8964F1F9B8C30F42C8E2FFF224A990290008E08C8B2787EAEA07D749000",
            ),
        ]
    )
    options = SessionOptions(files=(FileId.COM,), read=ReadOptions(header_length=4))
    rng = ReplayRng("781723860C06C226", "0B795240CB7049B01C19B33E32804F0B")
    result = await read_card(card, [Can("123456"), MrzKey("L898902C<", "690806", "940623")], rng=rng, options=options)
    assert card.done
    assert result.access is AccessProtocol.BAC
    assert result.card_access is None
    assert result.files[FileId.COM] == bytes.fromhex(EF_COM)


# A synthetic CCCD holder (cccd-spec §1.3): ID 001090012345, born 15/01/1990, card issued 2021, expiry 15/01/2030.
ID_NUMBER = "001090012345"
DOB = dt.date(1990, 1, 15)
MRZ = MrzKey.for_cccd(ID_NUMBER, DOB, dt.date(2030, 1, 15))
CA_PRIVATE = 0x5EED5EED5EED5EED5EED5EED5EED5EED5EED5EED5EED5EED5EED5EED5EED5EED
AA_KEY = ec.derive_private_key(0xA11CE, ec.SECP256R1())


def _chip(**overrides: object) -> VirtualChip:
    files = {
        FileId.COM: bytes.fromhex("60185F0104303130375F3606303430303030" + "5C06" + "6175636D6F6E"),
        FileId.SOD: lds(0x77, 1900, 1),
        FileId.DG1: lds(0x61, 93, 2),
        FileId.DG2: lds(0x75, 9000, 3),
        FileId.DG3: lds(0x63, 500, 4),
        FileId.DG13: lds(0x6D, 700, 5),
        FileId.DG14: dg14_for(CA_PRIVATE),
        FileId.DG15: dg15_for(AA_KEY),
    }
    settings: dict[str, object] = {
        "mrz": MRZ,
        "can": cccd_can(ID_NUMBER),
        "files": files,
        "ca_private": CA_PRIVATE,
        "aa_key": AA_KEY,
    }
    settings.update(overrides)
    return VirtualChip(**settings)  # type: ignore[arg-type]


class StepClock:
    """A clock that advances 1 ms each time it is read."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        self.now += 0.001
        return self.now


async def test_cccd_with_pace_can_reads_everything_and_authenticates() -> None:
    chip = _chip()
    challenge = bytes.fromhex("0011223344556677")
    states: list[SessionState] = []
    result = await read_card(
        chip,
        [cccd_can(ID_NUMBER), *cccd_mrz_keys(ID_NUMBER, DOB)],
        aa_challenge=challenge,
        options=SessionOptions(
            files=(FileId.COM, FileId.SOD, FileId.DG1, FileId.DG3, FileId.DG11, FileId.DG13, FileId.DG14, FileId.DG15)
        ),
        clock=StepClock(),
        on_state=states.append,
    )
    assert result.access is AccessProtocol.PACE
    assert result.password_type is PasswordType.CAN
    for file in (FileId.COM, FileId.SOD, FileId.DG1, FileId.DG13, FileId.DG14, FileId.DG15):
        assert result.files[file] == chip.files[file]
        assert result.file_status[file] is FileStatus.READ
    assert result.file_status[FileId.DG3] is FileStatus.PROTECTED
    assert result.file_status[FileId.DG11] is FileStatus.ABSENT
    assert FileId.DG2 not in result.files  # the portrait only when asked
    assert result.chip_auth.status is ChipAuthStatus.PASSED
    assert result.chip_auth.protocol == "0.4.0.127.0.7.2.2.3.2.2"
    # The AA signature verifies with the DG15 key (plain r ‖ s over SHA-256, ICAO 9303-11 §6.1.2.3).
    assert result.aa_challenge == challenge
    assert result.aa_signature is not None
    r, s = int.from_bytes(result.aa_signature[:32], "big"), int.from_bytes(result.aa_signature[32:], "big")
    AA_KEY.public_key().verify(encode_dss_signature(r, s), challenge, ec.ECDSA(hashes.SHA256()))
    # DG14 first, then chip authentication, then the rest under the new keys.
    steps = [s.step for s in result.steps]
    assert steps[:5] == ["card_access", "access_control", "read_DG14", "chip_authentication", "read_COM"]
    assert steps[-1] == "active_authentication"
    assert all(s.milliseconds > 0 for s in result.steps)
    assert result.total.apdus == len(chip.log)
    assert states[0] is SessionState.CARD_ACCESS
    assert states[-1] is SessionState.DONE
    assert SessionState.CHIP_AUTHENTICATION in states
    for before, after in itertools.pairwise(states):
        assert after in TRANSITIONS[before]


async def test_portrait_when_asked() -> None:
    chip = _chip()
    result = await read_card(chip, cccd_can(ID_NUMBER), options=SessionOptions(files=(FileId.DG2,)))
    assert result.files[FileId.DG2] == chip.files[FileId.DG2]
    read_dg2 = next(s for s in result.steps if s.step == "read_DG2")
    assert read_dg2.apdus == 2 + -(-(len(chip.files[FileId.DG2]) - 8) // 223)


async def test_pace_refused_falls_back_to_bac_with_the_expiry_candidates() -> None:
    # Older CCCDs refuse PACE with 6982 and take BAC (AndyQ/NFCPassportReader#187). The expiry is not in the QR: the
    # candidates for a card issued in 2021 start with the 40th birthday, which is the right one here.
    chip = _chip(pace_enabled=False)
    keys = [cccd_can(ID_NUMBER), *cccd_mrz_keys(ID_NUMBER, DOB, issued=dt.date(2021, 5, 1))]
    result = await read_card(chip, keys)
    assert result.access is AccessProtocol.BAC
    assert result.password_type is PasswordType.MRZ
    assert result.files[FileId.DG1] == chip.files[FileId.DG1]
    assert result.chip_auth.status is ChipAuthStatus.PASSED


async def test_bac_tries_each_expiry_candidate() -> None:
    chip = _chip(card_access=None)
    keys = cccd_mrz_keys(ID_NUMBER, DOB)  # without the issue date: 25th birthday (wrong) first, then the 40th
    assert keys[0].date_of_expiry == "150115"
    result = await read_card(chip, keys, options=SessionOptions(files=(FileId.DG1,)))
    assert result.access is AccessProtocol.BAC
    assert sum(1 for c in chip.log if c.ins == 0x82) == 2


async def test_no_key_opens_the_chip() -> None:
    with pytest.raises(WrongAccessKey, match="CAN"):
        await read_card(_chip(), Can("999999"))
    wrong_expiries = [MrzKey.for_cccd(ID_NUMBER, DOB, dt.date(y, 1, 15)) for y in (2015, 2050)]
    with pytest.raises(WrongAccessKey, match=r"tried 1 CAN, 2 MRZ keys \(one per candidate expiry date\)") as info:
        await read_card(_chip(), [Can("999999"), *wrong_expiries])
    assert "090012345" not in str(info.value)
    assert info.value.sw == 0x6300
    with pytest.raises(WrongAccessKey, match="MRZ key"):
        await read_card(_chip(card_access=None), MrzKey.for_cccd(ID_NUMBER, DOB, dt.date(2015, 1, 15)))


async def test_bac_needs_mrz_data() -> None:
    with pytest.raises(ProtocolNotSupported, match="MRZ data"):
        await read_card(_chip(pace_enabled=False), cccd_can(ID_NUMBER))


async def test_access_orders() -> None:
    bac = await read_card(_chip(), [MRZ], options=SessionOptions(access_order=AccessOrder.BAC_ONLY, files=()))
    assert bac.access is AccessProtocol.BAC
    with pytest.raises(ProtocolNotSupported):
        await read_card(_chip(card_access=None), [MRZ], options=SessionOptions(access_order=AccessOrder.PACE_ONLY))
    with pytest.raises(ProtocolNotSupported):
        await read_card(_chip(pace_enabled=False), [MRZ], options=SessionOptions(access_order=AccessOrder.PACE_ONLY))


async def test_chip_that_refuses_select_mf() -> None:
    # Some CCCDs answer SELECT MF with 6D00 (AndyQ#219); EF.CardAccess is selected directly, so no SELECT MF is sent.
    chip = _chip(select_mf_refused=True)
    result = await read_card(chip, cccd_can(ID_NUMBER), options=SessionOptions(files=(FileId.DG1,)))
    assert result.access is AccessProtocol.PACE
    assert not any(c.ins == 0xA4 and c.p1 == 0x00 for c in chip.log)


async def test_chip_left_in_the_application_gets_select_mf() -> None:
    chip = _chip(starts_in_application=True)
    result = await read_card(chip, cccd_can(ID_NUMBER), options=SessionOptions(files=(FileId.DG1,)))
    assert result.access is AccessProtocol.PACE
    assert result.card_access is not None
    assert [c.encode().hex().upper() for c in chip.log[:3]] == ["00A4020C02011C", "00A4000C023F00", "00A4020C02011C"]


async def test_clone_fails_chip_authentication_but_the_read_completes() -> None:
    chip = _chip(clone=True)
    result = await read_card(chip, cccd_can(ID_NUMBER))
    assert result.chip_auth.status is ChipAuthStatus.FAILED
    assert "clone" in result.chip_auth.reason
    assert result.files[FileId.DG1] == chip.files[FileId.DG1]
    assert "access_control_again" in [s.step for s in result.steps]


@pytest.mark.parametrize(("clone", "verified"), [(False, True), (True, False)])
async def test_pace_cam_is_checked_with_the_dg14_key(clone: bool, verified: bool) -> None:
    chip = _chip(card_access=card_access_for("0.4.0.127.0.7.2.2.4.6.2"), clone=clone)
    result = await read_card(
        chip, cccd_can(ID_NUMBER), options=SessionOptions(files=(FileId.DG14,), chip_authentication=False)
    )
    assert result.access_variant == "ECDH-CAM AES-128 brainpoolP256r1"
    assert result.pace_cam is not None
    assert result.pace_cam_verified is verified


async def test_several_pace_infos_send_the_parameter_id() -> None:
    chip = _chip(card_access=card_access_for("0.4.0.127.0.7.2.2.4.2.2", "0.4.0.127.0.7.2.2.4.2.4"))
    result = await read_card(chip, cccd_can(ID_NUMBER), options=SessionOptions(files=(FileId.DG1,)))
    # The strongest cipher is chosen, and with two PACEInfos the domain parameters are named (84 01 0D).
    assert result.access_variant == "ECDH-GM AES-256 brainpoolP256r1"
    mse = next(c for c in chip.log if c.ins == 0x22)
    assert mse.data.endswith(bytes.fromhex("84010D"))
    assert result.pace_cam is None
    assert result.pace_cam_verified is None


@pytest.mark.parametrize("parameter_id", [0, 2])
async def test_a_chip_with_only_dh_pace_is_opened_with_it(parameter_id: int) -> None:
    chip = _chip(card_access=card_access_for("0.4.0.127.0.7.2.2.4.1.2", parameter_id=parameter_id))
    result = await read_card(chip, cccd_can(ID_NUMBER), options=SessionOptions(files=(FileId.DG1,)))
    assert result.access_variant == f"DH-GM AES-128 MODP-{'1024-160' if parameter_id == 0 else '2048-256'}"
    assert result.files[FileId.DG1] == chip.files[FileId.DG1]
    mapping = [c for c in chip.log if c.ins == 0x86][1]
    assert len(parse_one(parse_one(mapping.data).value).value) == (128 if parameter_id == 0 else 256)


async def test_chip_authentication_can_be_disabled() -> None:
    result = await read_card(_chip(), cccd_can(ID_NUMBER), options=SessionOptions(chip_authentication=False))
    assert result.chip_auth.status is ChipAuthStatus.DISABLED
    assert "chip_authentication" not in [s.step for s in result.steps]


async def test_active_authentication_failure_is_recorded() -> None:
    chip = _chip(aa_key=None)
    chip.files[FileId.DG15] = dg15_for(AA_KEY)
    result = await read_card(chip, cccd_can(ID_NUMBER), aa_challenge=bytes(8))
    assert result.aa_signature is None
    assert result.aa_error is not None
    assert "INTERNAL AUTHENTICATE" in result.aa_error


def _answering(chip: VirtualChip, answer: Callable[[bytes], bytes | None]) -> Transmit:
    """``chip`` behind a filter that answers some commands itself, the way a chip with other habits would."""

    async def transmit(raw: bytes) -> bytes:
        return answer(raw) or await chip(raw)

    return transmit


async def test_a_chip_that_wants_the_fci_form_of_select_application_is_read() -> None:
    # ICAO 9303-10 selects the application with P2 = 0C; some chips only take P2 = 00 and refuse the other with 6A86.
    chip = _chip(card_access=None)
    refused = bytes.fromhex("00A4040C07A0000002471001")
    transmit = _answering(chip, lambda raw: bytes.fromhex("6A86") if raw == refused else None)
    result = await read_card(transmit, MRZ, options=SessionOptions(files=(FileId.DG1,)))
    assert result.access is AccessProtocol.BAC
    assert result.files[FileId.DG1] == chip.files[FileId.DG1]
    assert [(c.p2, c.le) for c in chip.log if c.ins == 0xA4 and c.p1 == 0x04] == [(0x00, 256)]


async def test_active_authentication_broken_by_the_channel_is_recorded_not_raised() -> None:
    # A 2048-bit AA key on a chip without extended length: INTERNAL AUTHENTICATE gets 6700 in clear. The files read
    # so far stand; the missing signature becomes the verifier's aa_refused, not a failed read.
    chip = _chip()
    result = await read_card(
        _answering(chip, lambda raw: bytes.fromhex("6700") if raw[1] == 0x88 else None),
        cccd_can(ID_NUMBER),
        aa_challenge=bytes(8),
    )
    assert result.aa_signature is None
    assert result.aa_error is not None
    assert "6700" in result.aa_error
    assert result.files[FileId.DG15] == chip.files[FileId.DG15]


async def test_card_removed_at_any_point_is_never_a_partial_success() -> None:
    total = len((await _count_apdus()).log)
    for cut in range(total):
        states: list[SessionState] = []
        chip = _chip(remove_after=cut)
        with pytest.raises(CardRemoved):
            await read_card(chip, cccd_can(ID_NUMBER), aa_challenge=bytes(8), on_state=states.append)
        assert states[-1] is SessionState.FAILED


async def _count_apdus() -> VirtualChip:
    chip = _chip()
    await read_card(chip, cccd_can(ID_NUMBER), aa_challenge=bytes(8))
    return chip


def test_transition_table_is_closed() -> None:
    for state, successors in TRANSITIONS.items():
        assert successors <= set(SessionState)
        if state not in (SessionState.DONE, SessionState.FAILED):
            assert SessionState.FAILED in successors
    assert TRANSITIONS[SessionState.DONE] == frozenset()
    assert TRANSITIONS[SessionState.FAILED] == frozenset()


async def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="access key"):
        await read_card(_chip(), [])
    with pytest.raises(ValueError, match="8 bytes"):
        await read_card(_chip(), cccd_can(ID_NUMBER), aa_challenge=bytes(4))
