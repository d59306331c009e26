"""Enrollment and renewal against the real service: ``cccd fleet serve`` (uvicorn) on loopback over HTTPS."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import socket
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import typer
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from provkit import PASSPHRASE, enrollment_service, free_port, new_fleet, token
from typer.testing import CliRunner

import provisioning
import provisioning._device
from provisioning import (
    FingerprintMismatch,
    Fleet,
    RenewalRefused,
    TokenRejected,
    TokenRejection,
    load_identity,
    make_csr,
)
from provisioning._pki import cert_pem, generate_key, plain_key


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Fleet, str]]:
    tmp = tmp_path_factory.mktemp("enrollment")
    fleet = new_fleet(tmp / "fleet")
    # Every test here comes from 127.0.0.1 and many are refused on purpose: lift the per-address limit, which
    # test_too_many_refusals_from_one_address_are_answered_429 checks on its own service.
    with enrollment_service(fleet.directory, tmp, "--max-refused", "1000") as url:
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
    assert state.stat().st_mode & 0o777 == 0o700  # nobody else may swap the CA chain it renews with
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


@pytest.mark.parametrize("mode", [0o644, 0o640])
def test_a_key_someone_else_could_read_is_not_taken_for_this_terminals(
    service: tuple[Fleet, str], tmp_path: Path, mode: int
) -> None:
    """A device.key left in the folder is reused only as an earlier attempt of ours leaves it: 0600, ours."""
    fleet, url = service
    state = tmp_path / "s"
    state.mkdir()
    planted = state / "device.key"
    planted.write_bytes(plain_key(generate_key()))
    planted.chmod(mode)
    secret = token(fleet)
    with pytest.raises(provisioning.InvalidRequest, match="remove it"):
        _enroll(url, secret, fleet.root_fingerprint, state)
    assert not (state / "device.pem").exists()
    planted.unlink()
    assert _enroll(url, secret, fleet.root_fingerprint, state).identity.device_id  # the token was not spent


def test_a_server_that_drips_its_answer_meets_a_deadline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each read within its timeout, the whole answer never: the terminal gives up at the request's deadline."""
    monkeypatch.setattr(provisioning._device, "REQUEST_DEADLINE_S", 0.5)

    async def drip() -> AsyncIterator[bytes]:
        for _ in range(100):
            await asyncio.sleep(0.05)
            yield b" "

    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=drip()))
    started = time.monotonic()
    with pytest.raises(provisioning.ServiceUnavailable, match="did not answer within"):
        asyncio.run(provisioning.fetch_pinned_chain("https://enroll.test", "00" * 32, transport=transport))
    assert time.monotonic() - started < 3


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


def test_agent_enroll_help_and_an_unusable_state_directory(tmp_path: Path) -> None:
    """``--help`` renders (option texts are rich markup), and a state directory that cannot be made is an
    environment problem with a message, not a traceback."""
    code, stdout, _ = _agent_cli("--help")
    assert code == 0
    assert "--site" in stdout
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    code, _, stderr = _agent_cli(
        *("--server", f"https://127.0.0.1:{free_port()}", "--token", "cccd-enroll-x"),
        *("--ca-fingerprint", "ab" * 32, "--state-dir", str(blocker / "state")),
    )
    assert code == 3, stderr
    assert "not-a-folder" in stderr


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


def _expired_identity(fleet: Fleet, state: Path) -> None:
    """A terminal whose certificate expired a day ago (issued by the fleet as it was 31 days back)."""
    real_now = dt.datetime.now(dt.UTC)
    past = Fleet.open(fleet.directory, clock=lambda: real_now - dt.timedelta(days=31))
    key = generate_key()
    grant = past.enroll(past.unlock(PASSPHRASE), token=token(past), csr_pem=make_csr(key))
    assert grant.certificate.not_valid_after_utc < real_now
    state.mkdir()
    (state / "device.key").write_bytes(plain_key(key))
    (state / "device.pem").write_bytes(cert_pem(grant.certificate))
    (state / "ca-chain.pem").write_bytes(cert_pem(*grant.chain))
    (state / "config.json").write_text(json.dumps({"enrollment": {"ca_fingerprint": fleet.root_fingerprint}}))


