"""The PC/SC reader adapter: pyscard's raw ``SCard*`` calls over pcscd, each run in the adapter's own thread.

pyscard blocks, so every call runs on a thread owned by the adapter (a PC/SC context is used from one thread
only); the event loop never blocks. A card (or a driver) that stops answering would block that thread for good: a
command gets a deadline, after which the read ends as if the card had left and the stuck thread is abandoned (a
daemon thread, so neither Ctrl-C nor the end of the program waits for it). Each connection establishes its own
context, so a pcscd restart or an unplugged reader costs one failed attempt, not a dead adapter; ``events()``
re-establishes its context and reports the reader as unavailable until it is back. Connections are exclusive. A
card that leaves mid-exchange surfaces as :class:`~hw.CardRemoved`, whatever status the stack reports for it. An
answer split by a T=0 card (``61xx``) is gathered with GET RESPONSE here, so the chip core sees whole answers
whatever the protocol.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from smartcard import scard

from hw._reader import (
    CardRemoved,
    NoCard,
    ReaderError,
    ReaderEvent,
    ReaderState,
    ReaderUnavailable,
    atr_supports_extended_length,
)

T = TypeVar("T")

# A card may hand its answer out in GET RESPONSE pieces of at most 256 bytes: an extended answer needs 257 of them.
_MAX_GET_RESPONSES = 260
# The longest short APDU (4 + 1 + 255 + 1): a reader whose driver says it takes no more exchanges short APDUs only.
_SHORT_APDU_MAX = 261
# How long one command (with its GET RESPONSE pieces) may take. A slow chip signs with RSA-2048 in about a second
# and readers give up on a mute card by themselves within a few; past this the card is treated as gone.
TRANSMIT_TIMEOUT_S = 10.0
# Releasing a connection after a command timed out, or on Ctrl-C, must not wait behind the stuck command for long.
_CLEANUP_TIMEOUT_S = 2.0


def gather_response(response: bytes, send: Callable[[bytes], bytes]) -> bytes:
    """The whole answer behind ``61xx`` (ISO/IEC 7816-4 §5.1.3: xx more bytes wait, 00 meaning 256 or more): GET
    RESPONSE (``00 C0 00 00 xx``) until another status word comes, the data of every piece joined in order. A card
    that never stops saying ``61xx`` gets its last answer passed on, which the caller then refuses as a status."""
    data = b""
    for _ in range(_MAX_GET_RESPONSES):
        if len(response) < 2 or response[-2] != 0x61:
            return data + response
        data += response[:-2]
        response = send(bytes((0x00, 0xC0, 0x00, 0x00, response[-1])))
    return data + response


def _code(value: int) -> int:
    return value & 0xFFFFFFFF


SUCCESS = 0
E_NO_SERVICE = _code(scard.SCARD_E_NO_SERVICE)
E_SERVICE_STOPPED = _code(scard.SCARD_E_SERVICE_STOPPED)
E_NO_READERS = _code(scard.SCARD_E_NO_READERS_AVAILABLE)
E_UNKNOWN_READER = _code(scard.SCARD_E_UNKNOWN_READER)
E_READER_UNAVAILABLE = _code(scard.SCARD_E_READER_UNAVAILABLE)
E_NO_SMARTCARD = _code(scard.SCARD_E_NO_SMARTCARD)
E_SHARING_VIOLATION = _code(scard.SCARD_E_SHARING_VIOLATION)
E_TIMEOUT = _code(scard.SCARD_E_TIMEOUT)
E_CANCELLED = _code(scard.SCARD_E_CANCELLED)
E_INVALID_HANDLE = _code(scard.SCARD_E_INVALID_HANDLE)
# What a contactless card that left the field looks like, depending on when the stack noticed.
_CARD_GONE = frozenset(
    _code(c)
    for c in (
        scard.SCARD_W_REMOVED_CARD,
        scard.SCARD_E_NO_SMARTCARD,
        scard.SCARD_E_NOT_TRANSACTED,
        scard.SCARD_W_UNPOWERED_CARD,
        scard.SCARD_W_UNRESPONSIVE_CARD,
        scard.SCARD_W_RESET_CARD,
        scard.SCARD_E_COMM_DATA_LOST,
        scard.SCARD_F_COMM_ERROR,
    )
)
_SERVICE_GONE = frozenset({E_NO_SERVICE, E_SERVICE_STOPPED, E_INVALID_HANDLE})
_READER_GONE = frozenset({E_UNKNOWN_READER, E_READER_UNAVAILABLE, E_NO_READERS})


def _message(code: int) -> str:
    try:
        return str(scard.SCardGetErrorMessage(code)).strip().rstrip(".")
    except Exception:
        return f"PC/SC error 0x{code:08X}"


def _check(result: Any, what: str) -> Any:
    """pyscard returns (hresult, values...): raise on a failure, return the values."""
    code = _code(result[0]) if isinstance(result, list | tuple) else _code(result)
    if code == SUCCESS:
        if isinstance(result, list | tuple):
            return result[1] if len(result) == 2 else tuple(result[1:])
        return None
    if code in _SERVICE_GONE:
        raise ReaderUnavailable(f"{what}: the PC/SC service (pcscd) is not running")
    if code in _READER_GONE:
        raise ReaderUnavailable(f"{what}: the reader is not connected")
    if code == E_SHARING_VIOLATION:
        raise ReaderUnavailable(f"{what}: the reader is in use by another program")
    if code in _CARD_GONE:
        raise CardRemoved()
    raise ReaderError(f"{what}: {_message(code)} (0x{code:08X})")


def _establish() -> int:
    result = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    return int(_check(result, "connecting to pcscd"))


def _list_readers(context: int) -> list[str]:
    hresult, readers = scard.SCardListReaders(context, [])
    code = _code(hresult)
    if code in (E_NO_READERS, E_READER_UNAVAILABLE):
        return []
    _check((hresult, readers), "listing readers")
    return list(readers)


def resolve_reader(readers: list[str], selector: str | int | None) -> str:
    """The reader a selector names: an index into the list, an exact name, or a unique part of one."""
    if not readers:
        raise ReaderUnavailable("no card reader is connected")
    if selector is None:
        return readers[0]
    if isinstance(selector, int) or selector.isdigit():
        index = int(selector)
        if not 0 <= index < len(readers):
            raise ReaderUnavailable(f"there is no reader {index}; readers: {', '.join(readers)}")
        return readers[index]
    if selector in readers:
        return selector
    matches = [r for r in readers if selector.lower() in r.lower()]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ReaderUnavailable(f"no reader named {selector!r}; readers: {', '.join(readers)}")
    raise ReaderUnavailable(f"{selector!r} names several readers: {', '.join(matches)}")


_Job = tuple[Callable[..., Any], tuple[Any, ...], "concurrent.futures.Future[Any]"]


class _Worker:
    """One daemon thread for the PC/SC calls of one context."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.stuck = False  # a call overran its deadline: the thread is still inside it
        threading.Thread(target=self._serve, name=name, daemon=True).start()

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            function, args, future = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(function(*args))
            except BaseException as exc:  # handed to the awaiting coroutine, which re-raises it
                future.set_exception(exc)

    def post(self, function: Callable[..., T], *args: Any) -> concurrent.futures.Future[T]:
        """Queue ``function(*args)`` without waiting: it runs in order, even after a call that is stuck for now."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._jobs.put((function, args, future))
        return future

    async def run(self, function: Callable[..., T], *args: Any, limit_s: float | None = None) -> T:
        """``function(*args)`` on the thread; TimeoutError after ``limit_s`` seconds (the call itself goes on)."""
        if self.stuck:
            raise TimeoutError("the PC/SC thread is still blocked in an earlier call")
        try:
            return await asyncio.wait_for(asyncio.wrap_future(self.post(function, *args)), limit_s)
        except TimeoutError:
            self.stuck = True
            raise

    def close(self) -> None:
        self._jobs.put(None)


async def list_pcsc_readers() -> list[str]:
    """Names of the PC/SC readers; ReaderUnavailable when pcscd is not running."""
    worker = _Worker("pcsc-list")
    try:

        def call() -> list[str]:
            context = _establish()
            try:
                return _list_readers(context)
            finally:
                scard.SCardReleaseContext(context)

        return await worker.run(call)
    finally:
        worker.close()


class PcscReader:
    """A PC/SC reader, chosen by name (exact or a unique part), by index, or the first one (None)."""

    def __init__(self, reader: str | int | None = None, *, poll_interval: float = 0.4) -> None:
        self._selector = reader
        self._poll_ms = max(int(poll_interval * 1000), 50)
        self._name: str | None = reader if isinstance(reader, str) and not reader.isdigit() else None

    @property
    def name(self) -> str:
        return self._name or (f"reader {self._selector}" if self._selector is not None else "first PC/SC reader")

    async def events(self) -> AsyncIterator[ReaderEvent]:
        worker = _Worker("pcsc-events")
        context: int | None = None
        last: ReaderEvent | None = None
        try:
            while True:
                try:
                    if context is None:
                        context = await worker.run(_establish)
                    event = await worker.run(self._wait_change, context, last)
                except ReaderUnavailable as exc:
                    event = ReaderEvent(self.name, ReaderState.UNAVAILABLE, detail=str(exc))
                    if context is not None:
                        with contextlib.suppress(Exception):
                            await worker.run(scard.SCardReleaseContext, context)
                        context = None
                    if event == last:
                        await asyncio.sleep(self._poll_ms / 1000)
                        continue
                if event is None or event == last:
                    continue
                last = event
                yield event
        finally:
            if context is not None:
                scard.SCardCancel(context)  # wakes a GetStatusChange still waiting in the worker
                with contextlib.suppress(Exception):
                    await worker.run(scard.SCardReleaseContext, context)
            worker.close()

    def _wait_change(self, context: int, last: ReaderEvent | None) -> ReaderEvent | None:
        """Block up to one poll interval for a change of the reader's state (runs in the worker)."""
        readers = _list_readers(context)
        try:
            name = resolve_reader(readers, self._selector)
        except ReaderUnavailable as exc:
            if last is not None and last.state is ReaderState.UNAVAILABLE:
                time.sleep(self._poll_ms / 1000)  # still no reader: look again after a while, without spinning
            return ReaderEvent(self.name, ReaderState.UNAVAILABLE, detail=str(exc))
        self._name = name
        known = scard.SCARD_STATE_UNAWARE
        if last is not None and last.state is not ReaderState.UNAVAILABLE:
            known = scard.SCARD_STATE_PRESENT if last.state is ReaderState.CARD_PRESENT else scard.SCARD_STATE_EMPTY
        hresult, states = scard.SCardGetStatusChange(context, 0 if last is None else self._poll_ms, [(name, known)])
        code = _code(hresult)
        if code in (E_TIMEOUT, E_CANCELLED):
            return None
        if code in _CARD_GONE or code in _SERVICE_GONE:
            # While nothing is connected these mean that the link to pcscd broke (it stopped or restarted), not that
            # a card left: the reader is unavailable until the service is back.
            raise ReaderUnavailable("watching the reader: the PC/SC service (pcscd) stopped")
        _check((hresult, states), "watching the reader")
        _, event_state, atr = states[0]
        if event_state & (scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_UNAVAILABLE):
            return ReaderEvent(name, ReaderState.UNAVAILABLE, detail="the reader is not connected")
        if event_state & scard.SCARD_STATE_PRESENT and not event_state & scard.SCARD_STATE_MUTE:
            return ReaderEvent(name, ReaderState.CARD_PRESENT, atr=bytes(atr))
        return ReaderEvent(name, ReaderState.EMPTY)

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[PcscConnection]:
        worker = _Worker("pcsc-card")
        context: int | None = None
        handle: int | None = None
        try:
            context = await worker.run(_establish)
            name = resolve_reader(await worker.run(_list_readers, context), self._selector)
            self._name = name
            card, protocol = await worker.run(self._connect, context, name)
            handle = card
            atr = await worker.run(self._atr, card)
            max_input = await worker.run(self._max_input, card)
            yield PcscConnection(worker, card, protocol, atr, max_input=max_input)
        finally:
            # Queued in order behind whatever the thread is doing: after a stuck command they run when it finally
            # returns (the card or pcscd gives up), so the exclusive hold on the reader is released even then.
            cleanup = []
            if handle is not None:
                cleanup.append(worker.post(scard.SCardDisconnect, handle, scard.SCARD_UNPOWER_CARD))
            if context is not None:
                cleanup.append(worker.post(scard.SCardReleaseContext, context))
            worker.close()
            if cleanup and not worker.stuck:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(
                        asyncio.gather(*(asyncio.wrap_future(f) for f in cleanup)), _CLEANUP_TIMEOUT_S
                    )

    @staticmethod
    def _connect(context: int, name: str) -> tuple[int, int]:
        result = scard.SCardConnect(
            context, name, scard.SCARD_SHARE_EXCLUSIVE, scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1
        )
        code = _code(result[0])
        if code == E_NO_SMARTCARD or code in (_code(scard.SCARD_W_REMOVED_CARD), _code(scard.SCARD_W_UNPOWERED_CARD)):
            raise NoCard(f"no card on {name}")
        handle, protocol = _check(result, f"connecting to the card on {name}")
        return int(handle), int(protocol)

    @staticmethod
    def _max_input(handle: int) -> int | None:
        """The longest command the reader's driver takes (SCARD_ATTR_MAXINPUT: libccid answers it from the CCID
        descriptor), or None when the driver does not say (vpcd)."""
        result = scard.SCardGetAttrib(handle, scard.SCARD_ATTR_MAXINPUT)
        if _code(result[0]) != SUCCESS or len(result[1]) != 4:
            return None
        return int.from_bytes(bytes(result[1]), "little")

    @staticmethod
    def _atr(handle: int) -> bytes:
        _, _, _, atr = _check(scard.SCardStatus(handle), "reading the card's ATR")
        return bytes(atr)


