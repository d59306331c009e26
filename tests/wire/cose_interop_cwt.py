"""Runs under an independent COSE implementation (python-cwt, with its own cbor2 5.x), not under our code.

Reads a JSON job on stdin and writes the results as JSON on stdout:
``verify``: envelopes to verify with a public key and kid; ``sign``: a payload to seal with a private key.
This file must not import anything of ours.
"""

from __future__ import annotations

import json
import sys

from cwt import COSE, COSEKey


def main() -> None:
    job = json.load(sys.stdin)
    results = []
    for case in job["verify"]:
        key = COSEKey.from_pem(case["public_pem"].encode(), alg="ES256", kid=case["kid"])
        try:
            payload = COSE.new().decode(bytes.fromhex(case["envelope"]), key)
            results.append({"ok": True, "payload": payload.hex()})
        except Exception as exc:  # any refusal is an answer here
            results.append({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
    sign = job["sign"]
    private = COSEKey.from_pem(sign["private_pem"].encode(), alg="ES256", kid=sign["kid"])
    # The contract wants alg and kid protected (labels 1 and 4).
    protected = {1: -7, 4: sign["kid"].encode()}
    sealed = COSE.new().encode_and_sign(bytes.fromhex(sign["payload"]), private, protected=protected)
    json.dump({"verify": results, "signed": sealed.hex()}, sys.stdout)


if __name__ == "__main__":
    main()