def test_an_expired_terminal_is_told_to_enroll_again(service: tuple[Fleet, str], tmp_path: Path) -> None:
    """The service judges expiry itself (answering 403), instead of its TLS layer hanging up without a word: a
    terminal that only saw a dropped connection would retry for ever instead of asking for a new token."""
    fleet, url = service
    state = tmp_path / "state"
    _expired_identity(fleet, state)
    with pytest.raises(RenewalRefused, match="expired"):
        asyncio.run(provisioning.renew_once(state, server_url=url))
    context = ssl.create_default_context(cadata=fleet.root_path.read_text())
    context.load_cert_chain(state / "device.pem", state / "device.key")
    response = httpx.post(f"{url}/v1/renew", json={"csr": make_csr(generate_key()).decode()}, verify=context)
    assert response.status_code == 403
    assert response.json()["error"] == "renewal_refused"


def test_a_certificate_from_another_ca_is_refused_in_the_handshake(service: tuple[Fleet, str], tmp_path: Path) -> None:
    fleet, url = service
    stranger = new_fleet(tmp_path / "other")
    key = generate_key()
    grant = stranger.enroll(stranger.unlock(PASSPHRASE), token=token(stranger), csr_pem=make_csr(key))
    (tmp_path / "c.pem").write_bytes(cert_pem(grant.certificate, stranger.issuing))
    (tmp_path / "c.key").write_bytes(plain_key(key))
    context = ssl.create_default_context(cadata=fleet.root_path.read_text())
    context.load_cert_chain(tmp_path / "c.pem", tmp_path / "c.key")
    with pytest.raises(httpx.TransportError):
        httpx.post(f"{url}/v1/renew", json={"csr": make_csr(generate_key()).decode()}, verify=context)


def test_every_answer_is_a_json_error_with_a_code(service: tuple[Fleet, str]) -> None:
    """What a script using curl sees: a status and ``{"error", "detail"}``, also for routes and methods that do
    not exist."""
    fleet, url = service
    context = ssl.create_default_context(cadata=fleet.root_path.read_text())
    with httpx.Client(verify=context) as client:
        answers = {
            "not_found": client.get(f"{url}/v1/nothing"),
            "method_not_allowed": client.get(f"{url}/v1/enroll"),
            "invalid_request": client.post(f"{url}/v1/enroll", json={"token": 1, "csr": "x"}),
        }
        # 10 KB of nested brackets: under the size limit, yet deep enough to exhaust the JSON parser's stack.
        nested = ("[" * 5000 + "]" * 5000).encode()
        deep = {
            route: client.post(f"{url}{route}", content=nested, headers={"content-type": "application/json"})
            for route in ("/v1/enroll", "/v1/enroll/recover")
        }
    for route, response in deep.items():
        assert response.status_code == 400, route
        assert response.json()["error"] == "invalid_request"
    for code, response in answers.items():
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        assert body["error"] == code, body
        assert isinstance(body["detail"], str)
        assert body["detail"]
    assert answers["not_found"].status_code == 404
    assert answers["method_not_allowed"].status_code == 405


def test_a_token_for_another_site_is_refused_over_http(service: tuple[Fleet, str], tmp_path: Path) -> None:
    fleet, url = service
    secret = token(fleet, "79/760/team-3")
    context = ssl.create_default_context(cadata=fleet.root_path.read_text())
    csr = make_csr(generate_key()).decode()
    with httpx.Client(verify=context) as client:
        wrong = client.post(f"{url}/v1/enroll", json={"token": secret, "csr": csr, "site": "01/00004"})
        malformed = client.post(f"{url}/v1/enroll", json={"token": secret, "csr": csr, "site": "79"})
        not_text = client.post(f"{url}/v1/enroll", json={"token": secret, "csr": csr, "site": 79})
    assert wrong.status_code == 403
    assert wrong.json()["error"] == "token_wrong_site"
    assert malformed.status_code == not_text.status_code == 400
    assert malformed.json()["error"] == not_text.json()["error"] == "invalid_request"
    code, _, stderr = _agent_cli(
        *("--server", url, "--token", secret, "--ca-fingerprint", fleet.root_fingerprint),
        *("--state-dir", str(tmp_path / "wrong"), "--site", "01/00004"),
    )
    assert code == 1
    assert "wrong_site" in stderr
    with pytest.raises(TokenRejected) as info:
        asyncio.run(
            provisioning.enroll(
                server_url=url,
                token=secret,
                ca_fingerprint=fleet.root_fingerprint,
                state_dir=tmp_path / "library",
                site="01/00004",
            )
        )
    assert info.value.reason is TokenRejection.WRONG_SITE
    enrolled = asyncio.run(
        provisioning.enroll(
            server_url=url,
            token=secret,
            ca_fingerprint=fleet.root_fingerprint,
            state_dir=tmp_path / "right",
            site="79/760/team-3",
        )
    )
    assert enrolled.config["site"] == "79/760/team-3"


