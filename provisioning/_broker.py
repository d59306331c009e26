"""Broker configuration generated from the fleet (mosquitto, with an EMQX equivalent), and revocation pushed to it.

mosquitto's CRL handling has traps, each designed around here:

* it reads the CRL only at start and on SIGHUP: revocation writes the file, then signals the broker;
* a half-written, missing or unreadable CRL at SIGHUP makes it fail *open*: the CRL is written to a temporary file,
  parsed and checked (signature, nextUpdate, the serials it must list), made world-readable (a CRL is public), and
  only then renamed into place;
* past the CRL's nextUpdate every terminal is refused: CRLs live 30 days and are re-signed when 20 remain
  (``cccd fleet serve`` checks hourly; ``broker-config`` and ``revoke`` re-sign too);
* a revoked terminal that is already connected stays connected: the fleet disconnects it through the
  dynamic-security plugin (``disableClient`` kicks by username) and, independently, the regenerated ACL denies the
  revoked username every topic, which mosquitto applies to live sessions on SIGHUP;
* whether the reload took is checked, not assumed. Each CRL puts one of two "witness" certificates on hold, in
  turn: after the reload the broker must refuse this CRL's witness as revoked (only the new CRL lists it) and let the
  other one through (the previous CRL listed it). Anything else means the new CRL is not in force, and the operator
  is told. A "canary" revoked when the fleet was created stays in every CRL for fleets from before the witnesses.
"""

from __future__ import annotations

import datetime as dt
import glob
import ipaddress
import json
import logging
import os
import pwd
import signal
import socket
import ssl
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from provisioning._errors import BrokerConfigError
from provisioning._files import (
    GROUP_SECRET_MODE,
    PUBLIC_MODE,
    SECRET_MODE,
    blocked_ancestor,
    make_parents,
    set_ownership,
    write_atomic,
)
from provisioning._fleet import DEFAULT_BROKER_PORT, SERVER_IDENTITY, WITNESS_IDENTITIES, Fleet
from provisioning._pki import SERVICE_LIFETIME, Authority, Role, cert_pem, check_crl, plain_key
from wire import DEFAULT_LIMITS, Channel, Direction, channel_filter, server_subscriptions

log = logging.getLogger(__name__)

BROKER_USER = "mosquitto"
DYNSEC_CANDIDATES = (
    "/usr/lib/*/mosquitto_dynamic_security.so",
    "/usr/lib/mosquitto_dynamic_security.so",
    "/usr/local/lib/mosquitto_dynamic_security.so",
)
DYNSEC_TOPIC = "$CONTROL/dynamic-security/v1"
# MQTT packet = fixed header + topic + properties + payload: leave 4 KiB around the largest envelope.
MAX_PACKET = DEFAULT_LIMITS.max_envelope + 4096
_MQTT_CONNECT = bytes.fromhex("100c00044d5154540402003c0000")  # MQTT 3.1.1 CONNECT, clean session, empty id
_CONNACK = 0x20
_VERDICT_WAIT_S = 1.0
_ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - terminals connect from anywhere; the listener requires a certificate


def default_broker_hosts(*, fqdn: str, hostname: str) -> tuple[str, ...]:
    """The names terminals use for a broker on this machine when the operator gives none: its FQDN and host name,
    never "localhost" unless there is nothing else (the first name goes into every terminal's first config, and a
    terminal told "localhost" would look for the broker on itself). On Debian, /etc/hosts often makes the FQDN
    resolve to "localhost"."""
    names = []
    for name in (fqdn.strip(), hostname.strip()):
        local = name == "localhost" or name.startswith("localhost.")
        if name and not local and "_" not in name and name not in names:
            names.append(name)
    return tuple(names) or ("localhost",)


def find_dynsec_plugin() -> Path | None:
    for pattern in DYNSEC_CANDIDATES:
        for match in sorted(glob.glob(pattern)):
            return Path(match)
    return None


def _broker_user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    """What ``cccd fleet broker-config`` was asked for."""

    port: int = DEFAULT_BROKER_PORT
    bind: str | None = None
    hosts: tuple[str, ...] = ("localhost",)
    server_listen: tuple[str, int] | None = None
    # mosquitto's ``user``: None keeps its default (started as root, it drops to user "mosquitto").
    run_as: str | None = None
    max_queued_messages: int = 1000
    max_queued_bytes: int = 64 * 1024 * 1024
    session_expiry: str = "14d"
    max_keepalive: int = 300

    @property
    def internal(self) -> tuple[str, int]:
        return self.server_listen or ("127.0.0.1", self.port + 1)


