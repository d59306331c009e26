"""Fleet state in one SQLite file (WAL, synchronous=FULL): tokens, devices, every issued certificate, settings.

A token is redeemed, its device recorded and the certificate stored in one ``BEGIN IMMEDIATE`` transaction, so a
token works exactly once even when two terminals race with it, and a crash leaves either all of it or none.
Tokens are stored as their SHA-256 only.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from provisioning._errors import DeviceNotFound, TokenRejected, TokenRejection
from provisioning._pki import Role, cert_pem

# How long after a token's use the terminal that used it can fetch its answer again (the first may have been lost).
RECOVERY_WINDOW = dt.timedelta(hours=24)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    hash TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    device_id TEXT
);
CREATE TABLE IF NOT EXISTS devices (
    id TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    enrolled_at INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
    revoked_at INTEGER,
    reason TEXT
);
CREATE TABLE IF NOT EXISTS certificates (
    serial TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    name TEXT NOT NULL,
    device_id TEXT REFERENCES devices(id),
    not_before INTEGER NOT NULL,
    not_after INTEGER NOT NULL,
    issued_at INTEGER NOT NULL,
    revoked_at INTEGER,
    pem TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS certificates_by_device ON certificates(device_id);
"""


class DeviceState(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    device_id: str
    site: str
    enrolled_at: dt.datetime
    state: DeviceState
    revoked_at: dt.datetime | None
    certificate_serial: int | None
    certificate_not_after: dt.datetime | None


@dataclass(frozen=True, slots=True)
class TokenRecord:
    hash_prefix: str
    site: str
    created_at: dt.datetime
    expires_at: dt.datetime
    used_at: dt.datetime | None
    device_id: str | None


@dataclass(frozen=True, slots=True)
class CertificateRecord:
    serial: int
    role: Role
    name: str
    device_id: str | None
    not_after: dt.datetime
    revoked_at: dt.datetime | None
    pem: bytes


def _ts(when: dt.datetime) -> int:
    return int(when.timestamp())


def _dt(value: int | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromtimestamp(value, dt.UTC)


def _required_dt(value: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(value, dt.UTC)


class FleetStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def create(self) -> None:
        with self._connect() as conn:
            conn.executescript(_SCHEMA)
        self.path.chmod(0o600)

    # ----------------------------------------------------------------------------------------------- settings

    def get_meta(self, key: str) -> str | None:
        with self._connect() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    @staticmethod
    def _put_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
        conn.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def set_meta(self, key: str, value: str) -> None:
        with self._transaction() as conn:
            self._put_meta(conn, key, value)

    def next_counter(self, key: str) -> int:
        with self._transaction() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            value = 1 if row is None else int(row[0]) + 1
            self._put_meta(conn, key, str(value))
        return value

    def get_json_list(self, key: str) -> list[str]:
        raw = self.get_meta(key)
        value = json.loads(raw) if raw else []
        return [str(v) for v in value] if isinstance(value, list) else []

    def add_to_json_list(self, key: str, item: str) -> None:
        with self._transaction() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            items = json.loads(row[0]) if row else []
            if item not in items:
                items.append(item)
            self._put_meta(conn, key, json.dumps(items))

    def remove_from_json_list(self, key: str, item: str) -> None:
        with self._transaction() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            items = [value for value in (json.loads(row[0]) if row else []) if value != item]
            self._put_meta(conn, key, json.dumps(items))

    # ------------------------------------------------------------------------------------------------- tokens

    def add_token(self, token_hash: str, *, site: str, created_at: dt.datetime, expires_at: dt.datetime) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO tokens(hash, site, created_at, expires_at) VALUES (?, ?, ?, ?)",
                (token_hash, site, _ts(created_at), _ts(expires_at)),
            )

    def tokens(self) -> list[TokenRecord]:
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT hash, site, created_at, expires_at, used_at, device_id FROM tokens ORDER BY created_at"
            ).fetchall()
        return [
            TokenRecord(h[:12], site, _required_dt(created), _required_dt(expires), _dt(used), device)
            for h, site, created, expires, used, device in rows
        ]

    def redeem(
        self,
        token_hash: str,
        *,
        now: dt.datetime,
        new_device_id: Callable[[], str],
        issue: Callable[[str, str], x509.Certificate],
        site: str | None = None,
    ) -> tuple[str, str, x509.Certificate]:
        """Redeem a token and enroll a device in one transaction; returns ``(device_id, site, certificate)``.

        With ``site`` (where the terminal says it is installed), a token made for another site is refused and
        stays unused.

        ``issue(device_id, site)`` signs the certificate; it runs inside the transaction so that a token is never
        spent without a certificate being recorded, nor a certificate recorded for a spent token.
        """
        with self._transaction() as conn:
            row = conn.execute("SELECT site, expires_at, used_at FROM tokens WHERE hash = ?", (token_hash,)).fetchone()
            if row is None:
                raise TokenRejected(TokenRejection.UNKNOWN)
            token_site, expires_at, used_at = row
            if used_at is not None:
                raise TokenRejected(TokenRejection.USED)
            if _ts(now) >= expires_at:
                raise TokenRejected(TokenRejection.EXPIRED)
            if site is not None and site != token_site:
                raise TokenRejected(TokenRejection.WRONG_SITE)
            device_id = new_device_id()
            while conn.execute("SELECT 1 FROM devices WHERE id = ?", (device_id,)).fetchone():
                device_id = new_device_id()
            conn.execute(
                "INSERT INTO devices(id, site, enrolled_at, status) VALUES (?, ?, ?, 'active')",
                (device_id, token_site, _ts(now)),
            )
            certificate = issue(device_id, token_site)
            self._insert_certificate(conn, certificate, role=Role.DEVICE, name=device_id, device_id=device_id, now=now)
            conn.execute(
                "UPDATE tokens SET used_at = ?, device_id = ? WHERE hash = ?", (_ts(now), device_id, token_hash)
            )
        return device_id, token_site, certificate

    def recover(self, token_hash: str, *, public_key: bytes, now: dt.datetime) -> tuple[str, str, x509.Certificate]:
        """What a used token gave, for the terminal that used it: ``(device_id, site, certificate)`` when the
        certificate is on ``public_key`` (SubjectPublicKeyInfo, DER), the token was used at most
        :data:`RECOVERY_WINDOW` ago and the terminal is active. Anything else is the token's refusal as it stands."""
        with self._connect() as conn:
            row = conn.execute("SELECT expires_at, used_at FROM tokens WHERE hash = ?", (token_hash,)).fetchone()
            if row is None:
                raise TokenRejected(TokenRejection.UNKNOWN)
            expires_at, used_at = row
            if used_at is None:
                raise TokenRejected(TokenRejection.EXPIRED if _ts(now) >= expires_at else TokenRejection.UNUSED)
            recovered = self._enrollment_of(conn, token_hash, public_key=public_key, now=now, used_at=used_at)
        if recovered is None:
            raise TokenRejected(TokenRejection.USED)
        return recovered

    @staticmethod
    def _enrollment_of(
        conn: sqlite3.Connection, token_hash: str, *, public_key: bytes, now: dt.datetime, used_at: int
    ) -> tuple[str, str, x509.Certificate] | None:
        if _ts(now) - used_at > int(RECOVERY_WINDOW.total_seconds()):
            return None
        row = conn.execute(
            "SELECT d.id, d.site, c.pem FROM tokens t JOIN devices d ON d.id = t.device_id"
            " JOIN certificates c ON c.device_id = d.id AND c.issued_at = t.used_at AND c.revoked_at IS NULL"
            " WHERE t.hash = ? AND d.status = 'active' ORDER BY c.not_after DESC LIMIT 1",
            (token_hash,),
        ).fetchone()
        if row is None:
            return None
        certificate = x509.load_pem_x509_certificate(row[2].encode("ascii"))
        issued_key = certificate.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        if not hmac.compare_digest(issued_key, public_key):
            return None
        return str(row[0]), str(row[1]), certificate

    # ------------------------------------------------------------------------------------------- certificates

    @staticmethod
    def _insert_certificate(
        conn: sqlite3.Connection,
        certificate: x509.Certificate,
        *,
        role: Role,
        name: str,
        device_id: str | None,
        now: dt.datetime,
    ) -> None:
        conn.execute(
            "INSERT INTO certificates(serial, role, name, device_id, not_before, not_after, issued_at, pem)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                format(certificate.serial_number, "x"),
                role.value,
                name,
                device_id,
                _ts(certificate.not_valid_before_utc),
                _ts(certificate.not_valid_after_utc),
                _ts(now),
                cert_pem(certificate).decode("ascii"),
            ),
        )

    def record_certificate(
        self, certificate: x509.Certificate, *, role: Role, name: str, now: dt.datetime, device_id: str | None = None
    ) -> None:
        with self._transaction() as conn:
            self._insert_certificate(conn, certificate, role=role, name=name, device_id=device_id, now=now)

    def renew(
        self, device_id: str, *, now: dt.datetime, issue: Callable[[str, str], x509.Certificate]
    ) -> tuple[str, x509.Certificate]:
        with self._transaction() as conn:
            row = conn.execute("SELECT site, status FROM devices WHERE id = ?", (device_id,)).fetchone()
            if row is None:
                raise DeviceNotFound(device_id)
            site, status = row
            if status != DeviceState.ACTIVE:
                raise DeviceNotFound(f"{device_id} is revoked")
            certificate = issue(device_id, site)
            self._insert_certificate(conn, certificate, role=Role.DEVICE, name=device_id, device_id=device_id, now=now)
        return site, certificate

    def certificate(self, serial: int) -> CertificateRecord | None:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT serial, role, name, device_id, not_after, revoked_at, pem FROM certificates WHERE serial = ?",
                (format(serial, "x"),),
            ).fetchone()
        return None if row is None else self._certificate_record(row)

    def certificates(self) -> list[CertificateRecord]:
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT serial, role, name, device_id, not_after, revoked_at, pem FROM certificates ORDER BY issued_at"
            ).fetchall()
        return [self._certificate_record(r) for r in rows]

    @staticmethod
    def _certificate_record(row: tuple[str, str, str, str | None, int, int | None, str]) -> CertificateRecord:
        serial, role, name, device_id, not_after, revoked_at, pem = row
        return CertificateRecord(
            int(serial, 16), Role(role), name, device_id, _required_dt(not_after), _dt(revoked_at), pem.encode()
        )

    def revoke_certificate(self, serial: int, *, now: dt.datetime) -> None:
        with self._transaction() as conn:
            conn.execute(
                "UPDATE certificates SET revoked_at = COALESCE(revoked_at, ?) WHERE serial = ?",
                (_ts(now), format(serial, "x")),
            )

    def revoked_certificates(self, *, now: dt.datetime, grace: dt.timedelta) -> list[tuple[int, dt.datetime]]:
        """Revoked certificates still worth listing: not expired for longer than ``grace``."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT serial, revoked_at FROM certificates WHERE revoked_at IS NOT NULL AND not_after > ?"
                " ORDER BY revoked_at, serial",
                (_ts(now - grace),),
            ).fetchall()
        return [(int(serial, 16), _required_dt(revoked_at)) for serial, revoked_at in rows]

    # ---------------------------------------------------------------------------------------------- devices

    # The newest certificate of each device is the one it uses: later issue time, then later insertion.
    _DEVICE_QUERY = (
        "SELECT d.id, d.site, d.enrolled_at, d.status, d.revoked_at, c.serial, c.not_after FROM devices d"
        " LEFT JOIN certificates c ON c.rowid = (SELECT rowid FROM certificates WHERE device_id = d.id"
        " ORDER BY issued_at DESC, rowid DESC LIMIT 1)"
    )

    def devices(self) -> list[DeviceRecord]:
        with self._connect() as conn:
            rows = conn.execute(self._DEVICE_QUERY + " ORDER BY d.enrolled_at, d.id").fetchall()
        return [self._device_record(r) for r in rows]

    def device(self, device_id: str) -> DeviceRecord | None:
        with self._connect() as conn:
            row = conn.execute(self._DEVICE_QUERY + " WHERE d.id = ?", (device_id,)).fetchone()
        return None if row is None else self._device_record(row)

    @staticmethod
    def _device_record(row: tuple[str, str, int, str, int | None, str | None, int | None]) -> DeviceRecord:
        device_id, site, enrolled, status, revoked, serial, not_after = row
        return DeviceRecord(
            device_id,
            site,
            _required_dt(enrolled),
            DeviceState(status),
            _dt(revoked),
            None if serial is None else int(serial, 16),
            _dt(not_after),
        )

    def revoke_device(self, device_id: str, *, now: dt.datetime, reason: str) -> list[int]:
        """Mark the device revoked and every certificate it holds; returns the serials. Revoking twice is harmless."""
        with self._transaction() as conn:
            row = conn.execute("SELECT status FROM devices WHERE id = ?", (device_id,)).fetchone()
            if row is None:
                raise DeviceNotFound(f"no device {device_id} in this fleet")
            conn.execute(
                "UPDATE devices SET status = 'revoked', revoked_at = COALESCE(revoked_at, ?),"
                " reason = COALESCE(reason, ?) WHERE id = ?",
                (_ts(now), reason, device_id),
            )
            conn.execute(
                "UPDATE certificates SET revoked_at = COALESCE(revoked_at, ?) WHERE device_id = ?",
                (_ts(now), device_id),
            )
            rows = conn.execute("SELECT serial FROM certificates WHERE device_id = ?", (device_id,)).fetchall()
        return [int(serial, 16) for (serial,) in rows]

    def revoked_devices(self) -> list[str]:
        with self._connect() as conn:
            rows = conn.execute("SELECT id FROM devices WHERE status = 'revoked' ORDER BY id").fetchall()
        return [device_id for (device_id,) in rows]
