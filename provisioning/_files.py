"""Crash-safe file writes: a reader sees the old file or the new one, never half of either.

Write to a temporary file in the same directory, fsync it, set its mode (and group) before it becomes visible,
rename it over the target, then fsync the directory so the rename itself survives a power cut.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import stat
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


def make_parents(path: Path) -> None:
    """Create the missing ancestors of ``path`` with mode 0755 whatever the umask: a broker that drops to its own
    user must be able to walk down to its files (``mkdir -p`` under umask 077 would make them 0700)."""
    missing = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
    for directory in reversed(missing):
        directory.mkdir(exist_ok=True)
        os.chmod(directory, 0o755)  # noqa: S103 - directories on the way, not the secrets inside


def blocked_ancestor(path: Path, user: str) -> Path | None:
    """The first directory on the way to ``path`` (itself included) that ``user`` may not enter, if any."""
    try:
        account = pwd.getpwnam(user)
    except KeyError:
        return None
    if account.pw_uid == 0:
        return None
    groups = {account.pw_gid, *(g.gr_gid for g in grp.getgrall() if user in g.gr_mem)}
    for directory in reversed((path, *path.parents)):
        try:
            info = directory.stat()
        except OSError:
            return directory
        if info.st_uid == account.pw_uid:
            allowed = info.st_mode & stat.S_IXUSR
        elif info.st_gid in groups:
            allowed = info.st_mode & stat.S_IXGRP
        else:
            allowed = info.st_mode & stat.S_IXOTH
        if not allowed:
            return directory
    return None


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
