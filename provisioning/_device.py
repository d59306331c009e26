"""The terminal's side of identity: enrollment with a one-time token, and renewal over mutual TLS.

The P-256 key is made here and never leaves the terminal (``device.key``, mode 0600). Before sending the token, the
terminal checks that the enrollment service's CA is the one whose SHA-256 fingerprint the installer typed in.

State directory::

    device.key      the private key (0600)                device.pem   this terminal's certificate
    ca-chain.pem    issuing CA + fleet root               config.json  device id, broker, first configuration
    time-floor      the latest time this terminal has trusted (a clock earlier than that is wrong)

Renewal replaces ``device.key`` and ``device.pem`` together. Both are written as ``device.next.*`` first and renamed
key-then-certificate; :func:`load_identity` finishes a swap that a power cut interrupted, so the pair on disk always
matches.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import logging
import os
import random
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from provisioning._errors import (
    ClockNotPlausible,
    EnrollmentFailed,
    FingerprintMismatch,
    InvalidRequest,
    ProvisioningError,
    RenewalRefused,
    ServiceUnavailable,
    TokenRejected,
    TokenRejection,
)
from provisioning._files import PUBLIC_MODE, SECRET_MODE, fsync_directory, read_text_bounded, write_atomic
from provisioning._fleet import Site
from provisioning._pki import (
    BACKDATE,
    cert_pem,
    common_name,
    fingerprints_match,
    generate_key,
    issued_by,
    load_certs,
    load_key,
    make_csr,
    normalize_fingerprint,
    plain_key,
)
from wire import is_device_id

log = logging.getLogger(__name__)

# No terminal can be running before this software existed: a clock earlier than this is certainly wrong.
BUILD_TIME_FLOOR = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
CLOCK_TOLERANCE = dt.timedelta(minutes=5)
RENEW_AT_FRACTION = 2 / 3
MAX_RESPONSE = 64 * 1024
HTTP_TIMEOUT_S = 30.0
REQUEST_DEADLINE_S = 90.0  # a whole request and its answer, however the server paces them

KEY_FILE, CERT_FILE, CHAIN_FILE, CONFIG_FILE, FLOOR_FILE = (
    "device.key",
    "device.pem",
    "ca-chain.pem",
    "config.json",
    "time-floor",
)
NEXT_KEY_FILE, NEXT_CERT_FILE = "device.next.key", "device.next.pem"


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    device_id: str
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]

    @property
    def not_after(self) -> dt.datetime:
        return self.certificate.not_valid_after_utc


# ---------------------------------------------------------------------------------------------------- files


def _same_key(key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate) -> bool:
    public = certificate.public_key()
    return (
        isinstance(public, ec.EllipticCurvePublicKey) and public.public_numbers() == key.public_key().public_numbers()
    )


def _read_cert(path: Path) -> x509.Certificate:
    try:
        return load_certs(path.read_bytes())[0]
    except (ProvisioningError, IndexError) as exc:
        raise ProvisioningError(f"{path} is not a usable certificate ({exc})") from exc


def load_identity(state_dir: Path) -> DeviceIdentity:
    """The terminal's key, certificate and CA chain, finishing an interrupted renewal if there is one."""
    key_path, cert_path = state_dir / KEY_FILE, state_dir / CERT_FILE
    next_key, next_cert = state_dir / NEXT_KEY_FILE, state_dir / NEXT_CERT_FILE
    try:
        key_bytes = key_path.read_bytes()
        certificate = _read_cert(cert_path)
        chain = tuple(load_certs((state_dir / CHAIN_FILE).read_bytes()))
    except FileNotFoundError as exc:
        raise ProvisioningError(f"{state_dir} holds no enrolled identity (run `cccd agent enroll`)") from exc
    try:
        key = load_key(key_bytes, None)
    except ProvisioningError as exc:
        raise ProvisioningError(f"{key_path} is not a usable private key") from exc
    if not _same_key(key, certificate) and next_cert.exists():
        # The key was renamed into place but the certificate was not: finish the swap.
        candidate = _read_cert(next_cert)
        if _same_key(key, candidate):
            next_cert.replace(cert_path)
            fsync_directory(state_dir)
            certificate = candidate
    if not _same_key(key, certificate):
        raise ProvisioningError(f"{key_path} does not match {cert_path}")
    for leftover in (next_key, next_cert):
        leftover.unlink(missing_ok=True)
    return DeviceIdentity(common_name(certificate), key, certificate, chain)


