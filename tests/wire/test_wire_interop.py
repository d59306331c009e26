"""Our envelopes checked by implementations that share no code with us.

1. OpenSSL's command-line ECDSA verifier, over a Sig_structure built with cbor2.
2. Conforming COSE libraries: python-cwt and pycose (Python, each with its own cbor2 5.x) and cose-js (node),
   installed by the test into throw-away folders and run in subprocesses (see ``cosekit``). In CI (``CI`` set) a
   failed install fails the test; elsewhere it skips.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import cbor2
import cosekit
import pytest
from cryptography.hazmat.primitives import serialization
from wirekit import DEVICE, Party, every_message, sample_result

import wire


def _der_integer(value: int) -> bytes:
    body = value.to_bytes((value.bit_length() + 8) // 8, "big")  # one spare bit keeps it positive
    return b"\x02" + bytes([len(body)]) + body


def _raw_to_der(signature: bytes) -> bytes:
    """ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }, written by hand rather than by cryptography."""
    body = _der_integer(int.from_bytes(signature[:32], "big")) + _der_integer(int.from_bytes(signature[32:], "big"))
    return b"\x30" + bytes([len(body)]) + body


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl binary is part of the documented setup")
@pytest.mark.parametrize("message", every_message(DEVICE)[:4], ids=lambda m: m.CHANNEL.value)
def test_openssl_verifies_our_signatures(message: wire.Message, device: Party, tmp_path: Path) -> None:
    envelope = wire.seal(message, signer=device.signer)
    tag = cbor2.loads(envelope)
    assert tag.tag == 18
    protected, _unprotected, payload, signature = tag.value
    assert cbor2.loads(protected) == {1: -7, 4: DEVICE.encode()}
    (tmp_path / "tbs").write_bytes(cbor2.dumps(["Signature1", protected, b"", payload]))
    (tmp_path / "sig").write_bytes(_raw_to_der(signature))
    (tmp_path / "pub.pem").write_bytes(
        device.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    command = ["openssl", "dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig", "tbs"]
    ok = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    assert "Verified OK" in ok.stdout
    (tmp_path / "tbs").write_bytes(cbor2.dumps(["Signature1", protected, b"", payload + b"\x00"]))
    bad = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert bad.returncode != 0


@pytest.fixture(scope="session", params=cosekit.IMPLEMENTATIONS, ids=lambda i: i.name)
def cose(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> cosekit.Runner:
    implementation: cosekit.Implementation = request.param
    return cosekit.install(implementation, tmp_path_factory.mktemp(implementation.name))


def _pem(party: Party, *, private: bool = False) -> str:
    if private:
        return party.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
    return (
        party.key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def test_an_independent_implementation_and_we_verify_each_other(
    cose: cosekit.Runner, device: Party, other_device: Party, server: Party
) -> None:
    messages = every_message(DEVICE)
    cases = []
    for message in messages:
        sender = device if wire.is_uplink(message) else server
        cases.append(
            {"public_pem": _pem(sender), "kid": sender.name, "envelope": wire.seal(message, signer=sender.signer).hex()}
        )
    good = wire.seal(sample_result(), signer=device.signer)
    tampered = bytearray(good)
    tampered[-70] ^= 0x01  # inside the payload
    cases.append({"public_pem": _pem(device), "kid": DEVICE, "envelope": bytes(tampered).hex()})
    cases.append({"public_pem": _pem(other_device), "kid": DEVICE, "envelope": good.hex()})
    cases.append({"public_pem": _pem(device), "kid": "t-someone-else", "envelope": good.hex()})

    payload = wire.encode_payload(sample_result())
    answer = cose.run(
        {"verify": cases, "sign": {"private_pem": _pem(device, private=True), "kid": DEVICE, "payload": payload.hex()}}
    )

    results = answer["verify"]
    assert len(results) == len(cases)
    for message, result in zip(messages, results, strict=False):
        assert result["ok"], result
        assert bytes.fromhex(result["payload"]) == wire.encode_payload(message)
    assert [r["ok"] for r in results[len(messages) :]] == [False, False, False]

    # And the other way round: an envelope sealed by the other implementation opens with our verifier.
    theirs = bytes.fromhex(answer["signed"])
    topic = wire.topic_for(DEVICE, wire.Channel.RESULT)
    assert wire.open_message(theirs, certificate=device.cert, identity=DEVICE, topic=topic) == sample_result()
    if cose.implementation.deterministic:
        # Both sides sign with RFC 6979 and encode deterministically: one message, one envelope, byte for byte.
        assert theirs == good
    else:
        assert theirs != good  # a randomised signature: proof that it is theirs, not an echo of ours
    forged = bytearray(theirs)
    forged[-1] ^= 0x01
    with pytest.raises(wire.VerificationError):
        wire.open_message(bytes(forged), certificate=device.cert, topic=topic)
