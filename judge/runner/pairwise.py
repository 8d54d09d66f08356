"""Pairwise judging: which of two responses is better, in both presentation orders.

LLM judges favour a position, so a direct comparison always runs both orders, in the same batch.
With P_first(order) the judge's probability for the response shown first (token "A"), the
per-order probabilities that response a is better are ``p_a_ab = P_first(ab)`` and
``p_a_ba = 1 - P_first(ba)``; the swap-averaged ``p_a`` is their mean. The orders are
*consistent* when both prefer the same response; a flip halves the confidence. ``p_a`` within
`tie_margin` of 1/2 is an explicit tie.

With a rubric, both responses are first judged pointwise on every criterion (one batch, no
position to be biased by) and compared by the weighted margin of P(yes); a margin too small to
decide falls back to the direct comparison in both orders.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from judge.backends.base import Backend
from judge.runner.aggregate import rubric_margin
from judge.runner.consistency import merge_verdicts
from judge.runner.formats import pair_format
from judge.runner.parse import Failure, first_kind, output_failure, verdict_check
from judge.runner.requests import RequestBuilder
from judge.runner.rounds import Attempt, BatchStats, Check, Flow, Task, drive
from judge.settings import JudgeSettings
from judge.types import (
    ErrorKind,
    Generation,
    Pair,
    PairJudgment,
    Rubric,
    Sample,
    Usage,
)

Method = Literal["rubric", "direct"]

DEFAULT_METHOD: Method = "rubric"
"""The one default of `Judge.compare`, `judge compare` and `judge eval`.

