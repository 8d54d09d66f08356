"""What the runner asks of a backend and what it gets back: requests, generations, token usage.

`judge.types` re-exports these names (``from judge.types import GenerationRequest``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import Field

from judge.values import ErrorKind, FrozenModel, MayFail, Message

FinishReason = Literal["stop", "length", "error"]


class Constraint(FrozenModel):
    """A grammar the output must follow: a regex, or a JSON schema (as a JSON string)."""

    kind: Literal["regex", "json_schema"]
    value: str


class ChoiceProbe(FrozenModel):
    """Read P(choice) where the output reaches `marker`, from the first token of each choice.

    The backend renormalises over the choice set, so the probabilities sum to 1.
    """

    marker: str
    choices: tuple[str, ...] = Field(min_length=2)


class SamplingParams(FrozenModel):
    """Decoding settings of one request."""

    max_new_tokens: int = Field(default=256, ge=1)
    temperature: float = Field(default=0.0, ge=0.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    seed: int | None = None
    n: int = Field(default=1, ge=1)


class GenerationRequest(FrozenModel):
    """One generation asked of a backend, or with `score_after` one scored step (see Capabilities).

    `prefix_group` names requests that share a prompt prefix (same sample, different criteria):
    backends with a prefix cache use it to compute the shared part once.
    """

    id: str
    messages: tuple[Message, ...] = Field(min_length=1)
    sampling: SamplingParams = SamplingParams()
    constraint: Constraint | None = None
    probe: ChoiceProbe | None = None
    prefix_group: str | None = None
    deadline: float | None = None
    """When nobody waits any more, on this process's ``time.monotonic()`` clock (None: never).
    A backend does not start a request past it and stops it when it can (kind ``timeout``)."""
    score_after: str | None = None


class Usage(FrozenModel):
    """Token counts; `cached_tokens` are prompt tokens a prefix cache served."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
        )

    @classmethod
    def total(cls, usages: Iterable[Usage]) -> Usage:
        """The sum of many counts, built once (the runner sums one per generation)."""
        prompt = completion = cached = 0
        for usage in usages:
            prompt += usage.prompt_tokens
            completion += usage.completion_tokens
            cached += usage.cached_tokens
        return cls(prompt_tokens=prompt, completion_tokens=completion, cached_tokens=cached)


class Generation(MayFail):
    """One backend output. With ``n > 1`` a request yields n generations, `sample_index` 0..n-1."""

    request_id: str
    sample_index: int = 0
    text: str = ""
    choice_probs: dict[str, float] | None = None
    probs_source: str | None = None
    usage: Usage = Usage()
    finish_reason: FinishReason = "stop"
    error: str | None = None
    error_kind: ErrorKind | None = None
