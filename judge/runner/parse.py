"""Read a verdict (yes/no, rationale, P(yes)) from a generation."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from judge.errors import VerdictParseError
from judge.runner.formats import VERDICT_CHOICES, scored_choice
from judge.types import CriterionVerdict, ErrorKind, Generation

_VERDICT_RE = re.compile(r'"verdict"\s*:\s*"(yes|no)"', re.IGNORECASE)
# The verdict grammar's output (formats.verdict_regex): no quote, backslash or control character
# in the rationale, so its JSON string is its text.
_CONSTRAINED_RE = re.compile(r'\{"rationale": "([^"\\\x00-\x1f]*)", "verdict": "(yes|no)"\}')
_RATIONALE_RE = re.compile(r'"rationale"\s*:\s*"((?:[^"\\]|\\.)*)"', re.DOTALL)


def parse_verdict_text(text: str) -> tuple[str, str]:
    """Return (verdict, rationale) from a model output; raise VerdictParseError if there is none.

    Constrained outputs are exact JSON; unconstrained ones may wrap it in prose or code fences,
    so the verdict field is also searched for directly.
    """
    stripped = text.strip()
    exact = _CONSTRAINED_RE.fullmatch(stripped)
    if exact is not None:  # the constrained output: what json.loads would read, read directly
        return exact.group(2), exact.group(1).strip()
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


SCORED: Literal["scored"] = "scored"
"""`unparsed_failure`'s answer for a scored generation (reasoning none: no text, choice
probabilities), usable as it is."""


def unparsed_failure(generation: Generation) -> Failure | Literal["scored"] | None:
    """The checks before a parse, in order: the backend's failure, `SCORED`, a cut output.

    None: the text is to be parsed.
    """
    if generation.error is not None:
        return Failure(generation.error_kind or ErrorKind.GENERATION, generation.error)
    if not generation.text and generation.choice_probs:
        return SCORED
    if generation.finish_reason == "length":
        message = f"output cut at the token limit: {generation.text[-80:]!r}"
        return Failure(ErrorKind.TRUNCATED, message)
    return None


def output_failure(generation: Generation, parse: Callable[[str], object]) -> Failure | None:
    """The backend's failure, a cut output, or `parse`'s VerdictParseError; None when usable.

    A scored generation (reasoning none: no text, choice probabilities) is usable as it is.
    """
    found = unparsed_failure(generation)
    if isinstance(found, Failure):
        return found
    if found == SCORED:
        return None
    try:
        parse(generation.text)
    except VerdictParseError as exc:
        return Failure(ErrorKind.UNPARSEABLE, exc.message)
    return None


def first_kind(kinds: Iterable[ErrorKind | None]) -> ErrorKind:
    """The kind of a failure made of several: the first one's (a generation failure if none)."""
    return next((kind for kind in kinds if kind is not None), ErrorKind.GENERATION)


def read_verdict(criterion_id: str, generation: Generation) -> CriterionVerdict:
    """Turn one generation into a CriterionVerdict; failures become the verdict's `error`.

    The checks of `output_failure` (`unparsed_failure`, then the parse), with the text parsed
    once.
    """
    found = unparsed_failure(generation)
    failure = found if isinstance(found, Failure) else None
    rationale = ""
    if found == SCORED:
        verdict = scored_choice(generation, VERDICT_CHOICES)
    elif found is None:
        try:
            verdict, rationale = parse_verdict_text(generation.text)
        except VerdictParseError as exc:
            failure = Failure(ErrorKind.UNPARSEABLE, exc.message)
    if failure is not None:
        return CriterionVerdict(
            criterion_id=criterion_id,
            error=failure.message,
            error_kind=failure.kind,
        )
    p_yes = None
    probs = generation.choice_probs
    if probs is not None:
        yes = probs.get("yes", 0.0)
        total = yes + probs.get("no", 0.0)
        if total > 0:
            p_yes = min(1.0, max(0.0, yes / total))
    return CriterionVerdict(
        criterion_id=criterion_id,
        verdict=verdict,
        p_yes=p_yes,
        rationale=rationale,
    )


class VerdictCheck:
    """A round's usability check for verdict requests that keeps what it read.

    The round calls it on every generation; the flow then merges the same readings
    (`reading`), so each output is parsed once.
    """

    __slots__ = ("_generation", "_more", "_verdict", "criterion_id")

    def __init__(self, criterion_id: str) -> None:
        self.criterion_id = criterion_id
        # The first generation read and its verdict, then (generation, verdict) pairs of a
        # request's other samples and retries. The generations are kept with their readings,
        # so none is confused with a new object.
        self._generation: Generation | None = None
        self._verdict: CriterionVerdict | None = None
        self._more: list[tuple[Generation, CriterionVerdict]] | None = None

    def reading(self, generation: Generation) -> CriterionVerdict:
        """The verdict read from `generation` (read on first sight, then remembered)."""
        if generation is self._generation and self._verdict is not None:
            return self._verdict
        for seen, verdict in self._more or ():
            if seen is generation:
                return verdict
        verdict = read_verdict(self.criterion_id, generation)
        if self._generation is None:
            self._generation, self._verdict = generation, verdict
        elif self._more is None:
            self._more = [(generation, verdict)]
        else:
            self._more.append((generation, verdict))
        return verdict

    def __call__(self, generation: Generation) -> str | None:
        """Why the output is no verdict, or None."""
        return self.reading(generation).error


def verdict_check(criterion_id: str) -> VerdictCheck:
    """A round's usability check for verdict requests: why the output is no verdict, or None."""
    return VerdictCheck(criterion_id)
