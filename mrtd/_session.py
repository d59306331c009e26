"""The one call a terminal makes to read a chip: ``read_card``.

EF.CardAccess first (in clear), then PACE as the chip announces it, or BAC when it has no PACEInfo or refuses PACE;
the eMRTD application; DG14 and chip authentication when the chip offers it; the requested files; active
authentication on the caller's challenge when DG15 is there. The result is frozen and complete: every file's bytes,
how the chip was opened, the CA outcome, the AA challenge and signature, and what each step cost.

The session is an explicit state machine (``SessionState`` and ``TRANSITIONS``); an illegal step raises. A card
removed at any point propagates as CardRemoved: there is no partial result.
"""

from __future__ import annotations

import contextlib
import enum
import secrets
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Final

from mrtd._access_keys import AccessKey, Can, MrzKey, PasswordType, Pin
from mrtd._active_auth import CHALLENGE_LENGTH, needs_long_answer, run_active_authentication, signature_length
from mrtd._apdu import (
    Channel,
    CommandAPDU,
    MeteredTransmit,
    PlainChannel,
    Rng,
    StatusWord,
    Transmit,
    wrong_le_hint,
)
from mrtd._bac import run_bac
from mrtd._chip_auth import ChipAuthenticationFailed, chip_authentication_key, run_chip_authentication
from mrtd._dg14 import parse_dg14
from mrtd._dg15 import parse_dg15
from mrtd._errors import (
    AccessDenied,
    CardError,
    CardRemoved,
    FileNotFound,
    MrtdError,
    ParseError,
    ProtocolNotSupported,
    SecureMessagingError,
    WrongAccessKey,
)
from mrtd._files import EMRTD_AID, FileId
from mrtd._pace import CamEvidence, PaceProtocol, preference, run_pace
from mrtd._reader import LE_LADDER, ReadOptions, read_file
from mrtd._security_infos import (
    ChipAuthenticationInfo,
    ChipAuthenticationPublicKeyInfo,
    PaceInfo,
    SecurityInfos,
    parse_security_infos,
)
from mrtd._sm import SecureChannel

DEFAULT_FILES: Final = (FileId.COM, FileId.SOD, FileId.DG1, FileId.DG13, FileId.DG14, FileId.DG15)
"""What a CCCD terminal reads by default; DG2 (the portrait) only when asked."""

Clock = Callable[[], float]
"""Seconds from a monotonic clock (``time.monotonic``)."""


class SessionState(enum.Enum):
    IDLE = "idle"
    CARD_ACCESS = "card_access"
    ACCESS_CONTROL = "access_control"
    APPLICATION = "application"
    READING = "reading"
    CHIP_AUTHENTICATION = "chip_authentication"
    ACTIVE_AUTHENTICATION = "active_authentication"
    DONE = "done"
    FAILED = "failed"


_S = SessionState
TRANSITIONS: Final[Mapping[SessionState, frozenset[SessionState]]] = MappingProxyType(
    {
        _S.IDLE: frozenset({_S.CARD_ACCESS, _S.FAILED}),
        _S.CARD_ACCESS: frozenset({_S.ACCESS_CONTROL, _S.FAILED}),
        # DONE: a second access control, asked for only to retry active authentication, failed after every file
        # was read; the read still ends with its data (and no proof).
        _S.ACCESS_CONTROL: frozenset({_S.APPLICATION, _S.DONE, _S.FAILED}),
        # Back from a second access control: reading goes on, or active authentication is asked again.
        _S.APPLICATION: frozenset({_S.READING, _S.ACTIVE_AUTHENTICATION, _S.DONE, _S.FAILED}),
        _S.READING: frozenset(
            {_S.READING, _S.CHIP_AUTHENTICATION, _S.ACCESS_CONTROL, _S.ACTIVE_AUTHENTICATION, _S.DONE, _S.FAILED}
        ),
        # A chip authentication that broke the channel (at once, or at the first read under the new keys) sends the
        # session back to access control to read the rest.
        _S.CHIP_AUTHENTICATION: frozenset(
            {_S.READING, _S.ACCESS_CONTROL, _S.ACTIVE_AUTHENTICATION, _S.DONE, _S.FAILED}
        ),
        # An INTERNAL AUTHENTICATE whose Le form the chip refused with 6700 in clear ended the channel: open it again.
        _S.ACTIVE_AUTHENTICATION: frozenset({_S.ACCESS_CONTROL, _S.DONE, _S.FAILED}),
        _S.DONE: frozenset(),
        _S.FAILED: frozenset(),
    }
)


