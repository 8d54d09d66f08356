"""The LLM overlap check of two criteria: how much of A does B already check; do they conflict.

The model answers ``{"overlap": 0..100, "conflict": "yes"|"no"}``; where the backend reads
choice probabilities, the conflict is P(yes) at the ``"conflict": "`` position, not only text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from judge.backends.base import Capabilities
from judge.prompting import PromptContext, PromptLibrary
from judge.types import (
    ChoiceProbe,
    Constraint,
    Generation,
    GenerationRequest,
    Message,
    SamplingParams,
)

OVERLAP_TEMPLATE = "rubric_overlap"
SYSTEM_TEMPLATE = "rubric_system"
CONFLICT_MARKER = '"conflict": "'
OVERLAP_REGEX = r'\{"overlap": (100|[1-9]?[0-9]), "conflict": "(yes|no)"\}'
OVERLAP_SCHEMA = json.dumps(
    {
        "type": "object",
        "properties": {
            "overlap": {"type": "integer", "minimum": 0, "maximum": 100},
            "conflict": {"type": "string", "enum": ["yes", "no"]},
        },
        "required": ["overlap", "conflict"],
        "additionalProperties": False,
    }
)
_OVERLAP_RE = re.compile(r'"?overlap"?\s*:\s*"?(\d{1,3})')
_CONFLICT_RE = re.compile(r'"?conflict"?\s*:\s*"?(yes|no)', re.IGNORECASE)


@dataclass(frozen=True)
class OverlapCheck:
    """The model's reading of a pair: overlap as a fraction in [0, 1], and whether they conflict."""

    overlap: float
    conflict: bool
    p_conflict: float | None = None


def overlap_request(
    request_id: str,
    candidate: str,
    accepted: str,
    *,
    prompts: PromptLibrary,
    capabilities: Capabilities,
    seed: int | None,
) -> GenerationRequest:
    """A request asking how much `candidate` overlaps `accepted`, and whether they conflict."""
    constraint = None
    if capabilities.structured_output:
        if "regex" in capabilities.constraint_kinds:
            constraint = Constraint(kind="regex", value=OVERLAP_REGEX)
        elif "json_schema" in capabilities.constraint_kinds:
            constraint = Constraint(kind="json_schema", value=OVERLAP_SCHEMA)
    context = PromptContext.from_data(criterion=candidate, criteria=(accepted,))
    return GenerationRequest(
        id=request_id,
        messages=(
            Message(role="system", content=prompts.render(SYSTEM_TEMPLATE, PromptContext())),
            Message(role="user", content=prompts.render(OVERLAP_TEMPLATE, context)),
        ),
        sampling=SamplingParams(max_new_tokens=32, temperature=0.0, seed=seed),
        constraint=constraint,
        probe=ChoiceProbe(marker=CONFLICT_MARKER, choices=("yes", "no")),
    )


def read_overlap(generation: Generation) -> OverlapCheck | None:
    """The check's result, or None if the output has none (the pair then counts as distinct)."""
    if generation.error is not None:
        return None
    overlap_match = _OVERLAP_RE.search(generation.text)
    conflict_match = _CONFLICT_RE.search(generation.text)
    if overlap_match is None and conflict_match is None:
        return None
    overlap = min(100, int(overlap_match.group(1))) / 100 if overlap_match else 0.0
    p_conflict = None
    if generation.choice_probs is not None:
        total = sum(generation.choice_probs.get(choice, 0.0) for choice in ("yes", "no"))
        if total > 0:
            p_conflict = generation.choice_probs.get("yes", 0.0) / total
    if p_conflict is not None:
        conflict = p_conflict >= 0.5
    else:
        conflict = conflict_match is not None and conflict_match.group(1).lower() == "yes"
    return OverlapCheck(overlap=overlap, conflict=conflict, p_conflict=p_conflict)


def overlap_check(generation: Generation) -> str | None:
    """Why an overlap output is unusable (asked again), or None when it holds a judgment."""
    return None if read_overlap(generation) is not None else "no overlap judgment in the output"
