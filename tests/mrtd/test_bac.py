"""BAC replayed against ICAO 9303-11 App. D.3, then the App. D.4 secure-messaging exchange on the channel it opens."""

import pytest
from apdu_script import ReplayRng, ScriptedCard

from mrtd import CardError, ParseError, SecureMessagingError, WrongAccessKey
from mrtd._access_keys import MrzKey
from mrtd._apdu import CommandAPDU
from mrtd._bac import bac_initial_ssc, bac_seal, bac_session_keys, bac_unseal, run_bac
from mrtd._crypto import CipherSuite

KEY = MrzKey("L898902C<", "690806", "940623")
RND_IFD, K_IFD = "781723860C06C226", "0B795240CB7049B01C19B33E32804F0B"
GET_CHALLENGE = ("0084000008", "4608F919887022129000")
EXTERNAL_AUTHENTICATE = (
    "008200002872C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F25F1448EEA8AD90A728",
    "46B9342A41396CD7386BF5803104D7CEDC122B9132139BAF2EEDC94EE178534F2F2D235D074D7449" + "9000",
)
D4 = [
    ("0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800", "990290008E08FA855A5D4C50A8ED9000"),
    ("0CB000000D9701048E08ED6705417E96BA5500", "8709019FF0EC34F9922651990290008E08AD55CC17140B2DED9000"),
    (
        "0CB000040D9701128E082EA28A70F3C7B53500",
        "871901FB9235F4E4037F2327DCC8964F1F9B8C30F42C8E2FFF224A990290008E08C8B2787EAEA07D749000",
    ),
]


async def test_bac_replays_appendix_d3_and_d4() -> None:
    card = ScriptedCard([GET_CHALLENGE, EXTERNAL_AUTHENTICATE, *D4])
    channel = await run_bac(card, KEY, rng=ReplayRng(RND_IFD, K_IFD))
    assert channel.sm.keys.suite is CipherSuite.DES3
    assert channel.sm.keys.k_enc.hex().upper() == "979EC13B1CBFE9DCD01AB0FED307EAE5"
    assert channel.sm.keys.k_mac.hex().upper() == "F1CB1F1FB5ADF208806B89DC579DC1F8"
    assert channel.sm.ssc == 0x887022120C06C226
    await channel.send(CommandAPDU(0x00, 0xA4, 0x02, 0x0C, data=bytes.fromhex("011E")))
    head = await channel.send(CommandAPDU(0x00, 0xB0, 0x00, 0x00, le=4))
    rest = await channel.send(CommandAPDU(0x00, 0xB0, 0x00, 0x04, le=0x12))
    assert (head.data + rest.data).hex().upper() == "60145F0104303130365F36063034303030305C026175"
    assert card.done


def test_chip_side_pieces_of_appendix_d3() -> None:
    keys = KEY.bac_keys()
    s = bytes.fromhex(RND_IFD + "4608F91988702212" + K_IFD)
    cryptogram = bac_seal(keys, s)
    assert cryptogram.hex().upper() == EXTERNAL_AUTHENTICATE[0][10:-2]
    assert bac_unseal(keys, cryptogram) == s
    k_ic = bytes.fromhex("0B4F80323EB3191CB04970CB4052790B")
    r = bytes.fromhex("4608F91988702212" + RND_IFD) + k_ic
    assert bac_seal(keys, r).hex().upper() == EXTERNAL_AUTHENTICATE[1][:-4]
    session = bac_session_keys(bytes.fromhex(K_IFD), k_ic)
    assert session.k_enc.hex().upper() == "979EC13B1CBFE9DCD01AB0FED307EAE5"
    assert bac_initial_ssc(bytes.fromhex("4608F91988702212"), bytes.fromhex(RND_IFD)) == 0x887022120C06C226


@pytest.mark.parametrize("sw", ["6300", "6988", "6982", "63C2"])
async def test_rejected_key_is_wrong_access_key(sw: str) -> None:
    # The vsmartcard ePass answers 6988 on a bad MAC and 6300 on an RND mismatch; both mean a wrong MRZ key.
    card = ScriptedCard([GET_CHALLENGE, (None, sw)])
    with pytest.raises(WrongAccessKey, match="document number, date of birth and date of expiry") as info:
        await run_bac(card, MrzKey("L898902C<", "690806", "940624"), rng=ReplayRng(RND_IFD, K_IFD))
    assert info.value.sw == int(sw, 16)


async def test_le_00_retry_after_wrong_length() -> None:
    ea_le00 = EXTERNAL_AUTHENTICATE[0][:-2] + "00"
    card = ScriptedCard(
        [GET_CHALLENGE, (EXTERNAL_AUTHENTICATE[0], "6700"), GET_CHALLENGE, (ea_le00, EXTERNAL_AUTHENTICATE[1])]
    )
    channel = await run_bac(card, KEY, rng=ReplayRng(RND_IFD, K_IFD, RND_IFD, K_IFD))
    assert channel.sm.ssc == 0x887022120C06C226
    assert card.done


async def test_forged_answer_is_rejected() -> None:
    forged = EXTERNAL_AUTHENTICATE[1][:-20] + "0000000000000000" + "9000"
    card = ScriptedCard([GET_CHALLENGE, (EXTERNAL_AUTHENTICATE[0], forged)])
    with pytest.raises(SecureMessagingError, match="MAC"):
        await run_bac(card, KEY, rng=ReplayRng(RND_IFD, K_IFD))


async def test_answer_with_other_challenges_is_rejected() -> None:
    # A correctly sealed answer that echoes a different RND.IFD (a replay from another session).
    keys = KEY.bac_keys()
    other = bac_seal(keys, bytes.fromhex("4608F91988702212" + "0000000000000000") + bytes(16))
    card = ScriptedCard([GET_CHALLENGE, (EXTERNAL_AUTHENTICATE[0], other.hex() + "9000")])
    with pytest.raises(SecureMessagingError, match="echo"):
        await run_bac(card, KEY, rng=ReplayRng(RND_IFD, K_IFD))


async def test_other_errors_are_typed() -> None:
    card = ScriptedCard([("0084000008", "6D00")])
    with pytest.raises(CardError, match="GET CHALLENGE"):
        await run_bac(card, KEY, rng=ReplayRng())
    short = ScriptedCard([("0084000008", "46089000")])
    with pytest.raises(ParseError, match="2 bytes instead of 8"):
        await run_bac(short, KEY, rng=ReplayRng())
