"""The values every boundary type is built from: the frozen base, failure kinds, chat messages.

`judge.types` re-exports the public names (``from judge.types import ErrorKind, Message``).
"""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

Role = Literal["system", "user", "assistant", "tool"]
"""A chat role; ``tool`` is a tool's result inside a judged conversation (data, never a request
role)."""


class FrozenModel(BaseModel):
    """Frozen, and unknown fields are an error (a typo in a user file is refused)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ErrorKind(StrEnum):
    """What kind of failure an `error` is, set where the failure is born.

    Retry decisions, CLI summaries, batch records and reward failure counts read this field,
    never the error message.
    """

    TRUNCATED = "truncated"
    """The output was cut at the token limit."""
    CONTEXT_OVERFLOW = "context_overflow"
    """The prompt (plus the tokens to generate) does not fit the model's context: never retried."""
    UNPARSEABLE = "unparseable"
    """The output was complete but no verdict (or answer) could be read from it."""
    GENERATION = "generation"
    """The backend failed to generate (an exception, an error answer, an aborted request)."""
    TIMEOUT = "timeout"
    """The judgment did not arrive in time."""
    INVALID_INPUT = "invalid_input"
    """The input could not be judged (a bad row, an empty response): never retried."""
    ABSTAINED = "abstained"
    """The calibrated score fell inside `JudgeSettings.abstain_band`: no verdict, by choice."""


class MayFail(FrozenModel):
    """A value that may be a failure: `error` (the message) and `error_kind` go together."""

    @model_validator(mode="before")
    @classmethod
    def _kind_of_error(cls, data: Any) -> Any:
        # A failure reported without a kind is a generation failure: the kind is never guessed
        # from the message.
        failed = isinstance(data, dict) and data.get("error") is not None
        if failed and data.get("error_kind") is None:
            return {**data, "error_kind": ErrorKind.GENERATION}
        return data

    @model_validator(mode="after")
    def _kind_needs_error(self) -> Any:
        if getattr(self, "error", None) is None and getattr(self, "error_kind", None) is not None:
            raise ValueError("error_kind is set without an error")
        return self


def stable_hash(payload: Any) -> str:
    """Return a short SHA-256 of canonical JSON: equal content, equal hash, on any machine."""
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class Message(FrozenModel):
    """One chat message."""

    role: Role
    content: str