@dataclass(frozen=True, slots=True)
class BrokerLayout:
    """The files of one broker configuration directory."""

    directory: Path

    @property
    def conf(self) -> Path:
        return self.directory / "mosquitto.conf"

    @property
    def acl(self) -> Path:
        return self.directory / "acl"

    @property
    def crl(self) -> Path:
        return self.directory / "crl.pem"

    @property
    def ca_chain(self) -> Path:
        return self.directory / "ca-chain.pem"

    @property
    def server_cert(self) -> Path:
        return self.directory / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.directory / "server.key"

    @property
    def client_cert(self) -> Path:
        return self.directory / "server-client.pem"

    @property
    def client_key(self) -> Path:
        return self.directory / "server-client.key"

    @property
    def canary_cert(self) -> Path:
        return self.directory / "crl-canary.pem"

    @property
    def canary_key(self) -> Path:
        return self.directory / "crl-canary.key"

    def witness(self, index: int) -> tuple[Path, Path]:
        return self.directory / f"crl-witness-{index}.pem", self.directory / f"crl-witness-{index}.key"

    @property
    def manifest(self) -> Path:
        return self.directory / "broker.json"

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def emqx(self) -> Path:
        return self.directory / "emqx"

    @property
    def dynsec(self) -> Path:
        return self.directory / "data" / "dynamic-security.json"

    @property
    def pid_file(self) -> Path:
        return self.directory / "data" / "mosquitto.pid"

    def manifest_data(self) -> dict[str, Any]:
        try:
            value = json.loads(self.manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BrokerConfigError(f"{self.manifest} is missing or unreadable: regenerate the broker config") from exc
        if not isinstance(value, dict):
            raise BrokerConfigError(f"{self.manifest} is not a JSON object")
        return value


def render_acl(
    *, revoked: Sequence[str], server_identity: str = SERVER_IDENTITY, witnesses: Sequence[str] = WITNESS_IDENTITIES
) -> str:
    """The mosquitto ACL, derived from the wire channel table."""
    uplink = [c for c in Channel if c.direction is Direction.UPLINK]
    downlink = [c for c in Channel if c.direction is Direction.DOWNLINK]
    lines = [
        "# Generated by `cccd fleet broker-config` / `cccd fleet revoke`; regenerate rather than edit.",
        "# Terminals: the username is the certificate CN (use_identity_as_username). A terminal writes only its",
        "# uplink channels under cccd/v1/<its id>/ and reads only its own ack, config, trust and cmd topics.",
    ]
    lines += [f"pattern write cccd/v1/%u/{c.value}" for c in uplink]
    lines += [f"pattern read cccd/v1/%u/{c.value}" for c in downlink]
    lines += ["", f"# The central server ({server_identity}): reads every uplink, writes every downlink."]
    lines += [f"user {server_identity}"]
    lines += [f"topic read {channel_filter(c)}" for c in uplink]
    lines += [f"topic write {channel_filter(c)}" for c in downlink]
    lines += [
        "# ...and disconnects revoked terminals through the dynamic-security plugin.",
        f"topic readwrite {DYNSEC_TOPIC}",
        f"topic read {DYNSEC_TOPIC}/response",
    ]
    if revoked:
        lines += [
            "",
            "# Revoked terminals whose certificates have not expired: no topic at all (applies to live",
            "# sessions on SIGHUP; the CRL refuses their next handshake).",
        ]
        for device_id in revoked:
            lines += [f"user {device_id}", "topic deny #"]
    lines += ["", "# The CRL witnesses connect only to prove that a CRL reload took: no topic at all."]
    for name in witnesses:
        lines += [f"user {name}", "topic deny #"]
    return "\n".join(lines) + "\n"


def render_mosquitto_conf(layout: BrokerLayout, settings: BrokerSettings, *, dynsec_plugin: Path | None) -> str:
    d = layout
    internal_host, internal_port = settings.internal
    tls = [
        f"cafile {d.ca_chain}",
        f"certfile {d.server_cert}",
        f"keyfile {d.server_key}",
        f"crlfile {d.crl}",
        "require_certificate true",
        "use_identity_as_username true",
    ]
    lines = [
        f"# mosquitto configuration for the cccd-edge fleet, from `cccd fleet broker-config` on {dt.date.today()}.",
        "# Regenerate rather than edit. `cccd fleet revoke` rewrites crl.pem and acl in place and sends SIGHUP",
        f"# to the PID in {d.pid_file}.",
        "",
        "per_listener_settings false",
        "allow_anonymous false",
        f"acl_file {d.acl}",
        f"pid_file {d.pid_file}",
    ]
    if settings.run_as:
        lines.append(f"user {settings.run_as}")
    lines += [
        "",
        "# Persistence: sessions and queued QoS 1 messages survive a broker restart.",
        "persistence true",
        f"persistence_location {d.data}/",
        "autosave_interval 60",
        f"persistent_client_expiration {settings.session_expiry}",
        "",
        "# Limits: mosquitto has no broker-wide queue cap, so bound every client's queue and every packet.",
        f"max_packet_size {MAX_PACKET}",
        "max_inflight_messages 20",
        f"max_queued_messages {settings.max_queued_messages}",
        f"max_queued_bytes {settings.max_queued_bytes}",
        f"max_keepalive {settings.max_keepalive}",
        "",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "log_type information",
        "connection_messages true",
        "log_timestamp_format %Y-%m-%dT%H:%M:%S",
    ]
    if dynsec_plugin is not None:
        lines += [
            "",
            "# Used only to disconnect revoked terminals that are still connected (disableClient). The acl_file",
            "# above stays the authority on topics; certificate-authenticated clients never log in through it.",
            f"plugin {dynsec_plugin}",
            f"plugin_opt_config_file {d.dynsec}",
        ]
    listener = f"listener {settings.port}" + (f" {settings.bind}" if settings.bind else "")
    lines += [
        "",
        "# Terminals: mutual TLS, certificate CN = username = client id (so no terminal can take over another's",
        "# session by choosing its client id).",
        listener,
        "protocol mqtt",
        *tls,
        "use_username_as_clientid true",
        "",
        "# The central server: the same mutual TLS, but its processes choose their own client ids (several share",
        "# one identity behind a shared subscription). Keep this listener off the terminals' network.",
        f"listener {internal_port} {internal_host}",
        "protocol mqtt",
        *tls,
        "",
    ]
    return "\n".join(lines)


def render_emqx(
    layout: BrokerLayout,
    settings: BrokerSettings,
    *,
    revoked: Sequence[str],
    crl_url: str | None = None,
    without_crl_url: int = 0,
) -> dict[str, str]:
    """The EMQX 5 equivalent (files only; the fleet tools do not run EMQX). ``crl_url``: the fleet's CRL
    distribution point, from which EMQX fetches the CRL itself; ``without_crl_url``: active terminals whose
    certificates predate it, for whom EMQX's check (which fails closed) must stay off."""
    d = layout
    internal_host, internal_port = settings.internal
    uplink = [c for c in Channel if c.direction is Direction.UPLINK]
    downlink = [c for c in Channel if c.direction is Direction.DOWNLINK]
    if crl_url is None:
        # EMQX's CRL check fails closed: a certificate whose CRL it cannot fetch is refused, which would be every one.
        crl_check = "false"
        crl_comment = (
            "      # EMQX fetches CRLs only from a distribution point named in each certificate, and this fleet's\n"
            "      # certificates name none; checking would refuse them all (it fails closed). Revocation is the\n"
            "      # banned-clients API and acl.conf (see README.md)."
        )
        revocation = (
            "* Revocation: this fleet's certificates name no CRL distribution point (`cccd fleet init --crl-url`\n"
            "  sets one for a new fleet), so EMQX's CRL check does not see the fleet's CRL."
        )
    elif without_crl_url:
        crl_check = "false"
        crl_comment = (
            f"      # {without_crl_url} terminal certificate(s) issued before {crl_url} became the CRL distribution\n"
            "      # point name none; checking would refuse them (it fails closed). Run `cccd fleet broker-config`\n"
            "      # again once they are renewed: it turns the check on."
        )
        revocation = (
            f"* Revocation: new certificates name {crl_url} as their CRL distribution point, but {without_crl_url}\n"
            "  terminal(s) still use older ones, so EMQX's CRL check stays off until they renew (then run\n"
            "  `cccd fleet broker-config` again)."
        )
    else:
        crl_check = "true"
        crl_comment = (
            f"      # Every fleet certificate names {crl_url} as its CRL distribution point, which\n"
            "      # `cccd fleet serve --crl-listen` publishes; EMQX fetches it on first sight and refreshes it every\n"
            "      # 15 minutes by default."
        )
        revocation = (
            f"* Revocation: fleet certificates name {crl_url} as their CRL distribution point; run\n"
            "  `cccd fleet serve` with `--crl-listen` on that address. EMQX refuses a revoked certificate at the\n"
            "  handshake once its cached CRL is refreshed (every 15 minutes by default)."
        )
    ssl_options = f"""    ssl_options {{
      cacertfile = "{d.ca_chain}"
      certfile = "{d.server_cert}"
      keyfile = "{d.server_key}"
      verify = verify_peer
      fail_if_no_peer_cert = true
{crl_comment}
      enable_crl_check = {crl_check}
    }}"""
    conf = f"""# EMQX 5 configuration equivalent to ../mosquitto.conf, generated by `cccd fleet broker-config`.
# For fleets that outgrow one mosquitto: run it on every node of the cluster (paths must exist there).

listeners.tcp.default.enable = false
listeners.ws.default.enable = false
listeners.wss.default.enable = false

listeners.ssl.default {{
    bind = "{settings.bind or _ALL_INTERFACES}:{settings.port}"
{ssl_options}
}}

# The central server: its processes pick their own client ids.
listeners.ssl.internal {{
    bind = "{internal_host}:{internal_port}"
    zone = internal
{ssl_options}
}}

mqtt {{
    peer_cert_as_username = cn
    peer_cert_as_clientid = cn
    max_packet_size = {MAX_PACKET}
    max_mqueue_len = {settings.max_queued_messages}
    max_inflight = 20
    session_expiry_interval = {settings.session_expiry}
    server_keepalive = {settings.max_keepalive}
}}
zones.internal.mqtt.peer_cert_as_clientid = disabled

authorization {{
    no_match = deny
    deny_action = disconnect
    # Revocation edits acl.conf; a cache would keep old answers.
    cache.enable = false
    sources = [{{ type = file, enable = true, path = "{d.emqx}/acl.conf" }}]
}}
"""
    acl = ["%% Generated by `cccd fleet broker-config`; EMQX evaluates the first matching rule.", ""]
    if revoked:
        acl.append("%% Revoked terminals whose certificates have not expired.")
        acl += [f'{{deny, {{username, "{device_id}"}}, all, ["#"]}}.' for device_id in revoked]
        acl.append("")
    topics = ", ".join(f'"cccd/v1/${{username}}/{c.value}"' for c in uplink)
    reads = ", ".join(f'"cccd/v1/${{username}}/{c.value}"' for c in downlink)
    server_subs = ", ".join(f'"{t}"' for t in server_subscriptions() + server_subscriptions(share_group=None))
    server_pubs = ", ".join(f'"{channel_filter(c)}"' for c in downlink)
    acl += [
        "%% Terminals: their own uplink channels, their own downlink subscriptions.",
        f"{{allow, all, publish, [{topics}]}}.",
        f"{{allow, all, subscribe, [{reads}]}}.",
        "",
        f"%% The central server ({SERVER_IDENTITY}).",
        f'{{allow, {{username, "{SERVER_IDENTITY}"}}, subscribe, [{server_subs}]}}.',
        f'{{allow, {{username, "{SERVER_IDENTITY}"}}, publish, [{server_pubs}]}}.',
        "",
        "{deny, all}.",
    ]
    readme = f"""# EMQX equivalent of the mosquitto configuration

Generated by `cccd fleet broker-config`; not started by the fleet tools.

* `emqx.conf`: TLS listeners on {settings.port} (terminals, CN = username = client id) and
  {internal_host}:{internal_port} (central server), packet and queue limits, file-based authorization with
  `no_match = deny`.
* `acl.conf`: the same rules as `../acl`: a terminal writes only `cccd/v1/<its id>/...` uplink channels and
  reads only its own `ack`, `config`, `trust` and `cmd`.
{revocation}
  Ban and kick a revoked terminal at once through the REST API, e.g.
  `POST /api/v5/banned {{"as": "username", "who": "<device id>", "reason": "revoked"}}`; `cccd fleet revoke`
  regenerates `acl.conf`, which denies it every topic.
  The central server consults the fleet's `denylist.json` for every message in any case.
"""
    return {"emqx.conf": conf, "acl.conf": "\n".join(acl) + "\n", "README.md": readme}


def _empty_dynsec() -> bytes:
    # Default ACL access does not matter (acl_file answers first); keep it closed anyway.
    document = {
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": False,
            "subscribe": False,
            "unsubscribe": True,
        },
        "clients": [],
        "groups": [],
        "roles": [],
    }
    return json.dumps(document, indent=2).encode() + b"\n"


