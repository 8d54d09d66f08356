"""Combine per-criterion verdicts into a score in [0, 1] and a confidence.

Score: the weight-normalised mean of P(yes) over the rubric's judged criteria (of the 0/1
verdicts when the backend gives no probabilities). Hard rules cap it: the score never exceeds
the P(yes) of any hard rule, because a response is only as good as the judge's belief that it
meets every explicit requirement; a hard rule judged "no" without probabilities caps it at 0.
Confidence: the weight-normalised mean of max(P(yes), 1 - P(yes)), the probability the judge
gives its own verdicts; None when probabilities are unavailable (never invented from text).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from judge.types import Criterion, CriterionVerdict


@dataclass(frozen=True)
class Aggregate:
    """A score, a confidence, and the hard rules that capped the score."""

    score: float
    confidence: float | None
    capped_by: tuple[str, ...]


def normalised_weights(criteria: Sequence[Criterion]) -> list[float]:
    """Criterion weights scaled to sum to 1 (uniform when every weight is 0)."""
    weights = [criterion.weight for criterion in criteria]
    if sum(weights) == 0:
        weights = [1.0] * len(criteria)
    total = sum(weights)
    return [weight / total for weight in weights]


def verdict_values(verdicts: Sequence[CriterionVerdict]) -> list[float]:
    """P(yes) of each verdict when every one has it, else the 0/1 verdicts (never a mix)."""
    with_probs = all(verdict.p_yes is not None for verdict in verdicts)
    return [
        verdict.p_yes
        if with_probs and verdict.p_yes is not None
        else float(verdict.verdict == "yes")
        for verdict in verdicts
    ]


def aggregate(
    criteria: Sequence[Criterion],
    verdicts: Sequence[CriterionVerdict],
    *,
    hard_rule_cap: bool = True,
) -> Aggregate:
    """Aggregate verdicts (one per criterion, same order, none failed) into a score."""
    if len(criteria) != len(verdicts) or not criteria:
        raise ValueError(f"{len(verdicts)} verdicts for {len(criteria)} criteria")
    weights = normalised_weights(criteria)
    with_probs = all(verdict.p_yes is not None for verdict in verdicts)
    values = verdict_values(verdicts)
    score = sum(w * v for w, v in zip(weights, values, strict=True))
    capped_by: list[str] = []
    if hard_rule_cap:
        for criterion, value in zip(criteria, values, strict=True):
            if criterion.kind == "hard_rule" and value < score:
                capped_by.append(criterion.id)
        hard_values = [v for c, v in zip(criteria, values, strict=True) if c.kind == "hard_rule"]
        if hard_values:
            score = min(score, min(hard_values))
    confidence = None
    if with_probs:
        confidence = sum(w * max(v, 1.0 - v) for w, v in zip(weights, values, strict=True))
    return Aggregate(
        score=min(1.0, max(0.0, score)), confidence=confidence, capped_by=tuple(capped_by)
    )
