"""``cccd fleet ...``: the fleet's CA, enrollment tokens, terminals, revocation and broker configuration.

The environment is read here and only here: ``CCCD_FLEET_DIR`` (through ``--fleet-dir``) and
``CCCD_FLEET_PASSPHRASE``. Exit codes: 0 ok, 1 refused or bad input, 2 usage, 3 environment unavailable.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import logging
import os
import re
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from provisioning._broker import (
    BROKER_USER,
    BrokerReport,
    BrokerSettings,
    CrlProbe,
    default_broker_hosts,
    push_revocation_state,
    refresh_crl_if_due,
    unreachable_directory,
    write_broker_config,
)
from provisioning._errors import EnvironmentProblem, InvalidRequest, ProvisioningError
from provisioning._fleet import (
    DEFAULT_BROKER_PORT,
    DEFAULT_FLEET_DIR,
    MAX_DEVICE_LIFETIME,
    MIN_DEVICE_LIFETIME,
    Fleet,
    Site,
    check_crl_url,
)
from provisioning._pki import CRL_REFRESH_MARGIN
from provisioning._service import ENROLL_FAILURES_ALLOWED, serve
from provisioning._store import DeviceState

PASSPHRASE_ENV = "CCCD_FLEET_PASSPHRASE"  # noqa: S105 - the name of a variable, not its value
FLEET_DIR_ENV = "CCCD_FLEET_DIR"
EXIT_REFUSED, EXIT_USAGE, EXIT_ENVIRONMENT = 1, 2, 3
_DURATION = re.compile(r"(\d+)([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}

# Piped output is not cut at 80 columns: device ids and dates must stay on one line for grep.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True)

fleet_app = typer.Typer(
    name="fleet",
    help="The fleet's CA, enrollment tokens, terminals, revocation and broker configuration.",
    no_args_is_help=True,
)
token_app = typer.Typer(name="token", help="One-time enrollment tokens.", no_args_is_help=True)
fleet_app.add_typer(token_app)

FleetDir = Annotated[
    Path,
    typer.Option(
        "--fleet-dir",
        envvar=FLEET_DIR_ENV,
        help="Where the fleet keeps its CA, tokens, devices and CRL.",
        show_envvar=True,
    ),
]
PassphraseFile = Annotated[
    Path | None,
    typer.Option(
        "--passphrase-file",
        help=f"File holding the CA passphrase (else ${PASSPHRASE_ENV}, else a prompt).",
        exists=True,
        dir_okay=False,
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _fail(message: str, code: int) -> NoReturn:
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    raise typer.Exit(code)


@contextmanager
def _errors() -> Iterator[None]:
    """Every failure the user can meet becomes a message and an exit code, never a traceback."""
    try:
        yield
    except EnvironmentProblem as exc:
        _fail(str(exc), EXIT_ENVIRONMENT)
    except ProvisioningError as exc:
        _fail(str(exc), EXIT_REFUSED)
    except PermissionError as exc:
        _fail(f"permission denied: {exc.filename}", EXIT_ENVIRONMENT)
    except OSError as exc:
        _fail(str(exc), EXIT_ENVIRONMENT)


def _passphrase(path: Path | None, *, confirm: bool = False) -> bytes:
    if path is not None:
        return path.read_bytes().rstrip(b"\r\n")
    value = os.environ.get(PASSPHRASE_ENV)
    if value:
        return value.encode("utf-8")
    if not sys.stdin.isatty():
        _fail(f"no CA passphrase: give --passphrase-file or set {PASSPHRASE_ENV}", EXIT_USAGE)
    return str(typer.prompt("CA passphrase", hide_input=True, confirmation_prompt=confirm)).encode("utf-8")


def parse_duration(text: str) -> dt.timedelta:
    """``90s``, ``30m``, ``1h``, ``7d``, or combinations such as ``1h30m``."""
    total = dt.timedelta()
    rest = text.strip().lower()
    if not rest:
        raise typer.BadParameter("empty duration")
    for match in _DURATION.finditer(rest):
        total += dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    if _DURATION.sub("", rest):
        raise typer.BadParameter(f"{text!r}: use a number with s, m, h or d (e.g. 1h, 30m, 7d)")
    return total


def parse_listen(text: str, *, option: str = "--listen") -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise typer.BadParameter(f"{text!r}: use HOST:PORT", param_hint=option)
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - an empty host means every interface


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


@fleet_app.command("init")
def init(
    fleet_dir: FleetDir = DEFAULT_FLEET_DIR,
    passphrase_file: PassphraseFile = None,
    device_lifetime: Annotated[
        str,
        typer.Option(
            "--device-lifetime",
            help="Lifetime of terminal certificates (e.g. 30d, 7d, 12h); terminals renew at two thirds of it.",
        ),
    ] = "30d",
    crl_url: Annotated[
        str | None,
        typer.Option(
            "--crl-url",
            help="http://HOST[:PORT]/PATH where `fleet serve --crl-listen` will publish the CRL; every certificate "
            "names it (for EMQX's CRL check). It cannot change once set (`fleet crl-url` sets it later).",
        ),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Create the fleet CA (root + issuing CA, keys encrypted with the passphrase) and print the root's SHA-256
    fingerprint, which every terminal pins at enrollment."""
    try:
        lifetime = parse_duration(device_lifetime)
    except typer.BadParameter as exc:
        raise typer.BadParameter(exc.message, param_hint="--device-lifetime") from exc
    if not MIN_DEVICE_LIFETIME <= lifetime <= MAX_DEVICE_LIFETIME:
        raise typer.BadParameter("between 1 hour and 398 days", param_hint="--device-lifetime")
    if crl_url is not None:
        try:
            check_crl_url(crl_url)
        except InvalidRequest as exc:
            raise typer.BadParameter(str(exc), param_hint="--crl-url") from exc
    with _errors():
        fleet = Fleet.init(fleet_dir, _passphrase(passphrase_file, confirm=True), crl_url=crl_url)
        fleet.set_device_lifetime(lifetime)
        if json_output:
            document = {
                "fleet_dir": str(fleet_dir),
                "root_fingerprint": fleet.root_fingerprint,
                "device_lifetime_s": int(lifetime.total_seconds()),
                "crl_url": crl_url,
            }
            out.print_json(json.dumps(document))
            return
        err.print(
            f"Fleet CA created in {escape(str(fleet_dir))}. Root certificate SHA-256 fingerprint (terminals pin it):"
        )
        out.print(fleet.root_fingerprint, highlight=False)


