"""The one way the project writes a whole file: temporary sibling, fsync, rename, fsync the folder.

A reader (or a crash) sees either the old file or the new one, never half of one: the bytes go to
a hidden temporary file in the target's folder, are flushed and fsynced, and the temporary file
is renamed over the target (atomic on POSIX within one file system); the folder is fsynced so the
rename itself survives a power loss. A failed write removes the temporary file and leaves the
target as it was. Storage failures (full disk, quota, read-only, I/O) become `StorageError`;
other `OSError`s (a missing folder, no permission) propagate as they are.

Append-only journals do not come here: they append and fsync each record.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from judge.errors import STORAGE_ERRNOS, StorageError

TEMPORARY_SUFFIX = ".tmp"


def temporary_sibling(target: Path) -> Path:
    """A fresh hidden name beside `target` (unique, so two writers never share one)."""
    return target.with_name(f".{target.name}.{secrets.token_hex(4)}{TEMPORARY_SUFFIX}")


def write_atomic(path: str | Path, data: str | bytes, *, encoding: str = "utf-8") -> Path:
    """Replace the file at `path` with `data` (text is encoded with `encoding`); returns the path.

    Raises:
        StorageError: the storage refused the write (full disk, quota, read-only, I/O error);
            the file at `path` is unchanged.
    """
    payload = data.encode(encoding) if isinstance(data, str) else data
    with atomic_path(path) as temporary:
        fd = os.open(temporary, os.O_WRONLY | os.O_TRUNC)
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
    return Path(path)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary file to write by name (for writers that take a path); renamed on success.

    The block writes the temporary file (created empty, with the permissions a new file gets);
    when it ends without an exception the file is fsynced and renamed over `path`, else removed.
    """
    target = Path(path)
    temporary = temporary_sibling(target)
    try:
        os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        with contextlib.suppress(OSError):  # keep the mode of the file being replaced
            os.chmod(temporary, os.stat(target).st_mode & 0o7777)
        yield temporary
        fd = os.open(temporary, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS:
            raise StorageError.writing(target, exc, kept=f"{target.name} is unchanged") from exc
        raise
    sync_folder(target.parent)


def sync_folder(folder: Path) -> None:
    """Fsync a folder so a rename inside it is durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems do not sync folders; the rename itself is still atomic
    finally:
        os.close(fd)
