"""Renewal scheduling, retry, clock sanity and crash-safe identity swaps on the terminal."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from provkit import PASSPHRASE, Clock, new_fleet, token

import provisioning
from provisioning import (
    CertificateRenewer,
    ClockNotPlausible,
    Fleet,
    RenewalAction,
    install_identity,
    load_identity,
    make_csr,
    plan_renewal,
)
from provisioning._device import (
    CERT_FILE,
    CHAIN_FILE,
    CONFIG_FILE,
    KEY_FILE,
    MAX_RESPONSE,
    NEXT_CERT_FILE,
    NEXT_KEY_FILE,
    record_time_floor,
)
from provisioning._files import write_atomic
from provisioning._pki import cert_pem, generate_key, plain_key
from provisioning._service import grant_json

URL = "https://enroll.test:8443"


@pytest.fixture
def state(tmp_path: Path, fleet: Fleet) -> Path:
    """A terminal enrolled through the library, with its files as ``enroll`` writes them."""
    directory = tmp_path / "state"
    key = generate_key()
    grant = fleet.enroll(fleet.unlock(PASSPHRASE), token=token(fleet), csr_pem=make_csr(key))
    write_atomic(directory / KEY_FILE, plain_key(key), mode=0o600)
    write_atomic(directory / CERT_FILE, cert_pem(grant.certificate), mode=0o644)
    write_atomic(directory / CHAIN_FILE, cert_pem(*grant.chain), mode=0o644)
    config = {"device_id": grant.device_id, "enrollment": {"server": URL, "ca_fingerprint": fleet.root_fingerprint}}
    write_atomic(directory / CONFIG_FILE, json.dumps(config).encode(), mode=0o644)
    return directory


def _certificate(state: Path) -> x509.Certificate:
    return load_identity(state).certificate


def test_renewal_is_planned_at_two_thirds_of_the_lifetime(state: Path) -> None:
    cert = _certificate(state)
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    due = start + (end - start) * 2 / 3
    assert provisioning.renewal_due(cert) == due
    floor = provisioning.BUILD_TIME_FLOOR
    half = plan_renewal(start + (end - start) / 2, cert, floor=floor)
    assert half.action is RenewalAction.SLEEP
    assert half.at == due
    assert plan_renewal(due, cert, floor=floor).action is RenewalAction.RENEW
    # Past expiry the terminal still asks: the service decides with its own clock.
    assert plan_renewal(end + dt.timedelta(days=3), cert, floor=floor).action is RenewalAction.RENEW


def test_a_clock_behind_what_the_terminal_has_seen_means_wait(state: Path) -> None:
    cert = _certificate(state)
    for wrong in (dt.datetime(1970, 1, 1, tzinfo=dt.UTC), cert.not_valid_before_utc - dt.timedelta(hours=1)):
        plan = plan_renewal(wrong, cert, floor=provisioning.BUILD_TIME_FLOOR)
        assert plan.action is RenewalAction.WAIT_FOR_CLOCK
    later = cert.not_valid_before_utc + dt.timedelta(days=5)
    record_time_floor(state, later)
    floor = provisioning.read_time_floor(state)
    assert floor == later
    assert plan_renewal(later - dt.timedelta(days=1), cert, floor=floor).action is RenewalAction.WAIT_FOR_CLOCK
    with pytest.raises(ClockNotPlausible):
        provisioning.check_clock(later - dt.timedelta(days=1), floor=floor)


class Server:
    """A renewal endpoint behind httpx.MockTransport; with no TLS in between it takes the terminal's current
    certificate from the state directory (the real service reads it from the mutual TLS handshake)."""

    def __init__(self, fleet: Fleet, state: Path) -> None:
        self.fleet = fleet
        self.state = state
        self.calls = 0
        self.status = 200
        self.error: Exception | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.error is not None:
            raise self.error
        if self.status != 200:
            return httpx.Response(
                self.status, json={"error": "renewal_refused" if self.status == 403 else "down", "detail": "x"}
            )
        csr = json.loads(request.content)["csr"]
        grant = self.fleet.renew(self.fleet.unlock(PASSPHRASE), current=_certificate(self.state), csr_pem=csr)
        return httpx.Response(200, json=grant_json(grant))


def _renewer(state: Path, server: Server, clock: Clock, renewed: list[str] | None = None) -> CertificateRenewer:
    async def on_renewed(identity: provisioning.DeviceIdentity) -> None:
        if renewed is not None:
            renewed.append(identity.device_id)

    return CertificateRenewer(
        state,
        server_url=URL,
        clock=clock,
        jitter=lambda: 1.0,
        on_renewed=on_renewed,
        transport=httpx.MockTransport(server),
    )


def test_the_renewer_sleeps_then_renews(state: Path, fleet: Fleet, clock: Clock) -> None:
    server = Server(fleet, state)
    renewed: list[str] = []
    renewer = _renewer(state, server, clock, renewed)
    before = _certificate(state)
    wait = asyncio.run(renewer.step())
    assert server.calls == 0
    assert wait == pytest.approx(min((provisioning.renewal_due(before) - clock.now).total_seconds(), 6 * 3600))
    clock.now = provisioning.renewal_due(before) + dt.timedelta(minutes=1)
    asyncio.run(renewer.step())
    assert server.calls == 1
    after = _certificate(state)
    assert after.serial_number != before.serial_number
    assert after.not_valid_after_utc > before.not_valid_after_utc
    assert renewed == [load_identity(state).device_id]
    assert renewer.last_problem is None


def test_failures_back_off_exponentially_and_keep_the_identity(state: Path, fleet: Fleet, clock: Clock) -> None:
    server = Server(fleet, state)
    server.status = 503
    renewer = _renewer(state, server, clock)
    before = (state / KEY_FILE).read_bytes(), (state / CERT_FILE).read_bytes()
    clock.now = provisioning.renewal_due(_certificate(state))
    delays = [asyncio.run(renewer.step()) for _ in range(8)]
    assert server.calls == 8
    assert delays[:4] == [60.0, 120.0, 240.0, 480.0]
    assert delays[-1] == 3600.0
    assert ((state / KEY_FILE).read_bytes(), (state / CERT_FILE).read_bytes()) == before
    server.status = 200
    assert asyncio.run(renewer.step()) == 1.0
    assert renewer.failures == 0


def test_a_refused_renewal_waits_long_and_deletes_nothing(state: Path, fleet: Fleet, clock: Clock) -> None:
    server = Server(fleet, state)
    server.status = 403
    renewer = _renewer(state, server, clock)
    clock.now = provisioning.renewal_due(_certificate(state))
    assert asyncio.run(renewer.step()) == 3600.0
    assert renewer.last_problem is not None
    assert "re-enroll" in renewer.last_problem
    assert (state / KEY_FILE).exists()
    assert (state / CERT_FILE).exists()


def test_a_wrong_clock_postpones_renewal_without_calling_the_service(state: Path, fleet: Fleet, clock: Clock) -> None:
    server = Server(fleet, state)
    renewer = _renewer(state, server, clock)
    clock.now = dt.datetime(1970, 1, 1, 0, 0, 5, tzinfo=dt.UTC)
    assert asyncio.run(renewer.step()) == 60.0
    assert server.calls == 0
    assert renewer.last_problem is not None
    assert "waiting for time synchronisation" in renewer.last_problem


def test_an_expired_looking_server_certificate_is_blamed_on_the_local_clock(
    state: Path, fleet: Fleet, clock: Clock
) -> None:
    server = Server(fleet, state)
    cause = ssl.SSLCertVerificationError(1, "certificate verify failed")
    cause.verify_code = 10
    cause.verify_message = "certificate has expired"
    try:
        raise httpx.ConnectError("handshake failed") from cause
    except httpx.ConnectError as exc:
        server.error = exc
    renewer = _renewer(state, server, clock)
    clock.now = _certificate(state).not_valid_after_utc + dt.timedelta(days=400)
    assert asyncio.run(renewer.step()) == 60.0
    assert renewer.last_problem is not None
    assert "clock" in renewer.last_problem
    assert renewer.failures == 0


def test_an_endless_answer_is_cut_off_before_anything_is_trusted() -> None:
    """The CA chain is fetched over a connection nothing vouches for yet: whoever answers may not fill the
    terminal's memory."""
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        while sent < 64 * MAX_RESPONSE:  # bounded only so that a regression fails instead of hanging
            sent += 16 * 1024
            yield b"A" * (16 * 1024)

    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=endless()))
    with pytest.raises(provisioning.EnrollmentFailed, match="oversized"):
        asyncio.run(provisioning.fetch_pinned_chain(URL, "ab" * 32, transport=transport))
    assert sent <= MAX_RESPONSE + 16 * 1024


