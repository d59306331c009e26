"""Chip dumps on disk: a folder with one file per elementary file, plus the active-authentication evidence.

File names (case-insensitive, an ``EF.`` or ``EF_`` prefix and a ``.bin`` suffix allowed): ``CardAccess``,
``CardSecurity``, ``COM``, ``SOD``, ``DG1`` ... ``DG16``. Evidence of an active authentication: ``AA.challenge`` and
``AA.signature`` as raw bytes, or ``AA.challenge.hex`` and ``AA.signature.hex`` as hexadecimal text. Other files are
ignored. Everything read is bounded in size: a dump is input from outside.
"""

from __future__ import annotations

import binascii
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hw._reader import HwError
from mrtd import ActiveAuthEvidence, FileId

MAX_DUMP_FILE_SIZE = 4 * 1024 * 1024
_MAX_EVIDENCE_SIZE = 4096
_NAME = re.compile(r"(?:ef[._])?([a-z0-9]+?)(?:\.bin)?", re.IGNORECASE)
_EVIDENCE = re.compile(r"aa\.(challenge|signature)(\.hex)?", re.IGNORECASE)
_BY_NAME = {f.label.lower(): f for f in FileId if f is not FileId.DIR}


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
    return _BY_NAME.get(match.group(1).lower()) if match else None


def _read(path: Path, limit: int) -> bytes:
    try:
        size = path.stat().st_size
        if size > limit:
            raise DumpError(f"{path.name} is {size} bytes; a chip file is at most {limit}")
        data = path.read_bytes()
    except OSError as exc:
        raise DumpError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not data:
        raise DumpError(f"{path.name} is empty")
    return data


def read_dump(directory: Path) -> ChipDump:
    """Load a dump folder; a :class:`DumpError` explains a missing folder, a duplicate or an unreadable file."""
    if not directory.exists():
        raise DumpError(f"{directory} does not exist")
    if not directory.is_dir():
        raise DumpError(f"{directory} is not a folder")
    files: dict[FileId, bytes] = {}
    origins: dict[FileId, str] = {}
    evidence: dict[str, bytes] = {}
    ignored: list[str] = []
    try:
        entries = sorted(p for p in directory.iterdir() if p.is_file())
    except OSError as exc:
        raise DumpError(f"cannot list {directory}: {exc.strerror or exc}") from exc
    for path in entries:
        if match := _EVIDENCE.fullmatch(path.name):
            kind = match.group(1).lower()
            if kind in evidence:
                raise DumpError(f"two files hold the active-authentication {kind}")
            raw = _read(path, _MAX_EVIDENCE_SIZE)
            if match.group(2):
                try:
                    raw = binascii.unhexlify("".join(raw.decode("ascii").split()))
                except (UnicodeDecodeError, binascii.Error, ValueError):
                    raise DumpError(f"{path.name} is not hexadecimal text") from None
            evidence[kind] = raw
            continue
        file = file_id_for_name(path.name)
        if file is None:
            ignored.append(path.name)
            continue
        if file in files:
            raise DumpError(f"{origins[file]} and {path.name} both hold {file.label}")
        files[file] = _read(path, MAX_DUMP_FILE_SIZE)
        origins[file] = path.name
    if not files:
        raise DumpError(f"{directory} holds no chip files (expected names like SOD, DG1, DG13)")
    if len(evidence) == 1:
        raise DumpError("active-authentication evidence needs both AA.challenge and AA.signature")
    active_auth = ActiveAuthEvidence(evidence["challenge"], evidence["signature"]) if evidence else None
    return ChipDump(files=files, active_auth=active_auth, ignored=tuple(ignored))


def write_dump(
    directory: Path, files: Mapping[FileId, bytes], *, active_auth: ActiveAuthEvidence | None = None
) -> None:
    """Write a dump that :func:`read_dump` reads back (``SOD``, ``DG1``..., ``AA.challenge``/``AA.signature``).

    Files are created 0600: a dump holds the holder's personal data.
    """
    directory.mkdir(parents=True, exist_ok=True)
    items = {file.label: data for file, data in files.items()}
    if active_auth is not None:
        items["AA.challenge"] = active_auth.challenge
        items["AA.signature"] = active_auth.signature
    for name, data in items.items():
        path = directory / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
