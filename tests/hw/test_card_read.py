"""``cccd card read`` through real pcscd (pyscard → pcscd → vpcd → virtual chip), as an operator runs it.

Besides our own virtual CCCD, one card is built the way an independent implementation would: BAC only (no
EF.CardAccess), an RSA active-authentication key, no chip authentication, and an EF.SOD signed by OpenSSL's
``cms -sign`` under an OpenSSL-made CSCA.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from typer.testing import CliRunner

from cccd.cli import app
from hw import PcscReader, ReaderState
from hw._reader_pcscd import VPCD_READER, PcscDaemon
from hw.sim import ChipFaults, TestPki, VirtualChip, citizen, personalise
from hw.sim._personalise import CardProfile, encode_com, encode_dg15
from hw.sim._pki import lds_security_object
from hw.sim._population import qr_text
from hw.sim._vpcd import VpcdCard
from mrtd._files import FileId
from mrtd._tlv import encode_tlv

pytestmark = pytest.mark.pcscd


@pytest.fixture(scope="module")
def pki() -> TestPki:
    return TestPki.create(seed="card-read")


@pytest.fixture(scope="module")
def trust_file(pki: TestPki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("trust") / "csca.pem"
    path.write_bytes(pki.csca_pem())
    return path


@pytest.fixture
def slot(pcscd: PcscDaemon) -> Iterator[VpcdCard]:
    card = VpcdCard().start()
    yield card
    card.stop()


def settle(state: ReaderState) -> None:
    """Wait until pcscd reports ``state`` for the virtual reader (it polls every 400 ms)."""

    async def wait() -> None:
        async with asyncio.timeout(8):
            async for event in PcscReader(VPCD_READER, poll_interval=0.05).events():
                if event.state is state:
                    return

    asyncio.run(wait())


def play(slot: VpcdCard, profile: CardProfile) -> None:
    slot.remove()
    settle(ReaderState.EMPTY)
    slot.insert(VirtualChip(profile))
    settle(ReaderState.CARD_PRESENT)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["card", "read", "--reader", VPCD_READER, *args])
    return result.exit_code, result.stdout, result.stderr


def card(pki: TestPki, *faults: str, index: int = 0, **kwargs: object) -> CardProfile:
    return personalise(
        citizen(21, index=index),
        pki=pki,
        seed="card-read",
        faults=ChipFaults.parse(faults),
        **kwargs,  # type: ignore[arg-type]
    )


def test_genuine_card_from_id_and_birth_date(slot: VpcdCard, pki: TestPki, trust_file: Path, tmp_path: Path) -> None:
    profile = card(pki)
    person = profile.citizen
    play(slot, profile)
    photo = tmp_path / "face.jpg"
    code, out, _ = run("--id", person.id_number, "--dob", person.date_of_birth.isoformat(),
                       "--trust", str(trust_file), "--photo", str(photo), "--json")  # fmt: skip
    assert code == 0, out
    document = json.loads(out)
    assert document["verdict"] == "genuine"
    assert {name: check["status"] for name, check in document["checks"].items()} == dict.fromkeys(
        ("passive_auth", "chain", "dg_hashes", "active_auth", "chip_auth"), "pass"
    )
    holder = document["holder"]
    for field in ("id_number", "full_name", "place_of_origin", "place_of_residence", "father_name", "mother_name",
                  "spouse_name", "old_id_number", "ethnicity", "religion", "identifying_marks"):  # fmt: skip
        assert holder[field] == getattr(person, field), field
    assert holder["date_of_birth"] == person.date_of_birth.isoformat()
    assert holder["date_of_issue"] == person.date_of_issue.isoformat()  # type: ignore[union-attr]
    session = document["session"]
    assert session["protocol"] == "PACE"
    assert session["apdus"] > 10
    assert session["bytes"] > 1000
    assert session["ms"]["total"] > 0
    assert photo.read_bytes()[:3] == b"\xff\xd8\xff"
    assert photo.stat().st_mode & 0o777 == 0o600  # the portrait is personal data


def test_can_and_qr_text(slot: VpcdCard, pki: TestPki, trust_file: Path, tmp_path: Path) -> None:
    profile = card(pki, index=1)
    play(slot, profile)
    photo = tmp_path / "face.png"
    code, out, _ = run("--can", profile.citizen.can, "--trust", str(trust_file), "--photo", str(photo))
    assert code == 0
    assert "GENUINE" in out
    assert "PACE" in out
    assert photo.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # the card's JPEG, converted as the name asks
    code, out, _ = run("--qr-text", qr_text(profile.citizen), "--trust", str(trust_file), "--json")
    assert code == 0
    document = json.loads(out)
    assert document["holder"]["id_number"] == profile.citizen.id_number
    # ``cccd`` composes agent's cross-check in: the QR is compared with the chip, field by field.
    assert document["checks"]["qr_match"]["status"] == "pass"
    assert document["checks"]["qr_match"]["fields"]["full_name"] == "match"


def test_old_card_opens_with_bac_from_the_mrz(slot: VpcdCard, pki: TestPki, trust_file: Path) -> None:
    profile = card(pki, "no-pace", index=2)
    person = profile.citizen
    play(slot, profile)
    code, out, _ = run("--mrz", *profile.printed_mrz, "--trust", str(trust_file), "--json")
    assert code == 0, out
    assert json.loads(out)["session"]["protocol"] == "BAC"
    expiry = person.date_of_expiry.isoformat() if person.date_of_expiry else "none"
    code, out, _ = run("--doc-number", person.document_number, "--dob", person.date_of_birth.isoformat(),
                       "--expiry", expiry, "--trust", str(trust_file), "--json")  # fmt: skip
    assert code == 0
    assert json.loads(out)["verdict"] == "genuine"


@pytest.mark.parametrize(
    ("fault", "check", "reason", "meaning"),
    [
        ("clone", "active_auth", "aa_signature_invalid", "possible clone"),
        ("changed-dg", "dg_hashes", "dg_hash_mismatch:DG13", "changed after the card was issued"),
    ],
)
def test_forgeries_are_not_genuine(
    slot: VpcdCard, pki: TestPki, trust_file: Path, fault: str, check: str, reason: str, meaning: str
) -> None:
    profile = card(pki, fault, index=3)
    play(slot, profile)
    code, out, _ = run("--can", profile.citizen.can, "--trust", str(trust_file), "--json")
    assert code == 1
    document = json.loads(out)
    assert document["verdict"] == "not_genuine"
    assert document["checks"][check]["status"] == "fail"
    assert reason in document["reasons"]
    code, text, _ = run("--can", profile.citizen.can, "--trust", str(trust_file))
    assert code == 1
    assert meaning in " ".join(text.split())  # said in words for the operator, not only as a key


def test_wrong_key_is_a_clear_message_and_exit_1(slot: VpcdCard, pki: TestPki, trust_file: Path) -> None:
    profile = card(pki, index=4)
    person = profile.citizen
    play(slot, profile)
    code, out, err = run("--doc-number", person.document_number, "--dob", "1999-01-01", "--expiry", "2040-01-01",
                         "--trust", str(trust_file))  # fmt: skip
    assert code == 1
    assert "does not open this card" in err
    code, out, err = run("--can", "000000", "--trust", str(trust_file), "--json")
    assert code == 1
    assert json.loads(out)["error"]["kind"] == "wrong_access_key"


def test_no_card_and_no_reader_exit_3(slot: VpcdCard, trust_file: Path) -> None:
    slot.remove()
    settle(ReaderState.EMPTY)
    code, _, err = run("--can", "123456", "--trust", str(trust_file), "--wait", "0.5")
    assert code == 3, err
    result = CliRunner().invoke(app, ["card", "read", "--reader", "No Such Reader", "--can", "123456"])
    assert result.exit_code == 3
    assert "no reader named" in result.stderr


def test_usage_errors_exit_2(trust_file: Path) -> None:
    assert run("--can", "123456", "--id", "001090012345")[0] == 2
    assert run("--id", "001090012345", "--dob", "15/01/1990")[0] == 2
    assert run("--can", "12345")[0] == 2
    assert run()[0] == 2


def test_card_pulled_mid_read_never_gives_a_verdict(slot: VpcdCard, pki: TestPki, trust_file: Path) -> None:
    profile = card(pki, "removed-after=15", index=5)
    play(slot, profile)
    code, out, err = run("--can", profile.citizen.can, "--trust", str(trust_file), "--json")
    assert code == 3
    assert json.loads(out) == {
        "verdict": None,
        "error": {"kind": "card_removed", "message": json.loads(out)["error"]["message"]},
    }
    assert "place it" in err


# --- a card written the way another implementation would ------------------------------------------------------


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def openssl_signed_card(base: CardProfile, directory: Path) -> tuple[CardProfile, Path]:
    """BAC only, RSA AA, no DG14, and an EF.SOD made by ``openssl cms -sign`` under an OpenSSL CSCA."""
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384", "-nodes", "-keyout", "csca.key",
            "-out", "csca.pem", "-days", "3650", "-subj", "/C=VN/O=Independent/CN=Independent CSCA",
            "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=directory)  # fmt: skip
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "dsc.key",
            "-out", "dsc.csr", "-subj", "/C=VN/O=Independent/CN=Independent DS", cwd=directory)  # fmt: skip
    (directory / "dsc.ext").write_text("keyUsage=critical,digitalSignature\n")
    openssl("x509", "-req", "-in", "dsc.csr", "-CA", "csca.pem", "-CAkey", "csca.key", "-CAcreateserial",
            "-days", "1800", "-sha384", "-extfile", "dsc.ext", "-out", "dsc.pem", cwd=directory)  # fmt: skip
    aa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    files = {f: base.files[f] for f in (FileId.DG1, FileId.DG2, FileId.DG13)}
    files[FileId.DG15] = encode_dg15(aa_key.public_key())
    (directory / "lds.der").write_bytes(
        lds_security_object({f.dg_number or 0: data for f, data in files.items()}, hash_name="sha256")
    )
    openssl("cms", "-sign", "-binary", "-nodetach", "-nosmimecap", "-outform", "DER", "-md", "sha256",
            "-econtent_type", "2.23.136.1.1.1", "-signer", "dsc.pem", "-inkey", "dsc.key",
            "-in", "lds.der", "-out", "sod.der", cwd=directory)  # fmt: skip
    files[FileId.SOD] = encode_tlv(0x77, (directory / "sod.der").read_bytes())
    files[FileId.COM] = encode_com([FileId.DG1, FileId.DG2, FileId.DG13, FileId.DG15])
    profile = dataclasses.replace(base, files=files, aa_key=aa_key, ca_key=None)
    return profile, directory / "csca.pem"


def test_independent_bac_card_with_openssl_sod(slot: VpcdCard, pki: TestPki, tmp_path: Path) -> None:
    base = card(pki, "no-pace", index=6)
    profile, csca = openssl_signed_card(base, tmp_path)
    person = profile.citizen

    def read_as_operator(chip: CardProfile) -> tuple[int, dict[str, Any]]:
        play(slot, chip)
        code, out, _ = run("--id", person.id_number, "--dob", person.date_of_birth.isoformat(),
                           "--trust", str(csca), "--json")  # fmt: skip
        return code, json.loads(out)

    code, document = read_as_operator(profile)
    assert code == 0, document
    assert document["verdict"] == "genuine"
    assert document["session"]["protocol"] == "BAC"
    assert document["checks"]["active_auth"]["status"] == "pass"
    assert document["checks"]["chip_auth"]["status"] == "skipped"
    assert document["holder"]["full_name"] == person.full_name
    # The same card cloned: its files copied onto a chip that signs with another RSA key.
    code, document = read_as_operator(
        dataclasses.replace(profile, aa_key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    )
    assert code == 1
    assert document["verdict"] == "not_genuine"
    assert document["checks"]["active_auth"]["status"] == "fail"
    assert "aa_signature_invalid" in document["reasons"]
    # A clone that simply leaves DG15 out (its chip answers 6A82): the SOD still lists it, so this is no genuine card.
    code, document = read_as_operator(
        dataclasses.replace(profile, files={f: d for f, d in profile.files.items() if f is not FileId.DG15})
    )
    assert code == 1
    assert document["verdict"] == "not_genuine"
    assert document["reasons"] == ["aa_key_missing"]
    assert document["checks"]["dg_hashes"]["status"] == "pass"
