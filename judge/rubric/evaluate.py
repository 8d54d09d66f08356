"""Evaluate criteria on a set of responses to one prompt: the P(yes) table the rubric engine reads.

The requests come from the runner's planner (`RequestBuilder.plan_verdicts`), so a criterion is
judged during refinement exactly as `Judge.score` will judge it later (same templates, prefix
and grammar).
Building the requests and reading the answers are separate steps, so a caller can put them in
one backend batch with other work (a refinement round).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from judge.backends.base import Capabilities
from judge.prompting import PromptLibrary
from judge.runner.aggregate import verdict_value
from judge.runner.parse import read_verdict
from judge.runner.requests import PlannedRequest, RequestBuilder
from judge.settings import DEFAULTS
from judge.types import (
    Criterion,
    CriterionVerdict,
    Generation,
    GenerationRequest,
    Message,
    Rubric,
    Sample,
)


@dataclass(frozen=True)
class VerdictTable:
    """Verdicts of criteria (by id) on responses (by position)."""

    criteria: tuple[str, ...]
    responses: int
    verdicts: Mapping[tuple[int, str], CriterionVerdict]

    def values(self, criterion_id: str) -> list[float | None]:
        """P(yes) (or 1/0) of one criterion on every response; None where evaluation failed."""
        return [verdict_value(self.verdicts[(i, criterion_id)]) for i in range(self.responses)]

    def passes(self, criterion_id: str, threshold: float) -> list[bool | None]:
        """Whether each response satisfies the criterion (value >= threshold); None if unknown."""
        return [None if v is None else v >= threshold for v in self.values(criterion_id)]

    def errors(self, criterion_id: str) -> list[str]:
        """The evaluation errors of one criterion."""
        return [
            error
            for i in range(self.responses)
            if (error := self.verdicts[(i, criterion_id)].error) is not None
        ]


@dataclass(frozen=True)
class Evaluation:
    """Planned verdict requests for criteria x responses; `read` turns generations into a table."""

    planned: tuple[PlannedRequest, ...]
    criteria: tuple[str, ...]
    responses: int

    @property
    def requests(self) -> list[GenerationRequest]:
        """The requests to send (grouped by response, so each response's prefix is shared)."""
        return [item.request for item in self.planned]

    def read(self, generations: Mapping[str, Sequence[Generation]]) -> VerdictTable:
        """Read one verdict per request from `generations` (request id -> its generations)."""
        verdicts = {
            (item.sample_index, item.criterion.id): read_verdict(
                item.criterion.id, generations[item.request.id][0]
            )
            for item in self.planned
        }
        return VerdictTable(criteria=self.criteria, responses=self.responses, verdicts=verdicts)


def plan_evaluation(
    criteria: Sequence[Criterion],
    conversation: Sequence[Message],
    responses: Sequence[str],
    *,
    prompts: PromptLibrary,
    capabilities: Capabilities,
    rubric_name: str,
    rubric_description: str = "",
    reference: str | None = None,
    max_rationale_chars: int = DEFAULTS.max_rationale_chars,
    seed: int | None = 0,
    id_prefix: str = "",
) -> Evaluation:
    """Plan one verdict request per (response, criterion); criteria are judged as leaves."""
    settings = DEFAULTS.updated(max_rationale_chars=max_rationale_chars, temperature=0.0, seed=seed)
    planner = RequestBuilder(prompts, capabilities, settings)
    leaves = tuple(criterion.model_copy(update={"children": ()}) for criterion in criteria)
    if not leaves or not responses:
        return Evaluation(
            planned=(), criteria=tuple(c.id for c in leaves), responses=len(responses)
        )
    rubric = Rubric(name=rubric_name, description=rubric_description, criteria=leaves)
    samples = [
        Sample(
            id=f"r{index}",
            messages=tuple(conversation),
            response=text,
            reference=reference,
        )
        for index, text in enumerate(responses)
    ]
    planned = planner.plan_verdicts(samples, rubric)
    if id_prefix:
        planned = [
            PlannedRequest(
                request=item.request.model_copy(
                    update={
                        "id": f"{id_prefix}{item.request.id}",
                        "prefix_group": f"{id_prefix}{item.request.prefix_group}",
                    }
                ),
                sample_index=item.sample_index,
                criterion=item.criterion,
            )
            for item in planned
        ]
    return Evaluation(
        planned=tuple(planned), criteria=tuple(c.id for c in leaves), responses=len(responses)
    )
