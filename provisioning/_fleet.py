"""The fleet: its CA, tokens, devices and revocation state, kept in one directory.

Layout of the fleet directory::

    fleet.db                     tokens (hashed), devices, every issued certificate, settings      0600
    root-ca.pem, issuing-ca.pem  the CA certificates; ca-chain.pem is issuing + root              0644
    root-ca.p12, issuing-ca.p12  the CA keys, PKCS#12 encrypted with the fleet passphrase         0600
    crl.pem                      the issuing CA's current CRL                                      0644
    crl-dp.pem                   the same CRL naming its distribution point (only with a CRL URL)  0644
    denylist.json                revoked device ids and serials, for the central server            0644
    crl-canary.pem/.key          a certificate revoked at birth: it must never get through a broker 0600
    crl-witness-{0,1}.pem/.key   on hold in alternate CRLs: prove that a broker loaded the latest  0600
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import re
import secrets
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from provisioning._errors import (
    EnvironmentProblem,
    FleetAlreadyInitialized,
    FleetNotInitialized,
    InvalidRequest,
    RenewalRefused,
)
from provisioning._files import PUBLIC_MODE, SECRET_MODE, make_parents, read_text_bounded, write_atomic
from provisioning._pki import (
    BACKDATE,
    CRL_LIFETIME,
    CRL_REFRESH_MARGIN,
    DEVICE_LIFETIME,
    KDF_ROUNDS,
    Authority,
    Role,
    build_crl,
    build_issuing,
    build_root,
    cert_pem,
    check_crl,
    common_name,
    crl_pem,
    distribution_points,
    encrypt_key,
    fingerprint,
    generate_key,
    issue,
    issued_by,
    load_certs,
    load_csr,
    load_key,
    plain_key,
)
from provisioning._store import DeviceRecord, DeviceState, FleetStore, TokenRecord

DEFAULT_FLEET_DIR = Path("/var/lib/cccd-edge/fleet")
SERVER_IDENTITY = "cccd-server"
CANARY_IDENTITY = "cccd-crl-canary"
# Two certificates that take turns on hold in successive CRLs: the broker refusing this CRL's one (and letting the
# other through) proves that it loaded *this* CRL, which the permanently revoked canary cannot tell.
WITNESS_IDENTITIES = ("cccd-crl-witness-0", "cccd-crl-witness-1")
DEFAULT_BROKER_PORT = 8883
# Terminal certificates: at least an hour (renewal at two thirds must not become a storm), at most the 398 days that
# browsers allow TLS certificates, far below the issuing CA's lifetime.
MIN_DEVICE_LIFETIME = dt.timedelta(hours=1)
MAX_DEVICE_LIFETIME = dt.timedelta(days=398)
TOKEN_PREFIX = "cccd-enroll-"  # noqa: S105 - the visible prefix of a token, not a secret
MIN_PASSPHRASE = 8
DEFAULT_DEVICE_SETTINGS: Mapping[str, object] = MappingProxyType(
    {"heartbeat_interval_s": 300, "include_portrait": False, "renew_at_fraction": "2/3"}
)
_SITE_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
_DEVICE_ID_BYTES = 10
# A revoked terminal takes well under 100 bytes in the deny list; this is room for a million of them.
MAX_DENYLIST = 64 * 1024 * 1024
_MAX_CRL_URL = 200


def check_crl_url(url: str) -> str:
    """A CRL distribution point for the fleet's certificates: a plain ``http://host[:port]/path`` URL. RFC 5280
    §4.2.1.13 wants HTTP (a CRL is signed; fetching it over TLS would need the very validation it serves), and it
    is what OpenSSL and EMQX fetch."""
    if len(url) > _MAX_CRL_URL or any(c.isspace() for c in url):
        raise InvalidRequest(f"a CRL URL is at most {_MAX_CRL_URL} characters without spaces")
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme != "http" or not parts.hostname or port == -1 or parts.username or parts.query or parts.fragment:
        raise InvalidRequest(f"{url!r} is not a CRL URL of the form http://HOST[:PORT]/PATH")
    if not parts.path.startswith("/") or len(parts.path) < 2:
        raise InvalidRequest(f"{url!r} names no path for the CRL (e.g. http://HOST:8080/v1/crl)")
    return url


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class Site:
    """Where a terminal works: province / commune [/ team], as codes (``79/26734/team-3``)."""

    province: str
    commune: str
    team: str | None = None

    def __post_init__(self) -> None:
        for part in (self.province, self.commune, self.team):
            if part is not None and _SITE_PART.fullmatch(part) is None:
                raise InvalidRequest(f"site part {part!r}: use letters, digits, '-', '_' or '.' (at most 32)")

    @classmethod
    def parse(cls, text: str) -> Site:
        parts = text.strip().split("/")
        if len(parts) not in (2, 3):
            raise InvalidRequest("a site is PROVINCE/COMMUNE or PROVINCE/COMMUNE/TEAM")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    def __str__(self) -> str:
        return "/".join(p for p in (self.province, self.commune, self.team) if p)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """An enrollment token as created: ``token`` is shown once and then only its hash exists."""

    token: str
    site: Site
    expires_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Grant:
    """What the enrollment service hands a terminal (enrollment or renewal)."""

    device_id: str
    site: str
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    broker_host: str
    broker_port: int
    server_identity: str
    settings: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FleetStatus:
    root_fingerprint: str
    devices: tuple[DeviceRecord, ...]
    tokens: tuple[TokenRecord, ...]
    crl_next_update: dt.datetime | None
    broker_dirs: tuple[str, ...]


def token_hash(token: str) -> str:
    # Tokens carry 256 random bits, so a plain hash is enough: nothing to brute-force, nothing worth salting.
    return hashlib.sha256(token.strip().encode("utf-8")).hexdigest()


def new_device_id() -> str:
    return "t-" + base64.b32encode(secrets.token_bytes(_DEVICE_ID_BYTES)).decode("ascii").lower()


class Fleet:
    """A fleet directory. Reading it needs no passphrase; signing needs :meth:`unlock`."""

    def __init__(self, directory: Path, *, clock: Callable[[], dt.datetime] = utc_now) -> None:
        self.directory = directory
        self.clock = clock
        self.store = FleetStore(directory / "fleet.db")

    # ------------------------------------------------------------------------------------------------ paths

    @property
    def root_path(self) -> Path:
        return self.directory / "root-ca.pem"

    @property
    def issuing_path(self) -> Path:
        return self.directory / "issuing-ca.pem"

    @property
    def root_key_path(self) -> Path:
        return self.directory / "root-ca.p12"

    @property
    def issuing_key_path(self) -> Path:
        return self.directory / "issuing-ca.p12"

    @property
    def chain_path(self) -> Path:
        return self.directory / "ca-chain.pem"

    @property
    def crl_path(self) -> Path:
        return self.directory / "crl.pem"

    @property
    def crl_dp_path(self) -> Path:
        return self.directory / "crl-dp.pem"

    @property
    def denylist_path(self) -> Path:
        return self.directory / "denylist.json"

    @property
    def canary_cert_path(self) -> Path:
        return self.directory / "crl-canary.pem"

    @property
    def canary_key_path(self) -> Path:
        return self.directory / "crl-canary.key"

    def witness_paths(self, index: int) -> tuple[Path, Path]:
        """Certificate and key of CRL witness ``index`` (0 or 1)."""
        return self.directory / f"crl-witness-{index}.pem", self.directory / f"crl-witness-{index}.key"

    # ------------------------------------------------------------------------------------------- lifecycle

    @classmethod
    def init(
        cls,
        directory: Path,
        passphrase: bytes,
        *,
        clock: Callable[[], dt.datetime] = utc_now,
        kdf_rounds: int = KDF_ROUNDS,
        crl_url: str | None = None,
    ) -> Fleet:
        """Create the root and issuing CA, the canary, an empty CRL and the database. With ``crl_url`` every
        certificate names it as its CRL distribution point (it cannot change afterwards: certificates carry it)."""
        if len(passphrase) < MIN_PASSPHRASE:
            raise InvalidRequest(f"the CA passphrase needs at least {MIN_PASSPHRASE} characters")
        if crl_url is not None:
            check_crl_url(crl_url)
        fleet = cls(directory, clock=clock)
        if fleet.root_path.exists() or fleet.store.path.exists():
            raise FleetAlreadyInitialized(f"{directory} already holds a fleet CA")
        make_parents(directory)
        directory.mkdir(exist_ok=True)
        os.chmod(directory, 0o700)
        now = clock()
        root_key = generate_key()
        root = build_root(root_key, now=now)
        issuing_key = generate_key()
        issuing = build_issuing(issuing_key, root_key=root_key, root=root, now=now)
        write_atomic(
            fleet.root_key_path,
            encrypt_key(root_key, passphrase, certificate=root, rounds=kdf_rounds),
            mode=SECRET_MODE,
        )
        write_atomic(
            fleet.issuing_key_path,
            encrypt_key(issuing_key, passphrase, certificate=issuing, rounds=kdf_rounds),
            mode=SECRET_MODE,
        )
        fleet.store.create()
        if crl_url is not None:
            fleet.store.set_meta("crl_url", crl_url)
        authority = Authority(root, issuing, issuing_key)
        fleet.store.record_certificate(root, role=Role.ROOT, name=common_name(root), now=now)
        fleet.store.record_certificate(issuing, role=Role.ISSUING, name=common_name(issuing), now=now)
        canary = fleet._issue_probe(authority, CANARY_IDENTITY, (fleet.canary_cert_path, fleet.canary_key_path))
        fleet.store.revoke_certificate(canary.serial_number, now=now)
        fleet.store.set_meta("canary_serial", format(canary.serial_number, "x"))
        # Certificates last: their presence is what marks the directory as an initialized fleet.
        write_atomic(fleet.issuing_path, cert_pem(issuing), mode=PUBLIC_MODE)
        write_atomic(fleet.chain_path, cert_pem(issuing, root), mode=PUBLIC_MODE)
        fleet.write_crl(authority)
        fleet.write_denylist()
        write_atomic(fleet.root_path, cert_pem(root), mode=PUBLIC_MODE)
        return fleet

    @classmethod
    def open(cls, directory: Path, *, clock: Callable[[], dt.datetime] = utc_now) -> Fleet:
        fleet = cls(directory, clock=clock)
        if not fleet.root_path.exists() or not fleet.store.path.exists():
            raise FleetNotInitialized(f"{directory} holds no fleet (run `cccd fleet init` first)")
        return fleet

    @property
    def root(self) -> x509.Certificate:
        return load_certs(self.root_path.read_bytes())[0]

    @property
    def issuing(self) -> x509.Certificate:
        return load_certs(self.issuing_path.read_bytes())[0]

    @property
    def root_fingerprint(self) -> str:
        return fingerprint(self.root)

    def unlock(self, passphrase: bytes) -> Authority:
        """Decrypt the issuing CA key (and check the root key too, so a wrong passphrase fails early)."""
        load_key(self.root_key_path.read_bytes(), passphrase)
        key = load_key(self.issuing_key_path.read_bytes(), passphrase)
        issuing = self.issuing
        if key.public_key().public_numbers() != _ec_public(issuing).public_numbers():
            raise InvalidRequest("issuing-ca.p12 does not belong to issuing-ca.pem")
        return Authority(self.root, issuing, key)

    # ------------------------------------------------------------------------------------------- settings

    def setting(self, key: str, default: str) -> str:
        value = self.store.get_meta(key)
        return default if value is None else value

    @property
    def device_lifetime(self) -> dt.timedelta:
        return dt.timedelta(seconds=int(self.setting("device_lifetime_s", str(int(DEVICE_LIFETIME.total_seconds())))))

    def set_device_lifetime(self, lifetime: dt.timedelta) -> None:
        if not MIN_DEVICE_LIFETIME <= lifetime <= MAX_DEVICE_LIFETIME:
            raise InvalidRequest("device certificates live between an hour and 398 days")
        self.store.set_meta("device_lifetime_s", str(int(lifetime.total_seconds())))

    @property
    def crl_url(self) -> str | None:
        """Where the fleet's CRL is published, named in every certificate; None when the fleet has no such URL."""
        return self.store.get_meta("crl_url")

    def set_crl_url(self, authority: Authority, url: str) -> None:
        """Name ``url`` as the CRL distribution point of every certificate issued from now on, and sign the CRL for
        it. Terminals enrolled before carry it from their next renewal (:meth:`terminals_without_crl_url`)."""
        check_crl_url(url)
        current = self.crl_url
        if current is not None and current != url:
            raise InvalidRequest(f"the fleet's certificates already name {current} as their CRL distribution point")
        self.store.set_meta("crl_url", url)
        self.write_crl(authority)

    def terminals_without_crl_url(self) -> list[str]:
        """Active terminals whose current certificate does not name the fleet's CRL URL (issued before it was set):
        a broker that checks CRLs only through distribution points and fails closed would refuse them."""
        url, now = self.crl_url, self.clock()
        missing = []
        for device in self.store.devices():
            if device.state is not DeviceState.ACTIVE or device.certificate_serial is None:
                continue
            if device.certificate_not_after is not None and device.certificate_not_after <= now:
                continue
            record = self.store.certificate(device.certificate_serial)
            names = distribution_points(x509.load_pem_x509_certificate(record.pem)) if record is not None else []
            if url is None or url not in names:
                missing.append(device.device_id)
        return missing

    @property
    def broker_address(self) -> tuple[str, int]:
        host = self.setting("broker_host", "localhost")
        return host, int(self.setting("broker_port", str(DEFAULT_BROKER_PORT)))

    def set_broker_address(self, host: str, port: int) -> None:
        self.store.set_meta("broker_host", host)
        self.store.set_meta("broker_port", str(port))

    @property
    def device_settings(self) -> Mapping[str, object]:
        raw = self.store.get_meta("device_settings")
        return MappingProxyType(json.loads(raw)) if raw else DEFAULT_DEVICE_SETTINGS

    @property
    def broker_dirs(self) -> tuple[Path, ...]:
        return tuple(Path(p) for p in self.store.get_json_list("broker_dirs"))

    def register_broker_dir(self, path: Path) -> None:
        self.store.add_to_json_list("broker_dirs", str(path.resolve()))

    def forget_broker_dir(self, path: Path) -> None:
        self.store.remove_from_json_list("broker_dirs", str(path))

    # --------------------------------------------------------------------------------------------- tokens

    def create_token(self, site: Site, *, ttl: dt.timedelta) -> IssuedToken:
        if not dt.timedelta(minutes=1) <= ttl <= dt.timedelta(days=30):
            raise InvalidRequest("a token lives between one minute and 30 days")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = self.clock()
        expires = now + ttl
        self.store.add_token(token_hash(token), site=str(site), created_at=now, expires_at=expires)
        return IssuedToken(token, site, expires)

    # --------------------------------------------------------------------------------- enrollment, renewal

    def _grant(self, device_id: str, site: str, certificate: x509.Certificate, authority: Authority) -> Grant:
        host, port = self.broker_address
        return Grant(
            device_id=device_id,
            site=site,
            certificate=certificate,
            chain=authority.chain,
            broker_host=host,
            broker_port=port,
            server_identity=SERVER_IDENTITY,
            settings=self.device_settings,
        )

    def _terminal_signer(
        self, authority: Authority, public_key: ec.EllipticCurvePublicKey, *, now: dt.datetime
    ) -> Callable[[str, str], x509.Certificate]:
        """``sign(device_id, site)`` for the store, which calls it inside its transaction."""
        lifetime, crl_url = self.device_lifetime, self.crl_url

        def sign(device_id: str, site: str) -> x509.Certificate:
            return issue(
                authority,
                public_key,
                name=device_id,
                role=Role.DEVICE,
                now=now,
                lifetime=lifetime,
                unit=site,
                crl_url=crl_url,
            )

        return sign

    def enroll(self, authority: Authority, *, token: str, csr_pem: bytes | str, site: Site | None = None) -> Grant:
        """Redeem a one-time token for a certificate on the key in ``csr_pem`` (which never leaves the terminal).
        ``site``, when the terminal states it, must be the site the token was made for."""
        now = self.clock()
        device_id, granted_site, certificate = self.store.redeem(
            token_hash(token),
            now=now,
            new_device_id=new_device_id,
            issue=self._terminal_signer(authority, load_csr(csr_pem), now=now),
            site=None if site is None else str(site),
        )
        return self._grant(device_id, granted_site, certificate, authority)

    def recover_enrollment(self, authority: Authority, *, token: str, csr_pem: bytes | str) -> Grant:
        """The grant a used token gave, again, for the terminal that used it (a CSR on the same key proves it):
        the answer to the enrollment may have been lost on a weak link after the token was spent."""
        public_key = load_csr(csr_pem).public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        device_id, site, certificate = self.store.recover(token_hash(token), public_key=public_key, now=self.clock())
        return self._grant(device_id, site, certificate, authority)

    def renew(self, authority: Authority, *, current: x509.Certificate, csr_pem: bytes | str) -> Grant:
        """A fresh certificate for a terminal that proves (over mTLS) it holds a valid, unrevoked one."""
        now = self.clock()
        if not issued_by(current, authority.certificate):
            raise RenewalRefused("the certificate was not issued by this fleet")
        if not current.not_valid_before_utc - BACKDATE <= now <= current.not_valid_after_utc:
            raise RenewalRefused("the certificate has expired: enroll again with a new token")
        record = self.store.certificate(current.serial_number)
        if record is None or record.role is not Role.DEVICE or record.device_id is None:
            raise RenewalRefused("the certificate is not a terminal certificate of this fleet")
        if record.revoked_at is not None:
            raise RenewalRefused("the certificate is revoked")
        device = self.store.device(record.device_id)
        if device is None or device.state is not DeviceState.ACTIVE:
            raise RenewalRefused("the terminal is revoked")
        sign = self._terminal_signer(authority, load_csr(csr_pem), now=now)
        site, certificate = self.store.renew(record.device_id, now=now, issue=sign)
        return self._grant(record.device_id, site, certificate, authority)

    def issue_service(
        self,
        authority: Authority,
        *,
        role: Role,
        name: str,
        lifetime: dt.timedelta,
        dns_names: tuple[str, ...] = (),
        ip_addresses: tuple[str, ...] = (),
    ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        """A key and certificate for the broker, the enrollment service or the central server's MQTT client."""
        key = generate_key()
        now = self.clock()
        certificate = issue(
            authority,
            key.public_key(),
            name=name,
            role=role,
            now=now,
            lifetime=lifetime,
            dns_names=dns_names,
            ip_addresses=ip_addresses,
            crl_url=self.crl_url,
        )
        self.store.record_certificate(certificate, role=role, name=name, now=now)
        return key, certificate

    # ------------------------------------------------------------------------------------------ revocation

    def revoke(self, device_id: str, *, reason: str = "revoked by operator") -> list[int]:
        """Mark a terminal and all its certificates revoked. The caller then re-signs the CRL
        (:meth:`write_crl`) and pushes it to the brokers."""
        serials = self.store.revoke_device(device_id, now=self.clock(), reason=reason)
        self.write_denylist()
        return serials

    def canary_serial(self) -> int:
        return int(self.setting("canary_serial", "0"), 16)

    def witness_serials(self) -> tuple[int, int] | None:
        text = self.store.get_meta("witness_serials")
        if text is None:
            return None
        first, second = (int(part, 16) for part in text.split(","))
        return first, second

    def _ensure_witnesses(self, authority: Authority) -> tuple[int, int]:
        """The two CRL witnesses, made on first need (fleets created before they existed get them here)."""
        existing = self.witness_serials()
        if existing is not None and all(p.exists() for i in (0, 1) for p in self.witness_paths(i)):
            return existing
        serials = [
            self._issue_probe(authority, name, self.witness_paths(index)).serial_number
            for index, name in enumerate(WITNESS_IDENTITIES)
        ]
        self.store.set_meta("witness_serials", ",".join(format(s, "x") for s in serials))
        return serials[0], serials[1]

    def _issue_probe(self, authority: Authority, name: str, paths: tuple[Path, Path]) -> x509.Certificate:
        """A certificate the fleet keeps for itself to probe brokers with (the canary, the witnesses): valid as long
        as the issuing CA, recorded, written with its plain key to ``paths`` (certificate, key), both 0600."""
        now = self.clock()
        key = generate_key()
        certificate = issue(
            authority,
            key.public_key(),
            name=name,
            role=Role.CANARY,
            now=now,
            lifetime=authority.certificate.not_valid_after_utc - now,
            crl_url=self.crl_url,
        )
        self.store.record_certificate(certificate, role=Role.CANARY, name=name, now=now)
        cert_path, key_path = paths
        write_atomic(key_path, plain_key(key), mode=SECRET_MODE)
        write_atomic(cert_path, cert_pem(certificate), mode=SECRET_MODE)
        return certificate

    def held_witness(self, crl: x509.CertificateRevocationList) -> int | None:
        """Which witness (0 or 1) ``crl`` puts on hold; None for a CRL from before the witnesses."""
        serials = self.witness_serials()
        if serials is None:
            return None
        held = [i for i, s in enumerate(serials) if crl.get_revoked_certificate_by_serial_number(s) is not None]
        return held[0] if len(held) == 1 else None

    def revoked_serials(self) -> list[tuple[int, dt.datetime]]:
        # Keep expired certificates listed for a day: a terminal with a slow clock may still present one.
        return self.store.revoked_certificates(now=self.clock(), grace=dt.timedelta(days=1))

    def write_crl(self, authority: Authority) -> x509.CertificateRevocationList:
        """Re-sign the CRL with every revoked, unexpired certificate and install it in the fleet directory; with a
        CRL URL, also the same CRL naming its distribution point (``crl-dp.pem``), which is what the URL serves.
        Brokers that read a file (mosquitto) get the CRL without it, which also covers certificates that name no
        distribution point."""
        now = self.clock()
        witnesses = self._ensure_witnesses(authority)
        revoked = self.revoked_serials()
        number = self.store.next_counter("crl_number")
        on_hold = [witnesses[number % 2]]
        crl = build_crl(authority, revoked, number=number, now=now, on_hold=on_hold)
        expected = [serial for serial, _ in revoked] + on_hold

        def verify(path: Path) -> None:
            check_crl(path.read_bytes(), issuer=authority.certificate, now=now, must_revoke=expected)

        write_atomic(self.crl_path, crl_pem(crl), mode=PUBLIC_MODE, check=verify)
        url = self.crl_url
        if url is not None:
            published = build_crl(authority, revoked, number=number, now=now, distribution_point=url, on_hold=on_hold)
            write_atomic(self.crl_dp_path, crl_pem(published), mode=PUBLIC_MODE, check=verify)
        return crl

    def current_crl(self) -> x509.CertificateRevocationList | None:
        try:
            return x509.load_pem_x509_crl(self.crl_path.read_bytes())
        except (OSError, ValueError):
            return None

    def published_crl(self) -> x509.CertificateRevocationList | None:
        """The CRL to hand out over HTTP: the one naming the fleet's CRL URL when there is one."""
        if self.crl_url is None:
            return self.current_crl()
        try:
            return x509.load_pem_x509_crl(self.crl_dp_path.read_bytes())
        except (OSError, ValueError):
            return None

    def crl_due(self) -> bool:
        """True when the CRL is missing, or nearer its nextUpdate than the refresh margin."""
        crl = self.current_crl()
        if crl is None or crl.next_update_utc is None:
            return True
        return crl.next_update_utc - self.clock() < CRL_REFRESH_MARGIN

    def write_denylist(self) -> None:
        """``denylist.json``: what the central server checks for every message (device ids and serials)."""
        revoked = self.store.revoked_devices()
        serials = sorted(
            format(s, "x") for s, _ in self.store.revoked_certificates(now=self.clock(), grace=CRL_LIFETIME)
        )
        document = {"updated": self.clock().isoformat(), "devices": revoked, "serials": serials}
        write_atomic(self.denylist_path, json.dumps(document, indent=2).encode() + b"\n", mode=PUBLIC_MODE)

    # -------------------------------------------------------------------------------------------- listing

    def status(self) -> FleetStatus:
        crl = self.current_crl()
        return FleetStatus(
            root_fingerprint=self.root_fingerprint,
            devices=tuple(self.store.devices()),
            tokens=tuple(self.store.tokens()),
            crl_next_update=None if crl is None else crl.next_update_utc,
            broker_dirs=tuple(str(p) for p in self.broker_dirs),
        )


def _ec_public(certificate: x509.Certificate) -> ec.EllipticCurvePublicKey:
    key = certificate.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise InvalidRequest("the fleet uses EC keys")
    return key


class DenyList:
    """The central server's view of revocation, re-read whenever ``denylist.json`` is replaced on disk.

    It fails closed: a deny list that is missing or unreadable raises :class:`EnvironmentProblem` on every
    question until it is readable again, rather than answering "not denied" for a revoked terminal.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._stamp: tuple[int, int, int] | None = None
        self._devices: frozenset[str] = frozenset()
        self._serials: frozenset[int] = frozenset()

    def _refresh(self) -> None:
        try:
            stat = self._path.stat()
        except OSError as exc:
            raise EnvironmentProblem(f"the deny list {self._path} cannot be read ({exc.strerror})") from exc
        # The fleet renames a new file into place: a new inode, even when size and mtime come out the same.
        stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if stamp == self._stamp:
            return
        try:
            document = json.loads(read_text_bounded(self._path, limit=MAX_DENYLIST))
            devices, serials = document["devices"], document["serials"]
            if not isinstance(devices, list) or not isinstance(serials, list):
                raise TypeError("devices and serials must be lists")
            denied_devices = frozenset(str(d) for d in devices)
            denied_serials = frozenset(int(str(s), 16) for s in serials)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise EnvironmentProblem(f"the deny list {self._path} is unreadable: {exc}") from exc
        self._stamp, self._devices, self._serials = stamp, denied_devices, denied_serials

    def is_denied(self, *, device_id: str | None = None, serial: int | None = None) -> bool:
        """Whether the terminal with this id, or the certificate with this serial, is revoked."""
        self._refresh()
        return (device_id is not None and device_id in self._devices) or (
            serial is not None and serial in self._serials
        )
