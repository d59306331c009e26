"""The enrollment service: an ASGI app (FastAPI) that turns a one-time token and a CSR into a certificate, and a
terminal's still-valid certificate (presented over mTLS) and a new CSR into a renewed one.

Routes (JSON unless said otherwise)::

    GET  /v1/ca      the CA chain, PEM (issuing, root): a terminal checks the root's fingerprint before anything else
    GET  /v1/crl     the issuing CA's CRL, DER (application/pkix-crl); with a fleet CRL URL, the CRL naming it
    GET  /v1/health  {"status": "ok"}
    POST /v1/enroll  {"token", "csr", optional "site"} -> {"device_id", "site", "certificate", "ca_chain", "broker",
                     "server_identity", "settings"}
    POST /v1/enroll/recover  {"token", "csr"} -> the answer a used token gave, again, when the CSR is on the key it
                     was given for (within a day): an enrollment whose answer was lost is completed by asking again
    POST /v1/renew   {"csr"} with the terminal's certificate as TLS client certificate -> same answer

The app reads the client certificate from the ASGI TLS extension (``scope["extensions"]["tls"]
["client_cert_chain"]``). uvicorn does not fill that extension, so :func:`serve` runs uvicorn with a small protocol
subclass that does; a server that mounts this app behind its own TLS must provide the same.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import ipaddress
import json
import logging
import math
import os
import socket
import ssl
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from http import HTTPStatus
from pathlib import Path
from typing import Any

import uvicorn
from cryptography import x509
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from uvicorn.protocols.http.h11_impl import H11Protocol

from provisioning._crl_http import published_crl_der, start_crl_publisher
from provisioning._errors import (
    DeviceNotFound,
    InvalidRequest,
    ProvisioningError,
    RenewalRefused,
    ServiceUnavailable,
    TokenRejected,
)
from provisioning._fleet import Fleet, Grant, Site
from provisioning._pki import Authority, Role, cert_pem, plain_key

log = logging.getLogger(__name__)

MAX_BODY = 16 * 1024
ENROLLMENT_CERT_LIFETIME = dt.timedelta(days=90)
CRL_CHECK_INTERVAL_S = 3600.0
# Refused tokens (unknown, used, expired or another site's) allowed per client address in a sliding window; beyond
# them the address gets 429 until the window moves on. Tokens are too long to guess; this keeps a broken or hostile
# client from trying tokens without end and flooding the log. Malformed requests are not counted: they are refused
# before any token is looked at, cost nothing, and a client that sends them gets the reason.
ENROLL_FAILURES_ALLOWED = 20
ENROLL_FAILURE_WINDOW_S = 600.0
# OpenSSL's X509_V_FLAG_NO_CHECK_TIME, which Python's ssl.VerifyFlags does not name.
_X509_V_FLAG_NO_CHECK_TIME = 0x200000

# 404 -> "not_found", 405 -> "method_not_allowed", ...
_STATUS_CODES = {status.value: status.phrase.lower().replace(" ", "_") for status in HTTPStatus}

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _error(status: int, code: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status)


async def _read_json(request: Request) -> dict[str, Any]:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise _BodyTooLargeError
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise _BodyTooLargeError
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        # RecursionError: a small body of nested brackets exhausts the parser's stack; still just bad input.
        raise InvalidRequest("the body is not JSON") from exc
    if not isinstance(value, dict):
        raise InvalidRequest("the body must be a JSON object")
    return value


class _BodyTooLargeError(Exception):
    """The request body is over MAX_BODY; answered with 413."""


def _text_field(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"{key!r} must be a non-empty string")
    return value


def grant_json(grant: Grant) -> dict[str, Any]:
    return {
        "device_id": grant.device_id,
        "site": grant.site,
        "certificate": cert_pem(grant.certificate).decode("ascii"),
        "ca_chain": cert_pem(*grant.chain).decode("ascii"),
        "broker": {"host": grant.broker_host, "port": grant.broker_port},
        "server_identity": grant.server_identity,
        "settings": dict(grant.settings),
    }


def peer_certificate(scope: Scope) -> x509.Certificate | None:
    """The TLS client certificate from the ASGI TLS extension, if the server put one there."""
    extensions = scope.get("extensions")
    tls = extensions.get("tls") if isinstance(extensions, dict) else None
    chain = tls.get("client_cert_chain") if isinstance(tls, dict) else None
    if not isinstance(chain, (list, tuple)) or not chain or not isinstance(chain[0], str):
        return None
    try:
        return x509.load_pem_x509_certificate(chain[0].encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return None


class FailureLimiter:
    """Refusals per client address in a sliding window, to turn a client away once it has had too many.

    An IPv6 client counts by its /64 network (one host holds a whole /64 and may use any address in it). At most
    ``max_clients`` are tracked: beyond that the one whose last refusal is oldest is forgotten, so that a flood from
    many addresses cannot grow the table without bound.
    """

    def __init__(
        self,
        *,
        allowed: int = ENROLL_FAILURES_ALLOWED,
        window_s: float = ENROLL_FAILURE_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 10_000,
    ) -> None:
        self._allowed = allowed
        self._window_s = window_s
        self._clock = clock
        self._max_clients = max_clients
        self._failures: dict[str, collections.deque[float]] = {}

    def retry_after(self, client: str) -> float:
        """Seconds until ``client`` may try again; 0 when it may now."""
        self._forget_old()
        failures = self._failures.get(_client_key(client))
        if failures is None or len(failures) < self._allowed:
            return 0.0
        return max(1.0, failures[0] + self._window_s - self._clock())

    def record(self, client: str) -> None:
        self._forget_old()
        key = _client_key(client)
        if key not in self._failures and len(self._failures) >= self._max_clients:
            del self._failures[min(self._failures, key=lambda other: self._failures[other][-1])]
        failures = self._failures.setdefault(key, collections.deque(maxlen=self._allowed))
        failures.append(self._clock())
        if len(failures) == self._allowed:
            # Once, when the address becomes blocked; what it sends while blocked is logged at DEBUG only.
            log.warning("%s refused %d tokens in %.0f s: turned away for a while", key, self._allowed, self._window_s)

    def _forget_old(self) -> None:
        # Only recent trouble is kept, so the table stays as small as the clients that caused it.
        horizon = self._clock() - self._window_s
        for client in list(self._failures):
            failures = self._failures[client]
            while failures and failures[0] <= horizon:
                failures.popleft()
            if not failures:
                del self._failures[client]


def _client_key(client: str) -> str:
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return client
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def create_enrollment_app(fleet: Fleet, authority: Authority, *, limiter: FailureLimiter | None = None) -> FastAPI:
    """The enrollment app for ``fleet``, signing with the unlocked ``authority``; ``limiter`` counts refused
    tokens per client address (default: :data:`ENROLL_FAILURES_ALLOWED` per :data:`ENROLL_FAILURE_WINDOW_S`)."""
    app = FastAPI(title="cccd-edge enrollment", docs_url=None, redoc_url=None, openapi_url=None)
    failures = limiter if limiter is not None else FailureLimiter()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        # The framework's own answers (unknown route, wrong method) in the same {"error", "detail"} shape as ours,
        # so that a script reads every refusal the same way.
        status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
        code = _STATUS_CODES.get(status, "http_error")
        return _error(status, code, str(getattr(exc, "detail", "") or code))

    @app.exception_handler(_BodyTooLargeError)
    async def too_large(_: Request, __: Exception) -> JSONResponse:
        return _error(413, "too_large", f"requests are at most {MAX_BODY} bytes")

    @app.exception_handler(InvalidRequest)
    async def invalid(_: Request, exc: Exception) -> JSONResponse:
        return _error(400, "invalid_request", str(exc))

    @app.exception_handler(TokenRejected)
    async def token_rejected(request: Request, exc: Exception) -> JSONResponse:
        reason = exc.reason.value if isinstance(exc, TokenRejected) else "rejected"
        # The reason and the address, never the token.
        log.info("refused a token from %s: %s", _client(request), reason)
        return _error(403, f"token_{reason}", str(exc))

    @app.exception_handler(RenewalRefused)
    @app.exception_handler(DeviceNotFound)
    async def renewal_refused(request: Request, exc: Exception) -> JSONResponse:
        log.info("refused a renewal from %s: %s", _client(request), exc)
        return _error(403, "renewal_refused", str(exc))

    @app.get("/v1/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/ca")
    async def ca_chain() -> Response:
        return Response(authority.chain_pem(), media_type="application/pem-certificate-chain")

    @app.get("/v1/crl")
    async def crl() -> Response:
        der = published_crl_der(fleet)
        if der is None:
            return _error(503, "no_crl", "the fleet has no CRL yet")
        return Response(der, media_type="application/pkix-crl")

    def turned_away(client: str) -> JSONResponse | None:
        wait = failures.retry_after(client)
        if wait <= 0:
            return None
        log.debug("enrollment from %s turned away: too many refused tokens", client)
        detail = f"too many refused tokens from this address; try again in {wait:.0f} s"
        response = _error(429, "too_many_attempts", detail)
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response

    async def redeem(request: Request, use: Callable[[dict[str, Any]], Grant]) -> Grant | JSONResponse:
        """Run ``use`` on the request's body unless the client is turned away; refused tokens count against it."""
        client = _client(request)
        if (refusal := turned_away(client)) is not None:
            return refusal
        try:
            return await asyncio.to_thread(use, await _read_json(request))
        except TokenRejected:
            failures.record(client)
            raise

    @app.post("/v1/enroll")
    async def enroll(request: Request) -> JSONResponse:
        def use(body: dict[str, Any]) -> Grant:
            site = Site.parse(_text_field(body, "site")) if "site" in body else None
            token, csr = _text_field(body, "token"), _text_field(body, "csr")
            return fleet.enroll(authority, token=token, csr_pem=csr, site=site)

        grant = await redeem(request, use)
        if isinstance(grant, JSONResponse):
            return grant
        log.info("enrolled %s at site %s", grant.device_id, grant.site)
        return JSONResponse(grant_json(grant))

    @app.post("/v1/enroll/recover")
    async def recover(request: Request) -> JSONResponse:
        def use(body: dict[str, Any]) -> Grant:
            token, csr = _text_field(body, "token"), _text_field(body, "csr")
            return fleet.recover_enrollment(authority, token=token, csr_pem=csr)

        grant = await redeem(request, use)
        if isinstance(grant, JSONResponse):
            return grant
        log.info("gave %s its enrollment again", grant.device_id)
        return JSONResponse(grant_json(grant))

    @app.post("/v1/renew")
    async def renew(request: Request) -> JSONResponse:
        current = peer_certificate(request.scope)
        if current is None:
            return _error(401, "certificate_required", "renewal needs the terminal's certificate over mutual TLS")
        body = await _read_json(request)
        grant = await asyncio.to_thread(fleet.renew, authority, current=current, csr_pem=_text_field(body, "csr"))
        log.info("renewed %s", grant.device_id)
        return JSONResponse(grant_json(grant))

    return app