Rubric, because a per-criterion verdict has no position to be biased by (order-free by
construction, not only swap-averaged), a pair's verdict agrees with the two responses'
`judge score` results, and it judges by the rubric the user chose. A tied margin still falls
back to a direct comparison in both orders. Direct (``--pair-method direct``) is cheaper (two
requests per pair) and is what measures position bias.
"""
Winner = Literal["a", "b", "tie"]

FLIP_CONFIDENCE_FACTOR = 0.5
"""A flip between the orders multiplies the confidence: the position decided, not the content."""


EMPTY_PAIR_NOTE = "a blank response loses to a non-blank one by rule, without a model call"


def identical(pair: Pair) -> bool:
    """Whether the two responses are the same text (ignoring surrounding whitespace)."""
    return pair.response_a.strip() == pair.response_b.strip()


def decide(p_a: float, tie_margin: float) -> Winner:
    """The winner for a swap-averaged P(a better): a tie within `tie_margin` of 1/2 (or at it)."""
    if abs(p_a - 0.5) < tie_margin or p_a == 0.5:
        return "tie"
    return "a" if p_a > 0.5 else "b"


def _side(p: float) -> Winner:
    return "a" if p > 0.5 else "b" if p < 0.5 else "tie"


@dataclass(frozen=True)
class OrderReading:
    """One presentation order: P(first shown is better) and the share of draws that said so."""

    p_first: float | None
    votes_first: float | None
    rationale: str = ""
    error: str | None = None
    error_kind: ErrorKind | None = None


def _order_failure(generation: Generation, rationale_chars: int) -> Failure | None:
    return output_failure(generation, pair_format(rationale_chars).parse)


def _order_error(generation: Generation, rationale_chars: int) -> str | None:
    failure = _order_failure(generation, rationale_chars)
    return None if failure is None else failure.message


def order_check(rationale_chars: int) -> Check:
    """The usability check of an A/B answer (a direct comparison's, or relative confidence's)."""
    return lambda generation: _order_error(generation, rationale_chars)


def read_order(generations: Sequence[Generation], rationale_chars: int) -> OrderReading:
    """Average P("A") over the usable draws of one order (None without token probabilities)."""
    output = pair_format(rationale_chars)
    failures = [_order_failure(g, rationale_chars) for g in generations]
    usable = [g for g, failure in zip(generations, failures, strict=True) if failure is None]
    if not usable:
        errors = [failure.message for failure in failures if failure is not None]
        kind = first_kind(failure.kind for failure in failures if failure is not None)
        return OrderReading(None, None, error="; ".join(dict.fromkeys(errors)), error_kind=kind)
    answers = [output.read(generation) for generation in usable]
    votes = sum(answer == "A" for answer, _ in answers) / len(answers)
    p_first = None
    if all(g.choice_probs is not None for g in usable):
        values = []
        for generation in usable:
            probs = generation.choice_probs or {}
            total = probs.get("A", 0.0) + probs.get("B", 0.0)
            values.append(probs.get("A", 0.0) / total if total > 0 else 0.5)
        p_first = sum(values) / len(values)
    return OrderReading(p_first, votes, answers[0][1])


def combine_orders(ab: OrderReading, ba: OrderReading, tie_margin: float) -> dict[str, Any]:
    """PairJudgment fields from both orders: swap-averaged P(a), consistency, winner, confidence.

    Without token probabilities `p_a` is the share of votes for a over both orders, the
    per-order probabilities stay None, and the confidence is None (never invented from text).
    """
    assert ab.votes_first is not None and ba.votes_first is not None
    vote_a_ab, vote_a_ba = ab.votes_first, 1.0 - ba.votes_first
    with_probs = ab.p_first is not None and ba.p_first is not None
    if with_probs:
        assert ab.p_first is not None and ba.p_first is not None
        p_a_ab, p_a_ba = ab.p_first, 1.0 - ba.p_first
    else:
        p_a_ab, p_a_ba = vote_a_ab, vote_a_ba
    winner_ab, winner_ba = _side(p_a_ab), _side(p_a_ba)
    consistent = winner_ab == winner_ba and winner_ab != "tie"
    p_a = (p_a_ab + p_a_ba) / 2
    confidence = None
    if with_probs:
        confidence = max(p_a, 1.0 - p_a) * (1.0 if consistent else FLIP_CONFIDENCE_FACTOR)
    details: dict[str, Any] = {
        "p_first_ab": ab.p_first,
        "p_first_ba": ba.p_first,
        "rationale_ab": ab.rationale,
        "rationale_ba": ba.rationale,
    }
    if not with_probs:
        details["probabilities"] = "unavailable: p_a is the share of votes over both orders"
    if not consistent:
        details["flip"] = (
            f"the orders disagree (a first: {winner_ab}, b first: {winner_ba}); "
            f"confidence x {FLIP_CONFIDENCE_FACTOR}"
        )
    return {
        "p_a": p_a,
        "p_a_ab": p_a_ab if with_probs else None,
        "p_a_ba": p_a_ba if with_probs else None,
        "winner": decide(p_a, tie_margin),
        "winner_ab": winner_ab,
        "winner_ba": winner_ba,
        "consistent": consistent,
        "confidence": confidence,
        "details": details,
    }


@dataclass(frozen=True)
class PairPlan:
    """Everything a pair flow needs: the builder, the rubric, the method, what to record."""

    builder: RequestBuilder
    rubric: Rubric
    method: Method
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def settings(self) -> JudgeSettings:
        """The judge's settings (the builder's: one object, never copied into the plan)."""
        return self.builder.settings


def _side_sample(pair: Pair, side: str) -> Sample:
    return Sample(
        id=f"{pair.id}/{side}",
        prompt=pair.prompt,
        messages=pair.messages,
        reference=pair.reference,
        response=pair.response_a if side == "a" else pair.response_b,
    )


def _direct_round(plan: PairPlan, index: int, pair: Pair) -> list[Task]:
    """Both orders of a direct comparison; the rubric's criteria guide it only as a fallback."""
    chars = plan.builder.settings.max_rationale_chars
    rubric = plan.rubric if plan.method == "rubric" else None
    return [
        Task(
            plan.builder.pairwise(index, pair, order, rubric),
            lambda g: _order_error(g, chars),
            role="pairwise",
        )
        for order in ("ab", "ba")
    ]


def _read_direct(
    plan: PairPlan, tasks: Sequence[Task], attempts: dict[str, Attempt]
) -> dict[str, Any]:
    chars = plan.builder.settings.max_rationale_chars
    ab, ba = (read_order(attempts[task.request.id].generations, chars) for task in tasks)
    errors = [f"order {name}: {r.error}" for name, r in (("ab", ab), ("ba", ba)) if r.error]
    if errors:
        return {
            "error": "; ".join(errors),
            "error_kind": first_kind((ab.error_kind, ba.error_kind)),
        }
    return combine_orders(ab, ba, plan.settings.tie_margin)