def _broker_group(settings: BrokerSettings) -> str | None:
    """The group mosquitto runs as when we can make files readable to it (only as root)."""
    if os.geteuid() != 0:
        return None
    user = settings.run_as or BROKER_USER
    if user == "root" or not _broker_user_exists(user):
        return None
    return user


def unreachable_directory(layout: BrokerLayout, settings: BrokerSettings) -> Path | None:
    """A directory on the way to the broker's files that mosquitto, once it has dropped to its own user, cannot
    enter (it would exit with "Unable to write pid file"). Only a broker started as root drops privileges."""
    if os.geteuid() != 0:
        return None
    return blocked_ancestor(layout.directory, settings.run_as or BROKER_USER)


def install_revocation_state(fleet: Fleet, layout: BrokerLayout) -> None:
    """Copy the fleet's current CRL into a broker directory (checked before it replaces the old one) and
    regenerate the ACL with the revoked terminals denied."""
    now = fleet.clock()
    data = fleet.crl_path.read_bytes()
    must_revoke = [serial for serial, _ in fleet.revoked_serials()]

    def verify(path: Path) -> None:
        check_crl(path.read_bytes(), issuer=fleet.issuing, now=now, must_revoke=must_revoke)

    write_atomic(layout.crl, data, mode=PUBLIC_MODE, check=verify)
    for index in (0, 1):
        for source, target in zip(fleet.witness_paths(index), layout.witness(index), strict=True):
            if source.exists():
                write_atomic(target, source.read_bytes(), mode=SECRET_MODE)
    revoked = _revoked_unexpired(fleet)
    write_atomic(layout.acl, render_acl(revoked=revoked).encode(), mode=PUBLIC_MODE)
    if layout.emqx.exists():
        settings = _settings_from_manifest(layout)
        url = fleet.crl_url
        pending = len(fleet.terminals_without_crl_url()) if url is not None else 0
        emqx = render_emqx(layout, settings, revoked=revoked, crl_url=url, without_crl_url=pending)
        for name, text in emqx.items():
            write_atomic(layout.emqx / name, text.encode(), mode=PUBLIC_MODE)


