"""COSE_Sign1 / ES256: the COSE working group's published examples, and our own envelopes."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from wirekit import Party

from wire import (
    ALG_ES256,
    DecodeError,
    KeySigner,
    Reason,
    Tag,
    VerificationError,
    WireError,
    parse_sign1,
    sign1,
    verify_sign1,
)
from wire._cbor import dumps, loads
from wire._cose import sig_structure

VECTORS = Path(__file__).resolve().parent / "vectors" / "cose-wg"
MAX = 64 * 1024


def _b64url_int(text: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big")


def _vector(name: str) -> dict:  # type: ignore[type-arg]
    return json.loads((VECTORS / f"{name}.json").read_text())


def _public_key(vector: dict) -> ec.EllipticCurvePublicKey:  # type: ignore[type-arg]
    jwk = vector["input"]["sign0"]["key"]
    assert jwk["crv"] == "P-256"
    return ec.EllipticCurvePublicNumbers(_b64url_int(jwk["x"]), _b64url_int(jwk["y"]), ec.SECP256R1()).public_key()


def _verify_vector(vector: dict) -> bytes:  # type: ignore[type-arg]
    data = bytes.fromhex(vector["output"]["cbor"])
    external = bytes.fromhex(vector["input"]["sign0"].get("external", ""))
    message = parse_sign1(data, max_size=MAX)
    verify_sign1(message, _public_key(vector), external_aad=external)
    return message.payload


PASSING = ["ecdsa-sig-01", "sign-pass-01", "sign-pass-02", "sign-pass-03"]
FAILING = ["sign-fail-01", "sign-fail-02", "sign-fail-03", "sign-fail-04", "sign-fail-06", "sign-fail-07"]


@pytest.mark.parametrize("name", PASSING)
def test_cose_wg_examples_verify(name: str) -> None:
    vector = _vector(name)
    assert "fail" not in vector
    payload = _verify_vector(vector)
    assert payload == vector["input"]["plaintext"].encode()
    # Our Sig_structure is byte for byte the published ToBeSign.
    message = parse_sign1(bytes.fromhex(vector["output"]["cbor"]), max_size=MAX)
    external = bytes.fromhex(vector["input"]["sign0"].get("external", ""))
    assert message.to_be_signed(external) == bytes.fromhex(vector["intermediates"]["ToBeSign_hex"])
    assert message.kid == b"11"


@pytest.mark.parametrize("name", FAILING)
def test_cose_wg_failure_examples_are_refused(name: str) -> None:
    vector = _vector(name)
    assert vector["fail"] is True
    with pytest.raises(WireError) as info:
        _verify_vector(vector)
    assert info.value.reason in {Reason.MALFORMED_CBOR, Reason.BAD_SIGNATURE, Reason.UNSUPPORTED_ALGORITHM}


def test_cose_wg_failure_reasons_are_specific() -> None:
    def reason(name: str) -> Reason:
        with pytest.raises(WireError) as info:
            _verify_vector(_vector(name))
        return info.value.reason

    assert reason("sign-fail-01") is Reason.MALFORMED_CBOR  # tag 998
    assert reason("sign-fail-02") is Reason.BAD_SIGNATURE  # payload changed
    assert reason("sign-fail-03") is Reason.UNSUPPORTED_ALGORITHM  # alg -999
    assert reason("sign-fail-04") is Reason.UNSUPPORTED_ALGORITHM  # alg "unknown"
    assert reason("sign-fail-06") is Reason.BAD_SIGNATURE  # protected parameter added
    assert reason("sign-fail-07") is Reason.BAD_SIGNATURE  # protected parameter removed


def test_algorithms_outside_es256_are_refused_even_with_a_valid_signature() -> None:
    with pytest.raises(VerificationError) as info:
        _verify_vector(_vector("ecdsa-sig-04"))  # ES512 over P-256
    assert info.value.reason is Reason.UNSUPPORTED_ALGORITHM


def test_our_envelope_layout(device: Party) -> None:
    envelope = sign1(b"payload", signer=device.signer)
    value = loads(envelope, canonical=False, allowed_tags=frozenset({18}))
    assert isinstance(value, Tag)
    assert value.number == 18
    protected, unprotected, payload, signature = value.value  # type: ignore[misc]
    assert loads(protected) == {1: ALG_ES256, 4: device.name.encode()}
    assert unprotected == {}
    assert payload == b"payload"
    assert len(signature) == 64
    message = parse_sign1(envelope, max_size=MAX)
    verify_sign1(message, device.key.public_key())
    assert message.tagged
    assert message.kid_is_protected


def test_signatures_are_deterministic(device: Party) -> None:
    assert sign1(b"x", signer=device.signer) == sign1(b"x", signer=device.signer)
    assert sign1(b"x", signer=device.signer) != sign1(b"y", signer=device.signer)


def test_every_bit_flip_in_an_envelope_is_caught(device: Party) -> None:
    envelope = sign1(b"the content", signer=device.signer, external_aad=b"aad")
    for position in range(len(envelope)):
        for bit in (0x01, 0x80):
            tampered = bytearray(envelope)
            tampered[position] ^= bit
            with pytest.raises(WireError):
                verify_sign1(parse_sign1(bytes(tampered), max_size=MAX), device.key.public_key(), external_aad=b"aad")


def test_wrong_key_wrong_aad_and_wrong_curve(device: Party, other_device: Party) -> None:
    message = parse_sign1(sign1(b"p", signer=device.signer), max_size=MAX)
    with pytest.raises(VerificationError) as info:
        verify_sign1(message, other_device.key.public_key())
    assert info.value.reason is Reason.BAD_SIGNATURE
    with pytest.raises(VerificationError):
        verify_sign1(message, device.key.public_key(), external_aad=b"other")
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(VerificationError) as info:
        verify_sign1(message, p384.public_key())
    assert info.value.reason is Reason.UNSUPPORTED_KEY
    with pytest.raises(VerificationError):
        KeySigner(p384, kid="t-xyz")


def _envelope(protected: object, unprotected: object, payload: object = b"p", signature: object = b"s" * 64) -> bytes:
    return dumps(Tag(18, [protected, unprotected, payload, signature]))


@pytest.mark.parametrize(
    ("envelope", "reason"),
    [
        (dumps([b"", {}, b"p"]), Reason.NOT_COSE_SIGN1),
        (dumps({"a": 1}), Reason.NOT_COSE_SIGN1),
        (_envelope({1: -7}, {}), Reason.NOT_COSE_SIGN1),  # protected header not wrapped in a bstr
        (_envelope(dumps({1: -7}), []), Reason.NOT_COSE_SIGN1),
        (_envelope(dumps({1: -7}), {}, None), Reason.NOT_COSE_SIGN1),  # detached payload
        (_envelope(dumps({1: -7}), {}, "text"), Reason.NOT_COSE_SIGN1),
        (_envelope(dumps({1: -7}), {}, b"p", "sig"), Reason.NOT_COSE_SIGN1),
        (_envelope(dumps([1]), {}), Reason.BAD_HEADER),
        (_envelope(dumps({1: -7}), {1: -7}), Reason.BAD_HEADER),  # the same label in both buckets
        (_envelope(dumps({1: -7, 2: [99], 99: 0}), {}), Reason.BAD_HEADER),  # critical and unknown
        (_envelope(dumps({1: -7, 2: [5]}), {}), Reason.BAD_HEADER),  # crit names an absent label
        (_envelope(dumps({1: -7}), {2: [1]}), Reason.BAD_HEADER),  # crit unprotected
        (_envelope(dumps({1: -7, 4: "text-kid"}), {}), Reason.BAD_HEADER),
        (_envelope(b"\xa1\x01", {}), Reason.MALFORMED_CBOR),
    ],
)
def test_malformed_envelopes_are_refused_with_a_reason(envelope: bytes, reason: Reason) -> None:
    with pytest.raises(DecodeError) as info:
        parse_sign1(envelope, max_size=MAX)
    assert info.value.reason is reason


def test_critical_parameters_we_understand_are_accepted(device: Party) -> None:
    protected = dumps({1: -7, 2: [4], 4: device.name.encode()})
    signature = device.signer.sign(sig_structure(protected, b"p"))
    message = parse_sign1(_envelope(protected, {}, b"p", signature), max_size=MAX)
    assert message.protected[2] == [4]
    assert message.kid == device.name.encode()
    verify_sign1(message, device.key.public_key())  # raises unless the signature holds


def test_size_limit_is_checked_before_parsing(device: Party) -> None:
    envelope = sign1(b"x" * 2000, signer=device.signer)
    with pytest.raises(DecodeError) as info:
        parse_sign1(envelope, max_size=1000)
    assert info.value.reason is Reason.TOO_LARGE


def test_x5chain_travels_in_the_unprotected_header(server: Party) -> None:
    der = server.cert.public_bytes(Encoding.DER)
    message = parse_sign1(sign1(b"p", signer=server.signer, x5chain=[der]), max_size=MAX)
    assert message.x5chain == (der,)
    two = parse_sign1(sign1(b"p", signer=server.signer, x5chain=[der, der]), max_size=MAX)
    assert two.x5chain == (der, der)
    verify_sign1(two, server.key.public_key())