def test_an_interrupted_swap_is_completed_on_load(state: Path, fleet: Fleet) -> None:
    old = load_identity(state)
    new_key = generate_key()
    grant = fleet.renew(fleet.unlock(PASSPHRASE), current=old.certificate, csr_pem=make_csr(new_key))
    # Power cut after the key was renamed into place but before the certificate was.
    write_atomic(state / NEXT_CERT_FILE, cert_pem(grant.certificate), mode=0o644)
    write_atomic(state / KEY_FILE, plain_key(new_key), mode=0o600)
    recovered = load_identity(state)
    assert recovered.certificate == grant.certificate
    assert not (state / NEXT_CERT_FILE).exists()


def test_a_swap_interrupted_before_any_rename_keeps_the_old_pair(state: Path, fleet: Fleet) -> None:
    old = load_identity(state)
    new_key = generate_key()
    grant = fleet.renew(fleet.unlock(PASSPHRASE), current=old.certificate, csr_pem=make_csr(new_key))
    write_atomic(state / NEXT_KEY_FILE, plain_key(new_key), mode=0o600)
    write_atomic(state / NEXT_CERT_FILE, cert_pem(grant.certificate), mode=0o644)
    assert load_identity(state).certificate == old.certificate
    assert not (state / NEXT_KEY_FILE).exists()
    install_identity(state, new_key, grant.certificate)
    assert load_identity(state).certificate == grant.certificate
    assert (state / KEY_FILE).stat().st_mode & 0o777 == 0o600


