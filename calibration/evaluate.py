"""Meta-evaluation of a judge on labelled records: accuracy, calibration and biases in one object.

`evaluate_pairwise` and `evaluate_pointwise` take records from any source (a run of our `Judge`,
released judgments, a JSONL written by another tool) and return a frozen model that
`calibration.report.write_report` renders and that serialises to JSON as is.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from judge.calibration import bias, metrics
from judge.calibration.agreement import Agreement, agreement
from judge.calibration.best_of_n import BestOfN
from judge.calibration.bootstrap import Interval, bootstrap_ci
from judge.calibration.probe_acceptance import ProbeAcceptance
from judge.calibration.records import JudgeFingerprint, PairRecord, PointRecord, Side
from judge.calibration.relative import RelativeConfidence
from judge.calibration.summary import CalibrationSummary, summarize_calibration
from judge.errors import InputError


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CategoryResult(_Frozen):
    """Accuracy (and both-order consistency, for pairs) within one category."""

    category: str
    n: int
    accuracy: float
    consistency: float | None = None


class LengthScore(_Frozen):
    """Pointwise: responses in one length quartile, their mean score and their gold pass rate."""

    lower: int
    upper: int
    n: int
    mean_score: float
    gold_rate: float


NAIVE_GATED = ("accuracy", "AUROC", "position consistency")
"""The metrics the ``judge>=naive`` gate requires the judge not to lose significantly."""


class BaselineCheck(_Frozen):
    """One metric of the judge beside the naive baseline's on the same items.

    `difference` is judge - naive with a paired 95% bootstrap interval; `worse` says the whole
    interval lies on the judge's worse side of ``-tolerance`` (the ``judge>=naive`` gate).
    """

    measure: str
    better: Literal["higher", "lower"]
    judge: float | None
    naive: float | None
    difference: Interval
    paired: bool
    worse: bool
    note: str | None = None


class ArmCost(_Frozen):
    """What one arm (judge or naive) spent over the evaluated items: requests' tokens."""

    prompt_tokens: int
    completion_tokens: int


class NaiveComparison(_Frozen):
    """The judge against the naive baseline (the same model asked the plainest question).

    Both arms ran in the same backend batches, so only their tokens can be told apart; the
    seconds of the run are the judge's and the baseline's together.
    """

    checks: tuple[BaselineCheck, ...]
    skipped: tuple[str, ...] = ()
    tolerance: float = 0.0
    naive_failed: int = 0
    judge_cost: ArmCost
    naive_cost: ArmCost
    seconds: float | None = None
    """Wall-clock seconds of judging both arms together."""
    naive_records: tuple[PointRecord, ...] | tuple[PairRecord, ...] = ()
    """The baseline's verdicts (``p`` is its P(yes) or P(a)), for re-evaluation."""

    @property
    def judge_worse(self) -> bool:
        """Whether the judge is significantly worse than the baseline on a gated metric.

        ECE is reported but not gated: a calibrator repairs it without changing a verdict.
        """
        return any(check.worse for check in self.checks if check.measure in NAIVE_GATED)


class PairwiseEvaluation(_Frozen):
    """A judge's results on labelled pairs.

    `accuracy` is strict: the combined verdict over both orders must equal the gold label, so a
    pair whose orders disagree (P(a) = 1/2) or that got no verdict counts as wrong. The
    calibration metrics read P(a better) against the label on pairs without a gold tie; there a
    50/50 verdict counts as a pick of `a` (see `metrics.confidence_and_correct`).
    """

    kind: Literal["pairwise"] = "pairwise"
    name: str
    judge: str
    n: int
    no_verdict: int
    accuracy: float
    confidence_source: Literal["probabilities", "votes"]
    agreement: Agreement | None
    calibration: CalibrationSummary | None
    calibration_note: str | None = None
    by_category: tuple[CategoryResult, ...]
    position: bias.PositionBias | None
    position_note: str | None = None
    length: bias.LengthBias | None
    length_note: str | None = None
    self_preference: bias.SelfPreference | None
    self_preference_note: str | None = None
    fingerprint: JudgeFingerprint | None = None
    records: tuple[PairRecord, ...]
    probe: ProbeAcceptance | None = None
    """The `judge probe` report given with ``--probe-report`` (compared by the drift gate)."""
    naive: NaiveComparison | None = None
    """The judge against the naive baseline on the same items (`judge eval --naive`)."""


