"""Hypothesis fuzzing of every decoder that reads network bytes: only our typed errors may come out."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wirekit import DEVICE, Party, every_message

import wire
from wire import WireError
from wire._cbor import dumps, loads

_LAST = len(every_message()) - 1
_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def envelopes(device: Party, server: Party) -> list[bytes]:
    return [wire.seal(m, signer=(device if wire.is_uplink(m) else server).signer) for m in every_message()]


@_SETTINGS
@given(data=st.binary(max_size=300))
def test_decode_payload_on_random_bytes(data: bytes) -> None:
    with contextlib.suppress(WireError):
        wire.decode_payload(data)


@_SETTINGS
@given(data=st.binary(max_size=300))
def test_parse_sign1_on_random_bytes(data: bytes) -> None:
    with contextlib.suppress(WireError):
        wire.parse_sign1(data, max_size=4096)


@_SETTINGS
@given(index=st.integers(min_value=0, max_value=_LAST), data=st.data())
def test_mutated_envelopes_never_escape_our_errors(
    envelopes: list[bytes], device: Party, server: Party, index: int, data: st.DataObject
) -> None:
    envelope = bytearray(envelopes[index])
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        position = data.draw(st.integers(min_value=0, max_value=len(envelope) - 1))
        envelope[position] = data.draw(st.integers(min_value=0, max_value=255))
    if data.draw(st.booleans()):
        del envelope[data.draw(st.integers(min_value=0, max_value=len(envelope) - 1)) :]
    sender = device if wire.is_uplink(every_message()[index]) else server
    try:
        message = wire.open_message(bytes(envelope), certificate=sender.cert)
    except WireError:
        return
    # A mutation that still verifies must leave the signed content intact.
    assert bytes(envelope) == envelopes[index] or wire.encode_payload(message) == wire.encode_payload(
        every_message()[index]
    )


field_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64), 2**64 - 1) | st.binary(max_size=20) | st.text(max_size=20),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c, max_size=4),
    max_leaves=12,
)


@_SETTINGS
@given(index=st.integers(min_value=0, max_value=_LAST), value=field_values, data=st.data())
def test_schema_validation_on_arbitrary_field_values(index: int, value: object, data: st.DataObject) -> None:
    """Replace one field of a valid message (or add one) with an arbitrary CBOR value."""
    fields = loads(wire.encode_payload(every_message(DEVICE)[index]))
    assert isinstance(fields, dict)
    target = data.draw(st.sampled_from(sorted(str(k) for k in fields)) | st.text(max_size=12))
    fields[target] = value  # type: ignore[assignment]
    try:
        message = wire.decode_payload(dumps(fields))
    except WireError:
        return
    assert wire.decode_payload(wire.encode_payload(message)) == message
