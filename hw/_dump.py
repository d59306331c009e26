"""Chip dumps on disk: a folder with one file per elementary file, plus the active-authentication evidence.

File names are matched case-insensitively and in the forms other readers write them:

* the file's name, ``CardAccess``, ``CardSecurity``, ``COM``, ``SOD``, ``DG1`` ... ``DG16``, also zero-padded
  (``DG01``) or spelt ``DataGroup1`` (pypassport's class names);
* its file identifier in hexadecimal, ``011E``, ``011D``, ``0101`` ... ``0110``, ``011C`` (JMRTD saves documents as
  ``011D.bin`` and so on; older pypassport dumps use the bare FIDs);
* with an optional ``EF.``, ``EF_`` or ``EF-`` prefix and an optional ``.bin``, ``.der``, ``.dat`` or ``.hex`` suffix
  (Proxmark's ``hf emrtd dump`` writes ``EF_SOD.BIN``).

Content is the file's bytes, or the same as hexadecimal text (a ``.hex`` file must be; any other file is read as
text when it holds nothing but an even number of hex digits, at least four, and white space, which no binary LDS file
does: every one has a tag or a length byte outside ``0-9A-Fa-f``). Trailing white space after the file's one data
object (a newline an editor or ``echo`` added) is dropped, and an EF.SOD saved without its ``77`` wrapper (a bare
CMS ContentInfo, as ``.p7b`` exporters write it) is wrapped again; neither changes what the SOD's hashes cover.

Evidence of an active authentication: ``AA.challenge`` and ``AA.signature`` as raw bytes, or ``AA.challenge.hex`` and
``AA.signature.hex`` as hexadecimal text. Other files (a portrait ``EF_DG2.jpg``, Proxmark's ``EF_SOD.p7b``, a
README) are ignored and listed. Only the folder's top level is read: a folder of several dumps is not one dump.
Everything read is bounded in size and must be a regular file (symbolic links to one are followed): a dump is input
from outside, and a device or a pipe named ``DG2`` would otherwise block or never end.
"""

from __future__ import annotations

import binascii
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from hw._reader import HwError
from mrtd import ActiveAuthEvidence, FileId, TLVError, encode_tlv, read_tlv

MAX_DUMP_FILE_SIZE = 4 * 1024 * 1024
MAX_DUMP_ENTRIES = 4096
_MAX_EVIDENCE_SIZE = 4096
_HEX_TEXT_FACTOR = 3  # hexadecimal text with spaces takes up to three characters per byte
_NAME = re.compile(r"(?:ef[._-])?(?P<stem>[a-z0-9]+?)(?P<suffix>\.(?:bin|der|dat|hex))?", re.IGNORECASE)
_EVIDENCE = re.compile(r"aa\.(challenge|signature)(\.hex)?", re.IGNORECASE)
_HEX_TEXT = re.compile(rb"[0-9A-Fa-f\s]+")
_WHITESPACE = b" \t\r\n\x0b\x0c"
_ECONTENT_INFO_START = 0x30


def _names() -> dict[str, FileId]:
    names: dict[str, FileId] = {}
    for file in FileId:
        if file is FileId.DIR:
            continue
        names[file.label.lower()] = file
        if file.dg_number is not None:
            names[f"dg{file.dg_number:02d}"] = file
            names[f"datagroup{file.dg_number}"] = file
        # Inside the eMRTD application 011D is EF.SOD; EF.CardSecurity shares the FID in the master file, so a
        # dump names it by name only.
        if file is not FileId.CARD_SECURITY:
            names[f"{file.fid:04x}"] = file
    return names


_BY_NAME = _names()


class DumpError(HwError):
    """A dump folder or one of its files cannot be used; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class ChipDump:
    files: Mapping[FileId, bytes]
    active_auth: ActiveAuthEvidence | None = None
    ignored: tuple[str, ...] = field(default=())


def file_id_for_name(name: str) -> FileId | None:
    """The chip file a dump file name stands for, or None."""
    match = _NAME.fullmatch(name)
    return _BY_NAME.get(match.group("stem").lower()) if match else None


def _read(path: Path, limit: int) -> bytes:
    """At most ``limit`` bytes of a regular file; the size is checked on what is read, not on what stat() says
    (files under /proc report 0)."""
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            raise DumpError(f"{path.name} is not a regular file")
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise DumpError(f"cannot read {path.name}: {exc.strerror or exc}") from exc
    if len(data) > limit:
        raise DumpError(f"{path.name} is larger than {limit} bytes; a chip file is not")
    if not data:
        raise DumpError(f"{path.name} is empty")
    return data


def _from_hex(data: bytes, name: str) -> bytes:
    try:
        raw = binascii.unhexlify(b"".join(data.split()))
    except (binascii.Error, ValueError):
        raise DumpError(f"{name} is not hexadecimal text") from None
    if not raw:
        raise DumpError(f"{name} is empty")
    return raw


def _looks_hex(data: bytes) -> bool:
    """Hexadecimal text of at least one data object's header (two bytes), an even number of digits."""
    if not _HEX_TEXT.fullmatch(data):
        return False
    digits = len(data) - sum(data.count(c) for c in _WHITESPACE)
    return digits >= 4 and digits % 2 == 0


