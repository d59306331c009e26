"""Card-session benchmarks against the in-process virtual CCCD; prints one JSON document.

1. Host CPU per full session: PACE, every file but DG2, passive + active authentication (chip authentication too,
   as the terminal runs it by default; also reported without). Median of 50. The virtual chip runs in the same
   process, so its CPU is measured separately and subtracted: what is left is the terminal's.
2. APDUs and bytes on the link per session, against the minimum for the same files: one READ BINARY per file (short
   file identifier, extended length) plus the access-control and authentication commands, and the files' own bytes.
3. Modelled tap-to-verdict time at 106 and 424 kbit/s with a 3 ms turnaround, reading DG1, DG2 (15 KB), DG13, DG14,
   DG15 and EF.SOD: the link model's time plus the terminal's CPU, against the ideal (the session's bytes on the link
   / bit rate + its APDUs × turnaround), and against the minimum session's ideal.

Usage: .venv/bin/python bench/card_session.py [--runs 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization

from hw import MemoryReader
from hw._reader_session import keys_from_id, read_and_verify
from hw.sim import TestPki, VirtualChip, citizen, personalise
from hw.sim._link import BitRate, LinkModel, SimulatedClock
from hw.sim._personalise import CardProfile
from mrtd import FileId, FileSelection, TrustStore

TURNAROUND = 0.003
# The unavoidable commands besides one READ BINARY per file: EF.CardAccess is read like a file; PACE is MSE:Set AT
# and four GENERAL AUTHENTICATE; SELECT of the application; chip authentication is MSE:Set AT and one GENERAL
# AUTHENTICATE; active authentication is one INTERNAL AUTHENTICATE.
PACE_APDUS = 5
SELECT_APPLICATION_APDUS = 1
CHIP_AUTH_APDUS = 2
ACTIVE_AUTH_APDUS = 1


class MeteredChip:
    """The virtual chip, with the CPU time it spends counted apart from the terminal's."""

    def __init__(self, chip: VirtualChip) -> None:
        self._chip = chip
        self.cpu = 0.0

    @property
    def atr(self) -> bytes:
        return self._chip.atr

    @property
    def removed(self) -> bool:
        return self._chip.removed

    def power_on(self) -> None:
        self._chip.power_on()

    def reset(self) -> None:
        self._chip.reset()

    def transmit(self, raw: bytes) -> bytes:
        started = time.process_time()
        try:
            return self._chip.transmit(raw)
        finally:
            self.cpu += time.process_time() - started


@dataclass
class Run:
    host_cpu_ms: float
    chip_cpu_ms: float
    apdus: int
    link_bytes: int
    link_seconds: float
    protocol: str
    verdict: str


async def one_session(
    profile: CardProfile,
    store: TrustStore,
    *,
    portrait: bool,
    link: LinkModel | None,
    selection: FileSelection,
    extended_length: bool,
    chip_authentication: bool = True,
) -> Run:
    chip = MeteredChip(VirtualChip(profile))
    clock = SimulatedClock()
    reader = MemoryReader(chip, link=link, clock=clock)
    person = profile.citizen
    keys = keys_from_id(person.id_number, person.date_of_birth, issued=person.date_of_issue)
    started = time.process_time()
    verification = await read_and_verify(
        reader,
        keys,
        trust_store=store,
        portrait=portrait,
        selection=selection,
        extended_length=extended_length,
        chip_authentication=chip_authentication,
    )
    total_cpu = time.process_time() - started
    session = verification.session_json()
    return Run(
        host_cpu_ms=(total_cpu - chip.cpu) * 1000,
        chip_cpu_ms=chip.cpu * 1000,
        apdus=session["apdus"],
        link_bytes=session["bytes"],
        link_seconds=clock.seconds,
        protocol=session["protocol"],
        verdict=verification.report.verdict.value,
    )


def minimum(profile: CardProfile, files: list[FileId], *, chip_authentication: bool) -> tuple[int, int]:
    """The fewest APDUs and bytes that can carry these files: one extended SFI read each, and their bytes."""
    payload = sum(len(profile.files[f]) for f in files)
    apdus = len(files) + PACE_APDUS + SELECT_APPLICATION_APDUS + ACTIVE_AUTH_APDUS
    apdus += CHIP_AUTH_APDUS if chip_authentication else 0
    return apdus, payload


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


