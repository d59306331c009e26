"""The messages of the terminal-server contract: frozen, slotted dataclasses validated on construction.

On the wire each message is one CBOR map with text keys. Every message starts with the same header keys::

    v     schema major version (uint)          type  channel, e.g. "result" (text)
    id    UUIDv7 (16-byte bstr)                dev   device id: sender of an uplink, recipient of a downlink
    seq   per-sender monotonic number (uint)   time  wall-clock Unix milliseconds (uint)
    tq    how good that time is (text)

followed by the fields of its type (see each class). Keys this version does not know are kept in ``extra``.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import ClassVar, NoReturn, Self, TypeVar

from wire._cbor import CborKey, CborValue
from wire._errors import Reason, SchemaError
from wire._ids import AA_CHALLENGE_SIZE, aa_challenge, is_uuid7
from wire._topics import Channel, Direction, is_device_id

SCHEMA_VERSION = 1
MAX_SEQ = (1 << 63) - 1
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

HEADER_KEYS = frozenset({"v", "type", "id", "dev", "seq", "time", "tq"})

_E = TypeVar("_E", bound=StrEnum)


def _fail(name: str, why: str) -> NoReturn:
    raise SchemaError(Reason.INVALID_FIELD, f"{name}: {why}")


def _check_uint(name: str, value: object, *, maximum: int = MAX_SEQ) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        _fail(name, f"must be an integer from 0 to {maximum}")


def _check_text(name: str, value: object, *, max_len: int = _MAX_TEXT, pattern: re.Pattern[str] | None = None) -> None:
    if not isinstance(value, str) or not 0 < len(value) <= max_len:
        _fail(name, f"must be text of 1 to {max_len} characters")
    if pattern is not None and pattern.fullmatch(value) is None:
        _fail(name, f"does not match {pattern.pattern}")
    if any(ord(ch) < 0x20 for ch in value):
        _fail(name, "contains control characters")


def _check_blob(name: str, value: object, *, max_len: int, exact: int | None = None) -> None:
    if not isinstance(value, bytes):
        _fail(name, "must be bytes")
    if exact is not None and len(value) != exact:
        _fail(name, f"must be {exact} bytes")
    if not 0 < len(value) <= max_len:
        _fail(name, f"must be 1 to {max_len} bytes")


def _check_enum(name: str, value: object, kind: type[StrEnum]) -> None:
    if not isinstance(value, kind):
        _fail(name, f"must be a {kind.__name__}")


def _check_codes(name: str, values: object) -> None:
    if not isinstance(values, tuple) or len(values) > _MAX_CODES:
        _fail(name, f"must be a tuple of at most {_MAX_CODES} codes")
    for v in values:
        _check_text(name, v, max_len=64, pattern=_CODE)


def _freeze_value(name: str, value: object, depth: int) -> CborValue:
    """Validate an open-ended value (settings, command arguments, unknown fields) and copy it."""
    if depth > _MAX_VALUE_DEPTH:
        _fail(name, "nested too deeply")
    if value is None or isinstance(value, (bool, str, bytes)):
        return value
    if isinstance(value, int):
        if not _INT_RANGE[0] <= value <= _INT_RANGE[1]:
            _fail(name, "integer out of the 64-bit range")
        return value
    if isinstance(value, (list, tuple)):
        if len(value) > _MAX_MAP_ENTRIES:
            _fail(name, "too many items")
        return [_freeze_value(name, v, depth + 1) for v in value]
    if isinstance(value, Mapping):
        if len(value) > _MAX_MAP_ENTRIES:
            _fail(name, "too many entries")
        out: dict[int | str, CborValue] = {}
        for k, v in value.items():
            if isinstance(k, bool) or not isinstance(k, (int, str)):
                _fail(name, "map keys must be text or integers")
            out[k] = _freeze_value(name, v, depth + 1)
        return out
    _fail(name, f"{type(value).__name__} values cannot be sent")


def _frozen_map(name: str, value: object, *, reserved: frozenset[str] = frozenset()) -> Mapping[str, CborValue]:
    if not isinstance(value, Mapping):
        _fail(name, "must be a mapping")
    if len(value) > _MAX_MAP_ENTRIES:
        _fail(name, f"more than {_MAX_MAP_ENTRIES} entries")
    out: dict[str, CborValue] = {}
    for k, v in value.items():
        if not isinstance(k, str) or not k:
            _fail(name, "keys must be non-empty text")
        if k in reserved:
            _fail(name, f"{k!r} is a field of this message, not an extra")
        out[k] = _freeze_value(name, copy.deepcopy(v), 1)
    return MappingProxyType(out)


class TimeQuality(StrEnum):
    """How far ``time`` can be trusted: a Raspberry Pi has no RTC, and results made before NTP sync say so."""

    SYNCED = "synced"
    RTC = "rtc"
    UNSYNCED = "unsynced"


@dataclass(frozen=True, slots=True, kw_only=True)
class Header:
    """The fields every message carries. ``device_id`` is the sender of an uplink and the recipient of a downlink."""

    id: uuid.UUID
    device_id: str
    seq: int
    time_ms: int
    time_quality: TimeQuality = TimeQuality.SYNCED

    def __post_init__(self) -> None:
        if not isinstance(self.id, uuid.UUID) or not is_uuid7(self.id):
            _fail("id", "must be a UUIDv7")
        if not isinstance(self.device_id, str) or not is_device_id(self.device_id):
            _fail("dev", "not a valid device id")
        _check_uint("seq", self.seq)
        _check_uint("time", self.time_ms, maximum=MAX_TIME_MS)
        _check_enum("tq", self.time_quality, TimeQuality)


class _Reader:
    """Takes the known fields out of a decoded map; what is left over becomes ``extra``."""

    def __init__(self, fields: dict[str, CborValue]) -> None:
        self._fields = fields

    def _take(self, key: str, *, required: bool) -> CborValue:
        value = self._fields.pop(key, None)
        if value is None and required:
            raise SchemaError(Reason.MISSING_FIELD, f"{key}: required")
        return value

    def uint(self, key: str, *, maximum: int = MAX_SEQ) -> int:
        value = self._take(key, required=True)
        _check_uint(key, value, maximum=maximum)
        assert isinstance(value, int)
        return value

    def opt_uint(self, key: str) -> int | None:
        value = self._take(key, required=False)
        if value is None:
            return None
        _check_uint(key, value)
        assert isinstance(value, int)
        return value

    def opt_int(self, key: str) -> int | None:
        value = self._take(key, required=False)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            _fail(key, "must be an integer")
        return value

    def text(self, key: str) -> str:
        value = self._take(key, required=True)
        if not isinstance(value, str):
            _fail(key, "must be text")
        return value

    def opt_text(self, key: str) -> str | None:
        value = self._take(key, required=False)
        if value is not None and not isinstance(value, str):
            _fail(key, "must be text")
        return value

    def blob(self, key: str) -> bytes:
        value = self._take(key, required=True)
        if not isinstance(value, bytes):
            _fail(key, "must be bytes")
        return value

    def opt_blob(self, key: str) -> bytes | None:
        value = self._take(key, required=False)
        if value is not None and not isinstance(value, bytes):
            _fail(key, "must be bytes")
        return value

    def boolean(self, key: str) -> bool:
        value = self._take(key, required=True)
        if not isinstance(value, bool):
            _fail(key, "must be true or false")
        return value

    def enum(self, key: str, kind: type[_E]) -> _E:
        raw = self.text(key)
        try:
            return kind(raw)
        except ValueError as exc:
            raise SchemaError(Reason.INVALID_FIELD, f"{key}: {raw!r} is not a known {kind.__name__}") from exc

    def message_id(self, key: str) -> uuid.UUID:
        raw = self.blob(key)
        if len(raw) != 16:
            _fail(key, "a message id is 16 bytes")
        return uuid.UUID(bytes=raw)

    def texts(self, key: str) -> tuple[str, ...]:
        value = self._take(key, required=False)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            _fail(key, "must be an array of text")
        return tuple(v for v in value if isinstance(v, str))

    def blobs(self, key: str) -> tuple[bytes, ...]:
        value = self._take(key, required=False)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, bytes) for v in value):
            _fail(key, "must be an array of byte strings")
        return tuple(v for v in value if isinstance(v, bytes))

    def mapping(self, key: str, *, required: bool = False) -> dict[str, CborValue]:
        value = self._take(key, required=required)
        if value is None:
            return {}
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            _fail(key, "must be a map with text keys")
        return {k: v for k, v in value.items() if isinstance(k, str)}

    def rest(self) -> dict[str, CborValue]:
        return self._fields


def _cbor_map(fields: Mapping[str, CborValue]) -> dict[CborKey, CborValue]:
    return dict(fields.items())


def _opt_items(pairs: dict[str, CborValue | None]) -> dict[str, CborValue]:
    """Absent optional fields are left out rather than sent as null: one encoding per message."""
    return {k: v for k, v in pairs.items() if v is not None}


def _check_common(message: _Message) -> None:
    if not isinstance(message.header, Header):
        _fail("header", "must be a Header")
    object.__setattr__(message, "extra", _frozen_map("extra", message.extra, reserved=HEADER_KEYS | message.KEYS))


@dataclass(frozen=True, slots=True, kw_only=True)
class _Message:
    CHANNEL: ClassVar[Channel]
    KEYS: ClassVar[frozenset[str]] = frozenset()

    header: Header
    # Fields a newer producer added that this version does not know; kept so nothing is lost in a relay or audit.
    extra: Mapping[str, CborValue] = field(default_factory=dict)

    @property
    def channel(self) -> Channel:
        return self.CHANNEL

    def body(self) -> dict[str, CborValue]:
        raise NotImplementedError

    @classmethod
    def from_body(cls, header: Header, fields: _Reader) -> Self:
        raise NotImplementedError


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

    id_number: str
    full_name: str
    date_of_birth: str
    old_id_number: str | None = None

    def __post_init__(self) -> None:
        _check_text("identity.id_number", self.id_number, pattern=_ID_NUMBER)
        _check_text("identity.full_name", self.full_name, max_len=128)
        _check_text("identity.date_of_birth", self.date_of_birth, pattern=_DATE)
        if self.old_id_number is not None:
            _check_text("identity.old_id_number", self.old_id_number, pattern=_OLD_ID_NUMBER)

    def to_cbor(self) -> dict[str, CborValue]:
        return _opt_items(
            {
                "id_number": self.id_number,
                "name": self.full_name,
                "dob": self.date_of_birth,
                "old_id": self.old_id_number,
            }
        )

    @classmethod
    def from_cbor(cls, fields: _Reader) -> Identity:
        return cls(
            id_number=fields.text("id_number"),
            full_name=fields.text("name"),
            date_of_birth=fields.text("dob"),
            old_id_number=fields.opt_text("old_id"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    """Chip files exactly as read, so the server can re-run passive and active authentication itself."""

    ef_sod: bytes
    dg1: bytes
    dg13: bytes | None = None
    dg14: bytes | None = None
    dg15: bytes | None = None
    dg2: bytes | None = None
    aa_challenge: bytes | None = None
    aa_signature: bytes | None = None

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
            _fail("evidence", "aa_challenge and aa_signature come together")
        if self.aa_signature is not None and self.dg15 is None:
            _fail("evidence", "an active authentication signature needs DG15 to be checked")

    def to_cbor(self) -> dict[str, CborValue]:
        return _opt_items(
            {
                "ef_sod": self.ef_sod,
                "dg1": self.dg1,
                "dg13": self.dg13,
                "dg14": self.dg14,
                "dg15": self.dg15,
                "dg2": self.dg2,
                "aa_challenge": self.aa_challenge,
                "aa_signature": self.aa_signature,
            }
        )

    @classmethod
    def from_cbor(cls, fields: _Reader) -> Evidence:
        return cls(
            ef_sod=fields.blob("ef_sod"),
            dg1=fields.blob("dg1"),
            dg13=fields.opt_blob("dg13"),
            dg14=fields.opt_blob("dg14"),
            dg15=fields.opt_blob("dg15"),
            dg2=fields.opt_blob("dg2"),
            aa_challenge=fields.opt_blob("aa_challenge"),
            aa_signature=fields.opt_blob("aa_signature"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthResult(_Message):
    """A terminal's verdict on one card, with the evidence the server re-verifies (topic ``.../result``).

    ``evidence.aa_challenge``, when present, must equal ``aa_challenge(header.id, header.time_ms)``.
    """

    CHANNEL: ClassVar[Channel] = Channel.RESULT
    KEYS: ClassVar[frozenset[str]] = frozenset(
        {"verdict", "reasons", "checks", "identity", "evidence", "procedure", "officer"}
    )

    verdict: Verdict
    reasons: tuple[str, ...] = ()
    checks: Mapping[str, CheckStatus] = field(default_factory=dict)
    identity: Identity | None = None
    evidence: Evidence | None = None
    procedure: str | None = None
    officer_id: str | None = None

    def __post_init__(self) -> None:
        _check_common(self)
        _check_enum("verdict", self.verdict, Verdict)
        _check_codes("reasons", self.reasons)
        if not isinstance(self.checks, Mapping) or len(self.checks) > _MAX_CODES:
            _fail("checks", f"must map at most {_MAX_CODES} check names to a CheckStatus")
        for name, status in self.checks.items():
            _check_text("checks", name, max_len=64, pattern=_CODE)
            _check_enum(f"checks.{name}", status, CheckStatus)
        object.__setattr__(self, "checks", MappingProxyType(dict(self.checks)))
        if self.identity is not None and not isinstance(self.identity, Identity):
            _fail("identity", "must be an Identity")
        if self.evidence is not None and not isinstance(self.evidence, Evidence):
            _fail("evidence", "must be an Evidence")
        if self.verdict is Verdict.PASS and (self.evidence is None or self.identity is None):
            _fail("verdict", "a pass needs the identity and the evidence that proves it")
        if self.evidence is not None and self.evidence.aa_challenge is not None:
            expected = aa_challenge(self.header.id, self.header.time_ms)
            if self.evidence.aa_challenge != expected:
                _fail("evidence.aa_challenge", "is not the challenge derived from this result's id and time")
        if self.procedure is not None:
            _check_text("procedure", self.procedure, max_len=64)
        if self.officer_id is not None:
            _check_text("officer", self.officer_id, max_len=64)

    def body(self) -> dict[str, CborValue]:
        return _opt_items(
            {
                "verdict": self.verdict.value,
                "reasons": list(self.reasons) or None,
                "checks": {k: v.value for k, v in self.checks.items()} or None,
                "identity": _cbor_map(self.identity.to_cbor()) if self.identity else None,
                "evidence": _cbor_map(self.evidence.to_cbor()) if self.evidence else None,
                "procedure": self.procedure,
                "officer": self.officer_id,
            }
        )

    @classmethod
    def from_body(cls, header: Header, fields: _Reader) -> Self:
        checks: dict[str, CheckStatus] = {}
        for name, status in fields.mapping("checks").items():
            if not isinstance(status, str):
                _fail(f"checks.{name}", "must be text")
            try:
                checks[name] = CheckStatus(status)
            except ValueError as exc:
                raise SchemaError(Reason.INVALID_FIELD, f"checks.{name}: {status!r} is not a CheckStatus") from exc
        identity = fields.mapping("identity")
        evidence = fields.mapping("evidence")
        return cls(
            header=header,
            verdict=fields.enum("verdict", Verdict),
            reasons=fields.texts("reasons"),
            checks=checks,
            identity=Identity.from_cbor(_Reader(identity)) if identity else None,
            evidence=Evidence.from_cbor(_Reader(evidence)) if evidence else None,
            procedure=fields.opt_text("procedure"),
            officer_id=fields.opt_text("officer"),
            extra=fields.rest(),
        )


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
    KEYS: ClassVar[frozenset[str]] = frozenset({"ref", "ref_seq", "status", "registry", "reason", "registry_ref"})

    result_id: uuid.UUID
    result_seq: int
    status: AckStatus
    registry: RegistryOutcome
    reason: str | None = None
    registry_ref: str | None = None

    def __post_init__(self) -> None:
        _check_common(self)
        if not isinstance(self.result_id, uuid.UUID):
            _fail("ref", "must be a UUID")
        _check_uint("ref_seq", self.result_seq)
        _check_enum("status", self.status, AckStatus)
        _check_enum("registry", self.registry, RegistryOutcome)
        if self.reason is not None:
            _check_text("reason", self.reason)
        if self.registry_ref is not None:
            _check_text("registry_ref", self.registry_ref, max_len=128)

    def body(self) -> dict[str, CborValue]:
        return _opt_items(
            {
                "ref": self.result_id.bytes,
                "ref_seq": self.result_seq,
                "status": self.status.value,
                "registry": self.registry.value,
                "reason": self.reason,
                "registry_ref": self.registry_ref,
            }
        )

    @classmethod
    def from_body(cls, header: Header, fields: _Reader) -> Self:
        return cls(
            header=header,
            result_id=fields.message_id("ref"),
            result_seq=fields.uint("ref_seq"),
            status=fields.enum("status", AckStatus),
            registry=fields.enum("registry", RegistryOutcome),
            reason=fields.opt_text("reason"),
            registry_ref=fields.opt_text("registry_ref"),
            extra=fields.rest(),
        )


# ----------------------------------------------------------------------------------------------- heartbeat, state


@dataclass(frozen=True, slots=True, kw_only=True)
class Heartbeat(_Message):
    """The terminal's health report (topic ``.../heartbeat``); presence itself is ``State`` and the last will."""

    CHANNEL: ClassVar[Channel] = Channel.HEARTBEAT
    KEYS: ClassVar[frozenset[str]] = frozenset(
        {
            "uptime_s",
            "outbox",
            "outbox_oldest_s",
            "cert_expires",
            "cfg_version",
            "software",
            "reader",
            "disk_free",
            "cpu_mc",
        }
    )

    uptime_s: int
    outbox_depth: int
    config_version: int
    software: str
    reader_attached: bool
    outbox_oldest_s: int | None = None
    cert_expires_ms: int | None = None
    disk_free_bytes: int | None = None
    cpu_temp_millicelsius: int | None = None

    def __post_init__(self) -> None:
        _check_common(self)
        _check_uint("uptime_s", self.uptime_s)
        _check_uint("outbox", self.outbox_depth)
        _check_uint("cfg_version", self.config_version)
        _check_text("software", self.software, max_len=64)
        if not isinstance(self.reader_attached, bool):
            _fail("reader", "must be true or false")
        for name, value in (
            ("outbox_oldest_s", self.outbox_oldest_s),
            ("cert_expires", self.cert_expires_ms),
            ("disk_free", self.disk_free_bytes),
        ):
            if value is not None:
                _check_uint(name, value)
        if self.cpu_temp_millicelsius is not None and (
            isinstance(self.cpu_temp_millicelsius, bool)
            or not isinstance(self.cpu_temp_millicelsius, int)
            or not -100_000 <= self.cpu_temp_millicelsius <= 200_000
        ):
            _fail("cpu_mc", "must be an integer from -100000 to 200000")

    def body(self) -> dict[str, CborValue]:
        return _opt_items(
            {
                "uptime_s": self.uptime_s,
                "outbox": self.outbox_depth,
                "outbox_oldest_s": self.outbox_oldest_s,
                "cert_expires": self.cert_expires_ms,
                "cfg_version": self.config_version,
                "software": self.software,
                "reader": self.reader_attached,
                "disk_free": self.disk_free_bytes,
                "cpu_mc": self.cpu_temp_millicelsius,
            }
        )

    @classmethod
    def from_body(cls, header: Header, fields: _Reader) -> Self:
        return cls(
            header=header,
            uptime_s=fields.uint("uptime_s"),
            outbox_depth=fields.uint("outbox"),
            outbox_oldest_s=fields.opt_uint("outbox_oldest_s"),
            cert_expires_ms=fields.opt_uint("cert_expires"),
            config_version=fields.uint("cfg_version"),
            software=fields.text("software"),
            reader_attached=fields.boolean("reader"),
            disk_free_bytes=fields.opt_uint("disk_free"),
            cpu_temp_millicelsius=fields.opt_int("cpu_mc"),
            extra=fields.rest(),
        )


