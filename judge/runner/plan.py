"""Turn samples x criteria into generation requests, laid out prefix-first.

Every request of one sample renders the same system message and the same user-message prefix
(rubric, conversation, response, reference) and ends with its criterion, so a prefix cache
(SGLang's radix cache, the Transformers backend's shared prefill) computes the prefix once.
Requests of a sample are adjacent and carry the same `prefix_group`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from judge.backends.base import Capabilities
from judge.prompting import PromptLibrary
from judge.runner.formats import (
    VERDICT_CHOICES,
    VERDICT_MARKER,
    verdict_constraint,
    verdict_max_tokens,
    verdict_regex,
    verdict_schema,
)
from judge.runner.requests import POINTWISE_TEMPLATE, SYSTEM_TEMPLATE, RequestBuilder
from judge.settings import DEFAULTS
from judge.types import Criterion, GenerationRequest, Rubric, Sample

__all__ = [
    "POINTWISE_TEMPLATE",
    "SYSTEM_TEMPLATE",
    "VERDICT_CHOICES",
    "VERDICT_MARKER",
    "PlannedRequest",
    "PointwisePlanner",
    "verdict_constraint",
    "verdict_max_tokens",
    "verdict_regex",
    "verdict_schema",
]


@dataclass(frozen=True)
class PlannedRequest:
    """A request and what it judges: which sample (by position) and which criterion."""

    request: GenerationRequest
    sample_index: int
    criterion: Criterion


@dataclass(frozen=True)
class PointwisePlanner:
    """Renders pointwise per-criterion (breadth) requests from one prompt library and settings."""

    prompts: PromptLibrary
    capabilities: Capabilities
    max_rationale_chars: int = DEFAULTS.max_rationale_chars
    temperature: float = DEFAULTS.temperature
    seed: int | None = DEFAULTS.seed

    @property
    def template_names(self) -> tuple[str, ...]:
        """The templates its requests render."""
        return (SYSTEM_TEMPLATE, POINTWISE_TEMPLATE)

    def plan(
        self, samples: Sequence[Sample], rubric: Rubric, *, only: set[str] | None = None
    ) -> list[PlannedRequest]:
        """One request per (sample, criterion), grouped by sample, criteria in rubric order.

        `only` restricts the plan to those request ids (a retry round).
        """
        builder = RequestBuilder(
            prompts=self.prompts,
            capabilities=self.capabilities,
            max_rationale_chars=self.max_rationale_chars,
            temperature=self.temperature,
            seed=self.seed,
        )
        planned = []
        for index, sample in enumerate(samples):
            for criterion in rubric.leaves():
                if only is not None and f"s{index}/{criterion.id}" not in only:
                    continue
                request = builder.verdict(index, sample, rubric, criterion)
                planned.append(PlannedRequest(request, index, criterion))
        return planned
