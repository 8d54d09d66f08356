"""Likert scores: a 1-N rating whose value is the probability-weighted mean of the score token.

G-Eval (Liu et al., 2023) reads the distribution over the score tokens "1".."N" instead of the
one sampled digit: E[s] = sum_k k * P(k). It breaks the ties of integer ratings and moves
smoothly with the judge's belief. Without token probabilities the sampled digits are averaged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from judge.runner.formats import likert_format
from judge.runner.parse import Failure, first_kind, output_failure
from judge.types import ErrorKind, Generation, LikertRating


def expected_score(probabilities: Mapping[str, float], scale: int) -> float:
    """sum_k k * P(k) over k = 1..scale, renormalised over the scale's digits."""
    mass = {k: probabilities.get(str(k), 0.0) for k in range(1, scale + 1)}
    total = sum(mass.values())
    if not total > 0:
        raise ValueError(f"no probability mass on the scores 1..{scale}: {dict(probabilities)}")
    return sum(k * p for k, p in mass.items()) / total


@dataclass(frozen=True)
class LikertReading:
    """The scores the judge wrote, the mean distribution, and the expected score (or an error)."""

    scale: int
    scores: tuple[int, ...] = ()
    probabilities: dict[str, float] | None = None
    expected: float | None = None
    rationale: str = ""
    error: str | None = None
    error_kind: ErrorKind | None = None

    def as_rating(self) -> LikertRating:
        """The reading as the judgment's typed `likert` field."""
        normalised = None
        if self.expected is not None:
            normalised = (self.expected - 1) / (self.scale - 1)
        return LikertRating(
            scale=self.scale,
            scores=self.scores,
            probabilities=self.probabilities,
            expected=self.expected,
            normalised=normalised,
            rationale=self.rationale,
            error=self.error,
        )


def likert_failure(generation: Generation, scale: int, rationale_chars: int) -> Failure | None:
    """Why a generation is not a usable Likert answer (None when it is)."""
    return output_failure(generation, likert_format(scale, rationale_chars).parse)


def likert_error(generation: Generation, scale: int, rationale_chars: int) -> str | None:
    """The message of `likert_failure` (a round's usability check)."""
    failure = likert_failure(generation, scale, rationale_chars)
    return None if failure is None else failure.message


def read_likert(
    generations: Sequence[Generation], scale: int, rationale_chars: int
) -> LikertReading:
    """Merge the K samples of a Likert request: mean distribution, its expected score.

    With probabilities from every sample, E[s] is taken under the mean distribution; otherwise
    it is the mean of the written digits (and `probabilities` is None).
    """
    output = likert_format(scale, rationale_chars)
    failures = [likert_failure(g, scale, rationale_chars) for g in generations]
    usable = [g for g, failure in zip(generations, failures, strict=True) if failure is None]
    if not usable:
        errors = [failure.message for failure in failures if failure is not None]
        kind = first_kind(failure.kind for failure in failures if failure is not None)
        return LikertReading(scale=scale, error="; ".join(dict.fromkeys(errors)), error_kind=kind)
    parsed = [output.read(generation) for generation in usable]
    scores = tuple(int(choice) for choice, _ in parsed)
    if all(generation.choice_probs is not None for generation in usable):
        probabilities = {
            str(k): sum((g.choice_probs or {}).get(str(k), 0.0) for g in usable) / len(usable)
            for k in range(1, scale + 1)
        }
        if sum(probabilities.values()) > 0:
            expected = expected_score(probabilities, scale)
            return LikertReading(scale, scores, probabilities, expected, parsed[0][1])
    return LikertReading(scale, scores, None, sum(scores) / len(scores), parsed[0][1])