def install_identity(state_dir: Path, key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate) -> None:
    """Swap in a renewed key and certificate (see the module docstring for the crash-safe order)."""
    next_key, next_cert = state_dir / NEXT_KEY_FILE, state_dir / NEXT_CERT_FILE
    write_atomic(next_key, plain_key(key), mode=SECRET_MODE)
    write_atomic(next_cert, cert_pem(certificate), mode=PUBLIC_MODE)
    next_key.replace(state_dir / KEY_FILE)
    next_cert.replace(state_dir / CERT_FILE)
    fsync_directory(state_dir)


def read_time_floor(state_dir: Path) -> dt.datetime:
    try:
        stored = dt.datetime.fromisoformat(read_text_bounded(state_dir / FLOOR_FILE, limit=64).strip())
    except (FileNotFoundError, ValueError):
        return BUILD_TIME_FLOOR
    return max(BUILD_TIME_FLOOR, stored if stored.tzinfo else stored.replace(tzinfo=dt.UTC))


def record_time_floor(state_dir: Path, now: dt.datetime) -> None:
    if now > read_time_floor(state_dir):
        write_atomic(state_dir / FLOOR_FILE, now.isoformat().encode() + b"\n", mode=PUBLIC_MODE)


def attested_time(certificate: x509.Certificate, now: dt.datetime) -> dt.datetime:
    """The latest time both this terminal's clock and the service agree has passed: the service dates a new
    certificate from its own clock (minus a small backdate), so a terminal clock running ahead cannot raise the
    floor past real time and then make the terminal wait, certificate expiring, for a time that has not come."""
    return min(now, certificate.not_valid_before_utc + BACKDATE)


def check_clock(now: dt.datetime, *, floor: dt.datetime) -> None:
    if now < floor - CLOCK_TOLERANCE:
        raise ClockNotPlausible(
            f"the clock says {now:%Y-%m-%d %H:%M:%S} UTC, before {floor:%Y-%m-%d %H:%M} which this terminal has"
            " already seen; waiting for time synchronisation"
        )


# ------------------------------------------------------------------------------------------------------ HTTP


def _base_url(server_url: str) -> str:
    parts = urlsplit(server_url.strip())
    if parts.scheme != "https" or not parts.hostname:
        raise InvalidRequest("the enrollment server URL must be https://HOST:PORT")
    return f"https://{parts.netloc}"


def _caused_by_ssl(exc: BaseException) -> ssl.SSLError | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _network_error(exc: httpx.HTTPError, what: str) -> ProvisioningError:
    """Turn a transport failure into the error that tells the operator what to do."""
    ssl_error = _caused_by_ssl(exc)
    # A server that refuses the client certificate often just closes the connection, and httpx's error for that
    # has no text at all.
    text = str(ssl_error or exc) or f"the service closed the connection without answering ({type(exc).__name__})"
    if isinstance(ssl_error, ssl.SSLCertVerificationError) and ssl_error.verify_code in (9, 10):
        # 9 = server certificate not yet valid, 10 = expired: a certificate the fleet just issued cannot be either,
        # so it is this terminal's clock that is wrong.
        return ClockNotPlausible(f"{what}: the server's certificate looks {ssl_error.verify_message}; check the clock")
    if "certificate expired" in text or "certificate revoked" in text:
        return RenewalRefused(f"{what}: the service refused this terminal's certificate ({text})")
    if isinstance(ssl_error, ssl.SSLCertVerificationError):
        # Reached, but not the fleet's service (another CA, another host name): a trust failure, not an outage.
        return EnrollmentFailed(
            f"{what}: the server is not the fleet's enrollment service ({ssl_error.verify_message}); check --server"
        )
    return ServiceUnavailable(f"{what}: {text}")


