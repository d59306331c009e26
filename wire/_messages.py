"""The messages of the terminal-server contract: frozen, slotted dataclasses validated on construction.

On the wire each message is one CBOR map with text keys. Every message starts with the same header keys::

    v     schema major version (uint)          type  channel, e.g. "result" (text)
    id    UUIDv7 (16-byte bstr)                dev   device id: sender of an uplink, recipient of a downlink
    seq   per-sender monotonic number (uint)   time  wall-clock Unix milliseconds (uint)
    tq    how good that time is (text)

followed by the fields of its type: each field names its key and codec beside its type (``on_wire``). Keys this
version does not know are kept in ``extra``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import ClassVar

from wire._cbor import CborValue
from wire._errors import Reason, SchemaError
from wire._fields import (
    BOOL,
    BYTE_STRINGS,
    BYTES,
    INT,
    MAP,
    MAX_UINT,
    MESSAGE_ID,
    TEXT,
    TEXTS,
    UINT,
    Codec,
    check_uint,
    enum_codec,
    fail,
    nested_codec,
    on_wire,
    text_map,
    uint_codec,
    wire_keys,
)
from wire._ids import AA_CHALLENGE_SIZE, aa_challenge, is_uuid7
from wire._topics import Channel, Direction, is_device_id

SCHEMA_VERSION = 1
MAX_SEQ = MAX_UINT
MAX_TIME_MS = (1 << 48) - 1
_INT_RANGE = (-(1 << 63), (1 << 64) - 1)
_CODE = re.compile(r"[a-z0-9][a-z0-9_.:-]{0,63}")
_ID_NUMBER = re.compile(r"[0-9]{12}")
_OLD_ID_NUMBER = re.compile(r"[0-9]{9}")
_DATE = re.compile(r"[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?")
_MAX_TEXT = 256
_MAX_CODES = 32
_MAX_MAP_ENTRIES = 256
_MAX_VALUE_DEPTH = 8
_MAX_TRUST_ITEMS = 256

# Size bounds on evidence, generous against what a CCCD chip holds (EF.SOD ~2 KB, DG13 ~1 KB, DG2 ~20 KB).
MAX_EF_SOD = 32 * 1024
MAX_DG1 = 1024
MAX_DG13 = 8 * 1024
MAX_DG14 = 8 * 1024
MAX_DG15 = 4 * 1024
MAX_DG2 = 160 * 1024
MAX_AA_SIGNATURE = 1024
MAX_CERTIFICATE = 8 * 1024
MAX_CRL = 256 * 1024


def _check_text(name: str, value: object, *, max_len: int = _MAX_TEXT, pattern: re.Pattern[str] | None = None) -> None:
    if not isinstance(value, str) or not 0 < len(value) <= max_len:
        fail(name, f"must be text of 1 to {max_len} characters")
    if pattern is not None and pattern.fullmatch(value) is None:
        fail(name, f"does not match {pattern.pattern}")
    if any(ord(ch) < 0x20 for ch in value):
        fail(name, "contains control characters")


def _check_blob(name: str, value: object, *, max_len: int, exact: int | None = None) -> None:
    if not isinstance(value, bytes):
        fail(name, "must be bytes")
    if exact is not None and len(value) != exact:
        fail(name, f"must be {exact} bytes")
    if not 0 < len(value) <= max_len:
        fail(name, f"must be 1 to {max_len} bytes")


def _check_enum(name: str, value: object, kind: type[StrEnum]) -> None:
    if not isinstance(value, kind):
        fail(name, f"must be a {kind.__name__}")


def _check_codes(name: str, values: object) -> None:
    if not isinstance(values, tuple) or len(values) > _MAX_CODES:
        fail(name, f"must be a tuple of at most {_MAX_CODES} codes")
    for v in values:
        _check_text(name, v, max_len=64, pattern=_CODE)


def _freeze_value(name: str, value: object, depth: int) -> CborValue:
    """Validate an open-ended value (settings, command arguments, unknown fields) and copy it: containers are
    rebuilt and everything else is immutable, so the message shares nothing with the caller."""
    if depth > _MAX_VALUE_DEPTH:
        fail(name, "nested too deeply")
    if value is None or isinstance(value, (bool, str, bytes)):
        return value
    if isinstance(value, int):
        if not _INT_RANGE[0] <= value <= _INT_RANGE[1]:
            fail(name, "integer out of the 64-bit range")
        return value
    if isinstance(value, (list, tuple)):
        if len(value) > _MAX_MAP_ENTRIES:
            fail(name, "too many items")
        return [_freeze_value(name, v, depth + 1) for v in value]
    if isinstance(value, Mapping):
        if len(value) > _MAX_MAP_ENTRIES:
            fail(name, "too many entries")
        out: dict[int | str, CborValue] = {}
        for k, v in value.items():
            if isinstance(k, bool) or not isinstance(k, (int, str)):
                fail(name, "map keys must be text or integers")
            out[k] = _freeze_value(name, v, depth + 1)
        return out
    raise SchemaError(Reason.INVALID_FIELD, f"{name}: {type(value).__name__} values cannot be sent")


def _frozen_map(name: str, value: object, *, reserved: frozenset[str] = frozenset()) -> Mapping[str, CborValue]:
    if not isinstance(value, Mapping):
        fail(name, "must be a mapping")
    if len(value) > _MAX_MAP_ENTRIES:
        fail(name, f"more than {_MAX_MAP_ENTRIES} entries")
    out: dict[str, CborValue] = {}
    for k, v in value.items():
        if not isinstance(k, str) or not k:
            fail(name, "keys must be non-empty text")
        if k in reserved:
            fail(name, f"{k!r} is a field of this message, not an extra")
        out[k] = _freeze_value(name, v, 1)
    return MappingProxyType(out)


class TimeQuality(StrEnum):
    """How far ``time`` can be trusted: a Raspberry Pi has no RTC, and results made before NTP sync say so."""

    SYNCED = "synced"
    RTC = "rtc"
    UNSYNCED = "unsynced"


_TIME = uint_codec(MAX_TIME_MS)


@dataclass(frozen=True, slots=True, kw_only=True)
class Header:
    """The fields every message carries. ``device_id`` is the sender of an uplink and the recipient of a downlink."""

    id: uuid.UUID = field(metadata=on_wire("id", MESSAGE_ID))
    device_id: str = field(metadata=on_wire("dev", TEXT))
    seq: int = field(metadata=on_wire("seq", UINT))
    time_ms: int = field(metadata=on_wire("time", _TIME))
    # Required on the wire although it has a default here: a sender that leaves it out does not claim synced time.
    time_quality: TimeQuality = field(default=TimeQuality.SYNCED, metadata=on_wire("tq", enum_codec(TimeQuality)))

    def __post_init__(self) -> None:
        if not isinstance(self.id, uuid.UUID) or not is_uuid7(self.id):
            fail("id", "must be a UUIDv7")
        if not isinstance(self.device_id, str) or not is_device_id(self.device_id):
            fail("dev", "not a valid device id")
        check_uint("seq", self.seq)
        check_uint("time", self.time_ms, maximum=MAX_TIME_MS)
        _check_enum("tq", self.time_quality, TimeQuality)


# Every message starts with these keys; an ``extra`` field may not use them.
HEADER_KEYS = frozenset({"v", "type"}) | wire_keys(Header)


def _check_common(message: _Message) -> None:
    if not isinstance(message.header, Header):
        fail("header", "must be a Header")
    reserved = HEADER_KEYS | wire_keys(type(message))
    object.__setattr__(message, "extra", _frozen_map("extra", message.extra, reserved=reserved))


@dataclass(frozen=True, slots=True, kw_only=True)
class _Message:
    CHANNEL: ClassVar[Channel]

    header: Header
    # Fields a newer producer added that this version does not know; kept so nothing is lost in a relay or audit.
    extra: Mapping[str, CborValue] = field(default_factory=dict)

    @property
    def channel(self) -> Channel:
        return self.CHANNEL


# --------------------------------------------------------------------------------------------------- auth result


class Verdict(StrEnum):
    PASS = "pass"  # noqa: S105 - a verdict, not a password. The chip is genuine and matches the QR
    FAIL = "fail"  # a check failed: a clone, an altered card or a mismatch
    INCOMPLETE = "incomplete"  # the read did not finish (card moved, chip error): nothing is proven


class CheckStatus(StrEnum):
    PASS = "pass"  # noqa: S105 - an outcome, not a password
    FAIL = "fail"
    SKIPPED = "skipped"
    NOT_SUPPORTED = "not_supported"


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    """The minimal identity the registry query needs; the full record is in DG13 inside the evidence."""

    id_number: str = field(metadata=on_wire("id_number", TEXT))
    full_name: str = field(metadata=on_wire("name", TEXT))
    date_of_birth: str = field(metadata=on_wire("dob", TEXT))
    old_id_number: str | None = field(default=None, metadata=on_wire("old_id", TEXT, optional=True))

    def __post_init__(self) -> None:
        _check_text("identity.id_number", self.id_number, pattern=_ID_NUMBER)
        _check_text("identity.full_name", self.full_name, max_len=128)
        _check_text("identity.date_of_birth", self.date_of_birth, pattern=_DATE)
        if self.old_id_number is not None:
            _check_text("identity.old_id_number", self.old_id_number, pattern=_OLD_ID_NUMBER)


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    """Chip files exactly as read, so the server can re-run passive and active authentication itself."""

    ef_sod: bytes = field(metadata=on_wire("ef_sod", BYTES))
    dg1: bytes = field(metadata=on_wire("dg1", BYTES))
    dg13: bytes | None = field(default=None, metadata=on_wire("dg13", BYTES, optional=True))
    dg14: bytes | None = field(default=None, metadata=on_wire("dg14", BYTES, optional=True))
    dg15: bytes | None = field(default=None, metadata=on_wire("dg15", BYTES, optional=True))
    dg2: bytes | None = field(default=None, metadata=on_wire("dg2", BYTES, optional=True))
    aa_challenge: bytes | None = field(default=None, metadata=on_wire("aa_challenge", BYTES, optional=True))
    aa_signature: bytes | None = field(default=None, metadata=on_wire("aa_signature", BYTES, optional=True))

    def __post_init__(self) -> None:
        _check_blob("evidence.ef_sod", self.ef_sod, max_len=MAX_EF_SOD)
        _check_blob("evidence.dg1", self.dg1, max_len=MAX_DG1)
        for name, value, limit in (
            ("dg13", self.dg13, MAX_DG13),
            ("dg14", self.dg14, MAX_DG14),
            ("dg15", self.dg15, MAX_DG15),
            ("dg2", self.dg2, MAX_DG2),
            ("aa_signature", self.aa_signature, MAX_AA_SIGNATURE),
        ):
            if value is not None:
                _check_blob(f"evidence.{name}", value, max_len=limit)
        if self.aa_challenge is not None:
            _check_blob("evidence.aa_challenge", self.aa_challenge, max_len=AA_CHALLENGE_SIZE, exact=AA_CHALLENGE_SIZE)
        if (self.aa_signature is None) != (self.aa_challenge is None):
            fail("evidence", "aa_challenge and aa_signature come together")
        if self.aa_signature is not None and self.dg15 is None:
            fail("evidence", "an active authentication signature needs DG15 to be checked")


def _decode_checks(key: str, value: CborValue) -> dict[str, CheckStatus]:
    checks: dict[str, CheckStatus] = {}
    for name, status in text_map(key, value).items():
        if not isinstance(status, str):
            fail(f"{key}.{name}", "must be text")
        try:
            checks[name] = CheckStatus(status)
        except ValueError as exc:
            raise SchemaError(Reason.INVALID_FIELD, f"{key}.{name}: {status!r} is not a CheckStatus") from exc
    return checks


def _encode_checks(checks: Mapping[str, CheckStatus]) -> CborValue:
    return {name: status.value for name, status in checks.items()}


_CHECKS = Codec(_encode_checks, _decode_checks)
_IDENTITY = nested_codec(Identity)
_EVIDENCE = nested_codec(Evidence)


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthResult(_Message):
    """A terminal's verdict on one card, with the evidence the server re-verifies (topic ``.../result``).

    ``evidence.aa_challenge``, when present, must equal ``aa_challenge(header.id, header.time_ms)``.
    """

    CHANNEL: ClassVar[Channel] = Channel.RESULT

    verdict: Verdict = field(metadata=on_wire("verdict", enum_codec(Verdict)))
    reasons: tuple[str, ...] = field(default=(), metadata=on_wire("reasons", TEXTS, optional=True))
    checks: Mapping[str, CheckStatus] = field(default_factory=dict, metadata=on_wire("checks", _CHECKS, optional=True))
    identity: Identity | None = field(default=None, metadata=on_wire("identity", _IDENTITY, optional=True))
    evidence: Evidence | None = field(default=None, metadata=on_wire("evidence", _EVIDENCE, optional=True))
    procedure: str | None = field(default=None, metadata=on_wire("procedure", TEXT, optional=True))
    officer_id: str | None = field(default=None, metadata=on_wire("officer", TEXT, optional=True))

    def __post_init__(self) -> None:
        _check_common(self)
        _check_enum("verdict", self.verdict, Verdict)
        _check_codes("reasons", self.reasons)
        if not isinstance(self.checks, Mapping) or len(self.checks) > _MAX_CODES:
            fail("checks", f"must map at most {_MAX_CODES} check names to a CheckStatus")
        for name, status in self.checks.items():
            _check_text("checks", name, max_len=64, pattern=_CODE)
            _check_enum(f"checks.{name}", status, CheckStatus)
        object.__setattr__(self, "checks", MappingProxyType(dict(self.checks)))
        if self.identity is not None and not isinstance(self.identity, Identity):
            fail("identity", "must be an Identity")
        if self.evidence is not None and not isinstance(self.evidence, Evidence):
            fail("evidence", "must be an Evidence")
        if self.verdict is Verdict.PASS and (self.evidence is None or self.identity is None):
            fail("verdict", "a pass needs the identity and the evidence that proves it")
        if self.evidence is not None and self.evidence.aa_challenge is not None:
            expected = aa_challenge(self.header.id, self.header.time_ms)
            if self.evidence.aa_challenge != expected:
                fail("evidence.aa_challenge", "is not the challenge derived from this result's id and time")
        if self.procedure is not None:
            _check_text("procedure", self.procedure, max_len=64)
        if self.officer_id is not None:
            _check_text("officer", self.officer_id, max_len=64)


# ----------------------------------------------------------------------------------------------------------- ack


class AckStatus(StrEnum):
    STORED = "stored"  # stored for the first time: the terminal may delete its copy
    DUPLICATE = "duplicate"  # already stored (a QoS 1 redelivery): delete as well
    REJECTED = "rejected"  # will never be accepted (bad signature, revoked device): keep for audit, do not resend


class RegistryOutcome(StrEnum):
    MATCH = "match"
    MISMATCH = "mismatch"
    NOT_FOUND = "not_found"
    PENDING = "pending"  # stored, the registry answer follows in a later ack
    UNAVAILABLE = "unavailable"
    NOT_REQUESTED = "not_requested"


@dataclass(frozen=True, slots=True, kw_only=True)
class Ack(_Message):
    """The server's answer to one result (topic ``.../ack``): stored or not, and what the registry said."""

    CHANNEL: ClassVar[Channel] = Channel.ACK

    result_id: uuid.UUID = field(metadata=on_wire("ref", MESSAGE_ID))
    result_seq: int = field(metadata=on_wire("ref_seq", UINT))
    status: AckStatus = field(metadata=on_wire("status", enum_codec(AckStatus)))
    registry: RegistryOutcome = field(metadata=on_wire("registry", enum_codec(RegistryOutcome)))
    reason: str | None = field(default=None, metadata=on_wire("reason", TEXT, optional=True))
    registry_ref: str | None = field(default=None, metadata=on_wire("registry_ref", TEXT, optional=True))

    def __post_init__(self) -> None:
        _check_common(self)
        if not isinstance(self.result_id, uuid.UUID):
            fail("ref", "must be a UUID")
        check_uint("ref_seq", self.result_seq)
        _check_enum("status", self.status, AckStatus)
        _check_enum("registry", self.registry, RegistryOutcome)
        if self.reason is not None:
            _check_text("reason", self.reason)
        if self.registry_ref is not None:
            _check_text("registry_ref", self.registry_ref, max_len=128)