class PointwiseEvaluation(_Frozen):
    """A judge's results on labelled responses: P(positive) against the gold label.

    `auroc_label` is how well the judge's P(positive) separates positive from negative responses;
    the calibration summary's `auroc` is how well its confidence separates right from wrong.
    """

    kind: Literal["pointwise"] = "pointwise"
    name: str
    judge: str
    n: int
    failed: int
    accuracy: float
    calibration: CalibrationSummary
    auroc_label: Interval
    gold_spearman: float | None
    by_category: tuple[CategoryResult, ...]
    score_by_length: tuple[LengthScore, ...]
    fingerprint: JudgeFingerprint | None = None
    records: tuple[PointRecord, ...]
    probe: ProbeAcceptance | None = None
    """The `judge probe` report given with ``--probe-report`` (compared by the drift gate)."""
    best_of_n: BestOfN | None = None
    """Best-of-N selection, on data with N responses per prompt (`calibration.best_of_n`)."""
    relative_confidence: RelativeConfidence | None = None
    """Selective AUC of relative vs direct confidence (`calibration.relative`), when asked."""
    naive: NaiveComparison | None = None
    """The judge against the naive baseline on the same items (`judge eval --naive`)."""


Evaluation = PairwiseEvaluation | PointwiseEvaluation


def combined_verdict(record: PairRecord) -> Side | None:
    """The judge's verdict over the orders it was run in: a, b, or tie (orders disagree)."""
    p_a = record.p_a()
    if p_a is None:
        return None
    return "a" if p_a > 0.5 else "b" if p_a < 0.5 else "tie"


def _by_category_pairs(records: Sequence[PairRecord]) -> tuple[CategoryResult, ...]:
    groups: dict[str, list[PairRecord]] = {}
    for record in records:
        groups.setdefault(record.category or "(none)", []).append(record)
    results = []
    for category in sorted(groups):
        members = groups[category]
        both = [r for r in members if r.both_orders]
        consistent = [
            r.verdict("ab") is not None and r.verdict("ab") == r.verdict("ba") for r in both
        ]
        results.append(
            CategoryResult(
                category=category,
                n=len(members),
                accuracy=float(np.mean([combined_verdict(r) == r.label for r in members])),
                consistency=float(np.mean(consistent)) if both else None,
            )
        )
    return tuple(results)


