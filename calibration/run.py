"""Run a `judge.Judge` over a labelled set and evaluate it: the library side of `judge eval`.

The items go through the one loop over rows (`judge.batch.loop`), as `judge batch` and
`judge score --input` rows do. Pairwise sets are compared with ``Judge.compare``; pointwise
sets read the judgment's score as P(positive); when every response carries its prompt group
(N responses per prompt), the evaluation also reports best-of-N.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from typing import Any, TypeVar

from judge.batch.loop import judge_chunks
from judge.batch.rows import PreparedRow
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
)
from judge.calibration.relative import RelativeConfidence, aggregate_preferences, partner_matches
from judge.runner.judge import Judge
from judge.runner.pairwise import DEFAULT_METHOD, Method
from judge.runner.relative import confidence_preferences
from judge.types import Judgment, Pair, PairJudgment, Sample, Usage

EvaluationT = TypeVar("EvaluationT", PointwiseEvaluation, PairwiseEvaluation)

Progress = Callable[[int, int], None]
"""Called with (items done, items in all) after each chunk."""


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


def _relative(
    judge: Judge,
    samples: Sequence[LabelledSample],
    judgments: Sequence[Judgment],
    n_partners: int,
    n_boot: int,
    seed: int,
) -> RelativeConfidence:
    """Relative confidence of the judgments that have a score (see `calibration.relative`)."""
    scored = [(s, j.score) for s, j in zip(samples, judgments, strict=True) if j.score is not None]
    items = [(Sample(id=s.id, prompt=s.prompt, response=s.response), p >= 0.5) for s, p in scored]
    matches = partner_matches(len(items), n_partners, seed)
    preferences = confidence_preferences(
        judge.backend,
        judge.builder,
        items,
        matches,
        rubric=judge.rubric,
        retries=judge.settings.retries,
    )
    return aggregate_preferences(
        [max(p, 1.0 - p) for _, p in scored],
        [(p >= 0.5) == s.label for s, p in scored],
        matches,
        preferences,
        n_partners=n_partners,
        n_boot=n_boot,
        seed=seed,
    )


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
    seconds: float,
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


def _fingerprint(judgments: Sequence[Judgment | PairJudgment]) -> JudgeFingerprint | None:
    """The configuration that produced the judgments (None if there are none)."""
    return JudgeFingerprint.common(judgments) if judgments else None


def run_eval(
    judge: Judge,
    eval_set: EvalSet,
    *,
    limit: int | None = None,
    chunk_size: int = 16,
    own_models: str | Collection[str] | None = None,
    pair_method: Method | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    progress: Progress | None = None,
    relative_partners: int = 0,
    naive: bool = False,
    naive_tolerance: float = 0.0,
) -> Evaluation:
    """Judge the first `limit` items of `eval_set` with `judge` and evaluate the verdicts.

    The items are judged in the one loop over rows (`judge.batch.loop.judge_chunks`), one judge
    call per `chunk_size` items. The judge's own calibrator (``Judge(calibrator=...)``) is the
    one applied: the evaluation sees exactly the judgments a user of that judge gets.
    `pair_method` is passed to ``judge.compare`` (``direct`` compares in both orders and so
    shows position bias; ``rubric`` judges each response on its own); None keeps its default.
    `relative_partners` > 0 (pointwise sets) also measures relative confidence against that
    many random partners per judgment, in one more batch (`calibration.relative`). `naive` also
    asks the same model the plainest question on every item (`judge.runner.naive`), in the
    same backend batches as the judge, and stores the paired differences judge - naive per
    metric in ``evaluation.naive`` (a difference whose whole interval is below
    ``-naive_tolerance`` marks the judge worse).
    """
    items = eval_set.head(limit)
    started = time.monotonic()
    naive_tail: dict[str, Any] = {
        "tolerance": naive_tolerance,
        "n_boot": n_boot,
        "seed": seed,
    }
    judge_name = str(judge.backend.model_id or type(judge).__name__)
    total = len(items)
    pairwise = items.kind != "pointwise"
    rows = [
        PreparedRow(
            number,
            s.id,
            Sample(id=s.id, prompt=s.prompt, response=s.response, reference=s.reference),
        )
        for number, s in enumerate(items.samples, start=1)
    ] + [
        PreparedRow(
            number,
            p.id,
            Pair(
                id=p.id,
                prompt=p.prompt,
                response_a=p.response_a,
                response_b=p.response_b,
                reference=p.reference,
            ),
        )
        for number, p in enumerate(items.pairs, start=1)
    ]
    produced: list[Judgment | PairJudgment] = []
    baseline: list[Judgment | PairJudgment] = []
    for chunk in judge_chunks(
        judge,
        rows,
        batch_size=max(1, chunk_size),
        pairwise=pairwise,
        method=pair_method or DEFAULT_METHOD,
        naive=naive,
    ):
        produced += chunk.judgments
        baseline += chunk.naive
        if progress:
            progress(len(produced), total)
    if not pairwise:
        judgments = [j for j in produced if isinstance(j, Judgment)]
        records, failed = records_from_judgments(items.samples, judgments)
        evaluation = evaluate_pointwise(
            records,
            name=items.name,
            judge=judge_name,
            failed=failed,
            fingerprint=_fingerprint(judgments),
            n_boot=n_boot,
            seed=seed,
        )
        if items.samples and all(sample.group is not None for sample in items.samples):
            selection = best_of_n(
                items.samples, [j.score for j in judgments], n_boot=n_boot, seed=seed
            )
            evaluation = evaluation.model_copy(update={"best_of_n": selection})
        if naive:
            asked = [j for j in baseline if isinstance(j, Judgment)]
            naive_points, naive_failed = records_from_judgments(items.samples, asked)
            evaluation = _with_naive(
                evaluation,
                naive_points,
                naive_failed=naive_failed,
                judged=judgments,
                baseline=asked,
                seconds=time.monotonic() - started,
                **naive_tail,
            )
        if relative_partners > 0:
            relative = _relative(judge, items.samples, judgments, relative_partners, n_boot, seed)
            evaluation = evaluation.model_copy(update={"relative_confidence": relative})
        return evaluation
    pair_judgments = [j for j in produced if isinstance(j, PairJudgment)]
    pair_records = [
        record_from_pair_judgment(p, j) for p, j in zip(items.pairs, pair_judgments, strict=True)
    ]
    evaluated = evaluate_pairwise(
        pair_records,
        name=items.name,
        judge=judge_name,
        own_models=own_models,
        fingerprint=_fingerprint(produced),
        n_boot=n_boot,
        seed=seed,
    )
    if not naive:
        return evaluated
    naive_pairs = [
        record_from_pair_judgment(p, j)
        for p, j in zip(items.pairs, baseline, strict=True)
        if isinstance(j, PairJudgment)
    ]
    answered = [r for r in naive_pairs if r.p_a() is not None]
    return _with_naive(
        evaluated,
        answered,
        naive_failed=len(naive_pairs) - len(answered),
        judged=produced,
        baseline=baseline,
        seconds=time.monotonic() - started,
        **naive_tail,
    )
