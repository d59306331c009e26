"""Enrollment and renewal against the real service: ``cccd fleet serve`` (uvicorn) on loopback over HTTPS."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import typer
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from provkit import enrollment_service, free_port, new_fleet, token
from typer.testing import CliRunner

import provisioning
from provisioning import FingerprintMismatch, Fleet, RenewalRefused, TokenRejected, load_identity


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Fleet, str]]:
    tmp = tmp_path_factory.mktemp("enrollment")
    fleet = new_fleet(tmp / "fleet")
    with enrollment_service(fleet.directory, tmp) as url:
        yield fleet, url


def _agent_cli(*args: str) -> tuple[int, str, str]:
    from agent import cli as agent_cli  # noqa: PLC0415 - the command under test

    app = typer.Typer(pretty_exceptions_enable=False)
    agent_cli.register(app)
    result = CliRunner().invoke(app, ["agent", "enroll", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _enroll(url: str, secret: str, fingerprint: str, state: Path) -> provisioning.Enrolled:
    return asyncio.run(provisioning.enroll(server_url=url, token=secret, ca_fingerprint=fingerprint, state_dir=state))


def test_agent_enroll_writes_the_identity_and_prints_the_device_id(service: tuple[Fleet, str], tmp_path: Path) -> None:
    fleet, url = service
    state = tmp_path / "state"
    code, stdout, stderr = _agent_cli(
        "--server", url, "--token", token(fleet), "--ca-fingerprint", fleet.root_fingerprint, "--state-dir", str(state)
    )
    assert code == 0, stderr
    device_id = stdout.strip()
    assert {p.name for p in state.iterdir()} == {
        "device.key",
        "device.pem",
        "ca-chain.pem",
        "config.json",
        "time-floor",
    }
    assert (state / "device.key").stat().st_mode & 0o777 == 0o600
    certificate = x509.load_pem_x509_certificate((state / "device.pem").read_bytes())
    assert certificate.subject.rfc4514_string().startswith(f"CN={device_id},")
    key = serialization.load_pem_private_key((state / "device.key").read_bytes(), password=None)
    assert key.public_key().public_numbers() == certificate.public_key().public_numbers()  # type: ignore[union-attr]
    config = json.loads((state / "config.json").read_text())
    assert config["device_id"] == device_id
    assert config["server_identity"] == provisioning.SERVER_IDENTITY
    assert config["enrollment"]["ca_fingerprint"] == fleet.root_fingerprint
    assert config["settings"]["heartbeat_interval_s"] == 300
    record = fleet.store.device(device_id)
    assert record is not None
    assert record.certificate_serial == certificate.serial_number
    chain = x509.load_pem_x509_certificates((state / "ca-chain.pem").read_bytes())
    assert provisioning.fingerprint(chain[-1]) == fleet.root_fingerprint


def test_a_wrong_fingerprint_stops_before_the_token_is_sent(service: tuple[Fleet, str], tmp_path: Path) -> None:
    fleet, url = service
    secret = token(fleet)
    wrong = ("0" if fleet.root_fingerprint[0] != "0" else "1") + fleet.root_fingerprint[1:]
    code, _, stderr = _agent_cli(
        "--server", url, "--token", secret, "--ca-fingerprint", wrong, "--state-dir", str(tmp_path / "a")
    )
    assert code == 1
    assert "fingerprint" in stderr
    assert not (tmp_path / "a" / "device.pem").exists()
    with pytest.raises(FingerprintMismatch):
        _enroll(url, secret, wrong, tmp_path / "b")
    # The token was never presented, so it still works with the right fingerprint.
    assert _enroll(url, secret, fleet.root_fingerprint, tmp_path / "c").identity.device_id


def test_a_token_enrolls_one_terminal_only(service: tuple[Fleet, str], tmp_path: Path) -> None:
    fleet, url = service
    secret = token(fleet)
    _enroll(url, secret, fleet.root_fingerprint, tmp_path / "first")
    code, _, stderr = _agent_cli(
        "--server",
        url,
        "--token",
        secret,
        "--ca-fingerprint",
        fleet.root_fingerprint,
        "--state-dir",
        str(tmp_path / "2"),
    )
    assert code == 1
    assert "used" in stderr
    with pytest.raises(TokenRejected):
        _enroll(url, secret, fleet.root_fingerprint, tmp_path / "third")


def test_an_enrolled_state_directory_is_not_overwritten(service: tuple[Fleet, str], tmp_path: Path) -> None:
    fleet, url = service
    enrolled = _enroll(url, token(fleet), fleet.root_fingerprint, tmp_path / "s")
    with pytest.raises(provisioning.InvalidRequest, match=enrolled.identity.device_id):
        _enroll(url, token(fleet), fleet.root_fingerprint, tmp_path / "s")


def test_an_unreachable_service_is_an_environment_error(service: tuple[Fleet, str], tmp_path: Path) -> None:
    fleet, _ = service
    code, _, stderr = _agent_cli(
        "--server",
        f"https://127.0.0.1:{free_port()}",
        "--token",
        "x",
        "--ca-fingerprint",
        fleet.root_fingerprint,
        "--state-dir",
        str(tmp_path / "s"),
    )
    assert code == 3, stderr


def test_renewal_over_mutual_tls_rotates_key_and_certificate(service: tuple[Fleet, str], tmp_path: Path) -> None:
    fleet, url = service
    state = tmp_path / "state"
    enrolled = _enroll(url, token(fleet), fleet.root_fingerprint, state)
    old_key = (state / "device.key").read_bytes()
    renewed = asyncio.run(provisioning.renew_once(state, server_url=url))
    assert renewed.device_id == enrolled.identity.device_id
    assert renewed.certificate.serial_number != enrolled.identity.certificate.serial_number
    assert (state / "device.key").read_bytes() != old_key
    assert (state / "device.key").stat().st_mode & 0o777 == 0o600
    assert load_identity(state).certificate == renewed.certificate
    assert not (state / "device.next.key").exists()
    record = fleet.store.device(renewed.device_id)
    assert record is not None
    assert record.certificate_serial == renewed.certificate.serial_number


def test_renewal_needs_a_client_certificate(service: tuple[Fleet, str]) -> None:
    fleet, url = service
    context = ssl.create_default_context(cadata=fleet.root_path.read_text())
    response = httpx.post(f"{url}/v1/renew", json={"csr": "x"}, verify=context)
    assert response.status_code == 401
    assert response.json()["error"] == "certificate_required"


def test_a_revoked_terminal_cannot_renew(service: tuple[Fleet, str], tmp_path: Path) -> None:
    fleet, url = service
    state = tmp_path / "state"
    enrolled = _enroll(url, token(fleet), fleet.root_fingerprint, state)
    fleet.revoke(enrolled.identity.device_id)
    with pytest.raises(RenewalRefused):
        asyncio.run(provisioning.renew_once(state, server_url=url))
    assert load_identity(state).certificate == enrolled.identity.certificate  # nothing was thrown away


def test_hostile_requests_get_clear_errors(service: tuple[Fleet, str]) -> None:
    fleet, url = service
    context = ssl.create_default_context(cadata=fleet.root_path.read_text())
    with httpx.Client(verify=context) as client:
        big = client.post(
            f"{url}/v1/enroll", content=b"{" + b" " * 20_000 + b"}", headers={"content-type": "application/json"}
        )
        assert big.status_code == 413
        assert client.post(f"{url}/v1/enroll", content=b"not json").status_code == 400
        assert client.post(f"{url}/v1/enroll", json=["a"]).status_code == 400
        bad_csr = client.post(f"{url}/v1/enroll", json={"token": token(fleet), "csr": "garbage"})
        assert bad_csr.status_code == 400
        assert bad_csr.json()["error"] == "invalid_request"
        unknown = client.post(f"{url}/v1/enroll", json={"token": "cccd-enroll-nope", "csr": "x"})
        assert unknown.status_code in (400, 403)
        crl = client.get(f"{url}/v1/crl")
        assert crl.status_code == 200
        parsed = x509.load_der_x509_crl(crl.content)
        assert parsed.get_revoked_certificate_by_serial_number(fleet.canary_serial()) is not None
        assert client.get(f"{url}/v1/health").json() == {"status": "ok"}


def test_the_service_certificate_chains_to_the_fleet_root(service: tuple[Fleet, str]) -> None:
    fleet, url = service
    host, port = url.removeprefix("https://").split(":")
    pem = ssl.get_server_certificate((host, int(port)))
    leaf = x509.load_pem_x509_certificate(pem.encode())
    assert leaf.issuer == fleet.issuing.subject
    assert provisioning.Role.ENROLLMENT in {r.role for r in fleet.store.certificates()}
    # It is the fleet's own CA, not a public one: a default client does not trust it.
    with pytest.raises(ssl.SSLCertVerificationError):
        ssl.create_default_context().wrap_socket(socket.create_connection((host, int(port))), server_hostname=host)
