"""The one exception hierarchy of `judge`.

Every error a user can meet is a `JudgeError`. Each carries `retryable` (may the same call
succeed if tried again?) and a `hint` (what to do about it). Backends translate their
libraries' exceptions at their boundary with ``raise ... from exc``.

```
JudgeError
 ├── ConfigError                 bad option or combination of options
 ├── RubricError                 a rubric file or object is invalid
 ├── TemplateError               a prompt template is missing or fails to render
 ├── InputError                  a sample, row or field of user input is invalid
 ├── StorageError                an output could not be written (full disk, dead file system)
 ├── BackendError                a model backend failed
 │    ├── BackendUnavailableError   the backend cannot run here (no CUDA, not installed, down)
 │    └── GenerationError           a generation call failed
 └── VerdictParseError           a model output could not be read as a verdict
```
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class JudgeError(Exception):
    """Base of every error raised by `judge`."""

    retryable: bool = False

    def __init__(self, message: str, *, hint: str | None = None, retryable: bool | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if retryable is not None:
            self.retryable = retryable

    def __str__(self) -> str:
        return f"{self.message} (hint: {self.hint})" if self.hint else self.message


class ConfigError(JudgeError):
    """An option, or a combination of options, is invalid."""


class RubricError(JudgeError):
    """A rubric file or object is invalid."""


class TemplateError(JudgeError):
    """A prompt template is missing or fails to render."""


class InputError(JudgeError):
    """User input (a sample, a file row, a field) is invalid."""


STORAGE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS, errno.ENOTCONN, errno.ESTALE}
)
"""Errors of the storage itself (full, too large, failing, read-only, gone), not of a path."""


class StorageError(JudgeError):
    """A file the judge writes could not be written: full disk, quota, file too large, I/O error.

    Retryable: what was written before stays whole, and the same command resumes (or rewrites)
    once there is room. The CLI exits with a code of its own for it (see cli.py).
    """

    retryable = True

    @classmethod
    def writing(cls, path: Path, exc: OSError, kept: str | None = None) -> StorageError:
        """The error for `exc` raised while writing `path`; `kept` says what stays written."""
        code = errno.errorcode.get(exc.errno, "") if exc.errno is not None else ""
        reason = exc.strerror or str(exc) or type(exc).__name__
        message = f"cannot write {path}: {reason}" + (f" ({code})" if code else "")
        if kept:
            message += f"; {kept}"
        return cls(message, hint=_storage_hint(path, exc.errno))

    @classmethod
    def from_os_error(cls, exc: OSError) -> StorageError:
        """The error for a storage failure met outside the writers that translate their own."""
        code = errno.errorcode.get(exc.errno, "") if exc.errno is not None else ""
        reason = exc.strerror or str(exc) or type(exc).__name__
        if exc.filename:
            path = Path(os.fsdecode(exc.filename))
            return cls(
                f"{path}: {reason}" + (f" ({code})" if code else ""),
                hint=_storage_hint(path, exc.errno),
            )
        return cls(
            f"cannot write an output: {reason}" + (f" ({code})" if code else ""),
            hint=_storage_hint(None, exc.errno),
        )


def _storage_hint(path: Path | None, number: int | None) -> str:
    where = _mount_point(path) if path is not None else "the disk it goes to"
    if number in (errno.ENOSPC, errno.EDQUOT):
        shown = f"{where} (df -h {where})" if path is not None else f"{where} (df -h)"
        return f"free space on {shown} or write elsewhere, then rerun"
    if number == errno.EFBIG:
        return "the file hit a size limit (ulimit -f, or the file system's): write elsewhere"
    if number == errno.EROFS:
        return f"{where} is mounted read-only: remount it or write elsewhere, then rerun"
    return f"check the disk and file system of {where} (dmesg), or write elsewhere, then rerun"


def _mount_point(path: Path) -> Path:
    """The mount point holding `path` (or the path itself where it cannot be told)."""
    try:
        current = path.absolute().parent
        while not os.path.ismount(current) and current != current.parent:
            current = current.parent
    except OSError:
        return path
    return current


class BackendError(JudgeError):
    """A model backend failed."""


class BackendUnavailableError(BackendError):
    """The backend cannot run on this machine or is not reachable."""


class GenerationError(BackendError):
    """A generation call failed."""

    retryable = True


class VerdictParseError(JudgeError):
    """A model output could not be read as a verdict."""

    retryable = True


def describe_validation_error(exc: ValidationError, whole: str = "row") -> str:
    """One line naming each invalid field and what is wrong (`whole`: the name of the record)."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or whole
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "missing"
        elif error["type"] == "extra_forbidden":
            message = "unknown field"
        parts.append(f"{where}: {message}")
    return "; ".join(parts)
