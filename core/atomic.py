"""Atomic artifact writes: write to a temp name in the same folder, fsync, rename, fsync the folder.

A reader sees the old file or the new one, never half of either, even if the process dies mid-write.
A full disk (ENOSPC, or a quota: EDQUOT) abandons the write, removes the temp file or folder and raises
`DiskFull`, a one-line user error naming the path; what was there before stays as it was.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from core.errors import UserError

_UMASK = os.umask(0)
os.umask(_UMASK)
_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


class DiskFull(UserError):
    """A write abandoned because the disk (or the user's quota) is full; the previous file is untouched."""

    def __init__(self, path: Path, cause: OSError):
        self.path, self.errno, self.cause = Path(path), cause.errno, cause
        super().__init__(f"{path}: not written, the disk is full ({cause.strerror or os.strerror(cause.errno)}); "
                         "what was there before is unchanged: free some space and run it again")


def _full(e: BaseException) -> bool:
    return isinstance(e, OSError) and not isinstance(e, DiskFull) and e.errno in _FULL


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; artifacts get the usual permissions
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if _full(e):
            raise DiskFull(path, e) from e
        raise
    fsync_dir(path.parent)


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def fsync_tree(root: Path) -> None:
    for p in root.rglob("*"):
        if p.is_file():
            with p.open("rb") as f:
                os.fsync(f.fileno())
    fsync_dir(root)


@contextmanager
def staging_dir(final: Path):
    """Yield a temp folder beside `final`; on success fsync it and rename it to `final` (must not exist)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        os.chmod(tmp, 0o777 & ~_UMASK)
        yield tmp
        fsync_tree(tmp)
        os.rename(tmp, final)  # fails if `final` exists: a published version is never overwritten
        fsync_dir(final.parent)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if _full(e):  # from the caller's writes into the folder too: nothing was moved into place
            raise DiskFull(final, e) from e
        if isinstance(e, DiskFull) and tmp in e.path.parents:  # name the artifact, not its temp folder
            raise DiskFull(final, e.cause) from e
        raise


@contextmanager
def folder_lock(folder: Path):
    """Serialise writers of one folder's artifacts between processes: an exclusive POSIX flock on
    `folder/.lock` (the kernel drops it if the holder dies). Without fcntl the writes stay atomic, only not
    serialised."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(folder / ".lock", "a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
