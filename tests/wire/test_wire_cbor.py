"""The strict deterministic CBOR decoder, checked against RFC 8949 Appendix A and against cbor2."""

from __future__ import annotations

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wire import DecodeError, Reason, Tag
from wire._cbor import dumps, loads

# RFC 8949 Appendix A: encoded form -> value, for the subset the contract uses.
RFC8949_EXAMPLES = [
    ("00", 0),
    ("17", 23),
    ("1818", 24),
    ("1903e8", 1000),
    ("1a000f4240", 1000000),
    ("1b000000e8d4a51000", 1000000000000),
    ("1bffffffffffffffff", 18446744073709551615),
    ("20", -1),
    ("3863", -100),
    ("3bffffffffffffffff", -18446744073709551616),
    ("f4", False),
    ("f5", True),
    ("f6", None),
    ("40", b""),
    ("4401020304", b"\x01\x02\x03\x04"),
    ("60", ""),
    ("6449455446", "IETF"),
    ("62225c", '"\\'),
    ("62c3bc", "\u00fc"),
    ("64f0908591", "\U00010151"),
    ("80", []),
    ("83010203", [1, 2, 3]),
    ("8301820203820405", [1, [2, 3], [4, 5]]),
    ("a0", {}),
    ("a201020304", {1: 2, 3: 4}),
    ("a26161016162820203", {"a": 1, "b": [2, 3]}),
    ("826161a161626163", ["a", {"b": "c"}]),
]


@pytest.mark.parametrize(("hex_data", "value"), RFC8949_EXAMPLES)
def test_rfc8949_appendix_a_examples_decode_and_reencode(hex_data: str, value: object) -> None:
    data = bytes.fromhex(hex_data)
    assert loads(data) == value
    assert dumps(value) == data


@pytest.mark.parametrize(
    ("hex_data", "reason", "message"),
    [
        ("", Reason.MALFORMED_CBOR, "truncated"),
        ("1a0001", Reason.MALFORMED_CBOR, "truncated"),
        ("62c3", Reason.MALFORMED_CBOR, "truncated"),
        ("0102", Reason.TRAILING_BYTES, "1 bytes after"),
        ("1817", Reason.NOT_CANONICAL, "shortest"),  # 23 in two bytes
        ("190017", Reason.NOT_CANONICAL, "shortest"),
        ("5801ff", Reason.NOT_CANONICAL, "shortest"),  # a 1-byte string with a 1-byte length
        ("9f01ff", Reason.MALFORMED_CBOR, "indefinite"),  # RFC 8949 A: [_ 1]
        ("5f42010243030405ff", Reason.MALFORMED_CBOR, "indefinite"),
        ("bf6346756ef563416d7421ff", Reason.MALFORMED_CBOR, "indefinite"),
        ("a2616101616102", Reason.MALFORMED_CBOR, "duplicate map key"),
        ("a2616201616102", Reason.NOT_CANONICAL, "order"),  # {"b": 1, "a": 2}
        ("a2616101616101", Reason.MALFORMED_CBOR, "duplicate"),
        ("62c328", Reason.MALFORMED_CBOR, "UTF-8"),
        ("f97c00", Reason.MALFORMED_CBOR, "float"),  # Infinity (half precision)
        ("fb3ff199999999999a", Reason.MALFORMED_CBOR, "float"),  # 1.1
        ("f7", Reason.MALFORMED_CBOR, "simple"),  # undefined
        ("f0", Reason.MALFORMED_CBOR, "simple"),  # simple(16)
        ("ff", Reason.MALFORMED_CBOR, "simple"),  # a lone break
        ("c11a514b67b0", Reason.MALFORMED_CBOR, "tag 1"),  # epoch date
        ("d81c81d81d00", Reason.MALFORMED_CBOR, "tag 28"),  # shared reference that builds a cyclic list in cbor2
        ("a1f401", Reason.MALFORMED_CBOR, "keys"),  # {false: 1}
        ("a14100f6", Reason.MALFORMED_CBOR, "keys"),  # {h'00': null}
        ("1c", Reason.MALFORMED_CBOR, "reserved"),
    ],
)
def test_hostile_or_non_deterministic_encodings_are_refused(hex_data: str, reason: Reason, message: str) -> None:
    with pytest.raises(DecodeError, match=message) as info:
        loads(bytes.fromhex(hex_data))
    assert info.value.reason is reason


def test_unsorted_maps_pass_when_canonical_form_is_not_required() -> None:
    assert loads(bytes.fromhex("a2616201616102"), canonical=False) == {"b": 1, "a": 2}
    assert loads(bytes.fromhex("1817"), canonical=False) == 23


def test_nesting_and_container_sizes_are_bounded() -> None:
    deep = b"\x81" * 20 + b"\x00"
    with pytest.raises(DecodeError) as info:
        loads(deep, max_depth=16)
    assert info.value.reason is Reason.TOO_DEEP
    assert loads(deep, max_depth=21) is not None
    # An array claiming 2**32 items must be refused from its header, before any allocation.
    with pytest.raises(DecodeError) as info:
        loads(bytes.fromhex("9b0000000100000000"))
    assert info.value.reason is Reason.TOO_LARGE


def test_tags_only_where_allowed() -> None:
    data = dumps(Tag(18, [b"", {}, b"x", b"y"]))
    assert data[:1] == b"\xd2"
    assert loads(data, allowed_tags=frozenset({18})) == Tag(18, [b"", {}, b"x", b"y"])
    with pytest.raises(DecodeError, match="tag 18"):
        loads(data)


def test_encoder_refuses_values_outside_the_contract() -> None:
    with pytest.raises(TypeError):
        dumps({"x": 1.5})
    with pytest.raises(TypeError):
        dumps({"x": {1, 2}})


values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64 - 1)
    | st.binary(max_size=40)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.integers(-(2**32), 2**32) | st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=25,
)


@given(values)
def test_our_decoder_reads_what_cbor2_writes_canonically(value: object) -> None:
    data = cbor2.dumps(value, canonical=True)
    assert loads(data) == value
    assert dumps(loads(data)) == data


@settings(max_examples=500)
@given(st.binary(max_size=64))
def test_random_bytes_either_decode_like_cbor2_or_raise_our_error(data: bytes) -> None:
    try:
        ours = loads(data)
    except DecodeError:
        return
    # Whatever we accept, an independent decoder reads the same way and re-encodes to the same bytes.
    assert cbor2.loads(data) == ours
    assert cbor2.dumps(cbor2.loads(data), canonical=True) == data
