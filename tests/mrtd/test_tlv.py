import pytest
from hypothesis import given
from hypothesis import strategies as st

from mrtd import TLV, TLVError, decode_header, encode_tlv, parse_all, parse_one, read_tlv


def test_ef_com_from_icao_appendix_d() -> None:
    # EF.COM of ICAO 9303-11 App. D.4: LDS 0106, Unicode 040000, DG1 and DG2.
    ef_com = bytes.fromhex("60145F0104303130365F36063034303030305C026175")
    top = parse_one(ef_com)
    assert top.tag == 0x60
    assert top.constructed
    assert top.require(0x5F01).value == b"0106"
    assert top.require(0x5F36).value == b"040000"
    assert top.require(0x5C).value == bytes.fromhex("6175")
    assert top.encode() == ef_com


def test_header_of_a_long_file_needs_only_its_first_bytes() -> None:
    assert decode_header(bytes.fromhex("7582010203")) == (0x75, 0x0102, 4)
    assert decode_header(bytes.fromhex("5F1F5A")) == (0x5F1F, 0x5A, 3)
    assert decode_header(bytes.fromhex("3080")) == (0x30, None, 2)


def test_indefinite_length_is_closed_by_end_of_contents() -> None:
    inner = encode_tlv(0x04, b"abc")
    data = bytes([0x30, 0x80]) + inner + b"\x00\x00" + encode_tlv(0x02, b"\x01")
    first, end = read_tlv(data)
    assert first == TLV(0x30, inner)
    assert parse_all(data[end:]) == [TLV(0x02, b"\x01")]


@pytest.mark.parametrize(
    ("hex_data", "message"),
    [
        ("", "no tag"),
        ("5F", "truncated tag"),
        ("04", "no length"),
        ("0405AABB", "claims 5 bytes"),
        ("0485FFFFFFFFFF", "not supported"),
        ("0480", "indefinite"),
        ("60145F01", "claims 20 bytes"),
        ("3080", "no tag"),
    ],
)
def test_malformed_objects_are_rejected_with_a_reason(hex_data: str, message: str) -> None:
    with pytest.raises(TLVError, match=message):
        parse_one(bytes.fromhex(hex_data))


def test_trailing_garbage_is_an_error_but_padding_is_not() -> None:
    obj = encode_tlv(0x04, b"x")
    assert parse_one(obj + b"\x00\x00\xff").value == b"x"
    with pytest.raises(TLVError, match="unexpected bytes"):
        parse_one(obj + b"\x01")


def test_deep_indefinite_nesting_is_bounded() -> None:
    with pytest.raises(TLVError, match="nested too deeply"):
        parse_one(b"\x30\x80" * 100 + b"\x00\x00" * 100)


@given(st.integers(min_value=1, max_value=0xFFFFFF), st.binary(max_size=300))
def test_encode_then_decode_round_trips(tag: int, value: bytes) -> None:
    # Only tags whose encoding is well formed round-trip: a multi-byte tag starts with xx1F and continues with 8x.
    encoded_tag = tag.to_bytes((tag.bit_length() + 7) // 8, "big")
    multi = len(encoded_tag) > 1
    if multi != (encoded_tag[0] & 0x1F == 0x1F):
        return
    if multi and (any(b & 0x80 == 0 for b in encoded_tag[1:-1]) or encoded_tag[-1] & 0x80):
        return
    if TLV(tag, value).constructed:
        return
    assert parse_one(encode_tlv(tag, value)) == TLV(tag, value)


@given(st.binary(max_size=512))
def test_arbitrary_bytes_give_a_tlv_error_or_objects(data: bytes) -> None:
    try:
        for tlv in parse_all(data):
            if tlv.constructed:
                tlv.children()
    except TLVError:
        pass
