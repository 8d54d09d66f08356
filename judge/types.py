"""Pydantic models that cross module boundaries: rubrics, samples and pairs, and the rest by name.

Requests and generations live in `judge.generations`, verdicts and judgments in
`judge.judgments`, their shared values in `judge.values`; all are re-exported here.

All are frozen and reject unknown fields, so a typo in a user file is an error, and every model
round-trips exactly through JSON (``Model.model_validate_json(m.model_dump_json()) == m``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import (
    Field,
    ValidationInfo,
    computed_field,
    field_validator,
    model_validator,
)

from judge.generations import ChoiceProbe as ChoiceProbe
from judge.generations import Constraint as Constraint
from judge.generations import FinishReason as FinishReason
from judge.generations import Generation as Generation
from judge.generations import GenerationRequest as GenerationRequest
from judge.generations import SamplingParams as SamplingParams
from judge.generations import Usage as Usage
from judge.judgment_parts import Agreement as Agreement
from judge.judgment_parts import LikertRating as LikertRating
from judge.judgment_parts import RouteChoice as RouteChoice
from judge.judgments import CriterionVerdict as CriterionVerdict
from judge.judgments import Judgment as Judgment
from judge.judgments import PairJudgment as PairJudgment
from judge.values import ErrorKind as ErrorKind
from judge.values import FrozenModel as FrozenModel
from judge.values import Message as Message
from judge.values import Role as Role
from judge.values import stable_hash as stable_hash

CriterionKind = Literal["hard_rule", "principle"]
TaskType = Literal["objective", "subjective", "auto"]
_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_\-.]*$")


class Provenance(FrozenModel):
    """Where a criterion came from: the library, a generator, or a decomposition of a parent."""

    source: Literal["library", "user", "generated", "contrastive", "decomposed"] = "library"
    parent: str | None = None
    detail: str | None = None


class Criterion(FrozenModel):
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


class DroppedCriterion(FrozenModel):
    """A criterion removed during refinement, and why."""

    criterion: Criterion
    reason: str


class Rubric(FrozenModel):
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


def _no_surrogates(value: str, field: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"{field} is not valid UTF-8 (byte sequence at character {exc.start})"
        ) from None
    return value


class _Conversation(FrozenModel):
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
    """A response to judge, in the context of its prompt (or chat messages).

    A blank response (empty or whitespace) is valid input: the judge fails it on every criterion
    by rule, without a model call (see `judge.runner.strategies.empty_judgment`).
    """

    response: str

    @field_validator("response")
    @classmethod
    def _response_valid(cls, value: str) -> str:
        return _no_surrogates(value, "response")


class Pair(_Conversation):
    """Two responses to the same prompt, to compare.

    A blank response is valid input: it loses to a non-blank one, and two blank ones tie, by
    rule and without a model call (see `judge.runner.pairwise.pair_flow`).
    """

    response_a: str
    response_b: str

    @field_validator("response_a", "response_b")
    @classmethod
    def _responses_valid(cls, value: str, info: ValidationInfo) -> str:
        return _no_surrogates(value, str(info.field_name))
