"""Runs under an independent COSE implementation (pycose, with its own cbor2 5.x), not under our code.

The job format is described in ``cosekit``. This file must not import anything of ours.
"""

from __future__ import annotations

import json
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pycose.algorithms import Es256
from pycose.headers import KID, Algorithm
from pycose.keys import EC2Key
from pycose.keys.curves import P256
from pycose.messages import CoseMessage, Sign1Message


def _coordinates(numbers: ec.EllipticCurvePublicNumbers) -> dict[str, bytes]:
    return {"x": numbers.x.to_bytes(32, "big"), "y": numbers.y.to_bytes(32, "big")}


def verify(case: dict[str, str]) -> dict[str, object]:
    public = serialization.load_pem_public_key(case["public_pem"].encode())
    assert isinstance(public, ec.EllipticCurvePublicKey)
    try:
        message = CoseMessage.decode(bytes.fromhex(case["envelope"]))
        if not isinstance(message, Sign1Message):
            return {"ok": False, "error": f"not a COSE_Sign1 but {type(message).__name__}"}
        if message.phdr.get(Algorithm) is not Es256:
            return {"ok": False, "error": f"protected alg is {message.phdr.get(Algorithm)}"}
        if message.phdr.get(KID) != case["kid"].encode():
            return {"ok": False, "error": f"protected kid is {message.phdr.get(KID)!r}"}
        message.key = EC2Key(crv=P256, **_coordinates(public.public_numbers()))
        if not message.verify_signature():
            return {"ok": False, "error": "signature does not verify"}
        return {"ok": True, "payload": message.payload.hex()}
    except Exception as exc:  # any refusal is an answer here
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


def sign(job: dict[str, str]) -> bytes:
    private = serialization.load_pem_private_key(job["private_pem"].encode(), password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    numbers = private.private_numbers()
    key = EC2Key(crv=P256, d=numbers.private_value.to_bytes(32, "big"), **_coordinates(numbers.public_numbers))
    # The contract wants alg and kid protected (labels 1 and 4).
    message = Sign1Message(phdr={Algorithm: Es256, KID: job["kid"].encode()}, payload=bytes.fromhex(job["payload"]))
    message.key = key
    encoded: bytes = message.encode(tag=True)
    return encoded


def main() -> None:
    job = json.load(sys.stdin)
    json.dump({"verify": [verify(case) for case in job["verify"]], "signed": sign(job["sign"]).hex()}, sys.stdout)


if __name__ == "__main__":
    main()