@token_app.command("create")
def token_create(
    site: Annotated[
        str, typer.Option("--site", help="The terminal's site: PROVINCE/COMMUNE or PROVINCE/COMMUNE/TEAM (codes).")
    ],
    ttl: Annotated[str, typer.Option("--ttl", help="How long the token stays valid (e.g. 1h, 30m, 2d).")] = "1h",
    fleet_dir: FleetDir = DEFAULT_FLEET_DIR,
    json_output: JsonFlag = False,
) -> None:
    """Create a one-time enrollment token bound to a site. It is shown this once; only its hash is kept."""
    lifetime = parse_duration(ttl)
    with _errors():
        issued = Fleet.open(fleet_dir).create_token(Site.parse(site), ttl=lifetime)
        if json_output:
            document = {"token": issued.token, "expires": _iso(issued.expires_at), "site": str(issued.site)}
            out.print_json(json.dumps(document))
            return
        err.print(f"Enrollment token for site {issued.site}, valid until {_iso(issued.expires_at)}, usable once:")
        out.print(issued.token, highlight=False, soft_wrap=True)


@fleet_app.command("serve")
def serve_command(
    *,
    listen: Annotated[
        str, typer.Option("--listen", help="HOST:PORT for the HTTPS enrollment service.")
    ] = "0.0.0.0:8443",
    hosts: Annotated[
        list[str] | None,
        typer.Option(
            "--host",
            help="Name or address terminals use to reach the service, put in its certificate (repeatable; this "
            "machine's names and loopback are always there).",
        ),
    ] = None,
    fleet_dir: FleetDir = DEFAULT_FLEET_DIR,
    passphrase_file: PassphraseFile = None,
    max_refused: Annotated[
        int,
        typer.Option(
            "--max-refused",
            min=1,
            help="Refused tokens (unknown, used, expired, another site's) one client address may present in 10 "
            "minutes before it is answered 429; raise it when many terminals enroll from behind one NAT.",
        ),
    ] = ENROLL_FAILURES_ALLOWED,
    crl_listen: Annotated[
        str | None,
        typer.Option(
            "--crl-listen",
            help="HOST:PORT to publish the CRL on over plain HTTP, at the path of the fleet's --crl-url.",
        ),
    ] = None,
) -> None:
    """Run the enrollment service alone over HTTPS (certificate from the fleet CA) until interrupted.
    It also re-signs the CRL before its nextUpdate and pushes it to the brokers."""
    host, port = parse_listen(listen)
    crl_address = parse_listen(crl_listen, option="--crl-listen") if crl_listen is not None else None
    names = tuple(hosts or ())
    # Who enrolled, renewed or was refused, one line each on standard error (the journal under systemd).
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    service_log = logging.getLogger("provisioning")
    service_log.addHandler(handler)
    service_log.setLevel(logging.INFO)
    with _errors():
        fleet = Fleet.open(fleet_dir)
        authority = fleet.unlock(_passphrase(passphrase_file))

        def refresh() -> None:
            reports = refresh_crl_if_due(fleet, authority)
            if reports is not None:
                _print_reports(reports)

        def started() -> None:
            err.print(
                f"Enrollment service on https://{host}:{port} (root fingerprint {fleet.root_fingerprint}). "
                "Ctrl-C stops it.",
                highlight=False,
            )
            if crl_address is not None:
                err.print(
                    escape(f"CRL published for {fleet.crl_url} on {crl_address[0]}:{crl_address[1]}"), highlight=False
                )

        asyncio.run(
            serve(
                fleet,
                authority,
                host=host,
                port=port,
                names=names,
                on_crl_refresh=refresh,
                started=started,
                max_refused=max_refused,
                crl_listen=crl_address,
            )
        )


