"""The fleet's CRL over plain HTTP, at the URL its certificates name as their CRL distribution point.

CRL fetchers (EMQX, ``openssl verify -crl_download``) speak plain HTTP to a distribution point: a CRL is signed, and
fetching it over TLS would need the validation it exists to serve (RFC 5280 §4.2.1.13). This server answers exactly
one thing, ``GET``/``HEAD`` of that path, from the file the fleet last signed; every request is read with a size and
time bound and answered with ``Connection: close``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import urllib.parse
from collections.abc import Callable

from cryptography.hazmat.primitives.serialization import Encoding

from provisioning._errors import ServiceUnavailable
from provisioning._fleet import Fleet

log = logging.getLogger(__name__)

MAX_REQUEST_HEAD = 8 * 1024
REQUEST_TIMEOUT_S = 5.0
# How long a fetcher may keep a copy: revocation reaches it at most this late (plus its own refresh interval).
CACHE_SECONDS = 300


def published_crl_der(fleet: Fleet) -> bytes | None:
    crl = fleet.published_crl()
    return None if crl is None else crl.public_bytes(Encoding.DER)


def _response(status: str, *, body: bytes = b"", content_type: str = "text/plain", head_only: bool = False) -> bytes:
    headers = [
        f"HTTP/1.1 {status}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        "Connection: close",
    ]
    if status.startswith("200"):
        headers.append(f"Cache-Control: max-age={CACHE_SECONDS}")
    return ("\r\n".join(headers) + "\r\n\r\n").encode("ascii") + (b"" if head_only else body)


def answer(head: bytes, *, path: str, crl: Callable[[], bytes | None]) -> bytes:
    """The whole HTTP response to one request head (request line and headers, CRLF CRLF)."""
    request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        return _response("400 Bad Request", body=b"not an HTTP/1.x request\n")
    method, target = parts[0], parts[1]
    if urllib.parse.urlsplit(target).path != path:
        return _response("404 Not Found", body=b"only the CRL is published here\n")
    if method not in ("GET", "HEAD"):
        return _response("405 Method Not Allowed", body=b"GET or HEAD\n")
    der = crl()
    if der is None:
        return _response("503 Service Unavailable", body=b"the fleet has no CRL yet\n")
    return _response("200 OK", body=der, content_type="application/pkix-crl", head_only=method == "HEAD")


async def start_crl_publisher(fleet: Fleet, *, host: str, port: int) -> asyncio.Server:
    """Listen on ``host:port`` and answer requests for the path of the fleet's CRL URL."""
    url = fleet.crl_url
    if url is None:
        raise ServiceUnavailable("the fleet has no CRL URL to publish at (set one with `cccd fleet crl-url URL`)")
    path = urllib.parse.urlsplit(url).path

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                head = await reader.readuntil(b"\r\n\r\n")
                writer.write(await asyncio.to_thread(answer, head, path=path, crl=lambda: published_crl_der(fleet)))
                await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError) as exc:
            log.debug("CRL request dropped: %s", type(exc).__name__)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    try:
        return await asyncio.start_server(handle, host, port, limit=MAX_REQUEST_HEAD, reuse_address=True)
    except OSError as exc:
        raise ServiceUnavailable(f"cannot listen on {host}:{port} for the CRL: {exc}") from exc
