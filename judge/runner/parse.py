"""Read a verdict (yes/no, rationale, P(yes)) from a generation."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from judge.errors import VerdictParseError
from judge.runner.formats import VERDICT_CHOICES, scored_choice
from judge.types import CriterionVerdict, ErrorKind, Generation

_VERDICT_RE = re.compile(r'"verdict"\s*:\s*"(yes|no)"', re.IGNORECASE)
_RATIONALE_RE = re.compile(r'"rationale"\s*:\s*"((?:[^"\\]|\\.)*)"', re.DOTALL)


def parse_verdict_text(text: str) -> tuple[str, str]:
    """Return (verdict, rationale) from a model output; raise VerdictParseError if there is none.

    Constrained outputs are exact JSON; unconstrained ones may wrap it in prose or code fences,
    so the verdict field is also searched for directly.
    """
    stripped = text.strip()
    try:
        data = json.loads(stripped)
    except json.JSONDecodeError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("verdict"), str):
        verdict = data["verdict"].strip().lower()
        if verdict in ("yes", "no"):
            rationale = data.get("rationale")
            return verdict, rationale.strip() if isinstance(rationale, str) else ""
    found = _VERDICT_RE.search(stripped)
    if found is None:
        raise VerdictParseError(
            f"no yes/no verdict in model output {stripped[:120]!r}",
            hint="use a backend with structured output, or a stronger model",
        )
    rationale_match = _RATIONALE_RE.search(stripped)
    rationale = rationale_match.group(1) if rationale_match else ""
    return found.group(1).lower(), rationale.strip()


@dataclass(frozen=True)
class Failure:
    """Why an output is unusable: its kind (what code reads) and its message (what people read)."""

    kind: ErrorKind
    message: str


def output_failure(generation: Generation, parse: Callable[[str], object]) -> Failure | None:
    """The backend's failure, a cut output, or `parse`'s VerdictParseError; None when usable.

    A scored generation (reasoning none: no text, choice probabilities) is usable as it is.
    """
    if generation.error is not None:
        return Failure(generation.error_kind or ErrorKind.GENERATION, generation.error)
    if not generation.text and generation.choice_probs:
        return None
    if generation.finish_reason == "length":
        message = f"output cut at the token limit: {generation.text[-80:]!r}"
        return Failure(ErrorKind.TRUNCATED, message)
    try:
        parse(generation.text)
    except VerdictParseError as exc:
        return Failure(ErrorKind.UNPARSEABLE, exc.message)
    return None


def first_kind(kinds: Iterable[ErrorKind | None]) -> ErrorKind:
    """The kind of a failure made of several: the first one's (a generation failure if none)."""
    return next((kind for kind in kinds if kind is not None), ErrorKind.GENERATION)


def read_verdict(criterion_id: str, generation: Generation) -> CriterionVerdict:
    """Turn one generation into a CriterionVerdict; failures become the verdict's `error`."""
    failure = output_failure(generation, parse_verdict_text)
    if failure is not None:
        return CriterionVerdict(
            criterion_id=criterion_id, error=failure.message, error_kind=failure.kind
        )
    scored = scored_choice(generation, VERDICT_CHOICES)
    verdict, rationale = (scored, "") if scored else parse_verdict_text(generation.text)
    p_yes = None
    if generation.choice_probs is not None:
        total = sum(generation.choice_probs.get(choice, 0.0) for choice in ("yes", "no"))
        if total > 0:
            p_yes = min(1.0, max(0.0, generation.choice_probs.get("yes", 0.0) / total))
    return CriterionVerdict(
        criterion_id=criterion_id, verdict=verdict, p_yes=p_yes, rationale=rationale
    )


def verdict_check(criterion_id: str) -> Callable[[Generation], str | None]:
    """A round's usability check for verdict requests: why the output is no verdict, or None."""
    return lambda generation: read_verdict(criterion_id, generation).error