# ----------------------------------------------------------------------------------------------- heartbeat, state


@dataclass(frozen=True, slots=True, kw_only=True)
class Heartbeat(_Message):
    """The terminal's health report (topic ``.../heartbeat``); presence itself is ``State`` and the last will."""

    CHANNEL: ClassVar[Channel] = Channel.HEARTBEAT

    uptime_s: int = field(metadata=on_wire("uptime_s", UINT))
    outbox_depth: int = field(metadata=on_wire("outbox", UINT))
    config_version: int = field(metadata=on_wire("cfg_version", UINT))
    software: str = field(metadata=on_wire("software", TEXT))
    reader_attached: bool = field(metadata=on_wire("reader", BOOL))
    outbox_oldest_s: int | None = field(default=None, metadata=on_wire("outbox_oldest_s", UINT, optional=True))
    cert_expires_ms: int | None = field(default=None, metadata=on_wire("cert_expires", UINT, optional=True))
    disk_free_bytes: int | None = field(default=None, metadata=on_wire("disk_free", UINT, optional=True))
    cpu_temp_millicelsius: int | None = field(default=None, metadata=on_wire("cpu_mc", INT, optional=True))

    def __post_init__(self) -> None:
        _check_common(self)
        check_uint("uptime_s", self.uptime_s)
        check_uint("outbox", self.outbox_depth)
        check_uint("cfg_version", self.config_version)
        _check_text("software", self.software, max_len=64)
        if not isinstance(self.reader_attached, bool):
            fail("reader", "must be true or false")
        for name, value in (
            ("outbox_oldest_s", self.outbox_oldest_s),
            ("cert_expires", self.cert_expires_ms),
            ("disk_free", self.disk_free_bytes),
        ):
            if value is not None:
                check_uint(name, value)
        if self.cpu_temp_millicelsius is not None and (
            isinstance(self.cpu_temp_millicelsius, bool)
            or not isinstance(self.cpu_temp_millicelsius, int)
            or not -100_000 <= self.cpu_temp_millicelsius <= 200_000
        ):
            fail("cpu_mc", "must be an integer from -100000 to 200000")


