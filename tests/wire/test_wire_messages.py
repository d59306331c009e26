"""Message schema: round trips, forward compatibility, required fields, limits and identity binding."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import uuid

import cbor2
import pytest
from wirekit import DEVICE, OTHER_DEVICE, SERVER, T0, Party, every_message, header, sample_result

import wire
from wire import Reason, SchemaError, VerificationError
from wire._cbor import dumps, loads
from wire._cose import sig_structure
from wire._fields import wire_fields


def _fields(message: wire.Message) -> dict:  # type: ignore[type-arg]
    value = loads(wire.encode_payload(message))
    assert isinstance(value, dict)
    return value


@pytest.mark.parametrize("message", every_message(), ids=lambda m: m.CHANNEL.value)
def test_every_message_round_trips_through_canonical_cbor(message: wire.Message) -> None:
    payload = wire.encode_payload(message)
    assert wire.decode_payload(payload) == message
    # Deterministic: an independent encoder in canonical mode produces the same bytes from the decoded map.
    assert cbor2.dumps(cbor2.loads(payload), canonical=True) == payload
    fields = _fields(message)
    assert fields["v"] == wire.SCHEMA_VERSION
    assert fields["type"] == message.CHANNEL.value
    assert fields["id"] == message.header.id.bytes
    assert fields["dev"] == message.header.device_id
    assert fields["seq"] == message.header.seq
    assert fields["time"] == message.header.time_ms


@pytest.mark.parametrize("message", every_message(), ids=lambda m: m.CHANNEL.value)
def test_every_message_seals_and_opens(message: wire.Message, device: Party, server: Party) -> None:
    sender = device if wire.is_uplink(message) else server
    envelope = wire.seal(message, signer=sender.signer)
    topic = wire.topic_for(DEVICE, message.CHANNEL)
    opened = wire.open_message(envelope, certificate=sender.cert, identity=sender.name, topic=topic)
    assert opened == message


# The contract: the keys of each message type. A renamed key round-trips through our own encoder and decoder, so
# only a list written out catches it before it reaches terminals and servers of another version.
WIRE_KEYS = {
    wire.Channel.RESULT: {"verdict", "reasons", "checks", "identity", "evidence", "procedure", "officer"},
    wire.Channel.ACK: {"ref", "ref_seq", "status", "registry", "reason", "registry_ref"},
    wire.Channel.HEARTBEAT: {
        *("uptime_s", "outbox", "outbox_oldest_s", "cert_expires", "cfg_version", "software", "reader"),
        *("disk_free", "cpu_mc"),
    },
    wire.Channel.STATE: {"status", "software"},
    wire.Channel.CONFIG: {"cfg_version", "settings"},
    wire.Channel.CONFIG_REPORTED: {"cfg_version", "status", "error"},
    wire.Channel.TRUST: {"trust_version", "csca", "crls"},
    wire.Channel.COMMAND: {"name", "args", "expires"},
    wire.Channel.COMMAND_REPLY: {"ref", "status", "detail", "result"},
}
HEADER_KEYS = {"v", "type", "id", "dev", "seq", "time", "tq"}


def _filled(message: wire.Message) -> wire.Message:
    """``message`` with every optional field it lacks in ``every_message`` filled in."""
    if isinstance(message, wire.Ack):
        return dataclasses.replace(message, reason="late")
    return message


@pytest.mark.parametrize("message", every_message(), ids=lambda m: m.CHANNEL.value)
def test_each_message_type_uses_the_contracts_keys(message: wire.Message) -> None:
    assert set(_fields(_filled(message))) == HEADER_KEYS | WIRE_KEYS[message.CHANNEL]
    # Every field of the dataclass travels: one added without a wire key would be dropped silently.
    assert {f.name for f in dataclasses.fields(message)} - {"header", "extra"} == {
        name for name, _ in wire_fields(type(message))
    }
    # ...and every key is reserved: an extra of that name is refused rather than overwriting the field.
    for key in HEADER_KEYS | WIRE_KEYS[message.CHANNEL]:
        with pytest.raises(SchemaError, match="not an extra"):
            dataclasses.replace(message, extra={key: 1})


def test_nested_maps_use_the_contracts_keys() -> None:
    fields = _fields(sample_result())
    assert set(fields["identity"]) == {"id_number", "name", "dob"}
    assert set(fields["evidence"]) == {"ef_sod", "dg1", "dg13", "dg15", "aa_challenge", "aa_signature"}
    assert set(fields["checks"]) == {"passive_auth", "active_auth"}


def test_a_minimal_failed_result_needs_no_identity_or_evidence() -> None:
    result = wire.AuthResult(header=header(), verdict=wire.Verdict.INCOMPLETE, reasons=("card_removed",))
    assert wire.decode_payload(wire.encode_payload(result)) == result
    assert set(_fields(result)) == {"v", "type", "id", "dev", "seq", "time", "tq", "verdict", "reasons"}


def test_a_pass_without_evidence_cannot_be_built() -> None:
    with pytest.raises(SchemaError, match="evidence"):
        wire.AuthResult(header=header(), verdict=wire.Verdict.PASS)


def test_aa_challenge_is_the_first_8_bytes_of_sha256_over_id_and_time() -> None:
    result_id = uuid.UUID("01935b2e-7c1b-7000-8000-000000000001")
    time_ms = 1_732_700_000_123
    expected = hashlib.sha256(result_id.bytes + time_ms.to_bytes(8, "big")).digest()[:8]
    assert wire.aa_challenge(result_id, time_ms) == expected
    # Known answer (from `openssl dgst -sha256` over the same 24 bytes), so that a change of byte order or width in
    # the derivation, here or in the line above, cannot pass unnoticed.
    assert wire.aa_challenge(result_id, time_ms).hex() == "63d29a24caba62a4"
    assert len(expected) == wire.AA_CHALLENGE_SIZE
    assert wire.aa_challenge(result_id, time_ms + 1) != expected


def test_a_challenge_not_bound_to_the_result_is_refused() -> None:
    good = sample_result()
    assert good.evidence is not None
    stale = wire.Evidence(
        ef_sod=good.evidence.ef_sod,
        dg1=good.evidence.dg1,
        dg15=good.evidence.dg15,
        aa_challenge=b"\x00" * 8,
        aa_signature=b"\x01" * 64,
    )
    with pytest.raises(SchemaError, match="aa_challenge"):
        wire.AuthResult(header=good.header, verdict=good.verdict, identity=good.identity, evidence=stale)
    # The same check runs when such a payload arrives from the network.
    fields = _fields(good)
    fields["evidence"]["aa_challenge"] = b"\x00" * 8
    with pytest.raises(SchemaError) as info:
        wire.decode_payload(dumps(fields))
    assert info.value.reason is Reason.INVALID_FIELD


def test_unknown_fields_are_kept_and_reencoded() -> None:
    fields = _fields(sample_result())
    fields["site_signal_dbm"] = -71
    fields["future"] = {"nested": [1, 2, b"x"]}
    fields["evidence"]["dg11"] = b"\x6b\x00"  # unknown inside a nested map: tolerated, ignored
    payload = dumps(fields)
    message = wire.decode_payload(payload)
    assert dict(message.extra) == {"site_signal_dbm": -71, "future": {"nested": [1, 2, b"x"]}}
    reencoded = _fields(message)
    assert reencoded["site_signal_dbm"] == -71
    assert reencoded["future"] == {"nested": [1, 2, b"x"]}
    assert "dg11" not in reencoded["evidence"]


def test_extra_may_not_shadow_a_known_field() -> None:
    with pytest.raises(SchemaError, match="verdict"):
        wire.AuthResult(header=header(), verdict=wire.Verdict.FAIL, extra={"verdict": "pass"})
    with pytest.raises(SchemaError, match="seq"):
        wire.State(header=header(), status=wire.DeviceStatus.ONLINE, extra={"seq": 1})


def test_a_newer_schema_version_is_refused_not_guessed() -> None:
    fields = _fields(sample_result())
    fields["v"] = 2
    with pytest.raises(SchemaError) as info:
        wire.decode_payload(dumps(fields))
    assert info.value.reason is Reason.UNSUPPORTED_VERSION


def test_an_unknown_message_type_is_refused() -> None:
    fields = _fields(sample_result())
    fields["type"] = "telemetry"
    with pytest.raises(SchemaError) as info:
        wire.decode_payload(dumps(fields))
    assert info.value.reason is Reason.UNKNOWN_TYPE


@pytest.mark.parametrize("message", every_message(), ids=lambda m: m.CHANNEL.value)
def test_required_fields_are_enforced(message: wire.Message) -> None:
    """Drop each field in turn: it is either optional (the rest still decodes) or refused as missing."""
    fields = _fields(message)
    required = {"v", "type", "id", "dev", "seq", "time", "tq"}
    refusals: dict[str, Reason] = {}
    for key in fields:
        reduced = {k: v for k, v in fields.items() if k != key}
        try:
            wire.decode_payload(dumps(reduced))
        except SchemaError as exc:
            refusals[key] = exc.reason
            required.discard(key)
            continue
        assert key not in required, f"{key} is required but was not enforced"
    assert set(refusals.values()) <= {Reason.MISSING_FIELD, Reason.INVALID_FIELD}, refusals
    assert not required, f"header fields not enforced: {required}"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("id", b"\x00" * 16),  # not a UUIDv7
        ("id", b"\x01" * 15),
        ("dev", "T-UPPER"),
        ("dev", "t-a/b"),
        ("dev", "t-+"),
        ("seq", -1),
        ("seq", "1"),
        ("time", 1 << 50),
        ("tq", "maybe"),
        ("verdict", "probably"),
        ("reasons", ["Has Space"]),
        ("reasons", "qr_match"),
        ("checks", {"passive_auth": "great"}),
        ("procedure", ""),
        ("officer", "x" * 65),
    ],
)
def test_invalid_values_are_refused(key: str, value: object) -> None:
    fields = _fields(sample_result())
    fields[key] = value
    with pytest.raises(SchemaError) as info:
        wire.decode_payload(dumps(fields))
    assert info.value.reason is Reason.INVALID_FIELD


def test_non_canonical_payloads_are_refused() -> None:
    fields = _fields(sample_result())
    unsorted = cbor2.dumps(dict(reversed(list(fields.items()))))
    with pytest.raises(wire.DecodeError) as info:
        wire.decode_payload(unsorted)
    assert info.value.reason is Reason.NOT_CANONICAL


def test_size_limits_apply_per_message_type() -> None:
    big_portrait = sample_result(dg2=b"\xff" * 150_000)
    assert wire.decode_payload(wire.encode_payload(big_portrait)) == big_portrait
    heartbeat = every_message()[2]
    fields = _fields(heartbeat)
    fields["padding"] = b"\x00" * 10_000
    with pytest.raises(wire.DecodeError) as info:
        wire.decode_payload(dumps(fields))
    assert info.value.reason is Reason.TOO_LARGE
    with pytest.raises(wire.DecodeError) as info:
        wire.decode_payload(b"\x00" * (wire.DEFAULT_LIMITS.max_payload + 1))
    assert info.value.reason is Reason.TOO_LARGE


def test_kid_must_match_the_certificate_the_broker_saw(device: Party, other_device: Party) -> None:
    envelope = wire.seal(sample_result(), signer=device.signer)
    # The broker authenticated OTHER_DEVICE, but the message is signed by DEVICE.
    with pytest.raises(VerificationError) as info:
        wire.open_message(envelope, certificate=other_device.cert)
    assert info.value.reason is Reason.KID_MISMATCH
    with pytest.raises(VerificationError) as info:
        wire.open_message(envelope, certificate=device.cert, identity=OTHER_DEVICE)
    assert info.value.reason is Reason.KID_MISMATCH


def test_a_device_cannot_speak_for_another_device(device: Party) -> None:
    forged = sample_result(OTHER_DEVICE)
    with pytest.raises(VerificationError) as info:
        wire.seal(forged, signer=device.signer)
    assert info.value.reason is Reason.KID_MISMATCH
    # Built by hand, bypassing seal(): still refused on open.
    envelope = wire.sign1(wire.encode_payload(forged), signer=device.signer)
    with pytest.raises(VerificationError) as info:
        wire.open_message(envelope, certificate=device.cert)
    assert info.value.reason is Reason.KID_MISMATCH


def test_a_key_that_is_not_the_certificates_is_refused(device: Party, other_device: Party) -> None:
    impostor = wire.KeySigner(other_device.key, kid=DEVICE)
    envelope = wire.seal(sample_result(), signer=impostor)
    with pytest.raises(VerificationError) as info:
        wire.open_message(envelope, certificate=device.cert)
    assert info.value.reason is Reason.BAD_SIGNATURE


def test_the_topic_must_match_the_message(device: Party) -> None:
    envelope = wire.seal(sample_result(), signer=device.signer)
    good = wire.topic_for(DEVICE, wire.Channel.RESULT)
    assert wire.open_message(envelope, certificate=device.cert, topic=good).CHANNEL is wire.Channel.RESULT
    for topic in (wire.topic_for(DEVICE, wire.Channel.HEARTBEAT), wire.topic_for(OTHER_DEVICE, wire.Channel.RESULT)):
        with pytest.raises(VerificationError) as info:
            wire.open_message(envelope, certificate=device.cert, topic=topic)
        assert info.value.reason is Reason.TOPIC_MISMATCH
    with pytest.raises(wire.DecodeError) as bad:
        wire.open_message(envelope, certificate=device.cert, topic="elsewhere/x")
    assert bad.value.reason is Reason.BAD_TOPIC


def test_kid_in_the_unprotected_header_is_not_enough(device: Party) -> None:
    protected = dumps({1: -7})
    payload = wire.encode_payload(sample_result())
    signature = device.signer.sign(sig_structure(protected, payload))
    envelope = dumps(wire.Tag(18, [protected, {4: DEVICE.encode()}, payload, signature]))
    with pytest.raises(VerificationError) as info:
        wire.open_message(envelope, certificate=device.cert)
    assert info.value.reason is Reason.BAD_HEADER


def test_downlinks_are_signed_by_the_server(server: Party, device: Party) -> None:
    ack = every_message()[1]
    envelope = wire.seal(ack, signer=server.signer)
    assert wire.open_message(envelope, certificate=server.cert, identity=SERVER) == ack
    with pytest.raises(VerificationError):
        wire.open_message(envelope, certificate=device.cert)


def test_stamper_makes_time_ordered_unique_headers() -> None:
    seq = itertools.count(41)
    clock = iter([T0, T0, T0 + 7])
    stamper = wire.Stamper(DEVICE, next_seq=lambda: next(seq), clock_ms=lambda: next(clock))
    headers = [stamper.header() for _ in range(3)]
    assert [h.seq for h in headers] == [41, 42, 43]
    assert len({h.id for h in headers}) == 3
    assert [wire.uuid7_time_ms(h.id) for h in headers] == [T0, T0, T0 + 7]
    assert all(h.id.version == 7 and h.device_id == DEVICE for h in headers)


def test_uuid7_layout() -> None:
    value = wire.uuid7(unix_ms=0x0193_5B2E_7C1B, random_bytes=bytes(range(10)))
    assert str(value).startswith("01935b2e-7c1b-7")
    assert value.variant == uuid.RFC_4122
    assert wire.is_uuid7(value)
    assert not wire.is_uuid7(uuid.uuid4())
