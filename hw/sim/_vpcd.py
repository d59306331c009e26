"""The virtual chip as a vpcd card: a TCP client of vsmartcard's ``vpcd`` driver inside pcscd.

vpcd listens on 35963 (reader ``Virtual PCD 00 00``) and 35964 (``... 00 01``); a card is a client that connects
(insert) and closes (remove). Both directions are framed as a 2-byte big-endian length and that many bytes. A
1-byte frame is a control: 00 power off, 01 power on, 02 reset (no reply), 04 get ATR (reply: the ATR). Any other
frame is a command APDU; the reply is exactly one frame holding the response APDU.

vpcd sends the length and the APDU in two segments without TCP_NODELAY, so with Linux's delayed ACK every APDU would
wait ~40 ms; setting TCP_QUICKACK before every ``recv`` (the flag does not stick) and sending each reply with one
``sendall`` brings a round trip under 0.2 ms (../reference/vsmartcard.md §4).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time

from hw.sim._chip import ChipRemoved, VirtualChip

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 35963
_CONTROL_POWER_OFF = 0x00
_CONTROL_POWER_ON = 0x01
_CONTROL_RESET = 0x02
_CONTROL_ATR = 0x04
# pcscd powers a newly inserted card up right after its first ATR polls (04 04 01 04).
_MAX_POLLS_BEFORE_POWER = 4


class VpcdCard:
    """Plays a :class:`VirtualChip` on a vpcd slot from a background thread.

    ``insert`` connects (the card appears on the reader), ``remove`` disconnects. When pcscd restarts the connection
    drops and the card reconnects by itself while it is inserted. The chip leaving the field (removed-after fault)
    closes the connection, as pulling a real card would.
    """

    def __init__(self, chip: VirtualChip | None = None, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
        self._host = host
        self._port = port
        self._chip = chip
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.connected = threading.Event()
        self.apdus = 0

    @property
    def chip(self) -> VirtualChip | None:
        return self._chip

    def start(self) -> VpcdCard:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"vpcd-card-{self._port}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping = True
        self._disconnect()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> VpcdCard:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def insert(self, chip: VirtualChip) -> None:
        """Place ``chip`` on the reader (replacing any card there)."""
        with self._lock:
            self._chip = chip
        self._disconnect()
        self._wake.set()

    def remove(self) -> None:
        with self._lock:
            self._chip = None
        self._disconnect()
        self._wake.set()

    def wait_connected(self, timeout: float = 5.0) -> bool:
        return self.connected.wait(timeout)

    def _disconnect(self) -> None:
        sock = self._socket
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    # --- the thread ---------------------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping:
            with self._lock:
                chip = self._chip
            if chip is None or chip.removed:
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            try:
                log.debug("connecting to vpcd at %s:%d", self._host, self._port)
                sock = socket.create_connection((self._host, self._port), timeout=2)
            except OSError:
                # No pcscd (or it is restarting): try again shortly, like a card waiting for a field.
                self._wake.wait(0.1)
                self._wake.clear()
                continue
            self._socket = sock
            try:
                sock.settimeout(None)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.connected.set()
                self._serve(sock, chip)
            except (OSError, ConnectionError) as exc:
                log.debug("vpcd connection ended: %s", exc)
            finally:
                self.connected.clear()
                self._socket = None
                with contextlib.suppress(OSError):
                    sock.close()
            if chip is self._chip and not chip.removed and not self._stopping:
                time.sleep(0.2)  # the driver went away (pcscd restart) or ignored us: reconnect

    def _serve(self, sock: socket.socket, chip: VirtualChip) -> None:
        unanswered_polls = 0
        powered = False
        while not self._stopping and chip is self._chip:
            header = _recv_exactly(sock, 2)
            if header is None:
                return
            length = int.from_bytes(header, "big")
            payload = _recv_exactly(sock, length) if length else b""
            if payload is None:
                return
            if length == 1:
                control = payload[0]
                log.debug("vpcd control %02X", control)
                if control == _CONTROL_ATR:
                    _send(sock, chip.atr)
                    unanswered_polls += 0 if powered else 1
                    if unanswered_polls > _MAX_POLLS_BEFORE_POWER:
                        # pcscd accepted this connection while still tearing down a card pulled mid-command and
                        # will never power it: leave and come back, as re-placing a real card would.
                        log.debug("vpcd polls but never powers the card: reconnecting")
                        return
                elif control in (_CONTROL_POWER_OFF, _CONTROL_POWER_ON, _CONTROL_RESET):
                    powered = True
                    chip.power_on()  # every change of power leaves the chip without a session
                continue
            try:
                response = chip.transmit(payload)
            except ChipRemoved:
                log.debug("the chip left the field: closing the vpcd connection")
                return
            self.apdus += 1
            _send(sock, response)


def _recv_exactly(sock: socket.socket, count: int) -> bytes | None:
    data = bytearray()
    while len(data) < count:
        # Not sticky: without it before every recv, the kernel delays our ACK and vpcd's Nagle holds the APDU.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        chunk = sock.recv(count - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def _send(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(len(payload).to_bytes(2, "big") + payload)
