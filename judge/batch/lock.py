"""One writer per output: an exclusive lock held for as long as a job writes a file.

The lock is ``flock`` on ``<output>.lock``, which names its holder (pid and host). The kernel
drops an ``flock`` when its process dies, even by ``kill -9``, so a lock file left by a killed
job is stale by construction: the next job takes it at once and writes its own pid over the old
one. A second live writer is refused with an error naming the holder. The lock file is removed
on release; a job that opened the file just before it was removed notices (the path no longer
names the inode it locked) and tries again, so two jobs never both believe they hold it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
from pathlib import Path
from types import TracebackType

from judge.errors import STORAGE_ERRNOS, ConfigError, StorageError


def lock_path(output: Path) -> Path:
    """The lock file of an output (``out.jsonl`` -> ``out.jsonl.lock``)."""
    return output.with_name(output.name + ".lock")


class OutputLock:
    """An exclusive, non-blocking lock on one output path (a context manager)."""

    def __init__(self, output: Path) -> None:
        self.output = output
        self.path = lock_path(output)
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise `ConfigError` naming the process that holds it."""
        for _ in range(10):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                if exc.errno in STORAGE_ERRNOS:
                    raise StorageError.writing(self.path, exc) from exc
                raise ConfigError(
                    f"cannot write beside {self.output}: {exc.strerror}",
                    hint="choose an output in a folder you can write to",
                ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                raise ConfigError(
                    f"{self.output} is being written by another job ({self._holder()})",
                    hint="wait for it to finish, or give this job its own output path",
                ) from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # released and removed between our open and our flock
                os.close(fd)
                continue
            try:
                os.ftruncate(fd, 0)
                os.write(fd, f"pid {os.getpid()} on host {socket.gethostname()}\n".encode())
                os.fsync(fd)
            except OSError as exc:  # a full disk: refused now, before any judging
                self._fd = fd
                self.release()
                raise StorageError.writing(self.path, exc) from exc
            self._fd = fd
            return
        raise ConfigError(f"could not lock {self.path}", hint="another job keeps taking it")

    def _holder(self) -> str:
        try:
            text = self.path.read_text(encoding="utf-8").strip()
        except OSError:
            text = ""
        return text or "holder unknown"

    def release(self) -> None:
        """Remove the lock file and drop the lock (removing first, so no one locks a ghost)."""
        if self._fd is None:
            return
        # On a failing file system the lock file stays: stale once the fd is closed.
        with contextlib.suppress(OSError):
            self.path.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> OutputLock:
        self.acquire()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()