def _revoked_unexpired(fleet: Fleet) -> list[str]:
    now = fleet.clock()
    return [
        device.device_id
        for device in fleet.store.devices()
        if device.revoked_at is not None
        and (device.certificate_not_after is None or device.certificate_not_after > now)
    ]


def _settings_from_manifest(layout: BrokerLayout) -> BrokerSettings:
    """What ``broker-config`` was asked for when it wrote this directory, read back from ``broker.json``."""
    manifest = layout.manifest_data()
    try:
        listen = manifest.get("server_listen")
        return BrokerSettings(
            port=int(manifest.get("port", DEFAULT_BROKER_PORT)),
            bind=manifest.get("bind"),
            hosts=tuple(str(h) for h in manifest.get("hosts", ["localhost"])),
            server_listen=(str(listen[0]), int(listen[1])) if listen else None,
            run_as=manifest.get("run_as"),
        )
    except (TypeError, ValueError, IndexError) as exc:
        raise BrokerConfigError(f"{layout.manifest} is damaged ({exc}): regenerate the broker config") from exc


def write_broker_config(fleet: Fleet, authority: Authority, out_dir: Path, settings: BrokerSettings) -> BrokerLayout:
    """Write ``mosquitto.conf`` and everything it refers to, so that ``mosquitto -c DIR/mosquitto.conf`` starts
    as it is; plus the central server's client identity and the EMQX equivalent."""
    if not settings.hosts:
        raise BrokerConfigError("the broker needs at least one host name terminals use to reach it")
    layout = BrokerLayout(out_dir.resolve())
    make_parents(layout.directory)
    layout.directory.mkdir(exist_ok=True)
    # Traversable by the broker's user; the secrets inside carry their own modes.
    os.chmod(layout.directory, 0o755)  # noqa: S103
    group = _broker_group(settings)
    layout.data.mkdir(exist_ok=True)
    set_ownership(layout.data, owner=group, group=group)
    os.chmod(layout.data, 0o750)  # noqa: S103 - the broker's own data: sessions, dynamic-security state
    if fleet.crl_due():
        fleet.write_crl(authority)

    dns_names = (*(h for h in settings.hosts if not _is_ip(h)), "localhost")
    ips = (*(h for h in settings.hosts if _is_ip(h)), "127.0.0.1", "::1")
    broker_key, broker_cert = fleet.issue_service(
        authority,
        role=Role.BROKER,
        name=settings.hosts[0],
        lifetime=SERVICE_LIFETIME,
        dns_names=tuple(dict.fromkeys(dns_names)),
        ip_addresses=tuple(dict.fromkeys(ips)),
    )
    client_key, client_cert = fleet.issue_service(
        authority, role=Role.SERVER_CLIENT, name=SERVER_IDENTITY, lifetime=SERVICE_LIFETIME
    )
    write_atomic(layout.ca_chain, authority.chain_pem(), mode=PUBLIC_MODE)
    write_atomic(layout.server_cert, cert_pem(broker_cert, authority.certificate), mode=PUBLIC_MODE)
    # mosquitto cannot prompt for a passphrase: its key is plain, readable by root and the broker's group only.
    key_mode = GROUP_SECRET_MODE if group else SECRET_MODE
    write_atomic(layout.server_key, plain_key(broker_key), mode=key_mode, group=group)
    write_atomic(layout.client_cert, cert_pem(client_cert, authority.certificate), mode=PUBLIC_MODE)
    write_atomic(layout.client_key, plain_key(client_key), mode=SECRET_MODE)
    write_atomic(layout.canary_cert, fleet.canary_cert_path.read_bytes(), mode=SECRET_MODE)
    write_atomic(layout.canary_key, fleet.canary_key_path.read_bytes(), mode=SECRET_MODE)
    write_atomic(layout.dynsec, _empty_dynsec(), mode=SECRET_MODE, owner=group, group=group)
    plugin = find_dynsec_plugin()
    manifest = {
        "generated": fleet.clock().isoformat(),
        "port": settings.port,
        "bind": settings.bind,
        "hosts": list(settings.hosts),
        "server_listen": list(settings.internal),
        "server_identity": SERVER_IDENTITY,
        "run_as": settings.run_as,
        "dynsec": plugin is not None,
        "root_fingerprint": fleet.root_fingerprint,
    }
    write_atomic(layout.manifest, json.dumps(manifest, indent=2).encode() + b"\n", mode=PUBLIC_MODE)
    layout.emqx.mkdir(exist_ok=True)
    install_revocation_state(fleet, layout)
    conf = render_mosquitto_conf(layout, settings, dynsec_plugin=plugin)
    write_atomic(layout.conf, conf.encode(), mode=PUBLIC_MODE)
    fleet.register_broker_dir(layout.directory)
    fleet.set_broker_address(settings.hosts[0], settings.port)
    return layout


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


