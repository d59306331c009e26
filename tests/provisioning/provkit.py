"""Helpers shared by the provisioning tests (imported as ``provkit``): fleets, CLI invocation, and services the
tests start themselves on loopback and stop by the PID they started."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import typer
from typer.testing import CliRunner

from provisioning import Fleet, Site
from provisioning import cli as fleet_cli

HERE = Path(__file__).resolve().parent
PASSPHRASE = b"correct horse battery staple"
FAST_KDF_ROUNDS = 2048


class Clock:
    """A settable UTC clock."""

    def __init__(self, now: dt.datetime | None = None) -> None:
        # Real time by default: certificates made here meet OpenSSL and mosquitto, which use the real clock.
        self.now = now or dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, delta: dt.timedelta) -> None:
        self.now += delta


def fleet_app() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False)
    fleet_cli.register(app)
    return app


def run_cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    runner = CliRunner()
    result = runner.invoke(fleet_app(), list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def new_fleet(directory: Path, *, clock: Clock | None = None) -> Fleet:
    # Few KDF rounds keep the tests fast; the default (600 000) is checked in the PKI tests.
    return Fleet.init(directory, PASSPHRASE, clock=clock or Clock(), kdf_rounds=FAST_KDF_ROUNDS)


def token(fleet: Fleet, site: str = "79/760/team-3", ttl: dt.timedelta = dt.timedelta(hours=1)) -> str:
    return fleet.create_token(Site.parse(site), ttl=ttl).token


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, *, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode}: {log.read_text(errors='replace')}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}: {log.read_text(errors='replace')}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a process this test started, by its PID."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@contextlib.contextmanager
def enrollment_service(fleet_dir: Path, tmp: Path, *extra_args: str) -> Iterator[str]:
    """``cccd fleet serve`` (with ``extra_args``) in a subprocess on a loopback port; yields its https URL."""
    port = free_port()
    passphrase = tmp / "passphrase"
    passphrase.write_bytes(PASSPHRASE + b"\n")
    log = tmp / f"serve-{port}.log"
    launcher = "import typer; from provisioning import cli; app = typer.Typer(); cli.register(app); app()"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                launcher,
                "fleet",
                "serve",
                "--listen",
                f"127.0.0.1:{port}",
                "--fleet-dir",
                str(fleet_dir),
                "--passphrase-file",
                str(passphrase),
                *extra_args,
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, process=process, log=log)
        yield f"https://127.0.0.1:{port}"
    finally:
        stop(process)


def broker_dir() -> Path:
    """A directory the broker's user can traverse (pytest's tmp dirs are 0700 to root)."""
    path = Path(tempfile.mkdtemp(prefix="cccd-broker-", dir="/tmp"))
    path.chmod(0o755)
    return path


@contextlib.contextmanager
def mosquitto(conf: Path, *, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    with log.open("wb") as sink:
        process = subprocess.Popen([binary, "-c", str(conf)], stdout=sink, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process=process, log=log)
        yield process
    finally:
        stop(process)


def tls_context(ca: Path, cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca))
    context.load_cert_chain(cert, key)
    return context