class DeviceStatus(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"


@dataclass(frozen=True, slots=True, kw_only=True)
class State(_Message):
    """Presence (topic ``.../state``, retained). The terminal sets an ``OFFLINE`` state, signed at connect time, as
    its MQTT last will, and publishes ``ONLINE`` once connected."""

    CHANNEL: ClassVar[Channel] = Channel.STATE

    status: DeviceStatus = field(metadata=on_wire("status", enum_codec(DeviceStatus)))
    software: str | None = field(default=None, metadata=on_wire("software", TEXT, optional=True))

    def __post_init__(self) -> None:
        _check_common(self)
        _check_enum("status", self.status, DeviceStatus)
        if self.software is not None:
            _check_text("software", self.software, max_len=64)


# ----------------------------------------------------------------------------------------------------- config


@dataclass(frozen=True, slots=True, kw_only=True)
class DesiredConfig(_Message):
    """The configuration the server wants (topic ``.../config``, retained). ``version`` only ever grows; a terminal
    ignores a version lower than or equal to the one it applied."""

    CHANNEL: ClassVar[Channel] = Channel.CONFIG

    version: int = field(metadata=on_wire("cfg_version", UINT))
    settings: Mapping[str, CborValue] = field(default_factory=dict, metadata=on_wire("settings", MAP))

    def __post_init__(self) -> None:
        _check_common(self)
        check_uint("cfg_version", self.version)
        object.__setattr__(self, "settings", _frozen_map("settings", self.settings))


class ConfigStatus(StrEnum):
    APPLIED = "applied"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportedConfig(_Message):
    """What the terminal did with a desired config (topic ``.../config/reported``)."""

    CHANNEL: ClassVar[Channel] = Channel.CONFIG_REPORTED

    version: int = field(metadata=on_wire("cfg_version", UINT))
    status: ConfigStatus = field(metadata=on_wire("status", enum_codec(ConfigStatus)))
    error: str | None = field(default=None, metadata=on_wire("error", TEXT, optional=True))

    def __post_init__(self) -> None:
        _check_common(self)
        check_uint("cfg_version", self.version)
        _check_enum("status", self.status, ConfigStatus)
        if self.error is not None:
            _check_text("error", self.error)
        if (self.status is ConfigStatus.REJECTED) != (self.error is not None):
            fail("error", "a rejected config says why, an applied one has no error")


# ------------------------------------------------------------------------------------------------------- trust


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustUpdate(_Message):
    """A new CSCA trust list for passive authentication (topic ``.../trust``): DER certificates and CRLs."""

    CHANNEL: ClassVar[Channel] = Channel.TRUST

    version: int = field(metadata=on_wire("trust_version", UINT))
    csca: tuple[bytes, ...] = field(metadata=on_wire("csca", BYTE_STRINGS))
    crls: tuple[bytes, ...] = field(default=(), metadata=on_wire("crls", BYTE_STRINGS, optional=True))

    def __post_init__(self) -> None:
        _check_common(self)
        check_uint("trust_version", self.version)
        if not isinstance(self.csca, tuple) or not 0 < len(self.csca) <= _MAX_TRUST_ITEMS:
            fail("csca", f"must be a tuple of 1 to {_MAX_TRUST_ITEMS} certificates")
        for cert in self.csca:
            _check_blob("csca", cert, max_len=MAX_CERTIFICATE)
        if not isinstance(self.crls, tuple) or len(self.crls) > _MAX_TRUST_ITEMS:
            fail("crls", f"must be a tuple of at most {_MAX_TRUST_ITEMS} CRLs")
        for crl in self.crls:
            _check_blob("crls", crl, max_len=MAX_CRL)


# ---------------------------------------------------------------------------------------------------- commands


class CommandName(StrEnum):
    """Commands this version knows. ``Command.name`` is open text, so a newer server can send a command an older
    terminal does not know; that terminal answers ``ReplyStatus.UNSUPPORTED``."""

    RENEW_CERTIFICATE = "renew_certificate"
    FLUSH_OUTBOX = "flush_outbox"
    REPORT_HEALTH = "report_health"
    RESTART = "restart"
    DISABLE = "disable"


class ReplyStatus(StrEnum):
    DONE = "done"
    FAILED = "failed"
    UNSUPPORTED = "unsupported"
    EXPIRED = "expired"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True, kw_only=True)
