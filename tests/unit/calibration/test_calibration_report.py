"""Judgments produced elsewhere (JSONL) -> evaluation -> Markdown/HTML report with PNG plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from judge.calibration.apply import calibrate_records, calibration_rows, fit_on_records
from judge.calibration.evaluate import evaluate_pairwise, evaluate_pointwise
from judge.calibration.jsonl import (
    load_eval_set,
    load_pair_records,
    load_point_records,
    load_records,
    write_records,
)
from judge.calibration.records import JudgeFingerprint, PairRecord
from judge.calibration.report import write_report
from judge.errors import ConfigError, InputError

PLOTS = ("reliability.png", "risk_coverage.png", "confidence_histogram.png", "score_by_length.png")


def external_pointwise(path: Path, n: int = 300, seed: int = 0) -> Path:
    """A JSONL another tool might write: overconfident P(yes), labels, categories, lengths."""
    rng = np.random.default_rng(seed)
    lines = []
    for index in range(n):
        q = rng.uniform(0.05, 0.95)
        p = 1 / (1 + np.exp(-3 * np.log(q / (1 - q))))
        lines.append(
            {
                "id": f"r{index}",
                "p": float(p),
                "label": bool(rng.uniform() < q),
                "category": ["math", "code"][index % 2],
                "length": int(rng.integers(10, 900)),
                "extra_field_from_the_other_tool": "ignored",
            }
        )
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_pointwise_report_from_judgments_produced_elsewhere(tmp_path: Path):
    records = load_point_records(external_pointwise(tmp_path / "judged.jsonl"))
    evaluation = evaluate_pointwise(records, name="external", judge="other-tool", n_boot=100)
    assert evaluation.n == 300 and evaluation.calibration.ece.value > 0.05
    assert {c.category for c in evaluation.by_category} == {"math", "code"}
    assert len(evaluation.score_by_length) == 4
    report = write_report(evaluation, tmp_path / "report")
    text = report.read_text()
    assert "## Can I trust this judge?" in text and "overconfident" in text
    assert "Wrong@tau" in text and "| math |" in text
    for name in PLOTS:
        assert f"]({name})" in text
        with Image.open(tmp_path / "report" / name) as image:
            assert image.format == "PNG" and image.size[0] >= 600 and image.size[1] >= 400
    saved = json.loads((tmp_path / "report" / "evaluation.json").read_text())
    assert saved["kind"] == "pointwise" and len(saved["records"]) == 300
    html = write_report(evaluation, tmp_path / "report", format="html").read_text()
    assert html.startswith("<!DOCTYPE html>") and '<img src="reliability.png"' in html
    assert "mean |accuracy - confidence|" in html
    assert "mean \\|accuracy - confidence\\|" in text  # a pipe cannot break the Markdown table


def test_recalibrating_external_judgments_improves_their_report(tmp_path: Path):
    records = load_point_records(external_pointwise(tmp_path / "judged.jsonl", n=2000))
    fit_half, report_half = records[:1000], records[1000:]
    calibrator = fit_on_records(fit_half, method="temperature")
    assert calibrator.temperature > 2  # the file's log-odds were sharpened 3x
    calibrated = calibrate_records(calibrator, report_half, fingerprint=JudgeFingerprint())
    before = evaluate_pointwise(report_half, n_boot=0).calibration.ece.value
    after = evaluate_pointwise(calibrated, n_boot=0).calibration.ece.value
    assert after < before / 2
    with pytest.raises(ConfigError, match="another judge configuration"):
        calibrate_records(calibrator, report_half, fingerprint=JudgeFingerprint(model="x"))


def test_field_mapping_for_confidence_and_correctness_files(tmp_path: Path):
    path = tmp_path / "conf.jsonl"
    path.write_text('{"confidence": 0.9, "correct": true}\n{"confidence": 0.6, "correct": 0}\n')
    records = load_point_records(path, p_field="confidence", label_field="correct")
    assert [(r.id, r.p, r.label) for r in records] == [
        ("line-1", 0.9, True),
        ("line-2", 0.6, False),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "x", "p": 0.7}', "line 2: label is missing"),
        ('{"id": "x", "p": 1.5, "label": 1}', "line 2: p = 1.5 is not a probability in"),
        ('{"id": "x", "p": NaN, "label": 1}', "line 2: p = nan is not a probability"),
        ('{"id": "x", "p": "0.7", "label": 1}', "line 2: p = '0.7' is not a number"),
        ('{"id": "x", "p": 0.7, "label": "yes"}', "line 2: label = 'yes' is not true/false"),
        ('{"id": "x", "label": 1}', "line 2: p is missing"),
    ],
)
def test_bad_rows_of_external_files_name_line_and_field(tmp_path: Path, line: str, message: str):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "ok", "p": 0.5, "label": 0}\n' + line + "\n")
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        load_point_records(path)


def test_empty_files_and_empty_inputs_are_clear_errors(tmp_path: Path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(InputError, match="empty"):
        load_point_records(empty)
    with pytest.raises(InputError, match="no judged responses"):
        evaluate_pointwise([])
    with pytest.raises(InputError, match="no pairs"):
        evaluate_pairwise([])
    with pytest.raises(InputError, match="no record has a probability"):
        calibration_rows([PairRecord(id="1", label="a", winner_ab="a", winner_ba="a")])


def test_one_class_only_is_reported_not_raised(tmp_path: Path):
    path = tmp_path / "all_right.jsonl"
    path.write_text("".join(json.dumps({"p": 0.6 + i / 100, "label": 1}) + "\n" for i in range(20)))
    evaluation = evaluate_pointwise(load_point_records(path), n_boot=20)
    assert evaluation.calibration.auroc.value is None
    assert (
        evaluation.auroc_label.value is None
        and "all 20 labels are positive" in evaluation.auroc_label.note
    )
    text = write_report(evaluation, tmp_path / "r").read_text()
    assert "n/a (AUROC is undefined: all 20 labels are positive" in text


def test_pairwise_records_round_trip_and_report(tmp_path: Path):
    rng = np.random.default_rng(2)
    records = []
    for index in range(120):
        label = "a" if rng.uniform() < 0.5 else "b"
        truth = 0.8 if label == "a" else 0.2
        records.append(
            PairRecord(
                id=str(index),
                label=label,
                p_a_ab=float(np.clip(truth + 0.15 + rng.normal(0, 0.1), 0, 1)),
                p_a_ba=float(np.clip(truth - 0.05 + rng.normal(0, 0.1), 0, 1)),
                len_a=int(rng.integers(5, 500)),
                len_b=int(rng.integers(5, 500)),
                model_a="me" if index % 2 else "you",
                model_b="you" if index % 2 else "me",
                category="cat" + str(index % 3),
            )
        )
    path = write_records(records, tmp_path / "pairs.jsonl")
    assert load_records(path) == records == load_pair_records(path)
    evaluation = evaluate_pairwise(records, name="pairs", own_models="me", n_boot=100)
    assert evaluation.position is not None and evaluation.position.first_position_wins.value > 0.5
    assert evaluation.self_preference is not None and evaluation.length is not None
    assert evaluation.confidence_source == "probabilities"
    text = write_report(evaluation, tmp_path / "report").read_text()
    for heading in ("## Position bias", "## Length bias", "## Self-preference", "## Calibration"):
        assert heading in text
    assert all((tmp_path / "report" / name).exists() for name in PLOTS)


def test_generic_labelled_sets(tmp_path: Path):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(
        "".join(
            json.dumps(
                {"prompt": f"q{i}", "chosen": "good", "rejected": "bad", "model_chosen": "m1"}
            )
            + "\n"
            for i in range(40)
        )
    )
    eval_set = load_eval_set(pairs, seed=1)
    assert eval_set.kind == "pairwise" and len(eval_set) == 40
    labels = [p.label for p in eval_set.pairs]
    assert 10 < labels.count("a") < 30  # the better response is placed at random
    assert all((p.response_a == "good") == (p.label == "a") for p in eval_set.pairs)
    assert all((p.model_a == "m1") == (p.label == "a") for p in eval_set.pairs)
    assert len(eval_set.head(5)) == 5
    samples = tmp_path / "samples.jsonl"
    samples.write_text('{"prompt": "q", "response": "r", "gold_score": 4}\n')
    with pytest.raises(InputError, match="label is missing"):
        load_eval_set(samples)
    graded = load_eval_set(samples, gold_threshold=3)
    assert graded.kind == "pointwise" and graded.samples[0].label is True