# ----------------------------------------------------------------------------------------------- live broker


class CrlProbe(StrEnum):
    ENFORCED = "enforced"  # the probe certificate was refused as revoked
    NOT_ENFORCED = "not_enforced"  # the probe certificate got a CONNACK: the broker does not list it
    STALE = "stale"  # the broker applies an older CRL than the fleet's current one
    CRL_EXPIRED = "crl_expired"  # refused as "expired": the CRL is past nextUpdate and locks everyone out
    UNREACHABLE = "unreachable"
    INCONCLUSIVE = "inconclusive"


class BrokerControl(Protocol):
    """What the fleet needs from a running broker."""

    def reload(self) -> bool:
        """Make the broker re-read its CRL and ACL; False if no broker is running."""
        ...

    def probe(self, witness: int | None = None) -> CrlProbe:
        """Present CRL witness ``witness`` (None: the canary) and report what the broker made of it."""
        ...

    def disconnect(self, device_ids: Sequence[str]) -> tuple[str, ...]:
        """Drop these terminals if connected; returns those the broker confirmed."""
        ...


def probe_crl(host: str, port: int, *, ca_chain: Path, cert: Path, key: Path, timeout_s: float = 5.0) -> CrlProbe:
    """Present the revoked canary certificate and see what the broker does with it.

    With TLS 1.3 the broker judges the client certificate after the handshake has completed on our side, so the
    probe first *listens*: a refusal arrives as an alert (revoked, expired). Only when nothing arrives within a
    second does it send an MQTT CONNECT; a CONNACK then proves the broker let a revoked certificate in. Sending
    first would race the broker's close and lose the alert.
    """
    context = ssl.create_default_context(cafile=str(ca_chain))
    context.load_cert_chain(cert, key)
    try:
        raw = socket.create_connection((host, port), timeout=timeout_s)
    except OSError:
        return CrlProbe.UNREACHABLE
    try:
        with context.wrap_socket(raw, server_hostname=host) as tls:
            tls.settimeout(_VERDICT_WAIT_S)
            try:
                early = tls.recv(1)
            except TimeoutError:
                early = None
            if early == b"":
                return CrlProbe.INCONCLUSIVE  # closed without saying why
            tls.settimeout(timeout_s)
            tls.sendall(_MQTT_CONNECT)
            answer = (early or b"") + tls.recv(4)
    except ssl.SSLError as exc:
        return _classify_refusal(exc)
    except OSError as exc:
        log.warning("CRL probe: connection failed %s", exc)
        return CrlProbe.INCONCLUSIVE
    finally:
        raw.close()
    if answer[:1] == bytes([_CONNACK]):
        return CrlProbe.NOT_ENFORCED
    return CrlProbe.INCONCLUSIVE