@fleet_app.command("broker-config")
def broker_config(
    *,
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to write mosquitto.conf and its files into.")],
    port: Annotated[int, typer.Option("--port", help="TLS port terminals connect to.", min=1, max=65535)] = (
        DEFAULT_BROKER_PORT
    ),
    hosts: Annotated[
        list[str] | None,
        typer.Option("--host", help="Name or address terminals use for the broker (repeatable; default: this host)."),
    ] = None,
    server_listen: Annotated[
        str | None,
        typer.Option("--server-listen", help="HOST:PORT of the central server's listener (default 127.0.0.1:PORT+1)."),
    ] = None,
    bind: Annotated[
        str | None,
        typer.Option("--bind", help="Address the terminals' listener binds to (default: every interface)."),
    ] = None,
    fleet_dir: FleetDir = DEFAULT_FLEET_DIR,
    passphrase_file: PassphraseFile = None,
) -> None:
    """Write mosquitto.conf with everything it refers to (server certificate and key, CA chain, ACL, CRL), the
    central server's client certificate and key, and the EMQX equivalent under emqx/."""
    names = tuple(hosts) if hosts else default_broker_hosts(fqdn=socket.getfqdn(), hostname=socket.gethostname())
    if bind is not None:
        try:
            ipaddress.ip_address(bind)
        except ValueError:
            raise typer.BadParameter(f"{bind!r}: use an IP address", param_hint="--bind") from None
    settings = BrokerSettings(
        port=port,
        hosts=names,
        bind=bind,
        server_listen=parse_listen(server_listen, option="--server-listen") if server_listen else None,
    )
    with _errors():
        fleet = Fleet.open(fleet_dir)
        authority = fleet.unlock(_passphrase(passphrase_file))
        layout = write_broker_config(fleet, authority, out_dir, settings)
        err.print(
            escape(
                f"Wrote {layout.conf} (terminals on port {port}, central server on {settings.internal[0]}:"
                f"{settings.internal[1]}). Start it with: mosquitto -c {layout.conf}"
            ),
            highlight=False,
        )
        err.print(escape(f"Central server identity: {layout.client_cert} and {layout.client_key}"), highlight=False)
        blocked = unreachable_directory(layout, settings)
        if blocked is not None:
            err.print(
                "[yellow]warning:[/yellow] "
                + escape(
                    f"mosquitto drops to user {settings.run_as or BROKER_USER}, which cannot enter {blocked}, "
                    f"so it would not start: run `chmod o+x {blocked}` or choose another --out."
                ),
                highlight=False,
            )