def test_too_many_refusals_from_one_address_are_answered_429(tmp_path: Path) -> None:
    fleet = new_fleet(tmp_path / "fleet")
    secret = token(fleet)
    context = ssl.create_default_context(cadata=fleet.root_path.read_text())
    csr = make_csr(generate_key()).decode()
    with (
        enrollment_service(fleet.directory, tmp_path, "--max-refused", "2") as url,
        httpx.Client(verify=context) as client,
    ):
        # Malformed requests are refused with their reason and not counted...
        malformed = [client.post(f"{url}/v1/enroll", json={"token": secret, "csr": "garbage"}) for _ in range(3)]
        assert [answer.status_code for answer in malformed] == [400, 400, 400]
        # ...refused tokens are.
        refused = [client.post(f"{url}/v1/enroll", json={"token": "cccd-enroll-guess", "csr": csr}) for _ in range(2)]
        assert [answer.status_code for answer in refused] == [403, 403]
        # Now even a good token is turned away, before it is looked at...
        blocked = client.post(f"{url}/v1/enroll", json={"token": secret, "csr": csr})
        assert blocked.status_code == 429
        assert blocked.json()["error"] == "too_many_attempts"
        assert 1 <= int(blocked.headers["retry-after"]) <= provisioning.ENROLL_FAILURE_WINDOW_S
        # ...and the terminal says so.
        code, _, stderr = _agent_cli(
            *("--server", url, "--token", secret, "--ca-fingerprint", fleet.root_fingerprint),
            *("--state-dir", str(tmp_path / "state")),
        )
        assert code == 3  # nothing refused: come back later
        assert "too_many_attempts" in stderr
        assert "try again in" in " ".join(stderr.split())
        assert client.get(f"{url}/v1/health").status_code == 200  # the rest of the service still answers
    # The token was not spent by the refused attempts.
    grant = fleet.enroll(fleet.unlock(PASSPHRASE), token=secret, csr_pem=csr)
    assert grant.device_id