def _classify_refusal(exc: ssl.SSLError) -> CrlProbe:
    text = str(exc).lower()
    if "revoked" in text:
        return CrlProbe.ENFORCED
    if "expired" in text:
        return CrlProbe.CRL_EXPIRED
    log.warning("CRL probe: unexpected TLS failure %s", exc)
    return CrlProbe.INCONCLUSIVE


def dynsec_disconnect(
    host: str,
    port: int,
    usernames: Sequence[str],
    *,
    ca_chain: Path,
    cert: Path,
    key: Path,
    timeout_s: float = 5.0,
) -> tuple[str, ...]:
    """Kick connected clients by username through mosquitto's dynamic-security plugin (``disableClient``)."""

    if not usernames:
        return ()
    commands: list[dict[str, Any]] = []
    for name in usernames:
        commands.append({"command": "createClient", "username": name})
        commands.append({"command": "disableClient", "username": name})
    context = ssl.create_default_context(cafile=str(ca_chain))
    context.load_cert_chain(cert, key)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"cccd-fleet-{os.getpid()}", protocol=mqtt.MQTTv5)
    client.tls_set_context(context)
    answered = threading.Event()
    responses: list[dict[str, Any]] = []

    def on_connect(c: mqtt.Client, _u: object, _f: object, reason: Any, _p: object = None) -> None:
        if not reason.is_failure:
            c.subscribe(f"{DYNSEC_TOPIC}/response", qos=1)

    def on_subscribe(c: mqtt.Client, *_: object) -> None:
        c.publish(DYNSEC_TOPIC, json.dumps({"commands": commands}), qos=1)

    def on_message(_c: mqtt.Client, _u: object, message: Any) -> None:
        try:
            body = json.loads(message.payload)
        except (ValueError, RecursionError):
            return
        responses.extend(r for r in body.get("responses", []) if isinstance(r, dict))
        answered.set()

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    try:
        client.connect(host, port, keepalive=30)
    except OSError as exc:
        log.warning("cannot reach the broker to disconnect revoked terminals: %s", exc)
        return ()
    client.loop_start()
    try:
        answered.wait(timeout_s)
    finally:
        client.disconnect()
        client.loop_stop()
    # The plugin answers each command in order; createClient may fail harmlessly (the client exists already).
    results = [r for r in responses if r.get("command") == "disableClient"]
    return tuple(name for name, result in zip(usernames, results, strict=False) if "error" not in result)


