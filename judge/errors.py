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
 ├── BackendError                a model backend failed
 │    ├── BackendUnavailableError   the backend cannot run here (no CUDA, not installed, down)
 │    └── GenerationError           a generation call failed
 └── VerdictParseError           a model output could not be read as a verdict
```
"""

from __future__ import annotations


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