def _client(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


class TLSExtensionProtocol(H11Protocol):
    """uvicorn's h11 protocol, plus the ASGI TLS extension carrying the verified client certificate."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if not der:
            return
        chain = [ssl.DER_cert_to_PEM_cert(der)]
        inner: ASGIApp = self.app

        async def with_tls(scope: Scope, receive: Receive, send: Send) -> None:
            if scope.get("type") == "http":
                extensions = dict(scope.get("extensions") or {})
                extensions["tls"] = {"client_cert_chain": chain}
                scope = {**scope, "extensions": extensions}
            await inner(scope, receive, send)

        self.app = with_tls


def server_ssl_context(certificate: x509.Certificate, key_pem: bytes, *, authority: Authority) -> ssl.SSLContext:
    """TLS for the service: our certificate and chain; client certificates optional (enrollment has none yet)
    but verified against the fleet CA whenever presented (renewal)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    with tempfile.TemporaryDirectory(prefix="cccd-enroll-") as tmp:
        # load_cert_chain only reads files; these live for the duration of the call, readable by us alone.
        cert_file, key_file = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
        cert_file.write_bytes(cert_pem(certificate, authority.certificate))
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key_pem)
        context.load_cert_chain(cert_file, key_file)
    context.load_verify_locations(cadata=authority.chain_pem().decode("ascii"))
    context.verify_mode = ssl.CERT_OPTIONAL
    # The handshake still proves the client holds a key the fleet CA certified, but leaves the certificate's dates
    # to Fleet.renew: refused in the handshake, an expired terminal would only see a dropped connection and retry
    # for ever, where a 403 "renewal_refused: expired" tells it (and its operator) to enroll again.
    context.verify_flags |= _X509_V_FLAG_NO_CHECK_TIME
    return context


