"""The drift gate's comparison: paired and unpaired intervals, probe acceptance, what is skipped."""

import json

import pytest

from judge.calibration.drift import compare_evaluations, load_evaluation
from judge.calibration.evaluate import evaluate_pointwise
from judge.calibration.probe_acceptance import read_probe_report
from judge.calibration.records import PointRecord
from judge.errors import ConfigError, InputError


def _points(n: int, wrong_every: int, prefix: str = "r") -> list[PointRecord]:
    """n records, label alternating; the verdict is wrong on every `wrong_every`-th one."""
    records = []
    for i in range(n):
        label = i % 2 == 0
        right = wrong_every == 0 or i % wrong_every != 0
        p = 0.8 if label == right else 0.2
        records.append(PointRecord(id=f"{prefix}{i}", p=p, label=label))
    return records


def _probe(tmp_path, name: str, accepted: list[float], version: str = "v1"):
    path = tmp_path / f"{name}.json"
    attacks = [
        {"name": "master_key", "role": "attack", "accepted": accepted, "n": len(accepted)},
        {"name": "clean", "role": "control", "accepted": [1.0] * len(accepted)},
    ]
    path.write_text(json.dumps({"attack_set_version": version, "attacks": attacks, "x": 1}))
    return read_probe_report(path)


def test_a_paired_drop_in_accuracy_is_a_regression_and_noise_is_not():
    baseline = evaluate_pointwise(_points(200, 0), n_boot=0)
    same = compare_evaluations(evaluate_pointwise(_points(200, 0), n_boot=0), baseline)
    assert not same.regressed and all(c.paired for c in same.checks)
    worse = compare_evaluations(evaluate_pointwise(_points(200, 4), n_boot=0), baseline)
    accuracy = next(c for c in worse.checks if c.measure == "accuracy")
    assert accuracy.regressed and accuracy.change.value == pytest.approx(-0.25)
    assert accuracy.baseline == 1.0 and accuracy.current == pytest.approx(0.75)
    # A drop of one item in 200 is within the noise.
    slight = [*_points(199, 0), PointRecord(id="r199", p=0.2, label=False)]
    assert not compare_evaluations(evaluate_pointwise(slight, n_boot=0), baseline).regressed
    # A tolerance of 0.3 lets even the 25-point drop pass.
    lenient = compare_evaluations(
        evaluate_pointwise(_points(200, 4), n_boot=0), baseline, tolerance=0.3
    )
    assert not lenient.regressed


def test_runs_on_different_items_are_compared_unpaired():
    baseline = evaluate_pointwise(_points(150, 0, "old"), n_boot=0)
    worse = compare_evaluations(evaluate_pointwise(_points(120, 3, "new"), n_boot=0), baseline)
    accuracy = worse.checks[0]
    assert not accuracy.paired and "unpaired: 150 baseline vs 120 current" in (accuracy.note or "")
    assert accuracy.regressed and accuracy.change.high is not None and accuracy.change.high < 0


def test_probe_acceptance_is_gated_per_attack_when_both_carry_the_same_attack_set(tmp_path):
    records = _points(60, 0)
    before = _probe(tmp_path, "before", [0.0] * 36 + [1.0] * 4)
    after = _probe(tmp_path, "after", [0.0] * 10 + [1.0] * 30)
    baseline = evaluate_pointwise(records, n_boot=0).model_copy(update={"probe": before})
    current = evaluate_pointwise(records, n_boot=0).model_copy(update={"probe": after})
    report = compare_evaluations(current, baseline)
    [probe] = [c for c in report.checks if c.measure.startswith("probe")]
    assert probe.measure == "probe acceptance: master_key" and probe.better == "lower"
    assert probe.regressed and probe.baseline == 0.1 and probe.current == 0.75
    other = _probe(tmp_path, "other", [0.0] * 40, version="v2")
    skipped = compare_evaluations(current.model_copy(update={"probe": other}), baseline)
    assert "attack sets differ (v1 vs v2)" in skipped.skipped[0] and not skipped.regressed
    lone = compare_evaluations(evaluate_pointwise(records, n_boot=0), baseline)
    assert lone.skipped == ("probe acceptance: only one evaluation carries a probe report",)


def test_bad_baselines_and_probe_reports_are_input_errors(tmp_path):
    evaluation = evaluate_pointwise(_points(10, 0), n_boot=0)
    (tmp_path / "evaluation.json").write_text(evaluation.model_dump_json())
    assert load_evaluation(tmp_path) == evaluation  # a folder means its evaluation.json
    (tmp_path / "bad.json").write_text('{"kind": "pointwise"}')
    with pytest.raises(InputError, match=r"not an evaluation\.json"):
        load_evaluation(tmp_path / "bad.json")
    with pytest.raises(InputError, match="cannot read baseline"):
        load_evaluation(tmp_path / "missing.json")
    (tmp_path / "probe.json").write_text('{"attack_set_version": "v1", "attacks": [{"name": "x"}]}')
    with pytest.raises(InputError, match=r"attacks\[0\]: no 'accepted'"):
        read_probe_report(tmp_path / "probe.json")
    with pytest.raises(ConfigError, match="tolerance"):
        compare_evaluations(evaluation, evaluation, tolerance=1.5)