class AccessOrder(enum.Enum):
    """Which access control to use: the chip's PACE with BAC as fallback (ICAO's order), or one of them only."""

    PACE_THEN_BAC = "pace_then_bac"
    PACE_ONLY = "pace_only"
    BAC_ONLY = "bac_only"


class AccessProtocol(enum.Enum):
    PACE = "PACE"
    BAC = "BAC"


class FileStatus(enum.Enum):
    READ = "read"
    ABSENT = "absent"  # 6A82
    PROTECTED = "protected"  # 6982: needs extended access control (DG3 on a CCCD)


class ChipAuthStatus(enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_OFFERED = "not_offered"  # no DG14, or DG14 without a chip-authentication key
    NOT_SUPPORTED = "not_supported"  # a DH key: not implemented
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class ChipAuthOutcome:
    status: ChipAuthStatus
    protocol: str | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class StepStats:
    """What one step cost: APDUs and bytes on the wire (secure messaging included), and wall time."""

    step: str
    apdus: int
    bytes_sent: int
    bytes_received: int
    milliseconds: float


@dataclass(frozen=True, slots=True)
class SessionOptions:
    files: tuple[FileId, ...] = DEFAULT_FILES
    access_order: AccessOrder = AccessOrder.PACE_THEN_BAC
    chip_authentication: bool = True
    read: ReadOptions = field(default_factory=ReadOptions)
    send_parameter_id: bool | None = None  # None: only when the chip offers several PACE parameter sets
    # The link carries no extended-length APDU (T=0, a short-APDU reader): long answers only through 61xx chaining.
    short_apdus_only: bool = False


@dataclass(frozen=True, slots=True)
class CardReadResult:
    """Everything read from one chip, as read. Bytes are the files' raw content (the evidence a server re-checks)."""

    access: AccessProtocol
    access_variant: str
    password_type: PasswordType
    card_access: bytes | None
    files: Mapping[FileId, bytes]
    file_status: Mapping[FileId, FileStatus]
    chip_auth: ChipAuthOutcome
    pace_cam: CamEvidence | None
    pace_cam_verified: bool | None  # PACE-CAM's chip proof checked with the DG14 key (None: no CAM or no key)
    aa_challenge: bytes | None
    aa_signature: bytes | None
    aa_error: str | None
    steps: tuple[StepStats, ...]

    @property
    def total(self) -> StepStats:
        return StepStats(
            "total",
            sum(s.apdus for s in self.steps),
            sum(s.bytes_sent for s in self.steps),
            sum(s.bytes_received for s in self.steps),
            sum(s.milliseconds for s in self.steps),
        )


_SELECT_APPLICATION: Final = CommandAPDU(0x00, 0xA4, 0x04, 0x0C, data=EMRTD_AID)
_SELECT_APPLICATION_FCI: Final = CommandAPDU(0x00, 0xA4, 0x04, 0x00, data=EMRTD_AID, le=256)
_SELECT_MF: Final = CommandAPDU(0x00, 0xA4, 0x00, 0x0C, data=b"\x3f\x00")


async def _select_application(channel: Channel) -> None:
    """SELECT the eMRTD application by its AID, without FCI (P2 = 0C) as ICAO 9303-10 gives it; a chip that refuses
    that form with 6A86 ("incorrect P1-P2") is asked again for its FCI (P2 = 00), which is all it will answer."""
    response = await channel.send(_SELECT_APPLICATION)
    if response.sw == StatusWord.INCORRECT_P1_P2:
        response = await channel.send(_SELECT_APPLICATION_FCI)
    response.check(context="selecting the eMRTD application")


@dataclass(frozen=True, slots=True)
class _Access:
    channel: SecureChannel
    protocol: AccessProtocol
    variant: str
    key: AccessKey
    cam: CamEvidence | None = None


class _Session:
    """One run of ``read_card``: the state machine, the wire meter and the per-step accounting."""

    def __init__(
        self,
        transmit: Transmit,
        keys: Sequence[AccessKey],
        *,
        rng: Rng,
        options: SessionOptions,
        clock: Clock,
        on_state: Callable[[SessionState], None] | None,
    ) -> None:
        self.meter = MeteredTransmit(transmit)
        self.plain = PlainChannel(self.meter)
        self.keys = keys
        self.rng = rng
        self.options = options
        self.read_options = options.read
        self.clock = clock
        self.state = SessionState.IDLE
        self.steps: list[StepStats] = []
        self.card_access: SecurityInfos | None = None
        self._on_state = on_state

    def enter(self, state: SessionState) -> None:
        if state not in TRANSITIONS[self.state]:
            raise RuntimeError(f"illegal session transition {self.state.value} -> {state.value}")
        self.state = state
        if self._on_state is not None:
            self._on_state(state)

    @contextlib.asynccontextmanager
    async def step(self, name: str) -> AsyncIterator[None]:
        start = self.clock()
        before = self.meter.counters.snapshot()
        try:
            yield
        finally:
            spent = self.meter.counters.since(before)
            elapsed = (self.clock() - start) * 1000.0
            self.steps.append(StepStats(name, spent.apdus, spent.bytes_sent, spent.bytes_received, elapsed))

    # EF.CardAccess.

    async def read_card_access(self) -> bytes | None:
        self.enter(SessionState.CARD_ACCESS)
        async with self.step("card_access"):
            data = await self._card_access_bytes()
        if data is not None:
            try:
                self.card_access = parse_security_infos(data)
            except ParseError:
                self.card_access = None  # unreadable SecurityInfos: treated as no PACE, BAC decides
        return data

    async def _card_access_bytes(self) -> bytes | None:
        # EF.CardAccess lives in the MF, which a fresh chip has selected: select the file directly (some CCCDs refuse
        # SELECT MF with 6D00), and only when that fails select the MF and try once more.
        try:
            return (await read_file(self.plain, FileId.CARD_ACCESS, options=self.read_options)).data
        except CardRemoved:
            raise
        except (CardError, ParseError):
            pass
        try:
            if (await self.plain.send(_SELECT_MF)).sw != StatusWord.SUCCESS:
                return None
            return (await read_file(self.plain, FileId.CARD_ACCESS, options=self.read_options)).data
        except CardRemoved:
            raise
        except (CardError, ParseError):
            return None

    # Access control.

    async def open(self, *, again: bool = False) -> _Access:
        self.enter(SessionState.ACCESS_CONTROL)
        async with self.step("access_control_again" if again else "access_control"):
            access = await self._access_control()
            if access.protocol is AccessProtocol.PACE:
                # PACE runs in the MF; the application is selected under the new secure messaging.
                await _select_application(access.channel)
        self.enter(SessionState.APPLICATION)
        return access

    async def _access_control(self) -> _Access:
        order = self.options.access_order
        candidates = _pace_candidates(self.card_access) if order is not AccessOrder.BAC_ONLY else []
        if not candidates:
            if order is AccessOrder.PACE_ONLY:
                raise ProtocolNotSupported("the chip announces no usable PACE in EF.CardAccess")
            return await self._bac()
        ambiguous = self.card_access is not None and len(self.card_access.pace) > 1
        send_id = ambiguous if self.options.send_parameter_id is None else self.options.send_parameter_id
        wrong: WrongAccessKey | None = None
        for key in self.keys:
            try:
                return await self._pace(key, candidates, send_parameter_id=send_id)
            except WrongAccessKey as exc:
                wrong = exc  # try the next key (the CAN, then MRZ keys for each expiry candidate)
            except ProtocolNotSupported:
                if order is AccessOrder.PACE_ONLY:
                    raise
                return await self._bac()
        assert wrong is not None
        raise _none_opened(self.keys, wrong) from wrong

    async def _pace(
        self, key: AccessKey, candidates: list[tuple[PaceProtocol, PaceInfo]], *, send_parameter_id: bool
    ) -> _Access:
        refused: ProtocolNotSupported | None = None
        for protocol, info in candidates:
            try:
                result = await run_pace(self.meter, key, info, rng=self.rng, send_parameter_id=send_parameter_id)
            except ProtocolNotSupported as exc:
                refused = exc  # the chip refuses this variant: try the next one it announced
                continue
            return _Access(result.channel, AccessProtocol.PACE, protocol.label, key, result.cam)
        assert refused is not None
        raise refused

    async def _bac(self) -> _Access:
        mrz_keys = [k for k in self.keys if isinstance(k, MrzKey)]
        if not mrz_keys:
            raise ProtocolNotSupported(
                "the chip needs BAC (it offers no usable PACE), and BAC needs the MRZ data"
                " (document number, date of birth, date of expiry)"
            )
        # After a refused PACE the chip may be anywhere: select the application in clear, as BAC requires.
        await _select_application(self.plain)
        wrong: WrongAccessKey | None = None
        for key in mrz_keys:
            try:
                channel = await run_bac(self.meter, key, rng=self.rng)
            except WrongAccessKey as exc:
                wrong = exc
                continue
            return _Access(channel, AccessProtocol.BAC, "3DES", key)
        assert wrong is not None
        raise _none_opened(mrz_keys, wrong) from wrong

    # Files.

    async def read(self, channel: Channel, file: FileId) -> tuple[FileStatus, bytes | None]:
        self.enter(SessionState.READING)
        async with self.step(f"read_{file.label}"):
            try:
                result = await read_file(channel, file, options=self.read_options, meter=self.meter.counters)
            except FileNotFound:
                return FileStatus.ABSENT, None
            except AccessDenied as exc:
                if isinstance(exc, WrongAccessKey):
                    raise
                return FileStatus.PROTECTED, None
        # A chip that forced a smaller Le for one file will want it for the next.
        self.read_options = result.options
        return FileStatus.READ, result.data


def _none_opened(keys: Sequence[AccessKey], last: WrongAccessKey) -> WrongAccessKey:
    """One message for a chip that refused every key, naming what was tried (never the keys themselves)."""
    if len(keys) == 1:
        return last
    counts: dict[str, int] = {}
    for key in keys:
        name = key.password_type.label
        counts[name] = counts.get(name, 0) + 1
    tried = ", ".join(f"{n} {name}{'s' if n > 1 else ''}" for name, n in counts.items())
    hint = " (one per candidate expiry date)" if counts.get("MRZ key", 0) > 1 else ""
    return WrongAccessKey(f"no access key opened the chip; tried {tried}{hint}. Last answer: {last}", sw=last.sw)


def _pace_candidates(infos: SecurityInfos | None) -> list[tuple[PaceProtocol, PaceInfo]]:
    """The PACE variants the chip announces that this module runs, best first."""
    if infos is None:
        return []
    runnable: list[tuple[PaceProtocol, PaceInfo]] = []
    for info in infos.pace:
        try:
            runnable.append((PaceProtocol.from_info(info), info))
        except ProtocolNotSupported:
            continue  # DH or proprietary parameters: another PACEInfo, or BAC
    return sorted(runnable, key=lambda pair: preference(pair[0]))


def _ca_choice(infos: SecurityInfos) -> tuple[ChipAuthenticationPublicKeyInfo, ChipAuthenticationInfo | None] | None:
    """The DG14 key to use and its protocol (the strongest cipher the chip lists for it)."""
    keys = infos.chip_authentication_keys
    if not keys:
        return None
    for key in keys:
        matching = [
            i
            for i in infos.chip_authentication
            if i.is_ecdh and (key.key_id is None or i.key_id is None or i.key_id == key.key_id)
        ]
        if matching:
            return key, max(matching, key=lambda i: i.cipher.key_length)
    return keys[0], None


def _verify_cam(cam: CamEvidence, dg14: bytes) -> bool | None:
    """PK_map,IC = CA_IC · PK_IC with the chip's static key from DG14 (ICAO 9303-11 §4.4.3.5.2)."""
    try:
        keys = parse_dg14(dg14).security_infos.chip_authentication_keys
        points = [chip_authentication_key(k) for k in keys]
    except (ParseError, ProtocolNotSupported):
        return None
    return any(cam.verify(point) for point in points) if points else None


def _length_refused_in_clear(exc: SecureMessagingError) -> bool:
    """A READ BINARY whose length the chip refused with a status in clear, which ended secure messaging."""
    return exc.sw is not None and (exc.sw == StatusWord.WRONG_LENGTH or wrong_le_hint(exc.sw) is not None)


async def _read_sized(
    session: _Session, access: _Access, file: FileId, *, proof_pending: bool = False
) -> tuple[_Access, tuple[FileStatus, bytes | None]]:
    """Read ``file``; when the chip refuses the length in clear (ending secure messaging, where most chips answer
    a protected 6700 and keep it), open it again and read with short commands and a smaller Le from then on."""
    try:
        return access, await session.read(access.channel, file)
    except SecureMessagingError as exc:
        if proof_pending or not _length_refused_in_clear(exc):
            raise
        options = session.read_options
        if options.extended_length:
            session.read_options = replace(options, extended_length=False)
        else:
            smaller = next((le for le in LE_LADDER if le < options.max_le), None)
            if smaller is None:
                raise
            session.read_options = replace(options, max_le=smaller)
        access = await session.open(again=True)
        return access, await session.read(access.channel, file)


async def _active_authentication(
    session: _Session, access: _Access, challenge: bytes, expected: int | None, *, extended: bool
) -> tuple[bytes | None, Exception | None]:
    """INTERNAL AUTHENTICATE as one step: the signature, or why there is none. Nothing is read after this step, so
    a refusal or a broken channel costs only the proof (the chip did not sign), never the data read."""
    session.enter(SessionState.ACTIVE_AUTHENTICATION)
    async with session.step("active_authentication"):
        try:
            signature = await run_active_authentication(
                access.channel,
                challenge,
                expected_length=expected,
                extended=extended,
                prefer_extended=session.read_options.extended_length,
            )
        except CardRemoved:
            raise
        except (CardError, ParseError, SecureMessagingError) as exc:
            return None, exc
    return signature, None


def _length_trouble(exc: Exception) -> bool:
    """Whether an active-authentication failure may come from the form of the Le rather than from the chip
    refusing to sign at all (a function it lacks or keeps locked)."""
    return not isinstance(exc, AccessDenied | ProtocolNotSupported | FileNotFound)


def _aa_length(dg15: bytes) -> int | None:
    try:
        key = parse_dg15(dg15).public_key
    except ParseError:
        return None
    if key.rsa is not None:
        return signature_length(rsa_modulus_bytes=key.rsa.size)
    if key.ec is not None:
        return signature_length(ec_field_bytes=key.ec.curve.size)
    return None


async def read_card(
    transmit: Transmit,
    keys: AccessKey | Sequence[AccessKey],
    *,
    rng: Rng = secrets.token_bytes,
    aa_challenge: bytes | None = None,
    options: SessionOptions | None = None,
    clock: Clock = time.monotonic,
    on_state: Callable[[SessionState], None] | None = None,
) -> CardReadResult:
    """Open the chip with ``keys`` (tried in order: e.g. the CAN, then the MRZ keys of each expiry candidate), read
    ``options.files``, run chip authentication when DG14 offers it and active authentication on ``aa_challenge``
    when DG15 is there, and return everything read.

    Raises WrongAccessKey when no key opens the chip, ProtocolNotSupported when the chip needs what no key gives (BAC
    without MRZ data), CardRemoved when the card leaves the field, SecureMessagingError when the channel breaks,
    ParseError for malformed chip data. A file the chip lacks (6A82) or protects (6982) is recorded, not raised; so
    are failures of chip and active authentication, which the verifier turns into a verdict. ``on_state`` is called
    with every state the session enters (for a progress display).
    """
    opts = options or SessionOptions()
    key_list: tuple[AccessKey, ...] = (keys,) if isinstance(keys, Can | MrzKey | Pin) else tuple(keys)
    if not key_list:
        raise ValueError("at least one access key is needed")
    if aa_challenge is not None and len(aa_challenge) != CHALLENGE_LENGTH:
        raise ValueError(f"the active-authentication challenge must be {CHALLENGE_LENGTH} bytes")
    session = _Session(transmit, key_list, rng=rng, options=opts, clock=clock, on_state=on_state)
    try:
        return await _run(session, aa_challenge)
    except BaseException:
        if SessionState.FAILED in TRANSITIONS[session.state]:
            session.enter(SessionState.FAILED)
        raise


async def _run(session: _Session, aa_challenge: bytes | None) -> CardReadResult:
    opts = session.options
    card_access = await session.read_card_access()
    access = await session.open()
    files: dict[FileId, bytes] = {}
    status: dict[FileId, FileStatus] = {}
    wanted = list(dict.fromkeys(opts.files))
    chip_auth = ChipAuthOutcome(ChipAuthStatus.NOT_OFFERED if opts.chip_authentication else ChipAuthStatus.DISABLED)
    proof_pending = False
    cam_verified: bool | None = None

    # DG14 first: chip authentication then protects every later read with keys only the genuine chip has.
    if FileId.DG14 in wanted:
        wanted.remove(FileId.DG14)
        access, (status[FileId.DG14], data) = await _read_sized(session, access, FileId.DG14)
        if data is not None:
            files[FileId.DG14] = data
            if access.cam is not None:
                cam_verified = _verify_cam(access.cam, data)
            if opts.chip_authentication:
                chip_auth, access, proof_pending = await _chip_authentication(
                    session, access, data, more_files=bool(wanted)
                )

    for file in wanted:
        try:
            access, (status[file], data) = await _read_sized(session, access, file, proof_pending=proof_pending)
        except SecureMessagingError as exc:
            if not proof_pending:
                raise
            # The first answer under the chip-authentication keys does not verify: the chip lacks the DG14 key.
            chip_auth = ChipAuthOutcome(
                ChipAuthStatus.FAILED,
                chip_auth.protocol,
                f"the chip's first answer under the chip-authentication keys does not verify: a possible clone ({exc})",
            )
            access = await session.open(again=True)
            status[file], data = await session.read(access.channel, file)
        proof_pending = False
        if data is not None:
            files[file] = data

    signature: bytes | None = None
    aa_error: str | None = None
    if aa_challenge is not None and FileId.DG15 in files:
        expected = _aa_length(files[FileId.DG15])
        extended = not opts.short_apdus_only
        signature, failure = await _active_authentication(session, access, aa_challenge, expected, extended=extended)
        long_answer = needs_long_answer(expected, secure=access.channel.secure)
        if failure is not None and extended and long_answer and _length_trouble(failure):
            # A signature too long for a short protected answer: a chip without extended length answers the
            # extended Le with 6700 in clear, which ends secure messaging, yet may give the whole answer to a short
            # Le 00 through 61xx. Open it again and ask that way once, so that a genuine card is not called a
            # clone for the form of a command.
            first = failure
            try:
                access = await session.open(again=True)
            except CardRemoved:
                raise
            except MrtdError as exc:
                # Everything was read already: a chip that will not open again costs only the proof.
                failure = CardError(f"{first}; opening the chip again to ask with a short Le failed: {exc}")
            else:
                signature, failure = await _active_authentication(
                    session, access, aa_challenge, expected, extended=False
                )
                if failure is not None:
                    failure = CardError(f"{first}; asked again with a short Le: {failure}")
        aa_error = None if failure is None else str(failure)
    session.enter(SessionState.DONE)
    return CardReadResult(
        access=access.protocol,
        access_variant=access.variant,
        password_type=access.key.password_type,
        card_access=card_access,
        files=MappingProxyType(files),
        file_status=MappingProxyType(status),
        chip_auth=chip_auth,
        pace_cam=access.cam,
        pace_cam_verified=cam_verified,
        aa_challenge=aa_challenge if signature is not None or aa_error is not None else None,
        aa_signature=signature,
        aa_error=aa_error,
        steps=tuple(session.steps),
    )


async def _chip_authentication(
    session: _Session, access: _Access, dg14: bytes, *, more_files: bool
) -> tuple[ChipAuthOutcome, _Access, bool]:
    """Run CA with the DG14 key. Returns the outcome, the access to continue with, and whether the next read is the
    proof of the new keys (a MAC failure there means the chip failed)."""
    try:
        infos = parse_dg14(dg14).security_infos
    except ParseError as exc:
        return ChipAuthOutcome(ChipAuthStatus.FAILED, None, f"DG14 is malformed: {exc}"), access, False
    choice = _ca_choice(infos)
    if choice is None:
        return ChipAuthOutcome(ChipAuthStatus.NOT_OFFERED, None, "DG14 has no chip-authentication key"), access, False
    key_info, ca_info = choice
    protocol = ca_info.protocol if ca_info else None
    session.enter(SessionState.CHIP_AUTHENTICATION)
    try:
        async with session.step("chip_authentication"):
            result = await run_chip_authentication(
                access.channel, key_info, info=ca_info, rng=session.rng, probe=None if more_files else FileId.COM
            )
    except ProtocolNotSupported as exc:
        return ChipAuthOutcome(ChipAuthStatus.NOT_SUPPORTED, protocol, str(exc)), access, False
    except ChipAuthenticationFailed as exc:
        outcome = ChipAuthOutcome(ChipAuthStatus.FAILED, protocol, str(exc))
        if not exc.keys_changed:
            return outcome, access, False
        # The failed attempt took the old keys with it: open the chip again to read the rest.
        return outcome, await session.open(again=True), False
    new_access = _Access(result.channel, access.protocol, access.variant, access.key, access.cam)
    return ChipAuthOutcome(ChipAuthStatus.PASSED, result.protocol), new_access, more_files
