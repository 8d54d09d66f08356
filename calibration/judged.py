"""From a judge's judgments of a labelled set to records and an evaluation (with the baseline).

`evaluate_judged` is the evaluation `judge eval` makes of its judgments (`run_eval`) and
`judge tune` of each configuration's: records paired with the labels, the evaluation, best-of-N
where the samples are grouped, and the paired differences with the naive baseline's judgments.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, TypeVar

from judge.calibration.best_of_n import best_of_n
from judge.calibration.drift import compare_with_naive
from judge.calibration.evaluate import (
    ArmCost,
    Evaluation,
    NaiveComparison,
    PairwiseEvaluation,
    PointwiseEvaluation,
    evaluate_pairwise,
    evaluate_pointwise,
)
from judge.calibration.jsonl import EvalSet
from judge.calibration.records import (
    JudgeFingerprint,
    LabelledPair,
    LabelledSample,
    PairRecord,
    PointRecord,
    Side,
)
from judge.types import Judgment, PairJudgment, Usage

EvaluationT = TypeVar("EvaluationT", PointwiseEvaluation, PairwiseEvaluation)


def records_from_judgments(
    samples: Sequence[LabelledSample], judgments: Sequence[Judgment]
) -> tuple[list[PointRecord], int]:
    """Pair labelled samples with their judgments; returns the records and the failed count."""
    records, failed = [], 0
    for sample, judgment in zip(samples, judgments, strict=True):
        if judgment.score is None:
            failed += 1
            continue
        records.append(
            PointRecord(
                id=sample.id,
                p=judgment.score,
                label=sample.label,
                gold_score=sample.gold_score,
                category=sample.category,
                length=len(sample.response),
                model=sample.model,
            )
        )
    return records, failed


def _side(p_a: float) -> Side:
    return "a" if p_a > 0.5 else "b" if p_a < 0.5 else "tie"


def record_from_pair_judgment(pair: LabelledPair, judgment: PairJudgment) -> PairRecord:
    """A `PairRecord` from a `PairJudgment` of `Judge.compare`.

    A direct comparison ran both orders: its per-order P(a) (or, without probabilities, the
    per-order winners in ``details``) are kept, so position bias can be measured. An order-free
    comparison (the rubric method: each response judged on its own) becomes a one-order record
    holding its P(a). A failed judgment has no verdict.
    """
    common: dict[str, Any] = {
        "id": pair.id,
        "label": pair.label,
        "len_a": len(pair.response_a),
        "len_b": len(pair.response_b),
        "model_a": pair.model_a,
        "model_b": pair.model_b,
        "category": pair.category,
    }
    if judgment.error is not None:
        return PairRecord(**common, orders="both" if "direct" in judgment.strategy else "ab")
    winner_ab, winner_ba = judgment.winner_ab, judgment.winner_ba
    if judgment.p_a_ab is not None or judgment.p_a_ba is not None or winner_ba is not None:
        return PairRecord(
            **common,
            p_a_ab=judgment.p_a_ab,
            p_a_ba=judgment.p_a_ba,
            winner_ab=None if judgment.p_a_ab is not None else winner_ab,
            winner_ba=None if judgment.p_a_ba is not None else winner_ba,
        )
    if judgment.p_a is not None:
        return PairRecord(**common, orders="ab", p_a_ab=judgment.p_a)
    return PairRecord(**common, orders="ab", winner_ab=judgment.winner)


def _cost(judgments: Sequence[Judgment | PairJudgment]) -> ArmCost:
    usage = Usage.total(judgment.usage for judgment in judgments)
    return ArmCost(prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens)


def _with_naive(
    evaluation: EvaluationT,
    naive_records: Sequence[PointRecord] | Sequence[PairRecord],
    *,
    naive_failed: int,
    judged: Sequence[Judgment | PairJudgment],
    baseline: Sequence[Judgment | PairJudgment],
    seconds: float | None,
    tolerance: float,
    n_boot: int,
    seed: int,
) -> EvaluationT:
    """`evaluation` with the naive baseline's records, costs and the paired differences."""
    checks: tuple[Any, ...] = ()
    skipped: tuple[str, ...] = ("every metric: the baseline gave no verdict",)
    if naive_records:
        if evaluation.kind == "pointwise":
            points = [r for r in naive_records if isinstance(r, PointRecord)]
            naive_eval: Evaluation = evaluate_pointwise(points, name="naive", n_boot=0)
        else:
            pairs = [r for r in naive_records if isinstance(r, PairRecord)]
            naive_eval = evaluate_pairwise(pairs, name="naive", n_boot=0)
        checks, skipped = compare_with_naive(
            evaluation, naive_eval, tolerance=tolerance, n_boot=n_boot, seed=seed
        )
    comparison = NaiveComparison(
        checks=checks,
        skipped=skipped,
        tolerance=tolerance,
        naive_failed=naive_failed,
        judge_cost=_cost(judged),
        naive_cost=_cost(baseline),
        seconds=seconds,
        naive_records=tuple(naive_records),
    )
    return evaluation.model_copy(update={"naive": comparison})