def test_a_mismatched_pair_is_reported_not_used(state: Path) -> None:
    write_atomic(state / KEY_FILE, plain_key(generate_key()), mode=0o600)
    with pytest.raises(provisioning.ProvisioningError, match="does not match"):
        load_identity(state)


def test_a_silently_dropped_connection_is_reported_in_words(state: Path, fleet: Fleet, clock: Clock) -> None:
    """A TLS server that refuses a client certificate often just closes the connection; httpx then raises an
    error whose text is empty, which must not reach the operator as "renewing: "."""
    server = Server(fleet, state)
    server.error = httpx.ReadError("")
    renewer = _renewer(state, server, clock)
    clock.now = provisioning.renewal_due(_certificate(state)) + dt.timedelta(minutes=1)
    asyncio.run(renewer.step())
    assert renewer.failures == 1
    assert renewer.last_problem is not None
    assert "closed the connection" in renewer.last_problem


def test_a_clock_that_ran_ahead_does_not_raise_the_floor_past_real_time(
    state: Path, fleet: Fleet, clock: Clock
) -> None:
    """Renewing once while the clock was 3 h fast must not make the corrected terminal wait 3 h: the floor only
    rises to what the service's certificate attests (its own time), and the certificate would expire meanwhile."""
    server = Server(fleet, state)
    renewer = _renewer(state, server, clock)
    real = provisioning.renewal_due(_certificate(state)) + dt.timedelta(minutes=1)
    clock.now = real + dt.timedelta(hours=3)  # the terminal's clock; the fleet's is `real`
    fleet.clock = lambda: real  # type: ignore[method-assign]
    assert asyncio.run(renewer.step()) == 1.0
    assert server.calls == 1
    assert provisioning.read_time_floor(state) <= real
    clock.now = real + dt.timedelta(minutes=2)  # corrected
    plan = plan_renewal(clock.now, _certificate(state), floor=provisioning.read_time_floor(state))
    assert plan.action is RenewalAction.SLEEP


def test_renewal_refuses_a_ca_chain_swapped_in_the_state_folder(state: Path, fleet: Fleet, tmp_path: Path) -> None:
    other = new_fleet(tmp_path / "other")
    (state / CHAIN_FILE).write_bytes(cert_pem(other.issuing, other.root))
    server = Server(fleet, state)
    with pytest.raises(provisioning.EnrollmentFailed, match="pinned"):
        asyncio.run(provisioning.renew_once(state, server_url=URL, transport=httpx.MockTransport(server)))
    assert server.calls == 0


def test_retries_never_outlast_the_certificate(state: Path, fleet: Fleet, clock: Clock) -> None:
    server = Server(fleet, state)
    server.status = 503
    renewer = _renewer(state, server, clock)
    certificate = _certificate(state)
    clock.now = certificate.not_valid_after_utc - dt.timedelta(minutes=20)
    for _ in range(8):
        delay = asyncio.run(renewer.step())
        assert delay <= max((certificate.not_valid_after_utc - clock.now).total_seconds() / 4, 30.0)