def _is_wildcard(host: str) -> bool:
    return host in ("", "0.0.0.0", "::")  # noqa: S104 - comparing, not binding


def service_names(host: str, *, extra: Sequence[str] = ()) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """DNS names and IP addresses for the service certificate: the listen address (unless a wildcard), the names
    and addresses in ``extra`` (how terminals reach the service), this machine's names, and loopback."""
    dns = {"localhost", socket.gethostname(), socket.getfqdn()}
    ips = {"127.0.0.1", "::1"}
    for name in (*extra, *(() if _is_wildcard(host) else (host,))):
        try:
            ips.add(str(ipaddress.ip_address(name)))
        except ValueError:
            dns.add(name)
    return tuple(sorted(d for d in dns if d and "_" not in d)), tuple(sorted(ips))


async def serve(
    fleet: Fleet,
    authority: Authority,
    *,
    host: str,
    port: int,
    names: Sequence[str] = (),
    on_crl_refresh: Callable[[], None] | None = None,
    started: Callable[[], None] | None = None,
    max_refused: int = ENROLL_FAILURES_ALLOWED,
    crl_listen: tuple[str, int] | None = None,
) -> None:
    """Run the enrollment service over HTTPS until cancelled (or SIGINT/SIGTERM), re-signing the CRL when due;
    with ``crl_listen``, also publish the CRL over plain HTTP there, at the path of the fleet's CRL URL.

    ``names`` are the host names and addresses terminals use to reach the service: they go into its certificate
    (first one as its CN), beside the listen address, this machine's names and loopback. A client address with
    ``max_refused`` refused tokens in :data:`ENROLL_FAILURE_WINDOW_S` gets 429 until the window moves on."""
    dns_names, ip_addresses = service_names(host, extra=names)
    key, certificate = fleet.issue_service(
        authority,
        role=Role.ENROLLMENT,
        name=names[0] if names else dns_names[0] if _is_wildcard(host) else host,
        lifetime=ENROLLMENT_CERT_LIFETIME,
        dns_names=dns_names,
        ip_addresses=ip_addresses,
    )
    context = server_ssl_context(certificate, plain_key(key), authority=authority)
    app = create_enrollment_app(fleet, authority, limiter=FailureLimiter(allowed=max_refused))
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=TLSExtensionProtocol,
        ws="none",
        lifespan="off",
        log_level="warning",
        ssl_context_factory=lambda _config, _default: context,
        # A request from a terminal is a few kilobytes: refuse to hold anything bigger in flight.
        h11_max_incomplete_event_size=MAX_BODY,
        timeout_keep_alive=5,
    )
    server = uvicorn.Server(config)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise ServiceUnavailable(f"cannot listen on {host}:{port}: {exc}") from exc

    publisher = None
    if crl_listen is not None:
        try:
            publisher = await start_crl_publisher(fleet, host=crl_listen[0], port=crl_listen[1])
        except ProvisioningError:
            listener.close()
            raise

    async def refresh_crl() -> None:
        while True:
            if on_crl_refresh is not None:
                try:
                    await asyncio.to_thread(on_crl_refresh)
                except ProvisioningError:
                    log.exception("re-signing the CRL failed; retrying in an hour")
            await asyncio.sleep(CRL_CHECK_INTERVAL_S)

    async def announce() -> None:
        # uvicorn exposes no event for "listening"; poll its flag briefly.
        while not server.started:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        if started is not None:
            started()

    helpers = [asyncio.create_task(refresh_crl(), name="crl-refresh"), asyncio.create_task(announce(), name="announce")]
    try:
        await server.serve(sockets=[listener])
    finally:
        for task in helpers:
            task.cancel()
        await asyncio.gather(*helpers, return_exceptions=True)
        listener.close()
        if publisher is not None:
            publisher.close()
            await publisher.wait_closed()