def pair_flow(plan: PairPlan, index: int, pair: Pair) -> Flow[PairJudgment]:
    """Identical (two blanks too): a tie; one blank: it loses; both without a model call.

    Rubric: margin, direct on a tie. Direct: both orders.
    """
    record = {**plan.record, "pair_id": pair.id}
    samples = plan.builder.settings.samples
    if identical(pair):
        return PairJudgment(
            p_a=0.5,
            winner="tie",
            confidence=1.0,
            strategy="identical",
            details={
                "note": "the responses are identical: a tie, without a model call",
                "samples": samples,
            },
            **record,
        )
    blank = [side for side in ("a", "b") if not getattr(pair, f"response_{side}").strip()]
    if blank:
        winner: Winner = "b" if blank == ["a"] else "a"
        return PairJudgment(
            p_a=1.0 if winner == "a" else 0.0,
            winner=winner,
            confidence=1.0,
            strategy="empty",
            details={"note": EMPTY_PAIR_NOTE, "samples": samples},
            **record,
        )
    usage = Usage()
    details: dict[str, Any] = {"samples": samples}
    margin: float | None = None
    if plan.method == "rubric":
        criteria = list(plan.rubric.leaves())
        tasks = {
            side: [
                Task(request, verdict_check(c.id))
                for c, request in zip(
                    criteria,
                    plan.builder.verdicts(
                        index,
                        _side_sample(pair, side),
                        plan.rubric,
                        criteria,
                        stem=f"p{index}/{side}",
                    ),
                    strict=True,
                )
            ]
            for side in ("a", "b")
        }
        attempts = yield [*tasks["a"], *tasks["b"]]
        usage = sum((attempts[t.request.id].usage for t in [*tasks["a"], *tasks["b"]]), usage)
        verdicts = {
            side: [
                merge_verdicts(c.id, attempts[t.request.id].generations, t.check).verdict
                for c, t in zip(criteria, tasks[side], strict=True)
            ]
            for side in ("a", "b")
        }
        details["verdicts_a"] = [v.model_dump(mode="json") for v in verdicts["a"]]
        details["verdicts_b"] = [v.model_dump(mode="json") for v in verdicts["b"]]
        failed = [
            f"{side}.{v.criterion_id}: {v.error}"
            for side in ("a", "b")
            for v in verdicts[side]
            if v.error
        ]
        if failed:
            return PairJudgment(
                error="; ".join(failed),
                error_kind=first_kind(v.error_kind for side in ("a", "b") for v in verdicts[side]),
                strategy="rubric",
                usage=usage,
                details=details,
                **record,
            )
        found = rubric_margin(
            criteria,
            {v.criterion_id: v for v in verdicts["a"]},
            {v.criterion_id: v for v in verdicts["b"]},
        )
        if found is None:
            return PairJudgment(
                error="no criterion was evaluated on both responses",
                strategy="rubric",
                usage=usage,
                details=details,
                **record,
            )
        margin = found.value
        p_a = (1.0 + margin) / 2
        details["criteria"] = found.terms
        if decide(p_a, plan.settings.tie_margin) != "tie":
            with_probs = all(v.p_yes is not None for side in ("a", "b") for v in verdicts[side])
            return PairJudgment(
                p_a=p_a,
                winner=decide(p_a, plan.settings.tie_margin),
                margin=margin,
                confidence=max(p_a, 1.0 - p_a) if with_probs else None,
                strategy="rubric",
                usage=usage,
                details={**details, "consistency": "order-free: each response judged on its own"},
                **record,
            )
        details["fallback"] = (
            f"rubric margin {margin:+.3f} is within the tie margin: compared directly, both orders"
        )
    direct = _direct_round(plan, index, pair)
    attempts = yield direct
    usage = sum((attempts[t.request.id].usage for t in direct), usage)
    strategy = "rubric+direct" if "fallback" in details else "direct"
    fields = _read_direct(plan, direct, attempts)
    fields["details"] = {**details, **fields.get("details", {})}
    return PairJudgment(strategy=strategy, usage=usage, margin=margin, **fields, **record)


def compare_pairs(
    backend: Backend, plan: PairPlan, pairs: Sequence[Pair], stats: BatchStats, *, retries: int
) -> list[PairJudgment]:
    """Compare every pair: at most two backend batches (rubric verdicts, then direct orders)."""
    return drive(backend, pair_flows(plan, pairs), stats, retries=retries)


def pair_flows(plan: PairPlan, pairs: Sequence[Pair]) -> list[Flow[PairJudgment]]:
    """Every pair's flow, in order (`compare_pairs` drives them; a caller may add its own)."""
    return [pair_flow(plan, index, pair) for index, pair in enumerate(pairs)]