@fleet_app.command("crl-url")
def crl_url_command(
    url: Annotated[str, typer.Argument(help="http://HOST[:PORT]/PATH where `fleet serve --crl-listen` publishes it.")],
    fleet_dir: FleetDir = DEFAULT_FLEET_DIR,
    passphrase_file: PassphraseFile = None,
) -> None:
    """Name URL as the CRL distribution point of every certificate issued from now on (for brokers that fetch the CRL
    themselves, such as EMQX); terminals enrolled before carry it from their next renewal."""
    try:
        check_crl_url(url)
    except InvalidRequest as exc:
        raise typer.BadParameter(str(exc), param_hint="URL") from exc
    with _errors():
        fleet = Fleet.open(fleet_dir)
        fleet.set_crl_url(fleet.unlock(_passphrase(passphrase_file)), url)
        pending = fleet.terminals_without_crl_url()
    err.print(escape(f"CRL distribution point: {url}."), highlight=False)
    if pending:
        err.print(
            f"{len(pending)} active terminal(s) carry it from their next renewal; until then EMQX's CRL check stays "
            "off (run `cccd fleet broker-config` again afterwards).",
            highlight=False,
        )


@fleet_app.command("list")
def list_command(fleet_dir: FleetDir = DEFAULT_FLEET_DIR, json_output: JsonFlag = False) -> None:
    """Terminals, tokens and the CRL's next update."""
    with _errors():
        status = Fleet.open(fleet_dir).status()
    now = dt.datetime.now(dt.UTC)
    open_tokens = [t for t in status.tokens if t.used_at is None and t.expires_at > now]
    crl_state = _crl_state(status.crl_next_update, now)
    if json_output:
        document: dict[str, Any] = {
            "root_fingerprint": status.root_fingerprint,
            "crl_next_update": _iso(status.crl_next_update),
            "crl_state": crl_state,
            "broker_dirs": list(status.broker_dirs),
            "devices": [
                {
                    "device_id": d.device_id,
                    "site": d.site,
                    "state": d.state.value,
                    "enrolled": _iso(d.enrolled_at),
                    "certificate_expires": _iso(d.certificate_not_after),
                    "revoked": _iso(d.revoked_at),
                }
                for d in status.devices
            ],
            "tokens": [
                {
                    "id": t.hash_prefix,
                    "site": t.site,
                    "expires": _iso(t.expires_at),
                    "used": _iso(t.used_at),
                    "device_id": t.device_id,
                }
                for t in status.tokens
            ],
        }
        out.print_json(json.dumps(document))
        return
    table = Table(title=f"Terminals ({len(status.devices)})")
    # The device id is what `fleet revoke` needs: never cut; the rest wraps on a narrow terminal.
    table.add_column("device", no_wrap=True, min_width=18)
    for column in ("site", "state", "certificate expires", "enrolled"):
        table.add_column(column, overflow="fold")
    for d in status.devices:
        state = "[green]active[/green]" if d.state is DeviceState.ACTIVE else "[red]revoked[/red]"
        table.add_row(d.device_id, d.site, state, _iso(d.certificate_not_after) or "-", _iso(d.enrolled_at) or "-")
    out.print(table)
    out.print(f"Unused tokens: {len(open_tokens)}; CRL next update: {_iso(status.crl_next_update)}", highlight=False)
    out.print(f"Root fingerprint: {status.root_fingerprint}", highlight=False)
    if crl_state != "current":
        err.print(f"[yellow]warning:[/yellow] {_CRL_WARNINGS[crl_state]}", highlight=False)