def evaluate_pairwise(
    records: Sequence[PairRecord],
    *,
    name: str = "pairs",
    judge: str = "",
    own_models: str | Collection[str] | None = None,
    fingerprint: JudgeFingerprint | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> PairwiseEvaluation:
    """Evaluate pairwise verdicts against gold labels, with the bias studies that the data allow.

    Position bias needs pairs run in both orders, length bias needs lengths, self-preference
    needs `own_models` and source models on the pairs; a study that cannot run is None and its
    `*_note` says why. `fingerprint` records the judge configuration (for fitting a calibrator).
    """
    if not records:
        raise InputError(f"{name}: no pairs to evaluate", hint="the input is empty")
    for index, record in enumerate(records):
        if record.label is None:
            raise InputError(
                f"{name}: pair {index} (id {record.id!r}) has no gold label",
                hint="every pair needs label 'a', 'b' or 'tie'",
            )
    verdicts = [combined_verdict(record) for record in records]
    decided = [(r, v) for r, v in zip(records, verdicts, strict=True) if v is not None]
    sides: tuple[Side, ...] = ("a", "b", "tie")
    scored = [
        (record.p_a(), record.label == "a") for record in records if record.label in ("a", "b")
    ]
    p_a = [p for p, _ in scored if p is not None]
    labels = [y for p, y in scored if p is not None]
    calibration, calibration_note = None, None
    if p_a:
        confidence, correct = metrics.confidence_and_correct(p_a, labels)
        calibration = summarize_calibration(confidence, correct, n_boot=n_boot, seed=seed)
        skipped = len(records) - len(p_a)
        if skipped:
            calibration_note = f"{skipped} pairs without a verdict or with a gold tie left out"
    else:
        calibration_note = "no pair has both a verdict and a non-tie gold label"

    position, position_note = None, None
    both = [record for record in records if record.both_orders]
    if both:
        position = bias.position_bias(both, n_boot=n_boot, seed=seed)
        if len(both) < len(records):
            position_note = f"{len(records) - len(both)} pairs judged in one order left out"
    else:
        position_note = "the pairs were judged in one order only"

    length, length_note = None, None
    if all(r.len_a is not None and r.len_b is not None for r in records):
        try:
            length = bias.length_bias(records, n_boot=n_boot, seed=seed)
        except InputError as exc:
            length_note = exc.message
    else:
        length_note = "response lengths are missing"

    preference, preference_note = None, None
    if own_models:
        try:
            preference = bias.self_preference(records, own_models, n_boot=n_boot, seed=seed)
        except InputError as exc:
            preference_note = exc.message
    else:
        preference_note = "no own model named (give own_models / --own-model)"

    uses_probabilities = any(r.p_a_ab is not None or r.p_a_ba is not None for r in records)
    return PairwiseEvaluation(
        name=name,
        judge=judge,
        n=len(records),
        no_verdict=len(records) - len(decided),
        accuracy=float(np.mean([v == r.label for r, v in zip(records, verdicts, strict=True)])),
        confidence_source="probabilities" if uses_probabilities else "votes",
        agreement=agreement([r.label for r, _ in decided], [v for _, v in decided], sides)
        if decided
        else None,
        calibration=calibration,
        calibration_note=calibration_note,
        by_category=_by_category_pairs(records),
        position=position,
        position_note=position_note,
        length=length,
        length_note=length_note,
        self_preference=preference,
        self_preference_note=preference_note,
        fingerprint=fingerprint,
        records=tuple(records),
    )


def _score_by_length(p: np.ndarray, y: np.ndarray, lengths: np.ndarray) -> tuple[LengthScore, ...]:
    edges = np.quantile(lengths, [0.25, 0.5, 0.75])
    which = np.searchsorted(edges, lengths, side="left")
    rows = []
    for quartile in range(4):
        members = which == quartile
        if members.any():
            rows.append(
                LengthScore(
                    lower=int(lengths[members].min()),
                    upper=int(lengths[members].max()),
                    n=int(members.sum()),
                    mean_score=float(p[members].mean()),
                    gold_rate=float(y[members].mean()),
                )
            )
    return tuple(rows)


def evaluate_pointwise(
    records: Sequence[PointRecord],
    *,
    name: str = "samples",
    judge: str = "",
    failed: int = 0,
    fingerprint: JudgeFingerprint | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> PointwiseEvaluation:
    """Evaluate pointwise P(positive) against gold labels; `failed` counts judgments left out."""
    if not records:
        raise InputError(f"{name}: no judged responses to evaluate", hint="the input is empty")
    ids = [record.id for record in records]
    p = np.asarray([record.p for record in records], dtype=np.float64)
    y = np.asarray([record.label for record in records], dtype=np.bool_)
    confidence, correct = metrics.confidence_and_correct(p, y, ids=ids)
    groups: dict[str, list[int]] = {}
    for index, record in enumerate(records):
        groups.setdefault(record.category or "(none)", []).append(index)
    by_category = tuple(
        CategoryResult(category=c, n=len(rows), accuracy=float(correct[rows].mean()))
        for c, rows in sorted(groups.items())
    )
    gold = [record.gold_score for record in records]
    spearman = None
    if all(value is not None for value in gold):
        value = metrics.spearman(p, np.asarray(gold, dtype=np.float64))
        spearman = None if math.isnan(value) else value
    lengths = [record.length for record in records]
    score_by_length: tuple[LengthScore, ...] = ()
    if all(length is not None for length in lengths):
        score_by_length = _score_by_length(p, y, np.asarray(lengths, dtype=np.float64))
    return PointwiseEvaluation(
        name=name,
        judge=judge,
        n=len(records),
        failed=failed,
        accuracy=float(correct.mean()),
        calibration=summarize_calibration(confidence, correct, n_boot=n_boot, seed=seed),
        auroc_label=bootstrap_ci(metrics.auroc, p, y, n_boot=n_boot, seed=seed),
        gold_spearman=spearman,
        by_category=by_category,
        score_by_length=score_by_length,
        fingerprint=fingerprint,
        records=tuple(records),
    )


def evaluate_records(
    records: Sequence[PointRecord] | Sequence[PairRecord],
    *,
    name: str = "records",
    judge: str = "",
    own_models: str | Collection[str] | None = None,
    fingerprint: JudgeFingerprint | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> Evaluation:
    """Evaluate pointwise or pairwise records, whichever they are."""
    if records and isinstance(records[0], PairRecord):
        pairs = [r for r in records if isinstance(r, PairRecord)]
        return evaluate_pairwise(
            pairs,
            name=name,
            judge=judge,
            own_models=own_models,
            fingerprint=fingerprint,
            n_boot=n_boot,
            seed=seed,
        )
    points = [r for r in records if isinstance(r, PointRecord)]
    return evaluate_pointwise(
        points, name=name, judge=judge, fingerprint=fingerprint, n_boot=n_boot, seed=seed
    )