@dataclass(frozen=True, slots=True)
class MosquittoControl:
    """A mosquitto started from a broker directory: SIGHUP via its PID file, probe and kick over its listeners."""

    layout: BrokerLayout
    probe_host: str = "127.0.0.1"
    timeout_s: float = 5.0

    def _pid(self) -> int | None:
        try:
            pid = int(self.layout.pid_file.read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            return None
        try:
            comm = Path(f"/proc/{pid}/comm").read_text(encoding="ascii").strip()
        except OSError:
            return None
        # A stale PID file may name an unrelated process by now: signal only a mosquitto.
        return pid if comm.startswith("mosquitto") else None

    def reload(self) -> bool:
        pid = self._pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGHUP)
        return True

    def probe(self, witness: int | None = None) -> CrlProbe:
        cert, key = (
            (self.layout.canary_cert, self.layout.canary_key) if witness is None else self.layout.witness(witness)
        )
        return probe_crl(
            self.probe_host,
            _settings_from_manifest(self.layout).port,
            ca_chain=self.layout.ca_chain,
            cert=cert,
            key=key,
            timeout_s=self.timeout_s,
        )

    def disconnect(self, device_ids: Sequence[str]) -> tuple[str, ...]:
        if not self.layout.manifest_data().get("dynsec"):
            return ()
        host, port = _settings_from_manifest(self.layout).internal
        return dynsec_disconnect(
            host,
            port,
            device_ids,
            ca_chain=self.layout.ca_chain,
            cert=self.layout.client_cert,
            key=self.layout.client_key,
            timeout_s=self.timeout_s,
        )


