"""The INTERNAL AUTHENTICATE exchange: ICAO 9303-11 App. F's command, Le sized from the DG15 key, retries on short
answers (AndyQ/NFCPassportReader#223), and under secure messaging."""

import pytest
from apdu_script import ScriptedCard

from mrtd import AccessDenied, ParseError, ProtocolNotSupported
from mrtd._active_auth import run_active_authentication, signature_length
from mrtd._apdu import CommandAPDU, PlainChannel, ResponseAPDU
from mrtd._crypto import CipherSuite
from mrtd._sm import SecureChannel, SecureMessaging, SessionKeys

CHALLENGE = bytes.fromhex("F173589974BF40C6")  # RND.IFD of App. F
SIGNATURE_1024 = bytes(range(128))


async def test_appendix_f_command_without_a_known_key() -> None:
    card = ScriptedCard([("0088000008F173589974BF40C600", SIGNATURE_1024.hex() + "9000")])
    assert await run_active_authentication(PlainChannel(card), CHALLENGE) == SIGNATURE_1024


async def test_le_from_the_key() -> None:
    card = ScriptedCard([("0088000008F173589974BF40C680", SIGNATURE_1024.hex() + "9000")])
    expected = signature_length(rsa_modulus_bytes=128)
    assert await run_active_authentication(PlainChannel(card), CHALLENGE, expected_length=expected) == SIGNATURE_1024
    assert signature_length(ec_field_bytes=32) == 64
    assert signature_length() is None


async def test_truncated_answer_is_retried() -> None:
    # An Australian passport truncates at Le = 256; the extended form returns the whole signature.
    sig = bytes(range(256))
    card = ScriptedCard(
        [
            ("0088000008F173589974BF40C600", sig[:200].hex() + "9000"),
            ("00880000000008F173589974BF40C60000", sig.hex() + "9000"),
        ]
    )
    assert await run_active_authentication(PlainChannel(card), CHALLENGE, expected_length=256) == sig
    assert card.done


async def test_empty_answers_try_each_form_once() -> None:
    # Chinese passports return nothing for Le = 65536; the short form then gives the signature.
    card = ScriptedCard(
        [
            ("00880000000008F173589974BF40C60258", "9000"),
            ("00880000000008F173589974BF40C60000", "9000"),
            ("0088000008F173589974BF40C600", SIGNATURE_1024.hex() + "9000"),
        ]
    )
    assert await run_active_authentication(PlainChannel(card), CHALLENGE, expected_length=600) == SIGNATURE_1024
    assert card.done


async def test_exact_length_hint() -> None:
    card = ScriptedCard(
        [
            ("0088000008F173589974BF40C600", "6C80"),
            ("0088000008F173589974BF40C680", SIGNATURE_1024.hex() + "9000"),
        ]
    )
    assert await run_active_authentication(PlainChannel(card), CHALLENGE) == SIGNATURE_1024


@pytest.mark.parametrize(("sw", "error"), [("6982", AccessDenied), ("6D00", ProtocolNotSupported)])
async def test_refusals(sw: str, error: type[Exception]) -> None:
    with pytest.raises(error, match="INTERNAL AUTHENTICATE"):
        await run_active_authentication(PlainChannel(ScriptedCard([(None, sw)])), CHALLENGE)


async def test_no_signature() -> None:
    card = ScriptedCard([(None, "9000"), (None, "9000")])
    with pytest.raises(ParseError, match="no active-authentication signature"):
        await run_active_authentication(PlainChannel(card), CHALLENGE)


async def test_challenge_length() -> None:
    with pytest.raises(ValueError, match="8 bytes"):
        await run_active_authentication(PlainChannel(ScriptedCard([])), b"1234567")


@pytest.mark.parametrize(
    ("expected", "plain_le", "extended"),
    [(128, 128, False), (64, 64, False), (256, 65536, True), (384, 384, True), (None, 256, False)],
)
async def test_under_secure_messaging(expected: int | None, plain_le: int, extended: bool) -> None:
    keys = SessionKeys(CipherSuite.AES128, bytes(range(16)), bytes(range(16, 32)))
    chip = SecureMessaging(keys)
    seen: list[CommandAPDU] = []
    signature = bytes(expected or 128)

    async def transmit(raw: bytes) -> bytes:
        protected = CommandAPDU.decode(raw)
        seen.append(protected)
        command = chip.unprotect_command(protected)
        assert command.data == CHALLENGE
        assert command.le == plain_le
        return chip.protect_response(ResponseAPDU(signature, 0x9000)).encode()

    channel = SecureChannel(transmit, SecureMessaging(keys))
    assert await run_active_authentication(channel, CHALLENGE, expected_length=expected) == signature
    assert seen[0].is_extended == extended


@pytest.mark.parametrize("expected", [256, 384, 600])
async def test_a_link_without_extended_length_gets_short_commands_only(expected: int) -> None:
    """T=0 or a short-APDU reader: never an extended Le, however long the signature (61xx brings the rest)."""
    keys = SessionKeys(CipherSuite.AES128, bytes(range(16)), bytes(range(16, 32)))
    chip = SecureMessaging(keys)
    seen: list[CommandAPDU] = []
    signature = bytes(range(256)) * (expected // 256) + bytes(expected % 256)

    async def transmit(raw: bytes) -> bytes:
        protected = CommandAPDU.decode(raw)
        seen.append(protected)
        command = chip.unprotect_command(protected)
        assert command.le == 256
        return chip.protect_response(ResponseAPDU(signature, 0x9000)).encode()

    channel = SecureChannel(transmit, SecureMessaging(keys))
    assert await run_active_authentication(channel, CHALLENGE, expected_length=expected, extended=False) == signature
    assert [c.is_extended for c in seen] == [False]


async def test_plain_long_le_is_capped_without_extended_length() -> None:
    card = ScriptedCard([("0088000008F173589974BF40C600", SIGNATURE_1024.hex() + "9000")])
    channel = PlainChannel(card)
    assert await run_active_authentication(channel, CHALLENGE, expected_length=600, extended=False) == SIGNATURE_1024
    assert card.done


async def test_a_chip_without_extended_length_is_asked_with_le_00_next() -> None:
    """The exact Le refused (6700): a chip that did not announce extended length gets the short Le 00 before any
    extended one, which such a chip may answer by ending secure messaging."""
    signature = bytes(range(64))
    card = ScriptedCard(
        [("0088000008F173589974BF40C640", "6700"), ("0088000008F173589974BF40C600", signature.hex() + "9000")]
    )
    channel = PlainChannel(card)
    assert await run_active_authentication(channel, CHALLENGE, expected_length=64, prefer_extended=False) == signature
    assert card.done