def _chip_file_content(data: bytes, *, name: str, file: FileId, hex_text: bool) -> bytes:
    if not data.strip(_WHITESPACE):
        raise DumpError(f"{name} is empty")
    if hex_text or _looks_hex(data):
        data = _from_hex(data, name)
    if file is FileId.SOD and data[0] == _ECONTENT_INFO_START:
        data = encode_tlv(0x77, data)
    try:
        _, end = read_tlv(data)
    except TLVError:
        return data  # the parsers say what is wrong with it
    if end < len(data) and not data[end:].strip(_WHITESPACE):
        return data[:end]
    return data


def _chip_files_below(directory: Path) -> str | None:
    """The name of a sub-folder that holds chip files, for a hint when the folder itself holds none."""
    try:
        for child in sorted(directory.iterdir()):
            if child.is_dir() and any(
                file_id_for_name(grandchild.name) for grandchild in islice(child.iterdir(), MAX_DUMP_ENTRIES)
            ):
                return child.name
    except OSError:
        return None
    return None


def read_dump(directory: Path) -> ChipDump:
    """Load a dump folder; a :class:`DumpError` explains a missing folder, a conflict or an unreadable file."""
    if not directory.exists():
        raise DumpError(f"{directory} does not exist")
    if not directory.is_dir():
        raise DumpError(f"{directory} is not a folder")
    files: dict[FileId, bytes] = {}
    origins: dict[FileId, str] = {}
    evidence: dict[str, bytes] = {}
    ignored: list[str] = []
    try:
        entries = []
        for count, entry in enumerate(directory.iterdir()):
            if count >= MAX_DUMP_ENTRIES:
                raise DumpError(f"{directory} holds more than {MAX_DUMP_ENTRIES} entries; a chip dump does not")
            entries.append(entry)
    except OSError as exc:
        raise DumpError(f"cannot list {directory}: {exc.strerror or exc}") from exc
    for path in sorted(entries):
        if path.is_dir():
            ignored.append(path.name)  # sub-folders are not read, whatever their name
            continue
        if match := _EVIDENCE.fullmatch(path.name):
            kind = match.group(1).lower()
            if kind in evidence:
                raise DumpError(f"two files hold the active-authentication {kind}")
            raw = _read(path, _MAX_EVIDENCE_SIZE)
            evidence[kind] = _from_hex(raw, path.name) if match.group(2) else raw
            continue
        file = file_id_for_name(path.name)
        if file is None:
            ignored.append(path.name)
            continue
        name_match = _NAME.fullmatch(path.name)
        hex_text = bool(name_match and (name_match.group("suffix") or "").lower() == ".hex")
        raw = _read(path, MAX_DUMP_FILE_SIZE * (_HEX_TEXT_FACTOR if hex_text else 1))
        data = _chip_file_content(raw, name=path.name, file=file, hex_text=hex_text)
        if len(data) > MAX_DUMP_FILE_SIZE:
            raise DumpError(f"{path.name} is larger than {MAX_DUMP_FILE_SIZE} bytes; a chip file is not")
        if file in files:
            if files[file] == data:
                continue  # two copies of one file (DG1 and DG1.bin, say) do not conflict
            raise DumpError(f"{origins[file]} and {path.name} both hold {file.label}, with different contents")
        files[file] = data
        origins[file] = path.name
    if not files:
        below = _chip_files_below(directory)
        hint = f"; its sub-folder {below} does: give that folder" if below else ""
        raise DumpError(f"{directory} holds no chip files (expected names like SOD, DG1, DG13){hint}")
    if len(evidence) == 1:
        raise DumpError("active-authentication evidence needs both AA.challenge and AA.signature")
    active_auth = ActiveAuthEvidence(evidence["challenge"], evidence["signature"]) if evidence else None
    return ChipDump(files=files, active_auth=active_auth, ignored=tuple(ignored))


def write_dump(
    directory: Path, files: Mapping[FileId, bytes], *, active_auth: ActiveAuthEvidence | None = None
) -> None:
    """Write a dump that :func:`read_dump` reads back (``SOD``, ``DG1``..., ``AA.challenge``/``AA.signature``).

    Files are written 0600: a dump holds the holder's personal data.
    """
    directory.mkdir(parents=True, exist_ok=True)
    items = {file.label: data for file, data in files.items()}
    if active_auth is not None:
        items["AA.challenge"] = active_auth.challenge
        items["AA.signature"] = active_auth.signature
    for name, data in items.items():
        write_private(directory / name, data)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable by its owner only (0600), also when the file was there with a wider mode:
    chip files and portraits are personal data."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(data)