_CRL_WARNINGS = {
    "missing": "the fleet has no readable CRL: brokers cannot check revocation",
    "expired": "the CRL is past its next update: brokers refuse EVERY terminal until it is re-signed "
    "(`cccd fleet serve` re-signs it when it starts, `cccd fleet revoke` too)",
    "due": "the CRL is due for re-signing: is `cccd fleet serve` running? It re-signs the CRL before it expires",
}


def _crl_state(next_update: dt.datetime | None, now: dt.datetime) -> str:
    """``current``, ``due`` (inside the refresh margin: the service should have re-signed it), ``expired``
    (brokers lock every terminal out) or ``missing``."""
    if next_update is None:
        return "missing"
    if next_update <= now:
        return "expired"
    return "due" if next_update - now < CRL_REFRESH_MARGIN else "current"


@fleet_app.command("revoke")
def revoke(
    *,
    device: Annotated[str, typer.Argument(help="The device id (certificate CN) to revoke.")],
    reason: Annotated[str, typer.Option("--reason", help="Recorded with the revocation.")] = "revoked by operator",
    fleet_dir: FleetDir = DEFAULT_FLEET_DIR,
    passphrase_file: PassphraseFile = None,
    json_output: JsonFlag = False,
) -> None:
    """Revoke a terminal: its certificates go on the CRL and the deny list; every broker-config folder gets the new
    CRL and ACL in place, the broker is reloaded, checked, and the terminal disconnected if connected."""
    with _errors():
        fleet = Fleet.open(fleet_dir)
        authority = fleet.unlock(_passphrase(passphrase_file))
        serials = fleet.revoke(device, reason=reason)
        fleet.write_crl(authority)
        reports = push_revocation_state(fleet, disconnect=[device])
    if json_output:
        out.print_json(
            json.dumps(
                {
                    "device_id": device,
                    "serials": [format(s, "x") for s in serials],
                    "brokers": [
                        {
                            "dir": str(r.directory),
                            "running": r.running,
                            "crl": None if r.probe is None else r.probe.value,
                            "disconnected": list(r.disconnected),
                            "problems": list(r.problems),
                            "warnings": list(r.warnings),
                        }
                        for r in reports
                    ],
                }
            )
        )
    else:
        err.print(f"{device} revoked ({len(serials)} certificate(s) on the CRL and the deny list).", highlight=False)
        _print_reports(reports)
    if any(not r.ok for r in reports):
        raise typer.Exit(EXIT_ENVIRONMENT)


def _print_reports(reports: list[BrokerReport]) -> None:
    for r in reports:
        if not r.running:
            default = "CRL and ACL updated; broker not running (it loads them when it starts)"
            note = "; ".join((*r.problems, *r.warnings)) or default
            err.print(escape(f"  {r.directory}: {note}"), highlight=False)
            continue
        if r.probe is None:  # running, but it could not be made to reload
            err.print(escape(f"  {r.directory}: CRL and ACL updated, broker NOT reloaded"), highlight=False)
            for line in r.problems:
                err.print(f"    [yellow]{escape(line)}[/yellow]", highlight=False)
            continue
        state = "the new CRL is in force" if r.probe is CrlProbe.ENFORCED else "the new CRL is NOT in force"
        dropped = (
            f"; disabled at the broker (dropped if connected): {', '.join(r.disconnected)}" if r.disconnected else ""
        )
        err.print(escape(f"  {r.directory}: CRL and ACL updated, broker reloaded; {state}{dropped}"), highlight=False)
        for line in (*r.problems, *r.warnings):
            err.print(f"    [yellow]{escape(line)}[/yellow]", highlight=False)


def register(app: typer.Typer) -> None:
    """Add this package's commands to the ``cccd`` application."""
    app.add_typer(fleet_app)
