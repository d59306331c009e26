"""``cccd card read`` with an in-process card: the QR ↔ chip cross-check (``qr_match``) and the live-read verdicts.

The command group is built with the QR support ``cccd`` composes in (``agent``'s parser and cross-check) and a reader
factory that hands out an in-process reader, so these tests need no pcscd; ``test_card_read.py`` runs the same
command through real pcscd.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from agent import cross_check, parse_cccd_qr
from hw import MemoryReader, QrSupport
from hw.cli import card_commands
from hw.sim import ChipFaults, TestPki, VirtualChip, citizen, personalise, qr_text
from hw.sim._personalise import CardProfile

QR = QrSupport(parse=parse_cccd_qr, cross_check=cross_check)


@pytest.fixture(scope="module")
def pki() -> TestPki:
    return TestPki.create(seed="card-cli")


@pytest.fixture(scope="module")
def trust_file(pki: TestPki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("trust") / "csca.pem"
    path.write_bytes(pki.csca_pem())
    return path


def card(pki: TestPki, *faults: str, index: int = 0) -> CardProfile:
    return personalise(
        citizen(31, index=index), pki=pki, seed="card-cli", faults=ChipFaults.parse(faults), portrait_size=5000
    )


def run(profile: CardProfile, trust: Path, *args: str, qr: QrSupport[Any] | None = QR) -> tuple[int, str, str]:
    app = typer.Typer()
    app.add_typer(card_commands(qr=qr, open_reader=lambda _selector: MemoryReader(VirtualChip(profile))), name="card")
    result = CliRunner().invoke(app, ["card", "read", "--trust", str(trust), *args])
    return result.exit_code, result.stdout, result.stderr


def test_a_qr_that_matches_the_chip_adds_a_passing_qr_match(pki: TestPki, trust_file: Path) -> None:
    profile = card(pki)
    code, out, err = run(profile, trust_file, "--qr-text", qr_text(profile.citizen), "--json")
    assert code == 0, err
    document = json.loads(out)
    assert document["verdict"] == "genuine"
    check = document["checks"]["qr_match"]
    assert (check["status"], check["reason"]) == ("pass", "qr_match")
    assert check["fields"]["id_number"] == "match"
    assert check["fields"]["full_name"] == "match"
    assert check["fields"]["date_of_issue"] == "match"
    # No personal data in the check itself: only field names and outcomes.
    assert profile.citizen.full_name not in json.dumps(check, ensure_ascii=False)


def test_a_pasted_qr_makes_the_card_not_genuine_with_the_field(pki: TestPki, trust_file: Path) -> None:
    profile = card(pki, index=1)
    person = profile.citizen
    # Same ID, birth date and issue date (so it still opens the chip), another name: a QR printed for a forgery.
    forged = qr_text(person).replace(person.full_name, "Trần Thị Bích")
    code, out, _ = run(profile, trust_file, "--qr-text", forged, "--json")
    assert code == 1
    document = json.loads(out)
    assert document["verdict"] == "not_genuine"
    assert document["reasons"] == ["qr_mismatch:full_name"]
    assert document["checks"]["qr_match"]["status"] == "fail"
    assert document["checks"]["qr_match"]["fields"]["full_name"] == "mismatch"
    assert document["checks"]["qr_match"]["fields"]["id_number"] == "match"
    # The chip itself is fine: every chip check passed.
    assert all(document["checks"][name]["status"] == "pass" for name in ("passive_auth", "dg_hashes", "active_auth"))


def test_human_output_shows_the_qr_check_and_its_fields(pki: TestPki, trust_file: Path) -> None:
    profile = card(pki, index=1)
    person = profile.citizen
    forged = qr_text(person).replace(person.full_name, "Trần Thị Bích")
    code, out, _ = run(profile, trust_file, "--qr-text", forged)
    assert code == 1
    assert "NOT GENUINE" in out
    assert "qr_mismatch:full_name" in out
    assert "QR code ↔ chip" in out
    assert "full_name mismatch" in out


def test_without_a_qr_there_is_no_qr_match_check(pki: TestPki, trust_file: Path) -> None:
    profile = card(pki, index=2)
    code, out, _ = run(profile, trust_file, "--can", profile.citizen.can, "--json")
    assert code == 0
    document = json.loads(out)
    assert "qr_match" not in document["checks"]
    assert set(document["checks"]) == {"passive_auth", "chain", "dg_hashes", "active_auth", "chip_auth"}


def test_qr_text_needs_the_qr_support(pki: TestPki, trust_file: Path) -> None:
    profile = card(pki, index=2)
    code, _, err = run(profile, trust_file, "--qr-text", qr_text(profile.citizen), qr=None)
    assert code == 2
    assert "--qr-text is not available" in err


def test_a_qr_that_is_not_a_cccd_qr_is_refused_before_reading(pki: TestPki, trust_file: Path) -> None:
    profile = card(pki, index=2)
    code, _, err = run(profile, trust_file, "--qr-text", "https://example.org/not-a-card")
    assert code == 1
    assert "not a CCCD QR code" in err


def test_a_clone_hiding_its_key_files_is_not_genuine(pki: TestPki, trust_file: Path) -> None:
    profile = card(pki, "hidden-keys", index=3)
    code, out, _ = run(profile, trust_file, "--qr-text", qr_text(profile.citizen), "--json")
    assert code == 1
    document = json.loads(out)
    assert document["verdict"] == "not_genuine"
    assert document["reasons"] == ["aa_key_missing", "ca_key_missing"]
    assert document["checks"]["qr_match"]["status"] == "pass"  # the copied data matches its QR: still a clone


def test_a_card_that_proves_nothing_is_incomplete(pki: TestPki, trust_file: Path) -> None:
    profile = card(pki, "no-active-auth", "no-chip-auth", index=4)
    code, out, _ = run(profile, trust_file, "--can", profile.citizen.can, "--json")
    assert code == 1
    document = json.loads(out)
    assert document["verdict"] == "incomplete"
    assert document["reasons"] == ["chip_not_authenticated"]


def test_a_trust_file_that_cannot_be_trusted_is_a_json_error(pki: TestPki, tmp_path: Path) -> None:
    garbage = tmp_path / "csca.pem"
    garbage.write_bytes(b"\x00\x01 not a certificate")
    profile = card(pki)
    code, out, err = run(profile, garbage, "--can", profile.can, "--json")
    assert code == 1
    # With --json a script reads stdout: the refusal is one JSON document there, as for `card verify`.
    document = json.loads(out)
    assert document["verdict"] is None
    assert document["error"]["kind"] == "bad_trust_store"
    assert "is not a certificate" in document["error"]["message"]
    assert "Traceback" not in err
