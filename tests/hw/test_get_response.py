"""The PC/SC adapter gathers an answer a T=0 card splits behind 61xx (ISO/IEC 7816-4 §5.1.3)."""

from collections.abc import Callable

from hw._reader_pcsc import gather_response


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
