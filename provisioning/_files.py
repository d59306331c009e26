"""Crash-safe file writes: a reader sees the old file or the new one, never half of either.

Write to a temporary file in the same directory, fsync it, set its mode (and group) before it becomes visible,
rename it over the target, then fsync the directory so the rename itself survives a power cut.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import tempfile
from collections.abc import Callable
from pathlib import Path

SECRET_MODE = 0o600
GROUP_SECRET_MODE = 0o640
PUBLIC_MODE = 0o644


def fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(
    path: Path,
    data: bytes,
    *,
    mode: int,
    group: str | None = None,
    owner: str | None = None,
    check: Callable[[Path], None] | None = None,
) -> None:
    """Replace ``path`` with ``data``. ``check`` runs on the finished temporary file before it replaces the
    target; if it raises, the target is left as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        # mkstemp creates the file 0600, so a secret is never readable by others, not even for a moment.
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        set_ownership(tmp, owner=owner, group=group)
        os.chmod(tmp, mode)
        if check is not None:
            check(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    fsync_directory(path.parent)


def set_ownership(path: Path, *, owner: str | None, group: str | None) -> None:
    """chown by name; only meaningful (and only attempted) when running as root."""
    if os.geteuid() != 0 or (owner is None and group is None):
        return
    uid = -1 if owner is None else _uid(owner)
    gid = -1 if group is None else grp.getgrnam(group).gr_gid
    os.chown(path, uid, gid)


def _uid(name: str) -> int:
    return pwd.getpwnam(name).pw_uid


def read_text_bounded(path: Path, *, limit: int) -> str:
    """Read a small text file, refusing anything larger than ``limit`` bytes."""
    size = path.stat().st_size
    if size > limit:
        raise ValueError(f"{path} is {size} bytes, more than the {limit} allowed")
    return path.read_text(encoding="utf-8")
