"""Result files written as a job goes: checked before any judging, locked, appended and fsynced.

`judge score --input` writes each chunk's judgments as soon as they exist, so a bad output path is
refused before the model loads and an interrupted run (Ctrl-C, a crash) keeps what it judged.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from judge.batch.files import cut_back, output_format_of, write_all
from judge.batch.lock import OutputLock
from judge.errors import STORAGE_ERRNOS, ConfigError, StorageError


def check_output_path(path: Path) -> None:
    """Refuse an output that cannot be written: a folder, a missing or read-only parent folder."""
    if path.is_dir():
        raise ConfigError(f"output {path} is a folder", hint="give a file path, e.g. out.jsonl")
    parent = path.parent
    if not parent.is_dir():
        blocker = _file_above(parent)
        if blocker is not None:  # mkdir -p cannot help: a file stands where a folder must be
            raise ConfigError(
                f"output {path}: {blocker} is a file, not a folder",
                hint="choose an output path inside a folder",
            )
        raise ConfigError(
            f"output {path}: folder {parent} does not exist",
            hint=f"create it first: mkdir -p {parent}",
        )
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ConfigError(
            f"output {path}: not writable", hint="choose a path in a folder you can write to"
        )


def _file_above(folder: Path) -> Path | None:
    """The nearest existing ancestor of `folder` (itself included) if it is not a folder."""
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            return None if candidate.is_dir() else candidate
    return None


class LineWriter:
    """A locked output file that takes lines as they come (append, flush, fsync per call)."""

    def __init__(self, path: Path) -> None:
        check_output_path(path)
        output_format_of(path, allowed=("jsonl",))
        self.path = path
        self.lines = 0
        self._lock = OutputLock(path)
        self._lock.acquire()
        try:
            self._handle = path.open("wb", buffering=0)
        except OSError as exc:
            self._lock.release()
            if exc.errno in STORAGE_ERRNOS:
                raise StorageError.writing(path, exc) from exc
            raise ConfigError(f"cannot write {path}: {exc.strerror}") from None
        self._size = 0

    def write(self, lines: Sequence[str]) -> None:
        """Append whole lines (without their newline) and make them durable.

        A failed write (full disk, I/O error) is undone, so the file holds whole lines only,
        and raises `StorageError` saying how many judgments it keeps.
        """
        if not lines:
            return
        payload = "".join(line + "\n" for line in lines).encode("utf-8")
        fd = self._handle.fileno()
        try:
            write_all(fd, payload)
            os.fsync(fd)
        except OSError as exc:
            cut_back(fd, self._size)
            kept = f"the {self.lines} judgments written before stay in it"
            raise StorageError.writing(self.path, exc, kept) from exc
        self._size += len(payload)
        self.lines += len(lines)

    def close(self) -> None:
        """Close the file and release its lock; cut a line torn by an interrupt mid-write.

        Ctrl-C can land between the write and the count, or inside the write, so `lines` is
        recounted from the file: it says what a reader of the file will find.
        """
        if self._handle.closed:
            return
        self._handle.close()
        try:
            data = self.path.read_bytes()
            end = data.rfind(b"\n") + 1
            if end < len(data):
                with self.path.open("r+b") as handle:
                    handle.truncate(end)
                    os.fsync(handle.fileno())
            self.lines = data.count(b"\n")
        except OSError:
            pass  # a failing file system: the write that failed has raised StorageError already
        finally:
            self._lock.release()

    def __enter__(self) -> LineWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