@dataclass(frozen=True, slots=True)
class BrokerReport:
    directory: Path
    running: bool
    probe: CrlProbe | None
    disconnected: tuple[str, ...] = ()
    # Problems leave revocation unenforced at this broker; warnings do not (the ACL and the CRL still hold).
    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


def push_revocation_state(
    fleet: Fleet,
    *,
    disconnect: Sequence[str] = (),
    controls: Mapping[Path, BrokerControl] | None = None,
    settle_s: float = 5.0,
) -> list[BrokerReport]:
    """Install the fleet's CRL and ACL in every registered broker directory, reload each running broker, prove
    with the witnesses that it now applies this CRL, and disconnect ``disconnect`` where they are still connected."""
    reports = []
    crl = fleet.current_crl()
    held = None if crl is None else fleet.held_witness(crl)
    for directory in fleet.broker_dirs:
        layout = BrokerLayout(directory)
        if not layout.conf.exists():
            # Deleted (a broker moved or retired): forget it rather than recreate a folder no broker reads.
            fleet.forget_broker_dir(directory)
            log.warning("%s no longer holds a broker configuration: forgotten", directory)
            reports.append(BrokerReport(directory, running=False, probe=None, warnings=("forgotten: deleted",)))
            continue
        try:
            install_revocation_state(fleet, layout)
        except (OSError, BrokerConfigError) as exc:
            reports.append(BrokerReport(directory, running=False, probe=None, problems=(f"not updated: {exc}",)))
            continue
        control = controls.get(directory) if controls else None
        control = control or MosquittoControl(layout)
        try:
            reloaded = control.reload()
        except PermissionError:
            problem = "cannot signal the broker (permission denied): run this as root or as the broker's user"
            reports.append(BrokerReport(directory, running=True, probe=None, problems=(problem,)))
            continue
        if not reloaded:
            reports.append(BrokerReport(directory, running=False, probe=None))
            continue
        probe, problems = _confirm_reload(control, held, settle_s)
        dropped = control.disconnect(list(disconnect)) if disconnect else ()
        missing = sorted(set(disconnect) - set(dropped))
        warnings = (
            ("could not confirm disconnecting " + ", ".join(missing) + "; the ACL denies them every topic",)
            if missing
            else ()
        )
        reports.append(
            BrokerReport(
                directory,
                running=True,
                probe=probe,
                disconnected=dropped,
                problems=tuple(problems),
                warnings=warnings,
            )
        )
    return reports


def _confirm_reload(control: BrokerControl, held: int | None, settle_s: float) -> tuple[CrlProbe, list[str]]:
    """Wait until the broker refuses the witness this CRL holds, then check that it admits the one the previous CRL
    held: together they show the broker applies this CRL and not an older one (or none, after a failed reload)."""
    what = "the revoked canary certificate" if held is None else "this CRL's witness certificate"
    deadline = time.monotonic() + settle_s
    while True:
        # SIGHUP is handled asynchronously by the broker's main loop: give it a moment.
        probe = control.probe(held)
        if probe is CrlProbe.ENFORCED or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    if probe is not CrlProbe.ENFORCED:
        return probe, [f"the broker does not refuse {what} ({probe.value}): the new CRL is not in force"]
    if held is None:
        return probe, []
    released = control.probe(1 - held)
    if released is CrlProbe.NOT_ENFORCED:  # a CONNACK: the witness of the previous CRL is free again
        return probe, []
    if released is CrlProbe.ENFORCED:
        return CrlProbe.STALE, ["the broker still refuses the previous CRL's witness: it applies an older CRL"]
    return CrlProbe.INCONCLUSIVE, [f"the broker did not admit the previous CRL's witness ({released.value})"]


def refresh_crl_if_due(fleet: Fleet, authority: Authority) -> list[BrokerReport] | None:
    """Re-sign the CRL when its nextUpdate is near and push it to the brokers; None when nothing was due."""
    if not fleet.crl_due():
        return None
    fleet.write_crl(authority)
    return push_revocation_state(fleet)
