"""Pydantic models that cross module boundaries: rubrics, samples, requests, verdicts, judgments.

All are frozen and reject unknown fields, so a typo in a user file is an error, and every model
round-trips exactly through JSON (``Model.model_validate_json(m.model_dump_json()) == m``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from enum import StrEnum
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    computed_field,
    field_validator,
    model_validator,
)

CriterionKind = Literal["hard_rule", "principle"]
TaskType = Literal["objective", "subjective", "auto"]
Role = Literal["system", "user", "assistant", "tool"]
"""A chat role; ``tool`` is a tool's result inside a judged conversation (data, never a request
role)."""
FinishReason = Literal["stop", "length", "error"]

_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_\-.]*$")


class _Frozen(BaseModel):
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


class _MayFail(_Frozen):
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


class Provenance(_Frozen):
    """Where a criterion came from: the library, a generator, or a decomposition of a parent."""

    source: Literal["library", "user", "generated", "contrastive", "decomposed"] = "library"
    parent: str | None = None
    detail: str | None = None


class Criterion(_Frozen):
    """One atomic yes/no check of a response.

    `hard_rule` is an explicit constraint of the request (failing it caps the score);
    `principle` is an implicit quality. A criterion with children is judged through them.
    """

    id: str
    text: str = Field(min_length=1)
    kind: CriterionKind = "principle"
    weight: float = Field(default=1.0, ge=0.0)
    children: tuple[Criterion, ...] = ()
    provenance: Provenance = Provenance()

    @field_validator("id")
    @classmethod
    def _id_is_slug(cls, value: str) -> str:
        if not _ID_PATTERN.match(value):
            raise ValueError(
                f"id {value!r} must be lowercase letters, digits, '_', '-' or '.', "
                "starting with a letter or digit"
            )
        return value

    @field_validator("text")
    @classmethod
    def _text_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text is blank")
        return value.strip()

    def leaves(self) -> Iterator[Criterion]:
        """Yield the criteria that are judged: this one, or its descendants without children."""
        if not self.children:
            yield self
            return
        for child in self.children:
            yield from child.leaves()


class DroppedCriterion(_Frozen):
    """A criterion removed during refinement, and why."""

    criterion: Criterion
    reason: str


class Rubric(_Frozen):
    """A named set of criteria; its fingerprint is a stable hash of its content."""

    name: str = Field(min_length=1)
    description: str = ""
    task_type: TaskType = "auto"
    version: str = "1"
    criteria: tuple[Criterion, ...] = Field(min_length=1)
    dropped: tuple[DroppedCriterion, ...] = ()
    weighting: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _check_fingerprint(cls, data: Any) -> Any:
        if isinstance(data, dict) and "fingerprint" in data:
            data = dict(data)
            claimed = data.pop("fingerprint")
            actual = cls.model_validate(data).fingerprint
            if claimed != actual:
                raise ValueError(
                    f"fingerprint {claimed!r} does not match the content ({actual!r}): "
                    "the rubric was edited after it was written; drop the field to accept it"
                )
        return data

    @model_validator(mode="after")
    def _ids_unique(self) -> Rubric:
        seen: set[str] = set()
        for criterion in self.all_criteria():
            if criterion.id in seen:
                raise ValueError(f"criterion id {criterion.id!r} appears more than once")
            seen.add(criterion.id)
        return self

    def all_criteria(self) -> Iterator[Criterion]:
        """Yield every criterion of the tree, parents before children."""
        stack = list(reversed(self.criteria))
        while stack:
            criterion = stack.pop()
            yield criterion
            stack.extend(reversed(criterion.children))

    def leaves(self) -> tuple[Criterion, ...]:
        """The criteria that are judged, in rubric order."""
        return tuple(leaf for criterion in self.criteria for leaf in criterion.leaves())

    @computed_field  # type: ignore[prop-decorator]
    @property
    def fingerprint(self) -> str:
        """A stable hash of the rubric's content (everything but the fingerprint itself)."""
        return stable_hash(self.model_dump(mode="json", exclude={"fingerprint"}))


class Message(_Frozen):
    """One chat message."""

    role: Role
    content: str


def _no_surrogates(value: str, field: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"{field} is not valid UTF-8 (byte sequence at character {exc.start})"
        ) from None
    return value


class _Conversation(_Frozen):
    """Fields shared by things judged in the context of a prompt or a conversation."""

    id: str = Field(min_length=1)
    prompt: str | None = None
    messages: tuple[Message, ...] | None = None
    reference: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _has_prompt(self) -> _Conversation:
        if self.prompt is None and not self.messages:
            raise ValueError("needs a prompt or messages")
        if self.prompt is not None and self.messages:
            raise ValueError("give a prompt or messages, not both")
        if self.prompt is not None and not self.prompt.strip():
            raise ValueError("prompt is empty")
        for name in ("prompt", "reference"):
            value = getattr(self, name)
            if value is not None:
                _no_surrogates(value, name)
        for index, message in enumerate(self.messages or ()):
            _no_surrogates(message.content, f"messages[{index}].content")
        return self

    @property
    def conversation(self) -> tuple[Message, ...]:
        """The prompt as messages (a plain prompt is one user message)."""
        if self.messages:
            return self.messages
        assert self.prompt is not None
        return (Message(role="user", content=self.prompt),)


