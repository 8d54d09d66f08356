"""The drift gate: did this judge get significantly worse than a stored baseline evaluation?

`judge eval DATA --baseline OLD/evaluation.json` compares accuracy, ECE, position consistency
and (when both evaluations carry a probe report of the same attack set) each attack's acceptance
with the baseline. Each change gets a 95% bootstrap interval: paired by item id when both runs
judged the same items (`bootstrap_ci` on the difference), else unpaired (`bootstrap_difference`).
A change is a regression when its whole interval lies on the worse side of ``-tolerance``, so
noise does not fail a build and a real drop does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from judge.calibration import metrics
from judge.calibration.bootstrap import Interval, bootstrap_ci, bootstrap_difference
from judge.calibration.evaluate import (
    NAIVE_GATED,
    BaselineCheck,
    Evaluation,
    PairwiseEvaluation,
    combined_verdict,
)
from judge.errors import ConfigError, InputError

EXIT_REGRESSION = 4
"""`judge eval --baseline` exit code on a significant regression (as `judge probe`'s gate)."""

Better = Literal["higher", "lower"]
Column = dict[str, tuple[float, ...]]
"""Per-item values of one measure, keyed by item id (a tuple: several values per item)."""


class DriftCheck(BaseModel):
    """One measure, baseline vs current: the change (current - baseline) and its verdict."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    measure: str
    better: Better
    baseline: float | None
    current: float | None
    change: Interval
    paired: bool
    regressed: bool
    note: str | None = None


class DriftReport(BaseModel):
    """Every measure both evaluations carry, compared; `regressed` fails the gate."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    baseline: str
    tolerance: float
    checks: tuple[DriftCheck, ...]
    skipped: tuple[str, ...] = ()
    """Measures one of the evaluations does not carry, with the reason."""

    @property
    def regressed(self) -> bool:
        """Whether any measure got significantly worse."""
        return any(check.regressed for check in self.checks)


def load_evaluation(path: str | Path) -> Evaluation:
    """Read an ``evaluation.json`` that `judge eval` wrote (a user mistake is an InputError)."""
    source = Path(path)
    if source.is_dir():
        source = source / "evaluation.json"
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(
            f"cannot read baseline {source}: {exc.strerror}",
            hint="give the evaluation.json an earlier `judge eval` wrote",
        ) from None
    try:
        adapter: TypeAdapter[Evaluation] = TypeAdapter(
            Annotated[Evaluation, Field(discriminator="kind")]
        )
        return adapter.validate_json(text)
    except ValidationError as exc:
        raise InputError(
            f"{source}: not an evaluation.json ({exc.error_count()} problems)",
            hint="give the evaluation.json an earlier `judge eval` wrote",
        ) from None


def _correctness(evaluation: Evaluation) -> tuple[Column, Column]:
    """Per item: (correct,) for accuracy and (confidence, correct) for ECE."""
    accuracy: Column = {}
    calibrated: Column = {}
    if isinstance(evaluation, PairwiseEvaluation):
        for pair in evaluation.records:
            accuracy[pair.id] = (float(combined_verdict(pair) == pair.label),)
            p_a = pair.p_a()
            if p_a is not None and pair.label in ("a", "b"):
                calibrated[pair.id] = (
                    max(p_a, 1.0 - p_a),
                    float((p_a >= 0.5) == (pair.label == "a")),
                )
        return accuracy, calibrated
    for point in evaluation.records:
        right = float((point.p >= 0.5) == point.label)
        accuracy[point.id] = (right,)
        calibrated[point.id] = (max(point.p, 1.0 - point.p), right)
    return accuracy, calibrated


def _consistency(evaluation: Evaluation) -> Column:
    if not isinstance(evaluation, PairwiseEvaluation):
        return {}
    return {
        pair.id: (
            float(pair.verdict("ab") is not None and pair.verdict("ab") == pair.verdict("ba")),
        )
        for pair in evaluation.records
        if pair.both_orders
    }


def _ranking(evaluation: Evaluation) -> Column:
    """Per item: (P(positive), label) for AUROC; pairs with a gold tie or no P(a) are left out."""
    if isinstance(evaluation, PairwiseEvaluation):
        ranked: Column = {}
        for pair in evaluation.records:
            p_a = pair.p_a()
            if p_a is not None and pair.label in ("a", "b"):
                ranked[pair.id] = (p_a, float(pair.label == "a"))
        return ranked
    return {point.id: (point.p, float(point.label)) for point in evaluation.records}


QUALITY_MEASURES = ("accuracy", "AUROC")
"""The measures `metric_interval` (and `judge tune --metric`) can rank judges by."""


def metric_interval(
    evaluation: Evaluation, measure: str, *, n_boot: int = 1000, seed: int = 0
) -> Interval:
    """One measure of an evaluation with its bootstrap interval, on the items with a verdict."""
    statistic: Callable[..., float]
    if measure == "accuracy":
        column, statistic = _correctness(evaluation)[0], _mean
    elif measure == "AUROC":
        column, statistic = _ranking(evaluation), _auroc
    else:
        raise ConfigError(f"measure {measure!r}", hint=f"one of {', '.join(QUALITY_MEASURES)}")
    if not column:
        return Interval(value=None, note="no item has a verdict")
    ids = sorted(column)
    width = len(column[ids[0]])
    arrays = [np.asarray([column[i][k] for i in ids]) for k in range(width)]
    return bootstrap_ci(statistic, *arrays, n_boot=n_boot, seed=seed)


def _auroc(scores: Any, labels: Any) -> float:
    return metrics.auroc(scores, np.asarray(labels, dtype=bool))


def _probe_columns(evaluation: Evaluation) -> dict[str, Column]:
    probe = evaluation.probe
    if probe is None:
        return {}
    return {
        f"probe acceptance: {attack.name}": {str(i): (v,) for i, v in enumerate(attack.accepted)}
        for attack in probe.attacks
        if attack.role == "attack"
    }


def _mean(values: Any) -> float:
    return float(np.mean(values))


def _ece(confidence: Any, correct: Any) -> float:
    return metrics.ece(confidence, np.asarray(correct, dtype=bool))


def _compare(
    measure: str,
    better: Better,
    statistic: Callable[..., float],
    old: Column,
    new: Column,
    *,
    tolerance: float,
    n_boot: int,
    seed: int,
) -> DriftCheck:
    width = len(next(iter(old.values())))
    paired = set(old) == set(new)
    ids = sorted(old)
    old_arrays = tuple(np.asarray([old[i][k] for i in ids]) for k in range(width))
    if paired:
        new_arrays = tuple(np.asarray([new[i][k] for i in ids]) for k in range(width))

        def difference(*columns: Any) -> float:
            return statistic(*columns[width:]) - statistic(*columns[:width])

        change = bootstrap_ci(difference, *old_arrays, *new_arrays, n_boot=n_boot, seed=seed)
    else:
        new_ids = sorted(new)
        new_arrays = tuple(np.asarray([new[i][k] for i in new_ids]) for k in range(width))
        change = bootstrap_difference(statistic, old_arrays, new_arrays, n_boot=n_boot, seed=seed)
    if better == "higher":
        regressed = change.high is not None and change.high < -tolerance
    else:
        regressed = change.low is not None and change.low > tolerance
    return DriftCheck(
        measure=measure,
        better=better,
        baseline=statistic(*old_arrays),
        current=statistic(*new_arrays),
        change=change,
        paired=paired,
        regressed=regressed,
        note=None if paired else f"unpaired: {len(old)} baseline vs {len(new)} current items",
    )


def compare_evaluations(
    current: Evaluation,
    baseline: Evaluation,
    *,
    baseline_name: str = "baseline",
    tolerance: float = 0.0,
    n_boot: int = 1000,
    seed: int = 0,
) -> DriftReport:
    """Compare `current` with `baseline` measure by measure; see the module docstring."""
    if current.kind != baseline.kind:
        raise ConfigError(
            f"baseline {baseline_name} is a {baseline.kind} evaluation, this one {current.kind}",
            hint="compare evaluations of the same kind of data",
        )
    if not 0.0 <= tolerance < 1.0:
        raise ConfigError(f"tolerance {tolerance} is not in [0, 1)")
    accuracy_old, calibrated_old = _correctness(baseline)
    accuracy_new, calibrated_new = _correctness(current)
    measures: list[tuple[str, Better, Callable[..., float], Column, Column]] = [
        ("accuracy", "higher", _mean, accuracy_old, accuracy_new),
        ("ECE", "lower", _ece, calibrated_old, calibrated_new),
        ("position consistency", "higher", _mean, _consistency(baseline), _consistency(current)),
    ]
    probes_old, probes_new = _probe_columns(baseline), _probe_columns(current)
    skipped: list[str] = []
    if probes_old and probes_new:
        assert baseline.probe is not None and current.probe is not None
        if baseline.probe.attack_set_version != current.probe.attack_set_version:
            skipped.append(
                f"probe acceptance: attack sets differ ({baseline.probe.attack_set_version} vs "
                f"{current.probe.attack_set_version})"
            )
        else:
            for name in sorted(set(probes_old) & set(probes_new)):
                measures.append((name, "lower", _mean, probes_old[name], probes_new[name]))
    elif probes_old or probes_new:
        skipped.append("probe acceptance: only one evaluation carries a probe report")
    checks = []
    for measure, better, statistic, old, new in measures:
        if not old or not new:
            if old or new:
                skipped.append(f"{measure}: only one evaluation carries it")
            continue
        checks.append(
            _compare(
                measure, better, statistic, old, new, tolerance=tolerance, n_boot=n_boot, seed=seed
            )
        )
    return DriftReport(
        baseline=baseline_name, tolerance=tolerance, checks=tuple(checks), skipped=tuple(skipped)
    )


def drift_lines(report: DriftReport) -> Sequence[str]:
    """One line per check (and per skipped measure), for the CLI and the Markdown report."""
    lines = []
    for check in report.checks:
        verdict = "REGRESSED" if check.regressed else "ok"
        values = (
            "n/a"
            if check.baseline is None or check.current is None
            else (f"{check.baseline:.3f} -> {check.current:.3f}")
        )
        lines.append(
            f"{check.measure} ({check.better} is better): {values}, change "
            f"{check.change.format()} ({'paired' if check.paired else 'unpaired'}): {verdict}"
        )
    lines.extend(f"not compared: {reason}" for reason in report.skipped)
    return lines


NAIVE_GATE = "judge>=naive"
"""The named gate of `judge eval --gate`: fail when the judge is significantly worse than the
naive baseline on accuracy, AUROC or position consistency (`evaluate.NAIVE_GATED`)."""

NAIVE_MEASURES = ("accuracy", "AUROC", "ECE", "position consistency")


def compare_with_naive(
    judge: Evaluation,
    naive: Evaluation,
    *,
    tolerance: float = 0.0,
    n_boot: int = 1000,
    seed: int = 0,
) -> tuple[tuple[BaselineCheck, ...], tuple[str, ...]]:
    """The judge against the naive baseline, metric by metric, paired on the items both judged.

    Each difference is judge - naive with a paired bootstrap interval (`bootstrap_ci` on the
    difference over the same resampled items); a metric is `worse` when its whole interval lies
    on the judge's worse side of ``-tolerance``. Returns the checks and the metrics skipped, with
    the reason (an order-free judge has no position consistency).
    """
    if judge.kind != naive.kind:
        raise ConfigError(f"the judge's evaluation is {judge.kind}, the baseline's {naive.kind}")
    columns: list[tuple[str, Better, Callable[..., float], Column, Column]] = [
        ("accuracy", "higher", _mean, _correctness(naive)[0], _correctness(judge)[0]),
        ("AUROC", "higher", _auroc, _ranking(naive), _ranking(judge)),
        ("ECE", "lower", _ece, _correctness(naive)[1], _correctness(judge)[1]),
        ("position consistency", "higher", _mean, _consistency(naive), _consistency(judge)),
    ]
    checks, skipped = [], []
    for measure, better, statistic, old, new in columns:
        common = sorted(set(old) & set(new))
        if not common:
            if old and not new and measure == "position consistency":
                value = _mean([row[0] for row in old.values()])
                skipped.append(
                    f"{measure}: the judge's verdicts are order-free (one order); "
                    f"the baseline's is {value:.3f}"
                )
            elif old or new:
                skipped.append(f"{measure}: no item has a value in both arms")
            continue
        paired_old = {item: old[item] for item in common}
        paired_new = {item: new[item] for item in common}
        judge_value, naive_value = _defined(statistic, paired_new), _defined(statistic, paired_old)
        if judge_value is None or naive_value is None:
            skipped.append(f"{measure}: undefined on the {len(common)} items both arms judged")
            continue
        check = _compare(
            measure,
            better,
            statistic,
            paired_old,
            paired_new,
            tolerance=tolerance,
            n_boot=n_boot,
            seed=seed,
        )
        dropped = len(set(old) | set(new)) - len(common)
        checks.append(
            BaselineCheck(
                measure=measure,
                better=better,
                judge=judge_value,
                naive=naive_value,
                difference=check.change,
                paired=True,
                worse=check.regressed,
                note=f"{dropped} items with a value in one arm only left out" if dropped else None,
            )
        )
    return tuple(checks), tuple(skipped)


def _defined(statistic: Callable[..., float], column: Column) -> float | None:
    """The statistic over a column, or None where it is undefined (an AUROC of one class)."""
    ids = sorted(column)
    width = len(column[ids[0]])
    arrays = [np.asarray([column[i][k] for i in ids]) for k in range(width)]
    try:
        value = float(statistic(*arrays))
    except InputError:
        return None
    return None if np.isnan(value) else value


def naive_lines(checks: Sequence[BaselineCheck], skipped: Sequence[str]) -> list[str]:
    """One line per metric of the judge against the naive baseline, for the CLI."""
    lines = []
    for check in checks:

        def shown(value: float | None) -> str:
            return "n/a" if value is None else f"{value:.3f}"

        verdict = "JUDGE WORSE" if check.worse else "ok"
        if check.worse and check.measure not in NAIVE_GATED:
            verdict = "judge worse (not gated: a calibrator repairs it)"
        lines.append(
            f"{check.measure} ({check.better} is better): judge {shown(check.judge)}, naive "
            f"{shown(check.naive)}, judge - naive {check.difference.format()}: {verdict}"
        )
    lines.extend(f"not compared: {reason}" for reason in skipped)
    return lines
