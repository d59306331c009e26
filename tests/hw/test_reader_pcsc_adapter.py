"""The PC/SC adapter's own logic, without pcscd: the answer a T=0 card splits behind 61xx (ISO/IEC 7816-4 §5.1.3),
and extended length only where both the card and the reader's driver allow it."""

from collections.abc import Callable
from typing import Any, cast

import pytest

from hw._reader import atr_supports_extended_length
from hw._reader_pcsc import PcscConnection, gather_response


def _card(pieces: list[bytes]) -> tuple[Callable[[bytes], bytes], list[bytes]]:
    sent: list[bytes] = []

    def send(command: bytes) -> bytes:
        sent.append(command)
        return pieces.pop(0)

    return send, sent


def test_pieces_are_fetched_with_get_response_and_joined_in_order() -> None:
    data = bytes(range(256)) + bytes(range(44))
    send, sent = _card([data[:256] + b"\x61\x2c", data[256:] + b"\x90\x00"])
    assert gather_response(b"\x61\x00", send) == data + b"\x90\x00"
    assert sent == [bytes.fromhex("00C0000000"), bytes.fromhex("00C000002C")]


def test_an_answer_without_61xx_is_passed_on_untouched() -> None:
    send, sent = _card([])
    for answer in (b"\x90\x00", b"\x01\x02\x6a\x82", b"\x6c\x10", b""):
        assert gather_response(answer, send) == answer
    assert sent == []


def test_the_status_after_the_last_piece_is_kept() -> None:
    send, _ = _card([b"\xaa\xbb\x62\x82"])
    assert gather_response(b"\x61\x02", send) == b"\xaa\xbb\x62\x82"


def test_a_card_that_never_stops_saying_61xx_is_bounded() -> None:
    sent: list[bytes] = []

    def send(command: bytes) -> bytes:
        sent.append(command)
        return b"\x00\x61\x01"

    answer = gather_response(b"\x61\x01", send)
    assert answer.endswith(b"\x61\x01")
    assert len(sent) == 260


def _atr_with_capabilities(third: int) -> bytes:
    historical = bytes((0x80, 0x73, 0x00, 0x00, third))
    body = bytes((0x3B, 0x80 | len(historical), 0x80, 0x01)) + historical
    check = 0
    for byte in body[1:]:
        check ^= byte
    return body + bytes((check,))


@pytest.mark.parametrize(
    ("max_input", "expected"),
    [(None, True), (65_544, True), (271, True), (261, False), (0, False)],
)
def test_extended_length_needs_the_card_and_the_readers_driver(max_input: int | None, expected: bool) -> None:
    atr = _atr_with_capabilities(0xC0)
    assert atr_supports_extended_length(atr)
    connection = PcscConnection(cast(Any, None), 0, 0, atr, max_input=max_input)
    assert connection.extended_length is expected
    plain = PcscConnection(cast(Any, None), 0, 0, _atr_with_capabilities(0x00), max_input=65_544)
    assert not plain.extended_length
