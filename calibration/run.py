"""Run a `judge.Judge` over a labelled set and evaluate it: the library side of `judge eval`.

The items go through the one loop over rows (`judge.batch.loop`), as `judge batch` and
`judge score --input` rows do. Pairwise sets are compared with ``Judge.compare``; pointwise
sets read the judgment's score as P(positive); when every response carries its prompt group
(N responses per prompt), the evaluation also reports best-of-N.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from typing import Any

from judge.batch.loop import judge_chunks
from judge.batch.rows import PreparedRow
from judge.calibration.evaluate import Evaluation
from judge.calibration.jsonl import EvalSet
from judge.calibration.judged import evaluate_judged
from judge.calibration.records import LabelledSample
from judge.calibration.relative import RelativeConfidence, aggregate_preferences, partner_matches
from judge.runner.judge import Judge
from judge.runner.pairwise import DEFAULT_METHOD, Method
from judge.runner.relative import confidence_preferences
from judge.types import Judgment, Pair, PairJudgment, Sample

Progress = Callable[[int, int], None]
"""Called with (items done, items in all) after each chunk."""


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
    given: list[Sample | Pair] = list(items.judged_items())
    rows = [PreparedRow(number, item.id, item) for number, item in enumerate(given, start=1)]
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
    seconds = time.monotonic() - started
    if not pairwise:
        judgments = [j for j in produced if isinstance(j, Judgment)]
        evaluation = evaluate_judged(
            items,
            judgments,
            [j for j in baseline if isinstance(j, Judgment)] if naive else None,
            judge_name=judge_name,
            seconds=seconds,
            **naive_tail,
        )
        if relative_partners > 0:
            relative = _relative(judge, items.samples, judgments, relative_partners, n_boot, seed)
            evaluation = evaluation.model_copy(update={"relative_confidence": relative})
        return evaluation
    return evaluate_judged(
        items,
        [j for j in produced if isinstance(j, PairJudgment)],
        [j for j in baseline if isinstance(j, PairJudgment)] if naive else None,
        judge_name=judge_name,
        seconds=seconds,
        own_models=own_models,
        **naive_tail,
    )
