"""``cccd card verify`` on dumps made by OpenSSL (tests/mrtd/openssl_dump.py) and on the real test data."""

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import openssl_dump
import pytest
import typer
from typer.testing import CliRunner

from hw._dump import read_dump, write_dump
from hw.cli import register
from mrtd._aa_verify import ActiveAuthEvidence
from mrtd._files import FileId

_HERE = Path(__file__).resolve()
TESTDATA = _HERE.parents[2] / ".." / "shared" / "testdata"


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return openssl_dump.build_dump(tmp_path_factory.mktemp("cli"))


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def _invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(_app(), ["card", "verify", *args])


_NAMES = {
    FileId.SOD: "EF.SOD.bin",
    FileId.COM: "ef.com",
    FileId.DG1: "DG1.bin",
    FileId.DG13: "dg13",
    FileId.DG14: "EF_DG14.BIN",
    FileId.CARD_ACCESS: "EF.CardAccess",
}


def test_a_dump_made_by_openssl_is_genuine(dump, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = dump.write(tmp_path / "dump", names=_NAMES)
    (folder / "README.txt").write_text("ignored")
    result = _invoke(str(folder), "--trust", str(dump.csca.cert), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["verdict"] == "genuine"
    assert report["checks"]["active_auth"] == {
        "status": "pass",
        "reason": "aa_signature_valid",
        "message": report["checks"]["active_auth"]["message"],
    }
    assert report["checks"]["chip_auth"]["status"] == "skipped"
    assert report["holder"]["full_name"] == "Nguyễn Văn An"
    assert report["holder"]["date_of_issue"] == "2021-04-20"
    assert report["document"]["data_groups"] == ["DG1", "DG2", "DG13", "DG14", "DG15"]


def test_human_output(dump, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = dump.write(tmp_path / "dump")
    result = _invoke(str(folder), "--trust", str(dump.csca.cert))
    assert result.exit_code == 0, result.output
    assert "GENUINE" in result.stdout
    assert "Nguyễn Văn An" in result.stdout
    assert "aa_signature_valid" in result.stdout


def test_a_changed_dg13_fails_with_its_reason(dump, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = dump.write(tmp_path / "dump")
    data = bytearray((folder / "DG13").read_bytes())
    data[60] ^= 0x01
    (folder / "DG13").write_bytes(bytes(data))
    result = _invoke(str(folder), "--trust", str(dump.csca.cert), "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["verdict"] == "not_genuine"
    assert report["checks"]["dg_hashes"]["reason"] == "dg_hash_mismatch:DG13"
    assert report["reasons"] == ["dg_hash_mismatch:DG13"]


def test_a_foreign_csca_fails(dump, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    foreign = openssl_dump.make_authority(tmp_path / "foreign", "CSCA Foreign", key_spec="ec:secp384r1")
    result = _invoke(str(dump.write(tmp_path / "dump")), "--trust", str(foreign.cert), "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["checks"]["chain"]["reason"] == "csca_not_found"


def test_an_expired_dsc_fails(dump, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    expired = openssl_dump.build_dump(
        tmp_path / "expired",
        authority=dump.csca,
        dsc_start=dt.datetime(2019, 1, 1, tzinfo=dt.UTC),
        dsc_end=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
    )
    folder = expired.write(tmp_path / "dump")
    result = _invoke(str(folder), "--trust", str(dump.csca.cert), "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["verdict"] == "not_genuine"
    assert report["checks"]["chain"]["reason"] == "dsc_expired"
    # As of a day inside its validity (and the CSCA's), the same dump would have passed the chain... but the CSCA
    # was made today, so 2019 is before it: the chain then fails for the CSCA instead.
    result = _invoke(str(folder), "--trust", str(dump.csca.cert), "--json", "--at", "2019-06-01")
    assert json.loads(result.stdout)["checks"]["chain"]["reason"] == "csca_not_yet_valid"


def test_aa_evidence_as_hex_text(dump, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = dump.write(tmp_path / "dump", with_aa=False)
    (folder / "aa.challenge.hex").write_text(dump.challenge.hex())
    (folder / "AA.signature.hex").write_text(dump.aa_signature.hex().upper() + "\n")
    result = _invoke(str(folder), "--trust", str(dump.csca.cert), "--json")
    assert json.loads(result.stdout)["checks"]["active_auth"]["status"] == "pass"


def test_real_sod_with_the_real_master_lists(tmp_path: Path) -> None:
    (tmp_path / "SOD").write_bytes((TESTDATA / "sod" / "EF_SOD_NZ.bin").read_bytes())
    result = _invoke(str(tmp_path), "--trust", str(TESTDATA / "masterlists"), "--json", "--at", "2020-01-01")
    report = json.loads(result.stdout)
    assert report["checks"]["passive_auth"]["status"] == "pass"
    assert report["checks"]["chain"]["status"] == "pass"
    assert report["verdict"] == "incomplete"  # an SOD alone carries no holder data
    assert result.exit_code == 1


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda d: None, "does not exist"),
        (lambda d: d.mkdir(), "holds no chip files"),
        (lambda d: (d.mkdir(), (d / "DG1").write_bytes(b"a"), (d / "EF.DG1.bin").write_bytes(b"b")), "both hold DG1"),
        (lambda d: (d.mkdir(), (d / "SOD").write_bytes(b"")), "empty"),
        (lambda d: (d.mkdir(), (d / "SOD").write_bytes(b"x"), (d / "AA.challenge").write_bytes(b"1")), "both AA"),
        (lambda d: (d.mkdir(), (d / "SOD").write_bytes(b"x"), (d / "AA.challenge.hex").write_bytes(b"zz"),
                    (d / "AA.signature").write_bytes(b"1")), "not hexadecimal"),
    ],
)  # fmt: skip
def test_bad_dump_folders_are_clear_errors(tmp_path: Path, setup, message: str) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "dump"
    setup(folder)
    result = _invoke(str(folder))
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_garbage_files_give_a_verdict_and_a_named_problem(dump, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = dump.write(tmp_path / "dump")
    (folder / "DG13").write_bytes(b"\x00garbage\xff")
    result = _invoke(str(folder), "--trust", str(dump.csca.cert))
    assert result.exit_code == 1
    assert "NOT GENUINE" in result.stdout
    assert "DG13" in result.stdout


def test_an_untrustworthy_trust_file_is_a_clear_error(dump, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "list.ml").write_bytes((TESTDATA / "masterlists" / "NL_ML_2026-07-22.ml").read_bytes())
    result = _invoke(str(dump.write(tmp_path / "dump")), "--trust", str(tmp_path / "list.ml"))
    assert result.exit_code == 1
    assert "not issued by any trusted CSCA" in result.stderr


@pytest.mark.parametrize("args", [[], ["--at", "2026-13-01", "x"], ["--bogus", "x"]])
def test_usage_errors_exit_2(args: list[str]) -> None:
    assert _invoke(*args).exit_code == 2


def test_write_dump_reads_back_with_private_permissions(tmp_path: Path) -> None:
    files = {FileId.SOD: b"\x77\x00", FileId.DG13: b"\x6d\x00"}
    write_dump(tmp_path / "out", files, active_auth=ActiveAuthEvidence(b"12345678", b"sig"))
    assert (tmp_path / "out" / "DG13").stat().st_mode & 0o777 == 0o600
    back = read_dump(tmp_path / "out")
    assert back.files == files
    assert back.active_auth == ActiveAuthEvidence(b"12345678", b"sig")
    # Writing over an existing dump whose files someone opened up makes them private again.
    (tmp_path / "out" / "DG13").chmod(0o644)
    write_dump(tmp_path / "out", files)
    assert (tmp_path / "out" / "DG13").stat().st_mode & 0o777 == 0o600


def test_the_installed_cccd_command(dump, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = dump.write(tmp_path / "dump")
    command = [sys.executable, "-c", "from cccd.cli import main; main()", "card", "verify", str(folder)]
    ok = subprocess.run([*command, "--trust", str(dump.csca.cert), "--json"], capture_output=True, check=False)
    assert ok.returncode == 0, ok.stderr.decode()
    assert json.loads(ok.stdout)["verdict"] == "genuine"
    missing = subprocess.run([*command[:-1], str(tmp_path / "nowhere")], capture_output=True, check=False)
    assert missing.returncode == 1
    assert b"does not exist" in missing.stderr
    assert b"Traceback" not in missing.stderr
