"""Turn samples x criteria into generation requests, laid out prefix-first.

Every request of one sample renders the same system message and the same user-message prefix
(rubric, conversation, response, reference) and ends with its criterion, so a prefix cache
(SGLang's radix cache, the Transformers backend's shared prefill) computes the prefix once.
Requests of a sample are adjacent and carry the same `prefix_group`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from judge.backends.base import Capabilities
from judge.prompting import PromptContext, PromptLibrary
from judge.types import (
    ChoiceProbe,
    Constraint,
    Criterion,
    GenerationRequest,
    Message,
    Rubric,
    Sample,
    SamplingParams,
)

VERDICT_MARKER = '"verdict": "'
VERDICT_CHOICES = ("yes", "no")
SYSTEM_TEMPLATE = "judge_system"
POINTWISE_TEMPLATE = "pointwise_breadth"


def verdict_regex(max_rationale_chars: int) -> str:
    """The output grammar: a bounded rationale (no quotes, backslashes or newlines), then yes/no."""
    return (
        r'\{"rationale": "[^"\\\n]{0,' + str(max_rationale_chars) + r'}", "verdict": "(yes|no)"\}'
    )


def verdict_schema(max_rationale_chars: int) -> str:
    """The same output as a JSON schema, for backends that take schemas but not regexes."""
    schema = {
        "type": "object",
        "properties": {
            "rationale": {"type": "string", "maxLength": max_rationale_chars},
            "verdict": {"type": "string", "enum": list(VERDICT_CHOICES)},
        },
        "required": ["rationale", "verdict"],
        "additionalProperties": False,
    }
    return json.dumps(schema)


def verdict_constraint(capabilities: Capabilities, max_rationale_chars: int) -> Constraint | None:
    """The strongest verdict constraint the backend honours, or None if it honours none."""
    if not capabilities.structured_output:
        return None
    if "regex" in capabilities.constraint_kinds:
        return Constraint(kind="regex", value=verdict_regex(max_rationale_chars))
    if "json_schema" in capabilities.constraint_kinds:
        return Constraint(kind="json_schema", value=verdict_schema(max_rationale_chars))
    return None


def verdict_max_tokens(max_rationale_chars: int) -> int:
    """Enough new tokens for the longest output the grammar allows (a token is >= 1 character)."""
    return max_rationale_chars + 32


@dataclass(frozen=True)
class PlannedRequest:
    """A request and what it judges: which sample (by position) and which criterion."""

    request: GenerationRequest
    sample_index: int
    criterion: Criterion


@dataclass(frozen=True)
class PointwisePlanner:
    """Renders pointwise per-criterion requests from one prompt library and settings."""

    prompts: PromptLibrary
    capabilities: Capabilities
    max_rationale_chars: int = 200
    temperature: float = 0.0
    seed: int | None = 0

    @property
    def template_names(self) -> tuple[str, ...]:
        """The templates these requests render (for the template fingerprint)."""
        return (SYSTEM_TEMPLATE, POINTWISE_TEMPLATE)

    def plan(
        self, samples: Sequence[Sample], rubric: Rubric, *, only: set[str] | None = None
    ) -> list[PlannedRequest]:
        """One request per (sample, criterion), grouped by sample, criteria in rubric order.

        `only` restricts the plan to those request ids (a retry round).
        """
        system = Message(
            role="system", content=self.prompts.render(SYSTEM_TEMPLATE, PromptContext())
        )
        constraint = verdict_constraint(self.capabilities, self.max_rationale_chars)
        probe = ChoiceProbe(marker=VERDICT_MARKER, choices=VERDICT_CHOICES)
        sampling = SamplingParams(
            max_new_tokens=verdict_max_tokens(self.max_rationale_chars),
            temperature=self.temperature,
            seed=self.seed,
        )
        planned = []
        for index, sample in enumerate(samples):
            for criterion in rubric.leaves():
                if only is not None and f"s{index}/{criterion.id}" not in only:
                    continue
                context = PromptContext.from_data(
                    rubric_name=rubric.name,
                    rubric_description=rubric.description,
                    conversation=[(m.role, m.content) for m in sample.conversation],
                    response=sample.response,
                    reference=sample.reference,
                    criterion=criterion.text,
                    criterion_kind=criterion.kind,
                    max_rationale_chars=self.max_rationale_chars,
                )
                user = Message(
                    role="user", content=self.prompts.render(POINTWISE_TEMPLATE, context)
                )
                request = GenerationRequest(
                    id=f"s{index}/{criterion.id}",
                    messages=(system, user),
                    sampling=sampling,
                    constraint=constraint,
                    probe=probe,
                    prefix_group=f"s{index}",
                )
                planned.append(
                    PlannedRequest(request=request, sample_index=index, criterion=criterion)
                )
        return planned