def _client(*, verify: ssl.SSLContext | bool, transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(verify=verify, timeout=HTTP_TIMEOUT_S, transport=transport, follow_redirects=False)


async def _fetch(client: httpx.AsyncClient, method: str, url: str, *, body: object = None) -> httpx.Response:
    """Send a request and read at most ``MAX_RESPONSE`` bytes of the answer within ``REQUEST_DEADLINE_S``. The CA
    chain is fetched before anything is trusted, so whoever answers could otherwise stream a small terminal out of
    memory, or hold it for days by dripping a byte at a time under every per-read timeout."""
    try:
        async with asyncio.timeout(REQUEST_DEADLINE_S):
            async with client.stream(method, url, json=body) as response:
                content = bytearray()
                async for chunk in response.aiter_bytes():
                    content += chunk
                    if len(content) > MAX_RESPONSE:
                        raise EnrollmentFailed("the service answered with an oversized body")
    except TimeoutError as exc:
        raise ServiceUnavailable(f"the service did not answer within {REQUEST_DEADLINE_S:.0f} s") from exc
    return httpx.Response(response.status_code, headers=response.headers, content=bytes(content))


def _json_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except (ValueError, RecursionError) as exc:  # RecursionError: nesting deep enough to exhaust the parser
        raise EnrollmentFailed(f"the service answered {response.status_code} without JSON") from exc
    if not isinstance(body, dict):
        raise EnrollmentFailed("the service answered with something other than a JSON object")
    return body


def _error_code(response: httpx.Response) -> str:
    try:
        body = response.json()
    except (ValueError, RecursionError):
        return ""
    return str(body.get("error", "")) if isinstance(body, dict) else ""


def _raise_for_refusal(response: httpx.Response, what: str) -> None:
    if response.status_code == 200:
        return
    if response.status_code in (429, 502, 503, 504):
        # Busy, rate-limited or behind a proxy whose upstream is down: try later, nothing was refused.
        code = _error_code(response)
        retry = response.headers.get("retry-after", "")
        when = f"in {retry} s" if retry.isdigit() else "later"
        raise ServiceUnavailable(f"{what}: the service answered {response.status_code} {code}; try again {when}")
    body = _json_body(response)
    code, detail = str(body.get("error", "")), str(body.get("detail", ""))
    if code.startswith("token_"):
        try:
            reason = TokenRejection(code.removeprefix("token_"))
        except ValueError:
            reason = TokenRejection.UNKNOWN
        raise TokenRejected(reason)
    if code in ("renewal_refused", "certificate_required"):
        raise RenewalRefused(f"{what}: {detail}")
    raise EnrollmentFailed(f"{what}: the service answered {response.status_code} {code}: {detail}")


def _check_grant(
    body: dict[str, Any], *, key: ec.EllipticCurvePrivateKey, root: x509.Certificate
) -> tuple[str, x509.Certificate, tuple[x509.Certificate, ...]]:
    """The certificate must be for our key, name the device id it claims, and chain to the pinned root."""
    try:
        device_id = str(body["device_id"])
        certificate = load_certs(str(body["certificate"]).encode("ascii"))[0]
        chain = tuple(load_certs(str(body["ca_chain"]).encode("ascii")))
    except (KeyError, IndexError, UnicodeEncodeError, ProvisioningError) as exc:
        raise EnrollmentFailed("the service's answer lacks a usable certificate") from exc
    if not _same_key(key, certificate):
        raise EnrollmentFailed("the certificate is not for this terminal's key")
    if common_name(certificate) != device_id:
        raise EnrollmentFailed("the certificate does not name the device id the service gave")
    if not chain or chain[-1] != root or not issued_by(certificate, chain[0]):
        raise EnrollmentFailed("the certificate does not chain to the pinned fleet root")
    if not is_device_id(device_id):
        raise EnrollmentFailed("the service gave a device id that cannot name an MQTT identity")
    if certificate.not_valid_after_utc <= certificate.not_valid_before_utc + CLOCK_TOLERANCE:
        raise EnrollmentFailed("the certificate's validity is empty")
    for child, parent in itertools.pairwise(chain):
        if not issued_by(child, parent):
            raise EnrollmentFailed("the CA chain is broken")
    return device_id, certificate, chain


async def fetch_pinned_chain(
    base_url: str, fingerprint: str, *, transport: httpx.AsyncBaseTransport | None = None
) -> tuple[x509.Certificate, ...]:
    """Fetch the CA chain without trusting the connection, then accept it only if its root has the pinned
    fingerprint (and signs the issuing CA). Nothing secret is sent before this check."""
    try:
        async with _client(verify=False, transport=transport) as client:
            response = await _fetch(client, "GET", f"{base_url}/v1/ca")
    except httpx.HTTPError as exc:
        raise _network_error(exc, "fetching the CA chain") from exc
    if response.status_code != 200:
        raise EnrollmentFailed(f"the service answered {response.status_code} for its CA chain")
    try:
        chain = tuple(load_certs(response.content))
    except ProvisioningError as exc:
        raise EnrollmentFailed("the service's CA chain does not parse") from exc
    root = chain[-1]
    if not fingerprints_match(root, fingerprint):
        raise FingerprintMismatch(
            "the enrollment service's CA does not have the fingerprint you gave; not sending the token"
        )
    if root.issuer != root.subject or not issued_by(root, root):
        raise FingerprintMismatch("the pinned certificate is not a self-signed root")
    for child, parent in itertools.pairwise(chain):
        if not issued_by(child, parent):
            raise EnrollmentFailed("the service's CA chain is broken")
    return chain


def _trust(root: x509.Certificate) -> ssl.SSLContext:
    context = ssl.create_default_context(cadata=cert_pem(root).decode("ascii"))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _prepare_key(state_dir: Path, *, now: dt.datetime) -> ec.EllipticCurvePrivateKey:
    check_clock(now, floor=read_time_floor(state_dir))
    state_dir.mkdir(parents=True, exist_ok=True)
    # The identity's folder is this terminal's alone, whatever the umask: nobody else may swap its CA chain.
    os.chmod(state_dir, 0o700)
    key_path, cert_path = state_dir / KEY_FILE, state_dir / CERT_FILE
    if key_path.exists() and cert_path.exists():
        existing = load_identity(state_dir)
        raise InvalidRequest(
            f"{state_dir} is already enrolled as {existing.device_id}; to enroll this terminal anew (after a"
            " revocation), move that folder away first"
        )
    # A key left by an attempt that failed later on is reused: it never left the terminal either. One that others
    # could read, or that someone else owns, was not made here (or has been exposed): it is not this terminal's key.
    if key_path.exists():
        info = key_path.stat()
        if info.st_uid != os.geteuid() or info.st_mode & 0o077:
            raise InvalidRequest(
                f"{key_path} was not left by an earlier attempt (its mode or owner is not this terminal's 0600): "
                "remove it, then enroll again"
            )
        try:
            return load_key(key_path.read_bytes(), None)
        except ProvisioningError as exc:
            raise InvalidRequest(f"{key_path} is not a usable private key: remove it, then enroll again") from exc
    key = generate_key()
    write_atomic(key_path, plain_key(key), mode=SECRET_MODE)
    return key


def _store_enrollment(
    state_dir: Path,
    certificate: x509.Certificate,
    chain: tuple[x509.Certificate, ...],
    config: dict[str, Any],
    *,
    now: dt.datetime,
) -> None:
    write_atomic(state_dir / CHAIN_FILE, cert_pem(*chain), mode=PUBLIC_MODE)
    write_atomic(state_dir / CONFIG_FILE, json.dumps(config, indent=2).encode() + b"\n", mode=PUBLIC_MODE)
    # The certificate last: its presence marks the terminal as enrolled.
    write_atomic(state_dir / CERT_FILE, cert_pem(certificate), mode=PUBLIC_MODE)
    record_time_floor(state_dir, attested_time(certificate, now))


@dataclass(frozen=True, slots=True)
class Enrolled:
    identity: DeviceIdentity
    config: dict[str, Any]


async def enroll(
    *,
    server_url: str,
    token: str,
    ca_fingerprint: str,
    state_dir: Path,
    site: str | None = None,
    clock: Callable[[], dt.datetime] = utc_now,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Enrolled:
    """Enroll this terminal: key and CSR made here, token redeemed over HTTPS checked against the pinned CA. A key
    left in ``state_dir`` by an attempt whose answer was lost is used again, and a token it already spent gets
    that answer from the service again (``/v1/enroll/recover``).

    ``site`` (``PROVINCE/COMMUNE[/TEAM]``), when the installer knows it, makes the service refuse a token made for
    another site (``TokenRejected(WRONG_SITE)``; the token stays usable)."""
    base_url = _base_url(server_url)
    pinned = normalize_fingerprint(ca_fingerprint)
    request: dict[str, str] = {"token": token.strip()}
    if site is not None:
        request["site"] = str(Site.parse(site))
    key = _prepare_key(state_dir, now=clock())
    chain = await fetch_pinned_chain(base_url, pinned, transport=transport)
    root = chain[-1]
    csr = make_csr(key).decode("ascii")
    try:
        async with _client(verify=_trust(root), transport=transport) as client:
            response = await _fetch(client, "POST", f"{base_url}/v1/enroll", body={**request, "csr": csr})
            if response.status_code == 403 and _error_code(response) == "token_used":
                # Maybe by this terminal, on the key it kept, with the answer lost on the way: ask for it again.
                recovered = await _fetch(
                    client, "POST", f"{base_url}/v1/enroll/recover", body={"token": request["token"], "csr": csr}
                )
                if recovered.status_code == 200:
                    response = recovered
    except httpx.HTTPError as exc:
        raise _network_error(exc, "enrolling") from exc
    _raise_for_refusal(response, "enrollment")
    body = _json_body(response)
    device_id, certificate, granted_chain = _check_grant(body, key=key, root=root)
    if "site" in request and body.get("site") != request["site"]:
        raise EnrollmentFailed(f"the service enrolled this terminal at {body.get('site')!r}, not {request['site']!r}")
    config = _first_config(body, device_id=device_id, base_url=base_url, fingerprint=pinned)
    _store_enrollment(state_dir, certificate, granted_chain, config, now=clock())
    return Enrolled(DeviceIdentity(device_id, key, certificate, granted_chain), config)


def _first_config(body: dict[str, Any], *, device_id: str, base_url: str, fingerprint: str) -> dict[str, Any]:
    """The terminal's first configuration, from the service's answer (checked: it is input like any other)."""
    raw_broker = body.get("broker")
    broker: dict[str, Any] = raw_broker if isinstance(raw_broker, dict) else {}
    host, port = broker.get("host"), broker.get("port")
    if not isinstance(host, str) or not host or len(host) > 253:
        raise EnrollmentFailed("the service gave no usable broker host")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise EnrollmentFailed("the service gave no usable broker port")
    raw_settings = body.get("settings")
    return {
        "device_id": device_id,
        "site": str(body.get("site", "")),
        "enrollment": {"server": base_url, "ca_fingerprint": fingerprint},
        "broker": {"host": host, "port": port},
        "server_identity": str(body.get("server_identity", "")),
        "config_version": 0,
        "settings": raw_settings if isinstance(raw_settings, dict) else {},
    }


# ---------------------------------------------------------------------------------------------------- renewal


class RenewalAction(StrEnum):
    WAIT_FOR_CLOCK = "wait_for_clock"
    SLEEP = "sleep"
    RENEW = "renew"


@dataclass(frozen=True, slots=True)
class RenewalPlan:
    action: RenewalAction
    at: dt.datetime
    reason: str


def _check_pinned_root(state_dir: Path, root: x509.Certificate) -> None:
    """The root in ``ca-chain.pem`` must still be the one pinned at enrollment (kept in ``config.json``): a chain
    swapped in the folder would otherwise decide whom the terminal renews with."""
    try:
        config = json.loads(read_text_bounded(state_dir / CONFIG_FILE, limit=MAX_RESPONSE))
        pinned = str(config["enrollment"]["ca_fingerprint"])
    except (OSError, ValueError, RecursionError, KeyError, TypeError) as exc:
        raise EnrollmentFailed(f"{state_dir / CONFIG_FILE} does not say which fleet root was pinned") from exc
    if not fingerprints_match(root, pinned):
        raise EnrollmentFailed(f"{state_dir / CHAIN_FILE} no longer ends at the fleet root pinned at enrollment")


def renewal_due(certificate: x509.Certificate) -> dt.datetime:
    start, end = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    return start + (end - start) * RENEW_AT_FRACTION


def plan_renewal(now: dt.datetime, certificate: x509.Certificate, *, floor: dt.datetime) -> RenewalPlan:
    """What to do at ``now``: wait for a plausible clock, sleep until two thirds of the lifetime, or renew.

    A clock behind the floor (the latest time already trusted, or the certificate's own start) means the clock is
    wrong, not that the certificate is not yet valid: wait, never discard anything. A certificate that looks
    expired is still offered for renewal; the service judges expiry with its own clock.
    """
    floor = max(floor, certificate.not_valid_before_utc)
    if now < floor - CLOCK_TOLERANCE:
        return RenewalPlan(
            RenewalAction.WAIT_FOR_CLOCK, now, f"the clock ({now:%Y-%m-%d %H:%M}) is before {floor:%Y-%m-%d %H:%M}"
        )
    due = renewal_due(certificate)
    if now >= due:
        return RenewalPlan(RenewalAction.RENEW, now, f"two thirds of the lifetime passed at {due:%Y-%m-%d %H:%M}")
    return RenewalPlan(RenewalAction.SLEEP, due, f"renewal due at {due:%Y-%m-%d %H:%M}")


async def renew_once(
    state_dir: Path,
    *,
    server_url: str,
    clock: Callable[[], dt.datetime] = utc_now,
    transport: httpx.AsyncBaseTransport | None = None,
) -> DeviceIdentity:
    """Get a new certificate on a new key, authenticating with the current one over mutual TLS."""
    identity = load_identity(state_dir)
    root = identity.chain[-1]
    _check_pinned_root(state_dir, root)
    new_key = generate_key()
    context = _trust(root)
    context.load_cert_chain(state_dir / CERT_FILE, state_dir / KEY_FILE)  # the files load_identity just checked
    base_url = _base_url(server_url)
    try:
        async with _client(verify=context, transport=transport) as client:
            response = await _fetch(
                client, "POST", f"{base_url}/v1/renew", body={"csr": make_csr(new_key).decode("ascii")}
            )
    except httpx.HTTPError as exc:
        raise _network_error(exc, "renewing") from exc
    _raise_for_refusal(response, "renewal")
    device_id, certificate, chain = _check_grant(_json_body(response), key=new_key, root=root)
    if device_id != identity.device_id:
        raise EnrollmentFailed(f"the renewed certificate names {device_id}, not {identity.device_id}")
    install_identity(state_dir, new_key, certificate)
    write_atomic(state_dir / CHAIN_FILE, cert_pem(*chain), mode=PUBLIC_MODE)
    record_time_floor(state_dir, attested_time(certificate, clock()))
    return DeviceIdentity(device_id, new_key, certificate, chain)


class CertificateRenewer:
    """Keeps the terminal's certificate fresh: renews at two thirds of its lifetime, retries with jittered
    exponential backoff, and waits (saying why) while the clock is implausible. It never deletes the identity."""

    def __init__(
        self,
        state_dir: Path,
        *,
        server_url: str,
        clock: Callable[[], dt.datetime] = utc_now,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        on_renewed: Callable[[DeviceIdentity], Awaitable[None]] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        min_retry_s: float = 60.0,
        max_retry_s: float = 3600.0,
        clock_wait_s: float = 60.0,
        max_sleep_s: float = 6 * 3600.0,
    ) -> None:
        self._state_dir = state_dir
        self._server_url = server_url
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self._on_renewed = on_renewed
        self._transport = transport
        self._min_retry = min_retry_s
        self._max_retry = max_retry_s
        self._clock_wait = clock_wait_s
        self._max_sleep = max_sleep_s
        self.failures = 0
        self.last_problem: str | None = None

    def _backoff(self) -> float:
        ceiling = min(self._max_retry, self._min_retry * 2 ** min(self.failures - 1, 20))
        # "Equal jitter": at least half the delay, so a fleet that lost its server does not return in lockstep.
        return float(ceiling / 2 + self._jitter() * ceiling / 2)

    async def step(self) -> float:
        """One decision; returns how many seconds to wait before the next."""
        now = self._clock()
        identity = load_identity(self._state_dir)
        plan = plan_renewal(now, identity.certificate, floor=read_time_floor(self._state_dir))
        if plan.action is RenewalAction.WAIT_FOR_CLOCK:
            self.last_problem = f"{plan.reason}: waiting for time synchronisation, certificate kept"
            log.warning("%s", self.last_problem)
            return self._clock_wait
        if plan.action is RenewalAction.SLEEP:
            self.last_problem = None
            return max(1.0, min((plan.at - now).total_seconds(), self._max_sleep))
        try:
            renewed = await renew_once(
                self._state_dir, server_url=self._server_url, clock=self._clock, transport=self._transport
            )
        except ClockNotPlausible as exc:
            self.last_problem = str(exc)
            log.warning("certificate renewal postponed: %s", exc)
            return self._clock_wait
        except RenewalRefused as exc:
            self.failures += 1
            self.last_problem = f"{exc}; an operator must re-enroll this terminal"
            log.error("certificate renewal refused: %s", self.last_problem)
            return self._max_retry
        except ProvisioningError as exc:
            self.failures += 1
            self.last_problem = str(exc)
            # Never sleep through the rest of the certificate's life: with short lifetimes an outage of a few
            # backoff steps would otherwise outlast the certificate, and the terminal would need enrolling again.
            left = (identity.not_after - now).total_seconds()
            delay = min(self._backoff(), max(left / 4, 30.0))
            log.warning("certificate renewal failed (%s); retrying in %.0f s", exc, delay)
            return delay
        self.failures = 0
        self.last_problem = None
        log.info("certificate renewed: %s valid until %s", renewed.device_id, renewed.not_after)
        if self._on_renewed is not None:
            await self._on_renewed(renewed)
        return 1.0

    async def run(self) -> None:
        while True:
            await self._sleep(await self.step())
