"""``cccd sim ...``: play a virtual CCCD on vpcd, and write a synthetic population."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from hw.sim._chip import VirtualChip
from hw.sim._faults import ChipFaults, Fault
from hw.sim._personalise import CardProfile, personalise
from hw.sim._pki import TestPki
from hw.sim._population import Citizen, citizen, generate_population, qr_text
from hw.sim._vpcd import DEFAULT_HOST, DEFAULT_PORT, VpcdCard

sim_app = typer.Typer(
    name="sim", help="Simulators: a virtual CCCD chip on vpcd, synthetic citizens.", no_args_is_help=True
)
_FAULT_HELP = "Misbehave: " + ", ".join(f.value for f in Fault) + " (removed-after=N). Repeatable."


def _error(message: str, code: int = 1) -> typer.Exit:
    Console(stderr=True).print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(code=code)


def load_citizen(path: Path, *, index: int = 0) -> Citizen:
    """A citizen from a JSON file: one citizen record, or a population file (``cccd sim population``) and an index."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and "citizens" in data:
            holders = [c for c in (Citizen.from_json(item) for item in data["citizens"]) if c.has_card]
            if not 0 <= index < len(holders):
                raise _error(f"{path} holds {len(holders)} card holders: --index goes from 0 to {len(holders) - 1}")
            return holders[index]
        return Citizen.from_json(data)
    except (OSError, ValueError, IndexError, TypeError) as exc:
        raise _error(f"cannot use {path} as a citizen record: {exc}") from exc


def write_card_files(directory: Path, profile: CardProfile, pki: TestPki) -> None:
    """What a tester needs to read the card: the CSCA to trust, the citizen record, the printed access data."""
    directory.mkdir(parents=True, exist_ok=True)
    person = profile.citizen
    (directory / "csca.pem").write_bytes(pki.csca_pem())
    (directory / "citizen.json").write_text(
        json.dumps(person.to_json(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    printed = {
        "id_number": person.id_number,
        "can": person.can,
        "document_number": person.document_number,
        "date_of_birth": person.date_of_birth.isoformat(),
        "date_of_expiry": person.date_of_expiry.isoformat() if person.date_of_expiry else None,
        "mrz": list(profile.printed_mrz),
        "qr_text": qr_text(person),
        "faults": list(profile.faults.names),
    }
    (directory / "card.json").write_text(json.dumps(printed, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


@sim_app.command("card")
def card(
    *,
    citizen_file: Annotated[
        Path | None, typer.Option("--citizen", help="Citizen record (JSON), or a population file with --index.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the synthetic citizen and of the test PKI.")] = 0,
    index: Annotated[int, typer.Option("--index", min=0, help="Which card holder of the seed's population.")] = 0,
    port: Annotated[
        int, typer.Option("--port", min=1, max=65535, help="vpcd port: 35963 is reader 'Virtual PCD 00 00'.")
    ] = DEFAULT_PORT,
    host: Annotated[str, typer.Option("--host", help="Where pcscd's vpcd driver listens.")] = DEFAULT_HOST,
    faults: Annotated[list[str] | None, typer.Option("--fault", help=_FAULT_HELP)] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write csca.pem, citizen.json and card.json (CAN, MRZ, QR) here.")
    ] = None,
    aa: Annotated[str, typer.Option("--aa", help="Active-authentication key: ec or rsa.")] = "ec",
) -> None:
    """Play a virtual CCCD chip on vpcd (pcscd's virtual reader) until interrupted."""
    try:
        chip_faults = ChipFaults.parse(faults or [])
    except ValueError as exc:
        raise _error(str(exc), code=2) from exc
    if aa not in ("ec", "rsa"):
        raise _error("--aa is ec or rsa", code=2)
    person = load_citizen(citizen_file, index=index) if citizen_file else citizen(seed, index=index)
    pki = TestPki.create(seed=seed)
    try:
        profile = personalise(person, pki=pki, faults=chip_faults, seed=seed, aa_algorithm=aa)
    except ValueError as exc:
        raise _error(str(exc)) from exc
    if out is not None:
        write_card_files(out, profile, pki)
    console = Console(stderr=True)
    console.print(
        f"card of a synthetic citizen: ID {person.id_number}, CAN {person.can}"
        + (f", faults: {', '.join(chip_faults.names)}" if chip_faults.faults else ""),
        highlight=False,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    vpcd = VpcdCard(VirtualChip(profile), host=host, port=port).start()
    try:
        console.print(f"waiting for pcscd's vpcd on {host}:{port} ...", highlight=False)
        hint_at: float | None = time.monotonic() + 5.0
        while not stop.is_set() and not vpcd.wait_connected(0.2):
            if hint_at is not None and time.monotonic() >= hint_at:
                hint_at = None
                # vpcd connects as soon as pcscd loads it: five seconds of silence mean pcscd is not running.
                console.print(
                    "still waiting: is pcscd running with vsmartcard-vpcd? (start it: pcscd --foreground &)",
                    highlight=False,
                )
        if vpcd.connected.is_set():
            console.print("card placed on the virtual reader; Ctrl-C takes it away", highlight=False)
        stop.wait()
    finally:
        vpcd.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    console.print(f"card taken away after {vpcd.apdus} commands", highlight=False)


@sim_app.command("population")
def population(
    *,
    count: Annotated[int, typer.Option("--count", min=1, max=1_000_000, help="How many citizens.")] = 100,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same people.")] = 0,
    out: Annotated[Path | None, typer.Option("--out", help="Write the JSON here instead of standard output.")] = None,
) -> None:
    """Write a synthetic population (citizens in households) as JSON."""
    text = generate_population(count, seed=seed).dumps() + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
