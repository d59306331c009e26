"""``cccd demo``: synthetic citizens' cards read one after another through the real reader path, with verdicts.

With nothing configured it starts pcscd when it is not running (and stops it afterwards), plays each virtual card on
vpcd's second slot (``Virtual PCD 00 01``, so a ``cccd sim card`` on the first slot is left alone) and reads it with
the PC/SC reader exactly as ``cccd card read`` does. Where pcscd or vsmartcard-vpcd is not installed, the cards are
read in-process instead. As a terminal does, it first photographs the card's printed QR code (a synthetic camera
frame), decodes and validates it, opens the chip with the CAN or the MRZ keys derived from it (nobody types), and
cross-checks the QR against the chip: a QR edited to another name makes the card not genuine.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Annotated, Any

import numpy as np
import numpy.typing as npt
import typer
from cryptography.hazmat.primitives import serialization
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from agent import CccdQrError, QrDecodeError, cross_check, read_cccd_qr
from hw import (
    CardReader,
    CardScene,
    CardVerification,
    MemoryReader,
    PcscDaemon,
    PcscReader,
    ReaderState,
    ReaderUnavailable,
    keys_from_id,
    read_and_verify,
    render_card,
)
from hw._reader_pcscd import pcscd_usable
from hw.sim import (
    ChipFaults,
    Citizen,
    LinkModel,
    TestPki,
    VirtualChip,
    VpcdCard,
    generate_population,
    personalise,
    qr_text,
)
from mrtd import TrustStore, Verdict

DEMO_READER = "Virtual PCD 00 01"
DEMO_PORT = 35964


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    faults: tuple[str, ...]
    expected: Verdict
    edited_qr: bool = False  # the printed QR carries another name than the chip


SCENARIOS = (
    Scenario("genuine card (PACE)", (), Verdict.GENUINE),
    Scenario("older card without PACE (BAC)", ("no-pace",), Verdict.GENUINE),
    Scenario("clone: copied files, other chip keys", ("clone",), Verdict.NOT_GENUINE),
    Scenario("clone hiding its key files (DG14, DG15)", ("hidden-keys",), Verdict.NOT_GENUINE),
    Scenario("DG13 changed after signing", ("changed-dg",), Verdict.NOT_GENUINE),
    Scenario("signed under an unknown CSCA", ("foreign-csca",), Verdict.NOT_GENUINE),
    Scenario("genuine chip, QR edited to another name", (), Verdict.NOT_GENUINE, edited_qr=True),
)


@dataclass(frozen=True, slots=True)
class DemoResult:
    scenario: Scenario
    citizen: Citizen
    verdict: Verdict | None
    reasons: tuple[str, ...]
    session: dict[str, Any] | None
    error: str | None = None
    qr_ms: float | None = None

    @property
    def as_expected(self) -> bool:
        return self.verdict is self.scenario.expected

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.name,
            "faults": list(self.scenario.faults),
            "id_number": self.citizen.id_number,
            "full_name": self.citizen.full_name,
            "expected": self.scenario.expected.value,
            "verdict": self.verdict.value if self.verdict else None,
            "as_expected": self.as_expected,
            "reasons": list(self.reasons),
            "session": self.session,
            "qr_decode_ms": None if self.qr_ms is None else round(self.qr_ms, 1),
            "error": self.error,
        }


class _CardSlot:
    """Where the demo places its cards: vpcd behind pcscd, or the in-process reader."""

    def __init__(self, reader: CardReader, *, path: str, vpcd: VpcdCard | None = None) -> None:
        self.reader = reader
        self.path = path
        self._vpcd = vpcd

    async def place(self, chip: VirtualChip) -> None:
        if self._vpcd is not None:
            self._vpcd.remove()
            await _settle(self.reader, ReaderState.EMPTY)
            self._vpcd.insert(chip)
            await _settle(self.reader, ReaderState.CARD_PRESENT)
        else:
            assert isinstance(self.reader, MemoryReader)
            self.reader.insert(chip)

    def take(self) -> None:
        if self._vpcd is not None:
            self._vpcd.remove()
        elif isinstance(self.reader, MemoryReader):
            self.reader.remove()


async def _settle(reader: CardReader, state: ReaderState, seconds: float = 10.0) -> None:
    events = reader.events()
    try:
        async with asyncio.timeout(seconds):
            async for event in events:
                if event.state is state:
                    return
                if event.state is ReaderState.UNAVAILABLE:
                    raise ReaderUnavailable(event.detail or "the virtual reader went away")
    finally:
        await events.aclose()  # type: ignore[attr-defined]


@contextlib.contextmanager
def card_slot(*, in_process: bool) -> Iterator[_CardSlot]:
    """The pcscd path when this machine has it (pcscd started if needed, stopped after), else in-process."""
    if not in_process and pcscd_usable():
        daemon = PcscDaemon()
        try:
            daemon.ensure(wait_for_reader=DEMO_READER, timeout=3)
        except ReaderUnavailable:
            daemon.stop()
        else:
            vpcd = VpcdCard(port=DEMO_PORT).start()
            try:
                yield _CardSlot(PcscReader(DEMO_READER, poll_interval=0.05), path="pcscd", vpcd=vpcd)
            finally:
                vpcd.stop()
                daemon.stop()
            return
    yield _CardSlot(MemoryReader(link=LinkModel()), path="in-process")


def demo_citizens(seed: int, count: int) -> list[Citizen]:
    holders = generate_population(max(4 * count, 20), seed=seed).card_holders()
    return list(holders[:count])


async def run_card_demo(
    slot: _CardSlot, *, seed: int = 0, step: Callable[[int, str], None] | None = None
) -> list[DemoResult]:
    """Read one card per scenario through ``slot`` and return the verdicts."""
    pki = TestPki.create(seed=f"demo-{seed}")
    store = TrustStore()
    store.add_certificate(pki.csca_cert.public_bytes(serialization.Encoding.DER))
    notify = step or (lambda index, text: None)
    results: list[DemoResult] = []
    for index, (scenario, person) in enumerate(zip(SCENARIOS, demo_citizens(seed, len(SCENARIOS)), strict=True)):
        notify(index, "personalising the chip")
        profile = personalise(
            person, pki=pki, faults=ChipFaults.parse(scenario.faults), seed=f"demo-{seed}", portrait_size=None
        )
        notify(index, "reading the QR code")
        frame = _photograph_qr(person, edited=scenario.edited_qr, seed=seed + index)
        started = time.perf_counter()
        try:
            qr = read_cccd_qr(frame)
        except (QrDecodeError, CccdQrError) as exc:
            results.append(DemoResult(scenario, person, None, (), None, error=f"QR code: {exc}"))
            notify(index, "done")
            continue
        qr_ms = 1000 * (time.perf_counter() - started)
        notify(index, "placing the card")
        await slot.place(VirtualChip(profile))
        # The terminal has only the QR code: the ID, the date of birth and the date of issue open the chip.
        keys = keys_from_id(qr.id_number, qr.date_of_birth, issued=qr.date_of_issue)
        try:
            verification: CardVerification = await read_and_verify(
                slot.reader, keys, trust_store=store, progress=functools.partial(notify, index)
            )
        except Exception as exc:
            results.append(DemoResult(scenario, person, None, (), None, error=str(exc), qr_ms=qr_ms))
        else:
            verification = verification.with_check("qr_match", cross_check(qr, verification.report.printed_holder))
            report = verification.report
            results.append(
                DemoResult(scenario, person, report.verdict, report.reasons, verification.session_json(), qr_ms=qr_ms)
            )
        finally:
            slot.take()
        notify(index, "done")
    return results


def _photograph_qr(person: Citizen, *, edited: bool, seed: int) -> npt.NDArray[np.uint8]:
    """The card's printed QR as the terminal's camera sees it (slightly turned, tilted and noisy); ``edited``: a QR
    printed with another name, the forgery the cross-check catches."""
    printed = replace(person, full_name="Nguyễn Văn Giả") if edited else person
    scene = CardScene(
        text=qr_text(printed),
        frame_size=(1280, 720),
        qr_px=260.0,
        angle_deg=4.0 + seed % 7,
        perspective=0.08,
        blur_sigma=0.6,
        noise_sigma=3.0,
        seed=seed,
    )
    return render_card(scene)


def _table(results: list[DemoResult], path: str) -> Table:
    table = Table(
        title=f"cccd demo: {len(results)} synthetic cards read through the {path} reader path",
        caption="ms: decoding the QR photo + reading and verifying the chip",
    )
    table.add_column("card", ratio=3)
    table.add_column("holder", ratio=2)
    table.add_column("access", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    table.add_column("why", ratio=2, overflow="fold")
    table.add_column("ms", no_wrap=True, justify="right")
    for result in results:
        if result.verdict is None:
            verdict = "[red]error[/]"
            why = escape(result.error or "")
        else:
            style = "green" if result.verdict is Verdict.GENUINE else "red"
            mark = "✓" if result.as_expected else "✗ unexpected"
            verdict = f"[{style}]{result.verdict.value.replace('_', ' ')}[/] {mark}"
            why = "\n".join(result.reasons) or "-"
        session = result.session or {}
        qr_ms = "-" if result.qr_ms is None else f"{result.qr_ms:.0f}"
        table.add_row(
            result.scenario.name,
            f"{result.citizen.full_name}\n{result.citizen.id_number}",
            str(session.get("protocol", "-")),
            verdict,
            why,
            f"{qr_ms} + {session.get('ms', {}).get('total', 0):.0f}",
        )
    return table


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    *,
    json_output: Annotated[bool, typer.Option("--json", help="Print the results as one JSON document.")] = False,
    in_process: Annotated[
        bool, typer.Option("--in-process", help="Read the cards in-process instead of through pcscd.")
    ] = False,
    seed: Annotated[int, typer.Option("--seed", help="Which synthetic citizens (same seed, same people).")] = 0,
) -> None:
    """Play synthetic citizens' cards through the real reader path and show the verdicts."""
    console = Console(stderr=json_output)
    started = time.perf_counter()
    with card_slot(in_process=in_process) as slot:
        if json_output:
            results = asyncio.run(run_card_demo(slot, seed=seed))
        else:
            with Progress(
                SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
            ) as progress:
                tasks = [progress.add_task(f"{s.name}: waiting", total=1) for s in SCENARIOS]

                def step(index: int, text: str) -> None:
                    progress.update(tasks[index], description=f"{SCENARIOS[index].name}: {text}")
                    if text == "done":
                        progress.update(tasks[index], completed=1)

                results = asyncio.run(run_card_demo(slot, seed=seed, step=step))
    ok = all(r.as_expected for r in results)
    if json_output:
        document = {
            "reader_path": slot.path,
            "all_as_expected": ok,
            "seconds": round(time.perf_counter() - started, 2),
            "results": [r.to_json() for r in results],
        }
        sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    else:
        console.print(_table(results, slot.path))
        console.print(
            "[bold green]every verdict is the expected one[/]" if ok else "[bold red]some verdicts are unexpected[/]"
        )
    raise typer.Exit(code=0 if ok else 1)
