"""Run a `judge.Judge` over a labelled set and evaluate it: the library side of `judge eval`.

Pairwise sets use the judge's ``compare`` when it has one; a judge with only ``score`` has each
response scored pointwise and the two scores compared, which cannot show position bias (the
report says so). Pointwise sets read the judgment's score as P(positive); when every response
carries its prompt group (N responses per prompt), the evaluation also reports best-of-N.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Sequence
from typing import Any, Protocol, TypeVar

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
from judge.calibration.relative import RelativeConfidence, aggregate_preferences, partner_matches
from judge.errors import ConfigError
from judge.runner.calibrating import Calibrating, apply_calibrator
from judge.runner.relative import confidence_preferences
from judge.types import Judgment, Pair, PairJudgment, Sample, Usage

logger = logging.getLogger(__name__)

EvaluationT = TypeVar("EvaluationT", PointwiseEvaluation, PairwiseEvaluation)

Progress = Callable[[int, int], None]
"""Called with (items done, items in all) after each chunk."""


class ScoringJudge(Protocol):
    """What `run_eval` needs of a judge: pointwise `score` (a `compare` is used if present)."""

    def score(self, samples: Sequence[Sample]) -> list[Judgment]:
        """Judge each sample; one Judgment per sample, in order."""
        ...


def _chunks(count: int, size: int) -> list[tuple[int, int]]:
    step = max(1, size)
    return [(start, min(count, start + step)) for start in range(0, count, step)]


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


def record_from_scores(pair: LabelledPair, score_a: Judgment, score_b: Judgment) -> PairRecord:
    """A one-order `PairRecord` from two pointwise judgments: P(a) = 1/2 + (s_a - s_b) / 2."""
    record = PairRecord(
        id=pair.id,
        label=pair.label,
        orders="ab",
        len_a=len(pair.response_a),
        len_b=len(pair.response_b),
        model_a=pair.model_a,
        model_b=pair.model_b,
        category=pair.category,
    )
    if score_a.score is None or score_b.score is None:
        return record
    p_a = min(1.0, max(0.0, 0.5 + (score_a.score - score_b.score) / 2.0))
    return record.model_copy(update={"p_a_ab": p_a, "winner_ab": _side(p_a)})


def _relative(
    judge: ScoringJudge,
    samples: Sequence[LabelledSample],
    judgments: Sequence[Judgment],
    n_partners: int,
    n_boot: int,
    seed: int,
) -> RelativeConfidence:
    """Relative confidence of the judgments that have a score (see `calibration.relative`)."""
    backend, builder = getattr(judge, "backend", None), getattr(judge, "builder", None)
    if backend is None or builder is None:
        raise ConfigError(
            "relative confidence needs a judge.Judge (it asks the judge's own backend)",
            hint="run without relative_partners for other judges",
        )
    scored = [(s, j.score) for s, j in zip(samples, judgments, strict=True) if j.score is not None]
    items = [(Sample(id=s.id, prompt=s.prompt, response=s.response), p >= 0.5) for s, p in scored]
    matches = partner_matches(len(items), n_partners, seed)
    preferences = confidence_preferences(
        backend,
        builder,
        items,
        matches,
        rubric=getattr(judge, "rubric", None),
        retries=getattr(getattr(judge, "settings", None), "retries", 1),
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


def _fingerprint(judgments: Sequence[Judgment | PairJudgment]) -> JudgeFingerprint | None:
    """The configuration that produced the judgments (None if there are none)."""
    return JudgeFingerprint.common(judgments) if judgments else None


def run_eval(
    judge: ScoringJudge,
    eval_set: EvalSet,
    *,
    limit: int | None = None,
    chunk_size: int = 16,
    own_models: str | Collection[str] | None = None,
    pair_method: str | None = None,
    calibrator: Calibrating | None = None,
    force: bool = False,
    n_boot: int = 1000,
    seed: int = 0,
    progress: Progress | None = None,
    relative_partners: int = 0,
    naive: bool = False,
    naive_tolerance: float = 0.0,
) -> Evaluation:
    """Judge the first `limit` items of `eval_set` with `judge` and evaluate the verdicts.

    A `calibrator` (checked against the judge's configuration unless `force`) is applied to the
    judgments before they are evaluated. `pair_method` is passed to ``judge.compare`` (for our
    Judge: ``direct`` compares in both orders and so shows position bias; ``rubric`` judges each
    response on its own); None keeps the judge's default. `relative_partners` > 0 (pointwise
    sets, our `Judge`) also measures relative confidence against that many random partners per
    judgment, in one more batch (`calibration.relative`). `naive` also asks the same model the
    plainest question on every item (`judge.runner.naive`), in the same backend batches as the
    judge, and stores the paired differences judge - naive per metric in ``evaluation.naive``
    (a difference whose whole interval is below ``-naive_tolerance`` marks the judge worse).
    """
    items = eval_set.head(limit)
    method = "score_with_naive" if items.kind == "pointwise" else "compare_with_naive"
    if naive and getattr(judge, method, None) is None:
        raise ConfigError(
            f"the naive baseline needs a judge with {method}() (a judge.Judge)",
            hint="run without the naive baseline (--no-naive) for other judges",
        )
    started = time.monotonic()
    naive_tail: dict[str, Any] = {
        "tolerance": naive_tolerance,
        "n_boot": n_boot,
        "seed": seed,
    }
    backend = getattr(judge, "backend", None)
    judge_name = str(getattr(backend, "model_id", "") or type(judge).__name__)
    total = len(items)
    if items.kind == "pointwise":
        judgments: list[Judgment] = []
        baseline: list[Judgment] = []
        for start, end in _chunks(total, chunk_size):
            batch = [
                Sample(id=s.id, prompt=s.prompt, response=s.response, reference=s.reference)
                for s in items.samples[start:end]
            ]
            if naive:
                judged, asked = judge.score_with_naive(batch)  # type: ignore[attr-defined]
                baseline.extend(asked)
            else:
                judged = judge.score(batch)
            judgments.extend(apply_calibrator(calibrator, judged, force=force))
            if progress:
                progress(end, total)
        evaluation = evaluate_judged(
            items,
            judgments,
            baseline if naive else None,
            judge_name=judge_name,
            seconds=time.monotonic() - started,
            **naive_tail,
        )
        if relative_partners > 0:
            relative = _relative(judge, items.samples, judgments, relative_partners, n_boot, seed)
            evaluation = evaluation.model_copy(update={"relative_confidence": relative})
        return evaluation
    compare = getattr(judge, "compare", None)
    pair_records: list[PairRecord] = []
    produced: list[Judgment | PairJudgment] = []
    asked_pairs: list[PairJudgment] = []
    for start, end in _chunks(total, chunk_size):
        chunk = items.pairs[start:end]
        if compare is not None:
            pairs = [
                Pair(
                    id=p.id,
                    prompt=p.prompt,
                    response_a=p.response_a,
                    response_b=p.response_b,
                    reference=p.reference,
                )
                for p in chunk
            ]
            options = {} if pair_method is None else {"method": pair_method}
            pair_judgments: list[PairJudgment]
            if naive:
                pair_judgments, asked = judge.compare_with_naive(pairs, **options)  # type: ignore[attr-defined]
                asked_pairs += asked
            else:
                pair_judgments = compare(pairs, **options)
            pair_judgments = apply_calibrator(calibrator, pair_judgments, force=force)
            produced += pair_judgments
        else:
            samples = [
                Sample(id=f"{p.id}#{side}", prompt=p.prompt, response=response)
                for p in chunk
                for side, response in (("a", p.response_a), ("b", p.response_b))
            ]
            scored = apply_calibrator(calibrator, judge.score(samples), force=force)
            produced += scored
            pair_records += [
                record_from_scores(p, scored[2 * i], scored[2 * i + 1]) for i, p in enumerate(chunk)
            ]
        if progress:
            progress(end, total)
    if compare is None:
        logger.info("the judge has no compare(): pairs were scored pointwise, one order only")
        return evaluate_pairwise(
            pair_records,
            name=items.name,
            judge=judge_name,
            own_models=own_models,
            fingerprint=_fingerprint(produced),
            n_boot=n_boot,
            seed=seed,
        )
    return evaluate_judged(
        items,
        produced,
        asked_pairs if naive else None,
        judge_name=judge_name,
        seconds=time.monotonic() - started,
        own_models=own_models,
        **naive_tail,
    )


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
            fingerprint=_fingerprint(points),
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
        fingerprint=_fingerprint(compared),
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
