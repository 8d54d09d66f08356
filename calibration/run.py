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
from typing import Any, Protocol

from judge.calibration.evaluate import Evaluation, evaluate_pairwise
from judge.calibration.jsonl import EvalSet
from judge.calibration.judged import (
    evaluate_judged,
    judgments_fingerprint,
    record_from_scores,
)
from judge.calibration.records import LabelledSample, PairRecord
from judge.calibration.relative import RelativeConfidence, aggregate_preferences, partner_matches
from judge.errors import ConfigError
from judge.runner.calibrating import Calibrating, apply_calibrator
from judge.runner.relative import confidence_preferences
from judge.types import Judgment, Pair, PairJudgment, Sample

logger = logging.getLogger(__name__)

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
            fingerprint=judgments_fingerprint(produced),
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