class Command(_Message):
    """A command for one terminal (topic ``.../cmd``). ``expires_ms`` keeps a stale command from firing late."""

    CHANNEL: ClassVar[Channel] = Channel.COMMAND

    name: str = field(metadata=on_wire("name", TEXT))
    args: Mapping[str, CborValue] = field(default_factory=dict, metadata=on_wire("args", MAP, optional=True))
    expires_ms: int | None = field(default=None, metadata=on_wire("expires", UINT, optional=True))

    def __post_init__(self) -> None:
        _check_common(self)
        _check_text("name", self.name, max_len=64, pattern=_CODE)
        object.__setattr__(self, "args", _frozen_map("args", self.args))
        if self.expires_ms is not None:
            check_uint("expires", self.expires_ms, maximum=MAX_TIME_MS)

    def is_expired(self, now_ms: int) -> bool:
        return self.expires_ms is not None and now_ms >= self.expires_ms


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandReply(_Message):
    """The terminal's answer to one command (topic ``.../cmd/reply``)."""

    CHANNEL: ClassVar[Channel] = Channel.COMMAND_REPLY

    command_id: uuid.UUID = field(metadata=on_wire("ref", MESSAGE_ID))
    status: ReplyStatus = field(metadata=on_wire("status", enum_codec(ReplyStatus)))
    detail: str | None = field(default=None, metadata=on_wire("detail", TEXT, optional=True))
    result: Mapping[str, CborValue] = field(default_factory=dict, metadata=on_wire("result", MAP, optional=True))

    def __post_init__(self) -> None:
        _check_common(self)
        if not isinstance(self.command_id, uuid.UUID):
            fail("ref", "must be a UUID")
        _check_enum("status", self.status, ReplyStatus)
        if self.detail is not None:
            _check_text("detail", self.detail)
        object.__setattr__(self, "result", _frozen_map("result", self.result))


Message = AuthResult | Ack | Heartbeat | State | DesiredConfig | ReportedConfig | TrustUpdate | Command | CommandReply

MESSAGE_TYPES: Mapping[Channel, type[Message]] = MappingProxyType(
    {
        cls.CHANNEL: cls
        for cls in (
            AuthResult,
            Ack,
            Heartbeat,
            State,
            DesiredConfig,
            ReportedConfig,
            TrustUpdate,
            Command,
            CommandReply,
        )
    }
)


def is_uplink(message: Message) -> bool:
    return message.CHANNEL.direction is Direction.UPLINK
