"""Keys, certificates and sample messages shared by the wire tests (imported as ``wirekit``)."""

from __future__ import annotations

import datetime as dt
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import wire

DEVICE = "t-7q3k9x2m4p8a5b6c"
OTHER_DEVICE = "t-aaaabbbbccccdddd"
SERVER = "cccd-server"
T0 = 1_764_245_000_123  # 2025-11-27, in Unix milliseconds


def self_signed(key: ec.EllipticCurvePrivateKey, name: str) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


class Party:
    def __init__(self, name: str) -> None:
        self.name = name
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.cert = self_signed(self.key, name)
        self.signer = wire.KeySigner(self.key, kid=name)


def header(device_id: str = DEVICE, *, seq: int = 1, time_ms: int = T0, rand: bytes = b"\x01" * 10) -> wire.Header:
    return wire.Header(id=wire.uuid7(unix_ms=time_ms, random_bytes=rand), device_id=device_id, seq=seq, time_ms=time_ms)


def sample_result(device_id: str = DEVICE, *, seq: int = 1, dg2: bytes | None = None) -> wire.AuthResult:
    h = header(device_id, seq=seq)
    return wire.AuthResult(
        header=h,
        verdict=wire.Verdict.PASS,
        reasons=("qr_match",),
        checks={"passive_auth": wire.CheckStatus.PASS, "active_auth": wire.CheckStatus.PASS},
        identity=wire.Identity(id_number="001099012345", full_name="Nguyễn Văn An", date_of_birth="1990-01-01"),
        evidence=wire.Evidence(
            ef_sod=bytes(range(256)) * 8,
            dg1=b"\x61\x5b" + b"I<VNM" * 18,
            dg13=b"\x6d\x82\x01\x00" + b"\x30" * 256,
            dg15=b"\x6f\x59" + b"\x30" * 89,
            dg2=dg2,
            aa_challenge=wire.aa_challenge(h.id, h.time_ms),
            aa_signature=b"\x5a" * 64,
        ),
        procedure="VNeID-01",
        officer_id="cb-0042",
    )


def every_message(device_id: str = DEVICE) -> list[wire.Message]:
    """One instance of each message type, with optional fields filled in."""
    ref = wire.uuid7(unix_ms=T0 - 5, random_bytes=b"\x02" * 10)
    return [
        sample_result(device_id),
        wire.Ack(
            header=header(device_id, seq=2),
            result_id=ref,
            result_seq=1,
            status=wire.AckStatus.STORED,
            registry=wire.RegistryOutcome.MATCH,
            registry_ref="CSDLQG-2025-000001",
        ),
        wire.Heartbeat(
            header=header(device_id, seq=3),
            uptime_s=3600,
            outbox_depth=2,
            outbox_oldest_s=30,
            cert_expires_ms=T0 + 20 * 86_400_000,
            config_version=4,
            software="cccd-edge 0.1.0",
            reader_attached=True,
            disk_free_bytes=12_000_000_000,
            cpu_temp_millicelsius=-5_500,
        ),
        wire.State(header=header(device_id, seq=4), status=wire.DeviceStatus.OFFLINE, software="cccd-edge 0.1.0"),
        wire.DesiredConfig(
            header=header(device_id, seq=5),
            version=7,
            settings={"heartbeat_s": 300, "include_portrait": False, "sites": ["79/760"], "nested": {"a": [1, b"x"]}},
        ),
        wire.ReportedConfig(
            header=header(device_id, seq=6), version=7, status=wire.ConfigStatus.REJECTED, error="unknown key"
        ),
        wire.TrustUpdate(
            header=header(device_id, seq=7), version=3, csca=(b"\x30\x82" + b"\x00" * 500,), crls=(b"\x30",)
        ),
        wire.Command(
            header=header(device_id, seq=8),
            name=wire.CommandName.RENEW_CERTIFICATE.value,
            args={"reason": "rotation"},
            expires_ms=T0 + 60_000,
        ),
        wire.CommandReply(
            header=header(device_id, seq=9),
            command_id=ref,
            status=wire.ReplyStatus.DONE,
            detail="renewed",
            result={"not_after": T0 + 30 * 86_400_000},
        ),
    ]


def new_uuid() -> uuid.UUID:
    return wire.uuid7(unix_ms=T0, random_bytes=b"\x03" * 10)