def judgments_fingerprint(judgments: Sequence[Judgment | PairJudgment]) -> JudgeFingerprint | None:
    """The configuration that produced the judgments (None if there are none)."""
    return JudgeFingerprint.common(judgments) if judgments else None


def evaluate_judged(
    items: EvalSet,
    judgments: Sequence[Judgment] | Sequence[PairJudgment] | Sequence[Judgment | PairJudgment],
    baseline: Sequence[Judgment] | Sequence[PairJudgment] | None = None,
    *,
    judge_name: str = "",
    seconds: float | None = None,
    own_models: str | Collection[str] | None = None,
    tolerance: float = 0.0,
    n_boot: int = 1000,
    seed: int = 0,
) -> Evaluation:
    """Evaluate a judge's judgments of `items` (one per item, in order), and its baseline's.

    Pointwise judgments come from ``score``, pairwise ones from ``compare``; with `baseline`
    (the naive baseline's judgments of the same items) the evaluation carries the paired
    differences judge - naive per metric and both arms' tokens; `seconds` is their wall time.
    """
    if items.kind == "pointwise":
        points = [j for j in judgments if isinstance(j, Judgment)]
        records, failed = records_from_judgments(items.samples, points)
        evaluation = evaluate_pointwise(
            records,
            name=items.name,
            judge=judge_name,
            failed=failed,
            fingerprint=judgments_fingerprint(points),
            n_boot=n_boot,
            seed=seed,
        )
        if items.samples and all(sample.group is not None for sample in items.samples):
            selection = best_of_n(
                items.samples, [j.score for j in points], n_boot=n_boot, seed=seed
            )
            evaluation = evaluation.model_copy(update={"best_of_n": selection})
        if baseline is None:
            return evaluation
        asked = [j for j in baseline if isinstance(j, Judgment)]
        naive_points, naive_failed = records_from_judgments(items.samples, asked)
        return _with_naive(
            evaluation,
            naive_points,
            naive_failed=naive_failed,
            judged=points,
            baseline=asked,
            seconds=seconds,
            tolerance=tolerance,
            n_boot=n_boot,
            seed=seed,
        )
    compared = [j for j in judgments if isinstance(j, PairJudgment)]
    pair_records = [
        record_from_pair_judgment(p, j) for p, j in zip(items.pairs, compared, strict=True)
    ]
    evaluated = evaluate_pairwise(
        pair_records,
        name=items.name,
        judge=judge_name,
        own_models=own_models,
        fingerprint=judgments_fingerprint(compared),
        n_boot=n_boot,
        seed=seed,
    )
    if baseline is None:
        return evaluated
    asked_pairs = [j for j in baseline if isinstance(j, PairJudgment)]
    naive_pairs = [
        record_from_pair_judgment(p, j) for p, j in zip(items.pairs, asked_pairs, strict=True)
    ]
    answered = [r for r in naive_pairs if r.p_a() is not None]
    return _with_naive(
        evaluated,
        answered,
        naive_failed=len(naive_pairs) - len(answered),
        judged=compared,
        baseline=asked_pairs,
        seconds=seconds,
        tolerance=tolerance,
        n_boot=n_boot,
        seed=seed,
    )