class PcscConnection:
    def __init__(
        self, worker: _Worker, handle: int, protocol: int, atr: bytes, *, max_input: int | None = None
    ) -> None:
        self._worker = worker
        self._handle = handle
        self._protocol = protocol
        self._atr = atr
        self._chained = self._chained_bytes = 0
        self._max_input = max_input

    @property
    def atr(self) -> bytes:
        return self._atr

    @property
    def extended_length(self) -> bool:
        """The card announces extended length in its ATR, and the reader's driver does not limit commands to short
        APDUs (contactless readers built on short-APDU CCID firmware, such as the ACR122U, do)."""
        if self.short_apdus_only:
            return False
        return atr_supports_extended_length(self._atr)

    @property
    def short_apdus_only(self) -> bool:
        """T=0 has no extended-length transport, and a driver that says so takes short APDUs only."""
        if self._protocol == scard.SCARD_PROTOCOL_T0:
            return True
        return self._max_input is not None and self._max_input <= _SHORT_APDU_MAX

    async def transmit(self, command: bytes) -> bytes:
        try:
            return await self._worker.run(self._transmit, command, limit_s=TRANSMIT_TIMEOUT_S)
        except TimeoutError:
            raise CardRemoved(
                f"the card stopped answering (no answer in {TRANSMIT_TIMEOUT_S:.0f} s); take it away and place it again"
            ) from None

    @property
    def chained(self) -> tuple[int, int]:
        return self._chained, self._chained_bytes

    def _transmit(self, command: bytes) -> bytes:
        return gather_response(self._transmit_one(command), self._get_response)

    def _get_response(self, command: bytes) -> bytes:
        response = self._transmit_one(command)
        self._chained += 1
        self._chained_bytes += len(command) + len(response)
        return response

    def _transmit_one(self, command: bytes) -> bytes:
        result = scard.SCardTransmit(self._handle, self._protocol, list(command))
        code = _code(result[0])
        if code in _SERVICE_GONE:
            # pcscd going away mid-read leaves no card session to continue: the same outcome as a pulled card.
            raise CardRemoved("the connection to the reader was lost during the read; place the card again")
        response = bytes(_check(result, "sending a command to the card"))
        if len(response) < 2:
            # vpcd and some drivers report a card that vanished mid-command as success with no status word.
            raise CardRemoved()
        return response

    async def reset(self) -> None:
        def call() -> None:
            result = scard.SCardReconnect(
                self._handle,
                scard.SCARD_SHARE_EXCLUSIVE,
                scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
                scard.SCARD_RESET_CARD,
            )
            self._protocol = int(_check(result, "resetting the card"))

        await self._worker.run(call)
