"""The fleet CA: keys encrypted at rest, certificate profiles, and OpenSSL's verdict on everything issued."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from provkit import PASSPHRASE, Clock, new_fleet, token

import provisioning
import wire
from provisioning import (
    BrokerSettings,
    Fleet,
    InvalidRequest,
    Role,
    WrongPassphrase,
    make_csr,
    write_broker_config,
)
from provisioning._pki import generate_key

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is part of the documented setup")


@pytest.fixture
def fleet(tmp_path: Path) -> Fleet:
    return new_fleet(tmp_path / "fleet")


def _openssl(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)


def test_init_writes_the_ca_with_keys_encrypted_and_private(fleet: Fleet) -> None:
    d = fleet.directory
    for name in ("root-ca.p12", "issuing-ca.p12", "fleet.db", "crl-canary.key"):
        assert (d / name).stat().st_mode & 0o777 == 0o600, name
    assert (d.stat().st_mode & 0o777) == 0o700
    for name in ("root-ca.p12", "issuing-ca.p12"):
        data = (d / name).read_bytes()
        with pytest.raises(ValueError, match=r"(?i)password|decrypt|mac"):
            pkcs12.load_key_and_certificates(data, None)
        key, cert, _ = pkcs12.load_key_and_certificates(data, PASSPHRASE)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        assert cert is not None
        # OpenSSL opens it with the passphrase, and with nothing else.
        ok = _openssl("pkcs12", "-in", name, "-nocerts", "-nodes", "-passin", f"pass:{PASSPHRASE.decode()}", cwd=d)
        assert ok.returncode == 0, ok.stderr
        assert "PRIVATE KEY" in ok.stdout
        assert _openssl("pkcs12", "-in", name, "-nocerts", "-nodes", "-passin", "pass:wrong", cwd=d).returncode != 0
    with pytest.raises(WrongPassphrase):
        fleet.unlock(b"not the passphrase")
    assert fleet.unlock(PASSPHRASE).certificate == fleet.issuing


def test_ca_keys_are_stretched_with_600000_pbkdf2_rounds_by_default(tmp_path: Path) -> None:
    fleet = Fleet.init(tmp_path / "fleet", PASSPHRASE)
    info = _openssl(
        "pkcs12",
        "-in",
        "issuing-ca.p12",
        "-info",
        "-noout",
        "-passin",
        f"pass:{PASSPHRASE.decode()}",
        cwd=fleet.directory,
    )
    assert info.returncode == 0, info.stderr
    text = info.stdout + info.stderr
    assert "PBKDF2" in text
    assert "AES-256-CBC" in text
    assert "Iteration 600000" in text


def test_short_passphrases_and_a_second_init_are_refused(tmp_path: Path, fleet: Fleet) -> None:
    with pytest.raises(InvalidRequest):
        Fleet.init(tmp_path / "other", b"short")
    with pytest.raises(provisioning.FleetAlreadyInitialized):
        Fleet.init(fleet.directory, PASSPHRASE)


def test_fingerprint_matches_openssl(fleet: Fleet) -> None:
    result = _openssl("x509", "-in", "root-ca.pem", "-noout", "-fingerprint", "-sha256", cwd=fleet.directory)
    assert result.returncode == 0
    printed = result.stdout.strip().split("=", 1)[1].replace(":", "").lower()
    assert printed == fleet.root_fingerprint
    assert provisioning.normalize_fingerprint(result.stdout.strip().split("=", 1)[1]) == fleet.root_fingerprint


def _issue_everything(fleet: Fleet, out: Path) -> list[tuple[Role, x509.Certificate]]:
    authority = fleet.unlock(PASSPHRASE)
    grant = fleet.enroll(authority, token=token(fleet), csr_pem=make_csr(generate_key()))
    fleet.renew(authority, current=grant.certificate, csr_pem=make_csr(generate_key()))
    write_broker_config(fleet, authority, out, BrokerSettings(port=18883, hosts=("broker.example", "10.0.0.5")))
    records = fleet.store.certificates()
    return [(r.role, x509.load_pem_x509_certificate(r.pem)) for r in records]


def test_openssl_verify_accepts_every_issued_certificate(fleet: Fleet, tmp_path: Path) -> None:
    issued = _issue_everything(fleet, tmp_path / "broker")
    roles = {role for role, _ in issued}
    assert roles >= {Role.ROOT, Role.ISSUING, Role.DEVICE, Role.BROKER, Role.SERVER_CLIENT, Role.CANARY}
    purposes = {Role.BROKER: "sslserver", Role.ENROLLMENT: "sslserver"}
    for index, (role, cert) in enumerate(issued):
        if role in (Role.ROOT, Role.ISSUING):
            continue
        path = tmp_path / f"leaf-{index}.pem"
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        result = _openssl(
            "verify",
            "-x509_strict",
            "-purpose",
            purposes.get(role, "sslclient"),
            "-CAfile",
            str(fleet.root_path),
            "-untrusted",
            str(fleet.issuing_path),
            str(path),
            cwd=tmp_path,
        )
        assert result.returncode == 0, (role, result.stdout, result.stderr)
        assert result.stdout.strip().endswith("OK")
    # The chain file alone (issuing + root) is what terminals and the broker load.
    result = _openssl("verify", "-x509_strict", "-CAfile", str(fleet.chain_path), str(fleet.issuing_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_openssl_refuses_revoked_and_foreign_certificates(fleet: Fleet, tmp_path: Path) -> None:
    authority = fleet.unlock(PASSPHRASE)
    grant = fleet.enroll(authority, token=token(fleet), csr_pem=make_csr(generate_key()))
    leaf = tmp_path / "device.pem"
    leaf.write_bytes(grant.certificate.public_bytes(serialization.Encoding.PEM))
    base = ["verify", "-CAfile", str(fleet.chain_path), "-crl_check", "-CRLfile", str(fleet.crl_path), str(leaf)]
    assert _openssl(*base, cwd=tmp_path).returncode == 0
    fleet.revoke(grant.device_id)
    fleet.write_crl(authority)
    refused = _openssl(*base, cwd=tmp_path)
    assert refused.returncode != 0
    assert "revoked" in refused.stdout + refused.stderr
    other = new_fleet(tmp_path / "other-fleet")
    foreign = _openssl("verify", "-CAfile", str(other.chain_path), str(leaf), cwd=tmp_path)
    assert foreign.returncode != 0


def test_device_certificate_profile(fleet: Fleet) -> None:
    authority = fleet.unlock(PASSPHRASE)
    key = generate_key()
    grant = fleet.enroll(
        authority, token=token(fleet, "79/26734/team-3"), csr_pem=make_csr(key, name="i-want-cccd-server")
    )
    cert = grant.certificate
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert cn == grant.device_id != "i-want-cccd-server"  # the fleet, not the CSR, names the terminal
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == "79/26734/team-3"
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()  # type: ignore[union-attr]
    assert cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.CLIENT_AUTH]
    )
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert dt.timedelta(days=30) <= lifetime <= dt.timedelta(days=30, minutes=6)
    provisioning.verify_client_chain(
        cert, authority_chain=[fleet.issuing], root=fleet.root, now=dt.datetime.now(dt.UTC)
    )


def test_device_ids_are_valid_wire_identities(fleet: Fleet) -> None:
    ids = {provisioning.new_device_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(wire.is_device_id(i) and i.startswith("t-") for i in ids)


@pytest.mark.parametrize(
    "csr",
    [
        b"",
        b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
        b"x" * 10_000,
    ],
)
def test_malformed_csrs_are_refused(fleet: Fleet, csr: bytes) -> None:
    authority = fleet.unlock(PASSPHRASE)
    secret = token(fleet)
    with pytest.raises(InvalidRequest):
        fleet.enroll(authority, token=secret, csr_pem=csr)
    # A refused CSR does not spend the token.
    assert fleet.enroll(authority, token=secret, csr_pem=make_csr(generate_key())).device_id


def test_csrs_on_other_curves_or_with_bad_signatures_are_refused(fleet: Fleet) -> None:
    authority = fleet.unlock(PASSPHRASE)
    p384 = ec.generate_private_key(ec.SECP384R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")]))
        .sign(p384, hashes.SHA384())
        .public_bytes(serialization.Encoding.PEM)
    )
    with pytest.raises(InvalidRequest, match="P-256"):
        fleet.enroll(authority, token=token(fleet), csr_pem=csr)
    good = x509.load_pem_x509_csr(make_csr(generate_key()))
    der = bytearray(good.public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0x01  # inside the signature
    tampered = x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM)
    with pytest.raises(InvalidRequest, match="signature"):
        fleet.enroll(authority, token=token(fleet), csr_pem=tampered)


def test_crl_is_signed_by_the_issuing_ca_and_lists_the_canary(tmp_path: Path) -> None:
    clock = Clock()
    fleet = new_fleet(tmp_path / "fleet", clock=clock)
    crl = fleet.current_crl()
    assert crl is not None
    assert crl.is_signature_valid(fleet.issuing.public_key())  # type: ignore[arg-type]
    assert crl.get_revoked_certificate_by_serial_number(fleet.canary_serial()) is not None
    assert crl.next_update_utc - clock.now >= dt.timedelta(days=29)
    result = _openssl("crl", "-in", "crl.pem", "-noout", "-CAfile", "ca-chain.pem", cwd=fleet.directory)
    assert result.returncode == 0
    assert "verify OK" in result.stdout + result.stderr


def test_successive_crls_put_the_two_witnesses_on_hold_in_turn(fleet: Fleet) -> None:
    """Each CRL holds one witness and releases the other, so a broker admitting the wrong one is on an old CRL."""
    authority = fleet.unlock(PASSPHRASE)
    witnesses = fleet.witness_serials()
    assert witnesses is not None
    assert witnesses[0] != witnesses[1]
    held = []
    for _ in range(3):
        crl = fleet.write_crl(authority)
        listed = [s for s in witnesses if crl.get_revoked_certificate_by_serial_number(s) is not None]
        assert len(listed) == 1
        entry = crl.get_revoked_certificate_by_serial_number(listed[0])
        assert entry is not None
        reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        assert reason is x509.ReasonFlags.certificate_hold
        assert crl.get_revoked_certificate_by_serial_number(fleet.canary_serial()) is not None
        held.append(fleet.held_witness(crl))
    assert held in ([0, 1, 0], [1, 0, 1])
    text = _openssl("crl", "-in", "crl.pem", "-noout", "-text", cwd=fleet.directory).stdout
    assert "Certificate Hold" in text
    for index in (0, 1):
        cert_path, key_path = fleet.witness_paths(index)
        assert key_path.stat().st_mode & 0o777 == 0o600
        assert x509.load_pem_x509_certificate(cert_path.read_bytes()).serial_number == witnesses[index]