def test_the_failure_limiter_forgets_after_its_window(caplog: pytest.LogCaptureFixture) -> None:
    now = [1000.0]
    limiter = provisioning.FailureLimiter(allowed=3, window_s=60.0, clock=lambda: now[0])
    for _ in range(3):
        assert limiter.retry_after("10.0.0.1") == 0.0
        limiter.record("10.0.0.1")
        now[0] += 10.0
    # Blocking is logged once, with the address (not a citizen's data), not every refusal.
    warnings = [record for record in caplog.records if record.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "10.0.0.1" in warnings[0].getMessage()
    assert limiter.retry_after("10.0.0.1") == pytest.approx(30.0)  # the first refusal leaves the window at 1060
    assert limiter.retry_after("10.0.0.2") == 0.0  # another address is not held back
    now[0] += 30.0
    assert limiter.retry_after("10.0.0.1") == 0.0
    limiter.record("10.0.0.1")
    assert limiter.retry_after("10.0.0.1") > 0  # the 2nd and 3rd refusals are still in the window


def test_the_failure_limiter_counts_an_ipv6_host_by_its_network_and_stays_bounded() -> None:
    now = [0.0]
    limiter = provisioning.FailureLimiter(allowed=2, window_s=60.0, clock=lambda: now[0], max_clients=3)
    limiter.record("2001:db8:1:2::1")
    limiter.record("2001:db8:1:2:ffff::7")  # another address of the same /64
    assert limiter.retry_after("2001:db8:1:2::99") > 0
    assert limiter.retry_after("2001:db8:1:3::1") == 0.0  # the next /64 is another host
    # A flood from many addresses: the table keeps the most recent three, the oldest is forgotten first.
    for index in range(3):
        now[0] += 1.0
        limiter.record(f"10.0.0.{index}")
        limiter.record(f"10.0.0.{index}")
    assert limiter.retry_after("2001:db8:1:2::1") == 0.0
    assert all(limiter.retry_after(f"10.0.0.{index}") > 0 for index in range(3))


def test_the_token_comes_from_a_file_standard_input_or_the_environment(
    service: tuple[Fleet, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet, url = service
    common = ("--server", url, "--ca-fingerprint", fleet.root_fingerprint)
    secret_file = tmp_path / "token"
    secret_file.write_text(token(fleet) + "\n")
    code, _, stderr = _agent_cli(*common, "--token-file", str(secret_file), "--state-dir", str(tmp_path / "a"))
    assert code == 0, stderr
    assert (tmp_path / "a" / "device.pem").exists()
    monkeypatch.setenv("CCCD_ENROLL_TOKEN", token(fleet))
    code, _, stderr = _agent_cli(*common, "--state-dir", str(tmp_path / "b"))
    assert code == 0, stderr
    # Given twice (variable and file) or not at all: a usage error, and nothing is sent.
    code, _, stderr = _agent_cli(*common, "--token-file", str(secret_file), "--state-dir", str(tmp_path / "c"))
    assert code == 2
    assert "once" in stderr
    monkeypatch.delenv("CCCD_ENROLL_TOKEN")
    code, _, stderr = _agent_cli(*common, "--state-dir", str(tmp_path / "d"))
    assert code == 2
    assert "token" in stderr
    assert not (tmp_path / "c").exists()
    assert not (tmp_path / "d").exists()
    empty = tmp_path / "empty"
    empty.write_text("\n")
    code, _, stderr = _agent_cli(*common, "--token-file", str(empty), "--state-dir", str(tmp_path / "e"))
    assert code == 2
    assert "no token in it" in stderr


def test_the_token_from_standard_input(service: tuple[Fleet, str], tmp_path: Path) -> None:
    fleet, url = service
    from agent import cli as agent_cli  # noqa: PLC0415 - the command under test

    app = typer.Typer(pretty_exceptions_enable=False)
    agent_cli.register(app)
    args = ["agent", "enroll", "--server", url, "--ca-fingerprint", fleet.root_fingerprint, "--token-file", "-"]
    result = CliRunner().invoke(app, [*args, "--state-dir", str(tmp_path / "s")], input=token(fleet) + "\n")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == load_identity(tmp_path / "s").device_id


def _names_check(port: int, cafile: str, server_hostname: str) -> None:
    context = ssl.create_default_context(cadata=cafile)
    with (
        socket.create_connection(("127.0.0.1", port)) as raw,
        context.wrap_socket(raw, server_hostname=server_hostname),
    ):
        pass


def test_the_service_certificate_carries_the_names_terminals_use(tmp_path: Path) -> None:
    """Listening on every interface, the service cannot guess the name or address terminals reach it by (a DNS name
    in a DMZ, a LAN address); ``--host`` puts them in its certificate, or every terminal fails the hostname check."""
    fleet = new_fleet(tmp_path / "fleet")
    root = fleet.root_path.read_text()
    with enrollment_service(fleet.directory, tmp_path, "--host", "enroll.fleet.example", "--host", "127.0.0.9") as url:
        port = int(url.rsplit(":", 1)[1])
        _names_check(port, root, "enroll.fleet.example")
        _names_check(port, root, "127.0.0.9")
        _names_check(port, root, "localhost")
        with pytest.raises(ssl.SSLCertVerificationError):
            _names_check(port, root, "elsewhere.example")
        leaf = x509.load_pem_x509_certificate(ssl.get_server_certificate(("127.0.0.1", port)).encode())
        assert leaf.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "enroll.fleet.example"


class _AnswerLostOnce(httpx.AsyncBaseTransport):
    """The service handles the first enrollment request, but its answer never reaches the terminal."""

    def __init__(self, app: httpx.AsyncBaseTransport) -> None:
        self._app = app
        self.lost = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._app.handle_async_request(request)
        if request.url.path == "/v1/enroll" and not self.lost:
            self.lost += 1
            await response.aclose()
            raise httpx.ReadError("connection reset by peer", request=request)
        return response


def test_an_enrollment_whose_answer_was_lost_is_completed_by_running_it_again(tmp_path: Path) -> None:
    fleet = new_fleet(tmp_path / "fleet")
    app = provisioning.create_enrollment_app(fleet, fleet.unlock(PASSPHRASE))
    transport = _AnswerLostOnce(httpx.ASGITransport(app=app))
    state, secret = tmp_path / "state", token(fleet)

    def enroll() -> provisioning.Enrolled:
        return asyncio.run(
            provisioning.enroll(
                server_url="https://enroll.example:8443",
                token=secret,
                ca_fingerprint=fleet.root_fingerprint,
                state_dir=state,
                transport=transport,
            )
        )

    with pytest.raises(provisioning.ServiceUnavailable):
        enroll()
    assert transport.lost == 1
    [spent] = fleet.store.tokens()
    assert spent.used_at is not None  # the fleet did enroll the terminal
    assert not (state / "device.pem").exists()
    enrolled = enroll()  # the installer runs the same command again
    assert enrolled.identity.device_id == spent.device_id
    assert load_identity(state).device_id == spent.device_id
    assert [d.device_id for d in fleet.store.devices()] == [spent.device_id]
