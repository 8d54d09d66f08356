"""Combine per-criterion verdicts into a score in [0, 1] and a confidence.

Score: the weight-normalised mean of P(yes) over the rubric's judged criteria (of the 0/1
verdicts when the backend gives no probabilities). Under the cap rule (`hard_rule_cap`, score
rule ``cap``) hard rules cap it: the score never exceeds the P(yes) of any hard rule; a hard
rule judged "no" without probabilities caps it at 0.
With an anchor criterion (`JudgeSettings.reference_anchor`: agreement with the sample's
reference), the rest are aggregated as above and the anchor then places the score (`anchored`).
Confidence: the weight-normalised mean of max(P(yes), 1 - P(yes)), the probability the judge
gives its own verdicts; None when probabilities are unavailable (never invented from text).
Rubric margin (pairwise): the same weighted mean over A's values minus B's (`rubric_margin`).
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
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


def verdict_value(verdict: CriterionVerdict, *, use_probs: bool = True) -> float | None:
    """P(yes) if `use_probs` and the backend gave it, else 1/0 from the verdict; None if failed."""
    if verdict.error is not None or verdict.verdict is None:
        return None
    if use_probs and verdict.p_yes is not None:
        return verdict.p_yes
    return 1.0 if verdict.verdict == "yes" else 0.0


def verdict_values(verdicts: Sequence[CriterionVerdict]) -> list[float]:
    """P(yes) of each verdict when every one has it, else the 0/1 verdicts (never a mix).

    A failed verdict counts as 0 here; callers that can meet one skip it first (`rubric_margin`).
    """
    with_probs = all(verdict.p_yes is not None for verdict in verdicts)
    values = (verdict_value(verdict, use_probs=with_probs) for verdict in verdicts)
    return [0.0 if value is None else value for value in values]


VerdictLike = CriterionVerdict | float | None
"""A criterion's verdict, or its value (P(yes) or 1/0) already read; None when it failed."""


@dataclass(frozen=True)
class Margin:
    """A rubric margin of A over B and its terms (criterion id -> a, b and normalised weight)."""

    value: float
    terms: dict[str, dict[str, float]]


def rubric_margin(
    criteria: Sequence[Criterion],
    a: Mapping[str, VerdictLike],
    b: Mapping[str, VerdictLike],
) -> Margin | None:
    """sum_k w_k (v_k(A) - v_k(B)) over the criteria with a value on both sides, in [-1, 1].

    `a` and `b` map criterion id to a verdict or its value. Verdicts are read by the value rule
    of `verdict_values` (P(yes) when every usable verdict of the pair has one, else 0/1); a
    criterion missing or failed on either side is skipped and the weights of the rest are
    normalised to sum to 1 (`normalised_weights`), so the margin of complete verdicts is the
    difference of the uncapped scores. None when no criterion has a value on both sides.
    """
    given = [v for v in (*a.values(), *b.values()) if isinstance(v, CriterionVerdict)]
    usable = [v for v in given if verdict_value(v) is not None]
    with_probs = all(v.p_yes is not None for v in usable)

    def value(item: VerdictLike) -> float | None:
        if isinstance(item, CriterionVerdict):
            return verdict_value(item, use_probs=with_probs)
        return item

    compared: list[tuple[Criterion, float, float]] = []
    for criterion in criteria:
        value_a, value_b = value(a.get(criterion.id)), value(b.get(criterion.id))
        if value_a is not None and value_b is not None:
            compared.append((criterion, value_a, value_b))
    if not compared:
        return None
    weights = normalised_weights([criterion for criterion, _, _ in compared])
    terms = {
        criterion.id: {"a": value_a, "b": value_b, "weight": weight}
        for (criterion, value_a, value_b), weight in zip(compared, weights, strict=True)
    }
    margin = sum(term["weight"] * (term["a"] - term["b"]) for term in terms.values())
    return Margin(value=margin, terms=terms)


def anchored(agreement: float, rest: float) -> float:
    """The score of an anchored judgment: `agreement` decides the side of 1/2, `rest` the place.

    With d = agreement - 1/2, the score is 1/2 + d (1 + rest) / 2 when d >= 0 and
    1/2 + d (2 - rest) / 2 when d < 0: the other criteria's score `rest` (in [0, 1]) moves the
    anchor's P(yes) toward 1/2 by at most half its distance, never across. So a response that
    contradicts the reference fails however well it meets the rubric, one that agrees passes
    however the rubric judges it, and within each side a better rubric score ranks higher.
    """
    distance = agreement - 0.5
    factor = (1.0 + rest) / 2.0 if distance >= 0 else (2.0 - rest) / 2.0
    return 0.5 + distance * factor


def _rule_score(
    criteria: Sequence[Criterion], values: Sequence[float], hard_rule_cap: bool
) -> tuple[float, tuple[str, ...]]:
    weights = normalised_weights(criteria)
    # Sums in the order of the criteria, as always: a score is the same float on every run.
    score = sum(map(operator.mul, weights, values))
    capped_by: tuple[str, ...] = ()
    if hard_rule_cap:
        hard = [(c.id, v) for c, v in zip(criteria, values, strict=True) if c.kind == "hard_rule"]
        if hard:
            capped_by = tuple(criterion_id for criterion_id, value in hard if value < score)
            score = min(score, min(value for _, value in hard))
    return score, capped_by


def aggregate(
    criteria: Sequence[Criterion],
    verdicts: Sequence[CriterionVerdict],
    *,
    hard_rule_cap: bool = True,
    anchor: str | None = None,
) -> Aggregate:
    """Aggregate verdicts (one per criterion, same order, none failed) into a score.

    `anchor` names the criterion that anchors the score (`anchored`); the others are
    aggregated by the rule (capped or not) first. Without it, or alone, it is one more criterion.
    """
    if len(criteria) != len(verdicts) or not criteria:
        raise ValueError(f"{len(verdicts)} verdicts for {len(criteria)} criteria")
    weights = normalised_weights(criteria)
    with_probs = all(verdict.p_yes is not None for verdict in verdicts)
    values = verdict_values(verdicts)
    ids = [criterion.id for criterion in criteria]
    if anchor is not None and anchor in ids and len(criteria) > 1:
        at = ids.index(anchor)
        rest = [c for i, c in enumerate(criteria) if i != at]
        rest_values = [v for i, v in enumerate(values) if i != at]
        rest_score, capped_by = _rule_score(rest, rest_values, hard_rule_cap)
        score = anchored(values[at], min(1.0, max(0.0, rest_score)))
    else:
        score, capped_by = _rule_score(criteria, values, hard_rule_cap)
    confidence = None
    if with_probs:
        confidence = sum([w * max(v, 1.0 - v) for w, v in zip(weights, values, strict=True)])
        # Normalised weights can sum to 1 + 1 ulp: a weighted mean of values in [0, 1] is in it.
        confidence = min(1.0, confidence)
    return Aggregate(score=min(1.0, max(0.0, score)), confidence=confidence, capped_by=capped_by)