async def main(runs: int) -> dict[str, Any]:
    pki = TestPki.create(seed="bench")
    store = TrustStore()
    store.add_certificate(pki.csca_cert.public_bytes(serialization.Encoding.DER))
    profile = personalise(citizen(1), pki=pki, seed="bench", portrait_size=15_000)
    without_dg2 = [FileId.CARD_ACCESS, FileId.COM, FileId.SOD, FileId.DG1, FileId.DG13, FileId.DG14, FileId.DG15]
    with_dg2 = [*without_dg2, FileId.DG2]
    sizes = {f.label: len(profile.files[f]) for f in with_dg2}

    # Warm-up: imports, curve tables and caches.
    for _ in range(3):
        await one_session(profile, store, portrait=False, link=None, selection=FileSelection.SFI, extended_length=True)

    cpu: dict[str, Any] = {}
    for label, ca in (("with_chip_auth", True), ("without_chip_auth", False)):
        samples = [
            await one_session(
                profile, store, portrait=False, link=None, selection=FileSelection.FID, extended_length=True,
                chip_authentication=ca,
            )
            for _ in range(runs)
        ]  # fmt: skip
        assert all(s.verdict == "genuine" and s.protocol == "PACE" for s in samples)
        cpu[label] = {
            "terminal_cpu_ms_median": median([s.host_cpu_ms for s in samples]),
            "terminal_cpu_ms_p90": round(sorted(s.host_cpu_ms for s in samples)[int(0.9 * runs) - 1], 3),
            "virtual_chip_cpu_ms_median": median([s.chip_cpu_ms for s in samples]),
            "target_ms": 50,
            "meets_target": statistics.median(s.host_cpu_ms for s in samples) < 50,
        }

    traffic: dict[str, Any] = {}
    for selection in (FileSelection.FID, FileSelection.SFI):
        for extended in (True, False):
            run = await one_session(
                profile, store, portrait=False, link=None, selection=selection, extended_length=extended
            )
            min_apdus, min_bytes = minimum(profile, without_dg2, chip_authentication=True)
            traffic[f"{selection.value}_{'extended' if extended else 'short'}"] = {
                "apdus": run.apdus,
                "minimum_apdus": min_apdus,
                "link_bytes": run.link_bytes,
                "file_bytes": min_bytes,
                "bytes_over_file_bytes": round(run.link_bytes / min_bytes, 3),
            }

    tap: dict[str, Any] = {}
    for kbps in (106, 424):
        link = LinkModel(bit_rate=BitRate.from_kbps(kbps), turnaround=TURNAROUND)
        for selection, extended in ((FileSelection.FID, True), (FileSelection.SFI, True), (FileSelection.FID, False)):
            samples = [
                await one_session(
                    profile, store, portrait=True, link=link, selection=selection, extended_length=extended
                )
                for _ in range(max(5, runs // 5))
            ]
            run = samples[0]
            host = statistics.median(s.host_cpu_ms for s in samples) / 1000
            modelled = run.link_seconds + host
            ideal = run.link_bytes * 8 / link.bit_rate + run.apdus * TURNAROUND
            min_apdus, min_bytes = minimum(profile, with_dg2, chip_authentication=True)
            ideal_minimum = min_bytes * 8 / link.bit_rate + min_apdus * TURNAROUND
            tap[f"{kbps}kbps_{selection.value}_{'extended' if extended else 'short'}"] = {
                "modelled_ms": round(modelled * 1000, 1),
                "link_ms": round(run.link_seconds * 1000, 1),
                "terminal_cpu_ms": round(host * 1000, 1),
                "ideal_ms": round(ideal * 1000, 1),
                "ideal_share": round(ideal / modelled, 3),
                "minimum_session_ideal_ms": round(ideal_minimum * 1000, 1),
                "minimum_share": round(ideal_minimum / modelled, 3),
                "apdus": run.apdus,
                "link_bytes": run.link_bytes,
                "meets_90_percent": ideal / modelled >= 0.9,
            }

    return {
        "benchmark": "card_session",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "runs": runs,
        "file_sizes": sizes,
        "host_cpu_per_session": cpu,
        "traffic_without_dg2": traffic,
        "tap_to_verdict_with_dg2": tap,
        "notes": [
            "terminal CPU = process CPU of the whole session minus the virtual chip's own CPU",
            "ideal = the session's bytes on the link / bit rate + its APDUs x turnaround; "
            "minimum session = one extended SFI read per file plus PACE, SELECT, CA and AA",
            "ISO 14443 framing (parity, CRC, block headers) is part of the turnaround in the link model",
        ],
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50)
    arguments = parser.parse_args()
    json.dump(asyncio.run(main(arguments.runs)), sys.stdout, indent=2)
    sys.stdout.write("\n")