class DeviceStatus(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"


@dataclass(frozen=True, slots=True, kw_only=True)
class State(_Message):
    """Presence (topic ``.../state``, retained). The terminal sets an ``OFFLINE`` state, signed at connect time, as
    its MQTT last will, and publishes ``ONLINE`` once connected."""

    CHANNEL: ClassVar[Channel] = Channel.STATE
    KEYS: ClassVar[frozenset[str]] = frozenset({"status", "software"})

    status: DeviceStatus
    software: str | None = None

    def __post_init__(self) -> None:
        _check_common(self)
        _check_enum("status", self.status, DeviceStatus)
        if self.software is not None:
            _check_text("software", self.software, max_len=64)

    def body(self) -> dict[str, CborValue]:
        return _opt_items({"status": self.status.value, "software": self.software})

    @classmethod
    def from_body(cls, header: Header, fields: _Reader) -> Self:
        return cls(
            header=header,
            status=fields.enum("status", DeviceStatus),
            software=fields.opt_text("software"),
            extra=fields.rest(),
        )


# ----------------------------------------------------------------------------------------------------- config


@dataclass(frozen=True, slots=True, kw_only=True)
class DesiredConfig(_Message):
    """The configuration the server wants (topic ``.../config``, retained). ``version`` only ever grows; a terminal
    ignores a version lower than or equal to the one it applied."""

    CHANNEL: ClassVar[Channel] = Channel.CONFIG
    KEYS: ClassVar[frozenset[str]] = frozenset({"cfg_version", "settings"})

    version: int
    settings: Mapping[str, CborValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_common(self)
        _check_uint("cfg_version", self.version)
        object.__setattr__(self, "settings", _frozen_map("settings", self.settings))

    def body(self) -> dict[str, CborValue]:
        return {"cfg_version": self.version, "settings": _cbor_map(self.settings)}

    @classmethod
    def from_body(cls, header: Header, fields: _Reader) -> Self:
        return cls(
            header=header,
            version=fields.uint("cfg_version"),
            settings=fields.mapping("settings", required=True),
            extra=fields.rest(),
        )


class ConfigStatus(StrEnum):
    APPLIED = "applied"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportedConfig(_Message):
    """What the terminal did with a desired config (topic ``.../config/reported``)."""

    CHANNEL: ClassVar[Channel] = Channel.CONFIG_REPORTED
    KEYS: ClassVar[frozenset[str]] = frozenset({"cfg_version", "status", "error"})

    version: int
    status: ConfigStatus
    error: str | None = None

    def __post_init__(self) -> None:
        _check_common(self)
        _check_uint("cfg_version", self.version)
        _check_enum("status", self.status, ConfigStatus)
        if self.error is not None:
            _check_text("error", self.error)
        if (self.status is ConfigStatus.REJECTED) != (self.error is not None):
            _fail("error", "a rejected config says why, an applied one has no error")

    def body(self) -> dict[str, CborValue]:
        return _opt_items({"cfg_version": self.version, "status": self.status.value, "error": self.error})

    @classmethod
    def from_body(cls, header: Header, fields: _Reader) -> Self:
        return cls(
            header=header,
            version=fields.uint("cfg_version"),
            status=fields.enum("status", ConfigStatus),
            error=fields.opt_text("error"),
            extra=fields.rest(),
        )


# ------------------------------------------------------------------------------------------------------- trust


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustUpdate(_Message):
    """A new CSCA trust list for passive authentication (topic ``.../trust``): DER certificates and CRLs."""

    CHANNEL: ClassVar[Channel] = Channel.TRUST
    KEYS: ClassVar[frozenset[str]] = frozenset({"trust_version", "csca", "crls"})

    version: int
    csca: tuple[bytes, ...]
    crls: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        _check_common(self)
        _check_uint("trust_version", self.version)
        if not isinstance(self.csca, tuple) or not 0 < len(self.csca) <= _MAX_TRUST_ITEMS:
            _fail("csca", f"must be a tuple of 1 to {_MAX_TRUST_ITEMS} certificates")
        for cert in self.csca:
            _check_blob("csca", cert, max_len=MAX_CERTIFICATE)
        if not isinstance(self.crls, tuple) or len(self.crls) > _MAX_TRUST_ITEMS:
            _fail("crls", f"must be a tuple of at most {_MAX_TRUST_ITEMS} CRLs")
        for crl in self.crls:
            _check_blob("crls", crl, max_len=MAX_CRL)

    def body(self) -> dict[str, CborValue]:
        return _opt_items({"trust_version": self.version, "csca": list(self.csca), "crls": list(self.crls) or None})

    @classmethod
    def from_body(cls, header: Header, fields: _Reader) -> Self:
        return cls(
            header=header,
            version=fields.uint("trust_version"),
            csca=fields.blobs("csca"),
            crls=fields.blobs("crls"),
            extra=fields.rest(),
        )


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
    KEYS: ClassVar[frozenset[str]] = frozenset({"name", "args", "expires"})

    name: str
    args: Mapping[str, CborValue] = field(default_factory=dict)
    expires_ms: int | None = None

    def __post_init__(self) -> None:
        _check_common(self)
        _check_text("name", self.name, max_len=64, pattern=_CODE)
        object.__setattr__(self, "args", _frozen_map("args", self.args))
        if self.expires_ms is not None:
            _check_uint("expires", self.expires_ms, maximum=MAX_TIME_MS)

    def is_expired(self, now_ms: int) -> bool:
        return self.expires_ms is not None and now_ms >= self.expires_ms

    def body(self) -> dict[str, CborValue]:
        return _opt_items({"name": self.name, "args": _cbor_map(self.args) or None, "expires": self.expires_ms})

    @classmethod
    def from_body(cls, header: Header, fields: _Reader) -> Self:
        return cls(
            header=header,
            name=fields.text("name"),
            args=fields.mapping("args"),
            expires_ms=fields.opt_uint("expires"),
            extra=fields.rest(),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandReply(_Message):
    """The terminal's answer to one command (topic ``.../cmd/reply``)."""

    CHANNEL: ClassVar[Channel] = Channel.COMMAND_REPLY
    KEYS: ClassVar[frozenset[str]] = frozenset({"ref", "status", "detail", "result"})

    command_id: uuid.UUID
    status: ReplyStatus
    detail: str | None = None
    result: Mapping[str, CborValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_common(self)
        if not isinstance(self.command_id, uuid.UUID):
            _fail("ref", "must be a UUID")
        _check_enum("status", self.status, ReplyStatus)
        if self.detail is not None:
            _check_text("detail", self.detail)
        object.__setattr__(self, "result", _frozen_map("result", self.result))

    def body(self) -> dict[str, CborValue]:
        return _opt_items(
            {
                "ref": self.command_id.bytes,
                "status": self.status.value,
                "detail": self.detail,
                "result": _cbor_map(self.result) or None,
            }
        )

    @classmethod
    def from_body(cls, header: Header, fields: _Reader) -> Self:
        return cls(
            header=header,
            command_id=fields.message_id("ref"),
            status=fields.enum("status", ReplyStatus),
            detail=fields.opt_text("detail"),
            result=fields.mapping("result"),
            extra=fields.rest(),
        )


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
