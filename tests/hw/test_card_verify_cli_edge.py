"""``cccd card verify`` at its edges: dumps named and encoded as other readers write them (tests/mrtd/foreign_dump.py),
hostile folders and trust files, and ``--json`` that stays one JSON document whatever goes wrong."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
from pathlib import Path
from typing import Any

import foreign_dump as fd
import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from hw._dump import MAX_DUMP_ENTRIES, MAX_DUMP_FILE_SIZE, DumpError, file_id_for_name, read_dump
from hw.cli import register
from mrtd import FileId

_GROUPS = ["DG1", "DG2", "DG13", "DG15"]


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return fd.build(tmp_path_factory.mktemp("edge"))


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(_app(), ["card", "verify", *args])


def _report(result: Any) -> dict[str, Any]:
    assert "Traceback" not in result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def _refused(result: Any, kind: str, words: str) -> None:
    """Exit 1, one JSON document naming the problem, the same words on stderr, no traceback."""
    assert result.exit_code == 1, result.output
    document = _report(result)
    assert document["verdict"] is None
    assert document["error"]["kind"] == kind
    assert words in document["error"]["message"]
    assert words in result.stderr


# --- names and encodings other readers use ------------------------------------------------------------------------


@pytest.mark.parametrize("naming", ["plain", "proxmark", "jmrtd", "pypassport", "dotted", "padded", "hex", "datagroup"])
def test_dumps_named_as_other_readers_name_them(dump: Any, tmp_path: Path, naming: str) -> None:
    folder = dump.write(tmp_path / naming, naming=naming)
    result = _invoke(str(folder), "--trust", str(dump.csca.cert), "--json")
    report = _report(result)
    assert result.exit_code == 0, report["reasons"]
    assert report["verdict"] == "genuine"
    assert report["document"]["data_groups"] == _GROUPS
    assert report["holder"]["full_name"] == "Trần Thị Bích Ngọc"


@pytest.mark.parametrize(
    ("name", "file"),
    [
        ("EF_COM.BIN", FileId.COM),
        ("ef.dg1.bin", FileId.DG1),
        ("EF-DG13.dat", FileId.DG13),
        ("DG01", FileId.DG1),
        ("dg16.der", FileId.DG16),
        ("DataGroup15.bin", FileId.DG15),
        ("011d.BIN", FileId.SOD),
        ("011C", FileId.CARD_ACCESS),
        ("0110", FileId.DG16),
        ("EF.CardSecurity", FileId.CARD_SECURITY),
        ("SOD.hex", FileId.SOD),
        ("EF_SOD.p7b", None),
        ("EF_DG2.jpg", None),
        ("DG17", None),
        ("0111", None),
        ("README.txt", None),
        ("DG1.bin.bak", None),
    ],
)
def test_file_names(name: str, file: FileId | None) -> None:
    assert file_id_for_name(name) is file


def test_text_and_trailing_white_space(dump: Any, tmp_path: Path) -> None:
    """Hex text in lower case without spaces, a trailing newline after binary files, CRLF after hex text."""
    folder = tmp_path / "dump"
    folder.mkdir()
    for name, data in dump.files.items():
        if name in ("DG1", "DG13"):
            (folder / f"{name}.bin").write_bytes(data + b"\n")
        elif name == "SOD":
            (folder / name).write_bytes(data.hex().encode() + b"\r\n")
        else:
            (folder / name).write_bytes(data + b" \r\n")
    report = _report(_invoke(str(folder), "--trust", str(dump.csca.cert), "--json"))
    assert report["verdict"] == "genuine", report
    assert report["problems"] == []


def test_an_sod_without_its_wrapper_and_proxmarks_extra_copy(dump: Any, tmp_path: Path) -> None:
    """Proxmark writes EF_SOD.BIN and the bare CMS as EF_SOD.p7b; a bare CMS alone named SOD is accepted too."""
    folder = dump.write(tmp_path / "pm", naming="proxmark")
    bare = dump.files["SOD"][4:] if dump.files["SOD"][1] == 0x82 else dump.files["SOD"][2:]
    (folder / "EF_SOD.p7b").write_bytes(bare)
    (folder / "EF_DG2.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    assert _report(_invoke(str(folder), "--trust", str(dump.csca.cert), "--json"))["verdict"] == "genuine"
    (folder / "EF_SOD.BIN").unlink()
    (folder / "EF_SOD.p7b").rename(folder / "SOD")
    assert _report(_invoke(str(folder), "--trust", str(dump.csca.cert), "--json"))["verdict"] == "genuine"


def test_two_copies_of_a_file(dump: Any, tmp_path: Path) -> None:
    folder = dump.write(tmp_path / "dump")
    (folder / "EF_DG1.BIN").write_bytes(dump.files["DG1"])
    assert _invoke(str(folder), "--trust", str(dump.csca.cert), "--json").exit_code == 0
    (folder / "EF_DG1.BIN").write_bytes(dump.files["DG1"][:-1] + b"X")
    _refused(_invoke(str(folder), "--json"), "bad_input", "both hold DG1")


def test_sub_folders_are_not_read_but_named(dump: Any, tmp_path: Path) -> None:
    dump.write(tmp_path / "outer" / "chip")
    _refused(_invoke(str(tmp_path / "outer"), "--json"), "bad_input", "its sub-folder chip does")
    # A folder named like a chip file is a folder, not that file.
    folder = dump.write(tmp_path / "with-folder")
    (folder / "DG2").unlink()
    (folder / "DG2").mkdir()
    report = _report(_invoke(str(folder), "--trust", str(dump.csca.cert), "--json"))
    assert report["verdict"] == "genuine"
    assert report["document"]["absent_data_groups"] == ["DG2"]


# --- hostile folders ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "words"),
    [
        (lambda d: None, "does not exist"),
        (lambda d: d.mkdir(), "holds no chip files"),
        (lambda d: d.write_bytes(b"x"), "is not a folder"),
        (lambda d: (d.mkdir(), (d / "README").write_text("hello")), "holds no chip files"),
        (lambda d: (d.mkdir(), (d / "SOD.hex").write_text("77 0")), "not hexadecimal"),
        (lambda d: (d.mkdir(), (d / "DG1").write_bytes(b"\n\n")), "empty"),
    ],
    ids=["missing", "empty", "a-file", "only-other-files", "bad-hex", "only-white-space"],
)
def test_bad_folders_are_json_errors(tmp_path: Path, setup: Any, words: str) -> None:
    folder = tmp_path / "dump"
    setup(folder)
    _refused(_invoke(str(folder), "--json"), "bad_input", words)


def test_special_files_named_like_chip_files_are_refused(dump: Any, tmp_path: Path) -> None:
    folder = dump.write(tmp_path / "dump")
    (folder / "DG2").unlink()
    os.mkfifo(folder / "DG2")  # reading it would block forever
    _refused(_invoke(str(folder), "--json"), "bad_input", "DG2 is not a regular file")
    (folder / "DG2").unlink()
    (folder / "DG2").symlink_to("/dev/zero")  # reading it would never end
    _refused(_invoke(str(folder), "--json"), "bad_input", "DG2 is not a regular file")
    (folder / "DG2").unlink()
    (folder / "DG2").symlink_to(folder / "DG2")
    _refused(_invoke(str(folder), "--json"), "bad_input", "cannot read DG2")
    (folder / "DG2").unlink()
    (folder / "DG2").symlink_to(tmp_path / "nowhere")
    _refused(_invoke(str(folder), "--json"), "bad_input", "cannot read DG2")


def test_a_symbolic_link_to_a_regular_file_is_followed(dump: Any, tmp_path: Path) -> None:
    folder = dump.write(tmp_path / "dump")
    elsewhere = tmp_path / "elsewhere.bin"
    (folder / "DG13").rename(elsewhere)
    (folder / "DG13").symlink_to(elsewhere)
    assert _report(_invoke(str(folder), "--trust", str(dump.csca.cert), "--json"))["verdict"] == "genuine"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_file_is_refused(dump: Any, tmp_path: Path) -> None:
    folder = dump.write(tmp_path / "dump")
    (folder / "DG13").chmod(0)
    _refused(_invoke(str(folder), "--json"), "bad_input", "cannot read DG13")


def test_huge_files_are_refused_without_reading_them_whole(tmp_path: Path) -> None:
    folder = tmp_path / "dump"
    folder.mkdir()
    with (folder / "DG2").open("wb") as handle:
        handle.truncate(MAX_DUMP_FILE_SIZE + 1)
    _refused(_invoke(str(folder), "--json"), "bad_input", "larger than")
    (folder / "DG2").unlink()
    (folder / "DG2.hex").write_bytes(b"00" * (MAX_DUMP_FILE_SIZE + 1))
    _refused(_invoke(str(folder), "--json"), "bad_input", "larger than")


def test_a_folder_with_too_many_entries_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "dump"
    folder.mkdir()
    for index in range(MAX_DUMP_ENTRIES + 1):
        (folder / f"junk{index}").touch()
    _refused(_invoke(str(folder), "--json"), "bad_input", "more than")


def test_markup_in_a_path_is_printed_as_text(tmp_path: Path) -> None:
    folder = tmp_path / "[/][bold]dump[/bold]"
    result = _invoke(str(folder))
    assert result.exit_code == 1
    assert "[/][bold]dump[/bold] does not exist" in result.stderr
    assert "Traceback" not in result.output


# --- trust files --------------------------------------------------------------------------------------------------


def test_bad_trust_paths_are_json_errors(dump: Any, tmp_path: Path) -> None:
    folder = dump.write(tmp_path / "dump")
    _refused(_invoke(str(folder), "--trust", str(tmp_path / "none.pem"), "--json"), "bad_trust_store", "does not exist")
    garbage = tmp_path / "garbage.pem"
    garbage.write_bytes(b"\x00\x01 not a certificate")
    _refused(_invoke(str(folder), "--trust", str(garbage), "--json"), "bad_trust_store", "is not a certificate")
    _refused(_invoke(str(folder), "--trust", "/dev/zero", "--json"), "bad_trust_store", "not a regular file")
    os.mkfifo(tmp_path / "pipe.pem")
    _refused(_invoke(str(folder), "--trust", str(tmp_path / "pipe.pem"), "--json"), "bad_trust_store", "regular file")
    bad_pem = tmp_path / "bad.crt"
    bad_pem.write_bytes(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    _refused(_invoke(str(folder), "--trust", str(bad_pem), "--json"), "bad_trust_store", "bad.crt")


def test_a_trust_folder_skips_what_is_not_a_trust_file(dump: Any, tmp_path: Path) -> None:
    trust = tmp_path / "trust"
    trust.mkdir()
    shutil.copy(dump.csca.cert, trust / "csca.pem")
    (trust / "README").write_text("CSCA certificates")
    os.mkfifo(trust / "pipe")
    (trust / "nested").mkdir()
    folder = dump.write(tmp_path / "dump")
    assert _report(_invoke(str(folder), "--trust", str(trust), "--json"))["verdict"] == "genuine"


def test_no_trust_anchor_is_incomplete(dump: Any, tmp_path: Path) -> None:
    result = _invoke(str(dump.write(tmp_path / "dump")), "--json")
    assert result.exit_code == 1
    report = _report(result)
    assert (report["verdict"], report["reasons"]) == ("incomplete", ["no_trust_anchor"])


def test_at_moves_the_verification_day(dump: Any, tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    expired = fd.build(tmp_path / "expired", csca=dump.csca, dsc_start=now - dt.timedelta(days=200),
                       dsc_end=now - dt.timedelta(days=3), with_dg2=False)  # fmt: skip
    folder = expired.write(tmp_path / "dump")
    report = _report(_invoke(str(folder), "--trust", str(dump.csca.cert), "--json"))
    assert (report["verdict"], report["reasons"]) == ("not_genuine", ["dsc_expired"])
    inside = f"{now - dt.timedelta(days=100):%Y-%m-%d}"
    result = _invoke(str(folder), "--trust", str(dump.csca.cert), "--json", "--at", inside)
    assert result.exit_code == 0
    assert _report(result)["verified_at"].startswith(inside)


def test_human_output_names_the_reason(dump: Any, tmp_path: Path) -> None:
    folder = dump.write(tmp_path / "dump", naming="proxmark")
    changed = bytearray((folder / "EF_DG13.BIN").read_bytes())
    changed[40] ^= 0x02
    (folder / "EF_DG13.BIN").write_bytes(bytes(changed))
    result = _invoke(str(folder), "--trust", str(dump.csca.cert))
    assert result.exit_code == 1
    assert "NOT GENUINE" in result.stdout
    assert "dg_hash_mismatch:DG13" in result.stdout
    assert "Traceback" not in result.output


# --- fuzzing the folder reader and the command --------------------------------------------------------------------

_NAMES = st.sampled_from(["SOD", "DG1", "DG13.hex", "EF_DG2.BIN", "011E", "AA.challenge", "AA.signature.hex", "x"])
_CONTENTS = st.one_of(
    st.binary(max_size=200),
    st.text("0123456789abcdefABCDEF \n", max_size=200).map(str.encode),
    st.binary(max_size=60).map(lambda b: b"\x77\x82\x01\x00" + b),
)


@settings(max_examples=60, deadline=dt.timedelta(seconds=10), suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_NAMES, _CONTENTS, max_size=6))
def test_random_dump_folders_give_a_verdict_or_a_json_error(files: dict[str, bytes]) -> None:
    import tempfile  # noqa: PLC0415 - a fresh folder per example (hypothesis reuses function-scoped fixtures)

    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        for name, data in files.items():
            (folder / name).write_bytes(data)
        with contextlib.suppress(DumpError):
            read_dump(folder)
        result = _invoke(str(folder), "--json")
        assert result.exit_code in (0, 1)
        document = _report(result)
        assert document["verdict"] in (None, "genuine", "not_genuine", "incomplete")
        if document["verdict"] is None:
            assert document["error"]["kind"] == "bad_input"
