"""Running pcscd ourselves (no systemd): start it as our child when it is not already running, stop it by PID.

Used by the demo and the tests that go through real PC/SC with the virtual reader of vsmartcard-vpcd. A pcscd that
was already running is left alone; only the process we started is ever stopped.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from smartcard import scard

from hw._reader import ReaderUnavailable

VPCD_READER = "Virtual PCD 00 00"


def pcsc_readers() -> list[str] | None:
    """The readers pcscd lists now, or None when pcscd does not answer."""
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        return None
    try:
        hresult, readers = scard.SCardListReaders(context, [])
        if hresult != scard.SCARD_S_SUCCESS:
            return []
        return list(readers)
    finally:
        scard.SCardReleaseContext(context)


def _pcscd_binary(name: str = "pcscd") -> str | None:
    # Debian installs pcscd in /usr/sbin, which an unprivileged user's PATH often lacks.
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def vpcd_installed() -> bool:
    return Path("/etc/reader.conf.d/vpcd").exists() or Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so").exists()


class PcscDaemon:
    """pcscd, started by us if needed. ``started`` says whether ``stop`` has a process to end."""

    def __init__(self, *, binary: str = "pcscd", log_path: Path | None = None) -> None:
        self._binary = binary
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def started(self) -> bool:
        return self._process is not None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def ensure(self, *, wait_for_reader: str | None = VPCD_READER, timeout: float = 5.0) -> None:
        """Make sure pcscd answers (starting it if it does not) and, if asked, that it lists ``wait_for_reader``."""
        if pcsc_readers() is None:
            self._start()
        deadline = time.monotonic() + timeout
        while True:
            readers = pcsc_readers()
            if readers is not None and (wait_for_reader is None or wait_for_reader in readers):
                return
            if self._process is not None and self._process.poll() is not None:
                raise ReaderUnavailable(f"pcscd exited with status {self._process.returncode}")
            if time.monotonic() > deadline:
                what = "pcscd did not answer" if readers is None else f"pcscd does not list {wait_for_reader!r}"
                raise ReaderUnavailable(f"{what} after {timeout:.0f} s (is vsmartcard-vpcd installed?)")
            time.sleep(0.02)

    def _start(self) -> None:
        path = _pcscd_binary(self._binary)
        if path is None:
            raise ReaderUnavailable("pcscd is not installed (apt-get install pcscd vsmartcard-vpcd)")
        output = open(self._log_path, "ab") if self._log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            # --foreground keeps it our child (its PID is ours to stop); --error keeps the log small.
            self._process = subprocess.Popen(  # noqa: S603 - a fixed binary and fixed arguments
                [path, "--foreground", "--error"], stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
        except OSError as exc:
            raise ReaderUnavailable(f"pcscd could not be started: {exc}") from exc
        finally:
            if output is not subprocess.DEVNULL:
                output.close()  # type: ignore[union-attr]

    def stop(self) -> None:
        """Stop the pcscd we started (SIGTERM, then wait); a pcscd found running is not touched."""
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def __enter__(self) -> PcscDaemon:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def running_pcscd(*, wait_for_reader: str | None = VPCD_READER, timeout: float = 5.0) -> Iterator[PcscDaemon]:
    daemon = PcscDaemon()
    try:
        daemon.ensure(wait_for_reader=wait_for_reader, timeout=timeout)
        yield daemon
    finally:
        daemon.stop()


def pcscd_usable() -> bool:
    """Whether this machine can run the PC/SC path at all (pcscd and the vpcd driver installed, or pcscd up)."""
    return pcsc_readers() is not None or (_pcscd_binary() is not None and vpcd_installed())