class Sample(_Conversation):
    """A response to judge, in the context of its prompt (or chat messages)."""

    response: str

    @field_validator("response")
    @classmethod
    def _response_valid(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("response is empty")
        return _no_surrogates(value, "response")


class Pair(_Conversation):
    """Two responses to the same prompt, to compare."""

    response_a: str
    response_b: str

    @field_validator("response_a", "response_b")
    @classmethod
    def _responses_valid(cls, value: str, info: ValidationInfo) -> str:
        if not value.strip():
            raise ValueError(f"{info.field_name} is empty")
        return _no_surrogates(value, str(info.field_name))


class Constraint(_Frozen):
    """A grammar the output must follow: a regex, or a JSON schema (as a JSON string)."""

    kind: Literal["regex", "json_schema"]
    value: str


class ChoiceProbe(_Frozen):
    """Read P(choice) where the output reaches `marker`, from the first token of each choice.

    The backend renormalises over the choice set, so the probabilities sum to 1.
    """

    marker: str
    choices: tuple[str, ...] = Field(min_length=2)


class SamplingParams(_Frozen):
    """Decoding settings of one request."""

    max_new_tokens: int = Field(default=256, ge=1)
    temperature: float = Field(default=0.0, ge=0.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    seed: int | None = None
    n: int = Field(default=1, ge=1)


class GenerationRequest(_Frozen):
    """One generation asked of a backend.

    `prefix_group` names requests that share a prompt prefix (same sample, different criteria):
    backends with a prefix cache use it to compute the shared part once.
    """

    id: str
    messages: tuple[Message, ...] = Field(min_length=1)
    sampling: SamplingParams = SamplingParams()
    constraint: Constraint | None = None
    probe: ChoiceProbe | None = None
    prefix_group: str | None = None
    score_after: str | None = None
    """No decoding: the reply begins with this text, and the backend returns the `probe`'s choice
    probabilities of the next token (one forward pass, empty text, no constraint)."""


class Usage(_Frozen):
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


class Generation(_MayFail):
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


class CriterionVerdict(_MayFail):
    """The judge's reading of one criterion on one response."""

    criterion_id: str
    verdict: Literal["yes", "no"] | None = None
    p_yes: float | None = Field(default=None, ge=0.0, le=1.0)
    rationale: str = ""
    error: str | None = None
    error_kind: ErrorKind | None = None


class RouteChoice(_Frozen):
    """How the `auto` strategy routed a sample (`Judgment.route`)."""

    route: Literal["objective", "subjective"]
    p_route: float | None = None
    """P(route) from the token probabilities; None when the backend gives none."""
    source: Literal["rubric", "model", "fallback"]
    """The rubric's task type, the judge's answer, or the fallback when routing failed."""
    probabilities: dict[str, float] | None = None
    note: str | None = None


class Agreement(_Frozen):
    """Self-consistency of K draws per criterion (`Judgment.consistency`)."""

    samples: int
    agreement: float
    """Weighted mean over the criteria of the share of draws that agree with the verdict."""
    by_criterion: dict[str, float] = Field(default_factory=dict)
    sample_scores: tuple[float | None, ...] = ()
    """The score of each draw alone (None where a draw failed)."""


class LikertRating(_Frozen):
    """A 1-N rating read from the score tokens (`Judgment.likert`, G-Eval's expected value)."""

    scale: int
    scores: tuple[int, ...] = ()
    probabilities: dict[str, float] | None = None
    expected: float | None = None
    normalised: float | None = None
    """`expected` mapped to [0, 1]."""
    rationale: str = ""
    error: str | None = None


class Judgment(_MayFail):
    """The result of judging one sample. A failure is a value: `error` is set, `score` is None."""

    sample_id: str
    score: float | None = Field(default=None, ge=0.0, le=1.0)
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    verdicts: tuple[CriterionVerdict, ...] = ()
    model: str = ""
    rubric: str = ""
    rubric_fingerprint: str = ""
    template_fingerprint: str = ""
    settings_fingerprint: str = ""
    strategy: str = "breadth"
    mode: Literal["pointwise", "pairwise"] = "pointwise"
    capped_by: tuple[str, ...] = ()
    usage: Usage = Usage()
    error: str | None = None
    error_kind: ErrorKind | None = None
    route: RouteChoice | None = None
    consistency: Agreement | None = None
    likert: LikertRating | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class PairJudgment(_MayFail):
    """The result of comparing two responses in both orders."""

    pair_id: str
    p_a: float | None = Field(default=None, ge=0.0, le=1.0)
    winner: Literal["a", "b", "tie"] | None = None
    consistent: bool | None = None
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    p_a_ab: float | None = None
    p_a_ba: float | None = None
    winner_ab: Literal["a", "b", "tie"] | None = None
    """The winner with A shown first (direct comparison)."""
    winner_ba: Literal["a", "b", "tie"] | None = None
    """The winner with B shown first (direct comparison)."""
    margin: float | None = None
    """The rubric margin of A over B (rubric comparison), in [-1, 1]."""
    model: str = ""
    rubric_fingerprint: str = ""
    template_fingerprint: str = ""
    settings_fingerprint: str = ""
    strategy: str = "direct"
    usage: Usage = Usage()
    error: str | None = None
    error_kind: ErrorKind | None = None
    details: dict[str, Any] = Field(default_factory=dict)
