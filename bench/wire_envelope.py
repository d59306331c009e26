"""Seal and open throughput of wire envelopes (ES256 COSE_Sign1 over canonical CBOR), and their sizes.

Prints one JSON object. Run: .venv/bin/python bench/wire_envelope.py
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import wire

DEVICE = "t-benchbenchbench0"


def _certificate(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DEVICE)])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


def _result(seq: int, *, dg2: bytes | None) -> wire.AuthResult:
    now = time.time_ns() // 1_000_000
    header = wire.Header(id=wire.new_message_id(unix_ms=now), device_id=DEVICE, seq=seq, time_ms=now)
    return wire.AuthResult(
        header=header,
        verdict=wire.Verdict.PASS,
        reasons=("qr_match",),
        checks={"passive_auth": wire.CheckStatus.PASS, "active_auth": wire.CheckStatus.PASS},
        identity=wire.Identity(id_number="001099012345", full_name="Nguyễn Văn An", date_of_birth="1990-01-01"),
        evidence=wire.Evidence(
            ef_sod=b"\x77" * 2000,
            dg1=b"\x61" * 95,
            dg13=b"\x6d" * 900,
            dg14=b"\x6e" * 300,
            dg15=b"\x6f" * 160,
            dg2=dg2,
            aa_challenge=wire.aa_challenge(header.id, header.time_ms),
            aa_signature=b"\x5a" * 64,
        ),
        procedure="VNeID-01",
        officer_id="cb-0042",
    )


def _rate(fn: Callable[[], object], seconds: float = 1.5) -> float:
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        count += 1
    return count / (time.perf_counter() - start)


def main() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    signer = wire.KeySigner(key, kid=DEVICE)
    cert = _certificate(key)
    topic = wire.topic_for(DEVICE, wire.Channel.RESULT)
    plain, portrait = _result(1, dg2=None), _result(2, dg2=b"\xff" * 20_000)
    envelope, big = wire.seal(plain, signer=signer), wire.seal(portrait, signer=signer)
    heartbeat = wire.Heartbeat(
        header=_result(3, dg2=None).header,
        uptime_s=1,
        outbox_depth=0,
        config_version=1,
        software="x",
        reader_attached=True,
    )
    report = {
        "bytes": {
            "result_payload": len(wire.encode_payload(plain)),
            "result_envelope": len(envelope),
            "result_with_20k_dg2_envelope": len(big),
            "heartbeat_envelope": len(wire.seal(heartbeat, signer=signer)),
        },
        "per_second_one_core": {
            "seal_result": round(_rate(lambda: wire.seal(plain, signer=signer))),
            "open_result": round(_rate(lambda: wire.open_message(envelope, certificate=cert, topic=topic))),
            "open_result_with_dg2": round(_rate(lambda: wire.open_message(big, certificate=cert, topic=topic))),
            "decode_payload_only": round(_rate(lambda: wire.decode_payload(wire.encode_payload(plain)))),
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
