"""Command and response APDUs: every ISO/IEC 7816-3 case, the strict card-side decoder, status words."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mrtd import AccessDenied, CardError, FileNotFound, ParseError, ProtocolNotSupported, SecureMessagingError
from mrtd._apdu import (
    CommandAPDU,
    IoCounters,
    MeteredTransmit,
    PlainChannel,
    ResponseAPDU,
    StatusWord,
    describe_status,
    is_authentication_failure,
    status_error,
    wrong_le_hint,
)


@pytest.mark.parametrize(
    ("apdu", "encoded"),
    [
        (CommandAPDU(0x00, 0x84, 0x00, 0x00, le=8), "0084000008"),  # GET CHALLENGE (App. D.3)
        (CommandAPDU(0x00, 0xA4, 0x02, 0x0C, data=bytes.fromhex("011E")), "00A4020C02011E"),  # SELECT EF.COM
        (CommandAPDU(0x00, 0xB0, 0x00, 0x00, le=256), "00B0000000"),  # Le = 256 is 00
        (CommandAPDU(0x10, 0x86, 0x00, 0x00, data=bytes.fromhex("7C00"), le=256), "10860000027C0000"),  # GA1 of G.1
        (CommandAPDU(0x00, 0x22, 0x20, 0x30), "00222030"),  # case 1
        (CommandAPDU(0x00, 0xB0, 0x00, 0x00, le=65536), "00B00000000000"),  # extended Le = 65536 is 0000
        (CommandAPDU(0x00, 0xB0, 0x00, 0x00, le=1000), "00B000000003E8"),
        (CommandAPDU(0x00, 0xB0, 0x00, 0x00, le=4, extended=True), "00B00000000004"),
        (CommandAPDU(0x00, 0xD6, 0x00, 0x00, data=bytes(300)), "00D60000" + "00012C" + "00" * 300),
        (CommandAPDU(0x00, 0x88, 0, 0, data=bytes(300), le=256), "00880000" + "00012C" + "00" * 300 + "0100"),
    ],
)
def test_encoding_of_every_case(apdu: CommandAPDU, encoded: str) -> None:
    assert apdu.encode().hex().upper() == encoded.upper()
    assert CommandAPDU.decode(bytes.fromhex(encoded)).encode() == bytes.fromhex(encoded)


def test_decode_recovers_the_fields() -> None:
    apdu = CommandAPDU.decode(bytes.fromhex("0082000028" + "AB" * 40 + "28"))
    assert (apdu.cla, apdu.ins, apdu.p1, apdu.p2, apdu.data, apdu.le) == (0, 0x82, 0, 0, b"\xab" * 40, 0x28)
    ext = CommandAPDU.decode(bytes.fromhex("00222030000000"))
    assert ext.le == 65536
    assert ext.extended


@pytest.mark.parametrize(
    "raw",
    ["", "00", "00A402", "00A4020C03011E", "00A4020C0201", "00A4020C0000", "00A4020C000002011E00", "00B00000000000AA"],
)
def test_decode_is_strict(raw: str) -> None:
    with pytest.raises(ParseError):
        CommandAPDU.decode(bytes.fromhex(raw))


def test_fields_are_validated() -> None:
    with pytest.raises(ValueError, match="Le"):
        CommandAPDU(0, 0xB0, 0, 0, le=0)
    with pytest.raises(ValueError, match="one byte"):
        CommandAPDU(0x100, 0xB0, 0, 0)
    with pytest.raises(ValueError, match="65535"):
        CommandAPDU(0, 0xD6, 0, 0, data=bytes(65536))


@given(st.binary(max_size=300))
def test_decode_of_random_bytes_gives_an_apdu_or_a_parse_error(raw: bytes) -> None:
    try:
        apdu = CommandAPDU.decode(raw)
    except ParseError:
        return
    assert apdu.encode() == raw


@given(
    st.integers(0, 255),
    st.integers(0, 255),
    st.binary(max_size=400),
    st.none() | st.integers(1, 65536),
    st.booleans(),
)
def test_encode_decode_round_trip(ins: int, p1: int, data: bytes, le: int | None, extended: bool) -> None:
    apdu = CommandAPDU(0x00, ins, p1, 0x00, data=data, le=le, extended=extended)
    again = CommandAPDU.decode(apdu.encode())
    assert (again.data, again.le, again.ins, again.p1) == (data, le, ins, p1)
    assert again.is_extended == apdu.is_extended


def test_response_decoding_and_check() -> None:
    response = ResponseAPDU.decode(bytes.fromhex("4608F919887022129000"))
    assert response.data.hex().upper() == "4608F91988702212"
    assert response.ok
    assert response.encode().hex().upper() == "4608F919887022129000"
    with pytest.raises(ParseError):
        ResponseAPDU.decode(b"\x90")
    with pytest.raises(FileNotFound, match="6A82"):
        ResponseAPDU(b"", 0x6A82).check(context="selecting DG11")
    assert ResponseAPDU(b"ab", 0x6282).check(context="x", accept=(0x9000, 0x6282)).data == b"ab"


@pytest.mark.parametrize(
    ("sw", "error"),
    [
        (0x6A82, FileNotFound),
        (0x6982, AccessDenied),
        (0x6300, AccessDenied),
        (0x63C2, AccessDenied),
        (0x6985, AccessDenied),
        (0x6988, SecureMessagingError),
        (0x6987, SecureMessagingError),
        (0x6D00, ProtocolNotSupported),
        (0x6E00, ProtocolNotSupported),
        (0x6700, CardError),
        (0x6B00, CardError),
        (0x6F00, CardError),
    ],
)
def test_status_words_map_to_typed_errors(sw: int, error: type[Exception]) -> None:
    exc = status_error(sw, context="reading DG1")
    assert type(exc) is error
    assert f"{sw:04X}" in str(exc)
    assert "reading DG1" in str(exc)
    assert getattr(exc, "sw") == sw  # noqa: B009 - both error families carry sw


def test_status_word_families() -> None:
    assert is_authentication_failure(0x63C1)
    assert is_authentication_failure(StatusWord.VERIFICATION_FAILED)
    assert not is_authentication_failure(0x6982)
    assert wrong_le_hint(0x6C10) == 0x10
    assert wrong_le_hint(0x6C00) == 256
    assert wrong_le_hint(0x6700) is None
    assert "3 tries" in describe_status(0x63C3)
    assert "file not found" in describe_status(0x6A82)


async def test_metered_transmit_and_plain_channel() -> None:
    sent: list[bytes] = []

    async def transmit(command: bytes) -> bytes:
        sent.append(command)
        return bytes.fromhex("4608F919887022129000")

    metered = MeteredTransmit(transmit)
    before = metered.counters.snapshot()
    response = await PlainChannel(metered).send(CommandAPDU(0, 0x84, 0, 0, le=8))
    assert response.data.hex().upper() == "4608F91988702212"
    assert sent == [bytes.fromhex("0084000008")]
    assert metered.counters.since(before) == IoCounters(1, 5, 10)
