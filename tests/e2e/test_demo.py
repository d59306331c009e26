"""``cccd demo`` end to end: synthetic cards, the real reader path when the machine has pcscd, the verdicts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cccd.cli import app
from hw._reader_pcscd import pcsc_readers, pcscd_usable

EXPECTED = {
    "genuine card (PACE)": ("genuine", "PACE"),
    "older card without PACE (BAC)": ("genuine", "BAC"),
    "clone: copied files, other chip keys": ("not_genuine", "PACE"),
    "clone hiding its key files (DG14, DG15)": ("not_genuine", "PACE"),
    "DG13 changed after signing": ("not_genuine", "PACE"),
    "signed under an unknown CSCA": ("not_genuine", "PACE"),
    "genuine chip, QR edited to another name": ("not_genuine", "PACE"),
}


def check(document: dict[str, object]) -> None:
    assert document["all_as_expected"] is True
    results = document["results"]
    assert isinstance(results, list)
    assert {r["scenario"]: (r["verdict"], r["session"]["protocol"]) for r in results} == EXPECTED
    reasons = {r["scenario"]: r["reasons"] for r in results}
    assert "aa_signature_invalid" in reasons["clone: copied files, other chip keys"]
    assert reasons["clone hiding its key files (DG14, DG15)"] == ["aa_key_missing", "ca_key_missing"]
    assert "dg_hash_mismatch:DG13" in reasons["DG13 changed after signing"]
    assert "csca_not_found" in reasons["signed under an unknown CSCA"]
    # Every chip was opened with keys from its photographed QR code, which is then checked against the chip.
    assert reasons["genuine chip, QR edited to another name"] == ["qr_mismatch:full_name"]
    assert reasons["genuine card (PACE)"] == []
    assert all(r["qr_decode_ms"] is not None and r["qr_decode_ms"] > 0 for r in results)


def test_demo_in_process() -> None:
    result = CliRunner().invoke(app, ["demo", "--in-process", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["reader_path"] == "in-process"
    check(document)


def test_demo_text_output_in_process() -> None:
    result = CliRunner().invoke(app, ["demo", "--in-process"])
    assert result.exit_code == 0
    assert "every verdict is the expected one" in result.output


@pytest.mark.pcscd
def test_demo_through_pcscd_starts_and_stops_its_own_pcscd() -> None:
    if not pcscd_usable():
        pytest.skip("pcscd and vsmartcard-vpcd are not installed")
    was_running = pcsc_readers() is not None
    cccd = Path(sys.executable).with_name("cccd")
    completed = subprocess.run([str(cccd), "demo", "--json"], capture_output=True, timeout=120, check=False)
    assert completed.returncode == 0, completed.stderr.decode()
    document = json.loads(completed.stdout)
    assert document["reader_path"] == "pcscd"
    check(document)
    if not was_running:
        assert pcsc_readers() is None  # the demo stopped the pcscd it started
