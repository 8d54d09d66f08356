"""End to end: `judge eval`, `judge calibrate fit|apply|report`, `judge bias ...`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from judge import backends
from judge.backends.scripted import ScriptedBackend
from judge.calibration.jsonl import write_records
from judge.calibration.records import PairRecord
from judge.types import GenerationRequest
from tests.cli_main import run_judge
from tests.doubles.scripted import verdict_reply

_RESPONSE = re.compile(r"<response>\n(.*?)\n</response>", re.DOTALL)


def length_loving(**options: object) -> ScriptedBackend:
    """A scripted judge whose P(yes) grows with the response's length."""

    def reply(request: GenerationRequest, _: int):
        match = _RESPONSE.search(request.messages[-1].content)
        length = len(match.group(1)) if match else 0
        return verdict_reply(length / (length + 40))

    return ScriptedBackend(reply, model_id="calib-long")


@pytest.fixture(autouse=True)
def _backends(monkeypatch):
    monkeypatch.setitem(backends._REGISTRY, "calib-long", f"{__name__}:length_loving")
    monkeypatch.setitem(backends._REGISTRY, "scripted-yes", "tests.doubles.scripted:always_yes")


def run_main(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    return run_judge(monkeypatch, capsys, *args)


def labelled_pairs(path: Path, n: int = 24) -> Path:
    rows = [
        {
            "id": f"q{i}",
            "prompt": f"Question {i}?",
            "chosen": "a full answer " * (1 + i % 4),
            "rejected": "no",
            "model_chosen": "big",
            "model_rejected": "calib-long",
        }
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_eval_then_calibrate_fit_report_and_apply(tmp_path, monkeypatch, capsys):
    data = labelled_pairs(tmp_path / "pairs.jsonl")
    report_dir = tmp_path / "eval"
    code, out, err = run_main(
        monkeypatch,
        capsys,
        "eval",
        str(data),
        "--backend",
        "calib-long",
        "--output",
        str(report_dir),
        "--n-boot",
        "50",
        "--own-model",
        "calib-long",
        "--batch-size",
        "5",
    )
    assert code == 0, err
    assert (
        "pairs: n=24, accuracy of the combined verdict 1.000" in out
    )  # the longer answer is always the chosen one
    text = (report_dir / "report.md").read_text()
    assert "## Self-preference" in text and "judged in one order only" in text
    evaluation = json.loads((report_dir / "evaluation.json").read_text())
    assert evaluation["fingerprint"]["model"] == "calib-long"
    assert (
        evaluation["self_preference"]["judge_win_rate"] == 0.0
    )  # its "own" answers are the short ones

    calibrator = tmp_path / "cal.json"
    code, out, err = run_main(
        monkeypatch,
        capsys,
        "calibrate",
        "fit",
        str(report_dir / "records.jsonl"),
        "--output",
        str(calibrator),
        "--method",
        "platt",
    )
    assert code == 0, err
    assert (
        "held-out" in out
        and json.loads(calibrator.read_text())["fingerprint"]["model"] == "calib-long"
    )

    code, out, err = run_main(
        monkeypatch,
        capsys,
        "calibrate",
        "report",
        str(report_dir / "records.jsonl"),
        "--calibrator",
        str(calibrator),
        "--output",
        str(tmp_path / "recal"),
        "--format",
        "html",
        "--n-boot",
        "20",
    )
    assert code == 0, err
    assert (tmp_path / "recal" / "report.html").exists() and (
        tmp_path / "recal" / "reliability.png"
    ).exists()

    judgments = tmp_path / "judgments.jsonl"
    samples = tmp_path / "samples.jsonl"
    samples.write_text('{"id": "s1", "prompt": "Q?", "response": "A."}\n')
    code, _, err = run_main(
        monkeypatch,
        capsys,
        "score",
        "--backend",
        "scripted-yes",
        "--input",
        str(samples),
        "--output",
        str(judgments),
    )
    assert code == 0, err
    code, out, err = run_main(
        monkeypatch, capsys, "calibrate", "apply", str(calibrator), str(judgments)
    )
    assert code == 2
    assert "fitted for another judge configuration: model: 'calib-long' != 'scripted-yes'" in err
    assert len(err.strip().splitlines()) == 1  # one line, no traceback
    target = tmp_path / "calibrated.jsonl"
    code, out, err = run_main(
        monkeypatch,
        capsys,
        "calibrate",
        "apply",
        str(calibrator),
        str(judgments),
        "--force-calibrator",
        "--output",
        str(target),
    )
    assert code == 0, err
    calibrated = json.loads(target.read_text())
    assert calibrated["details"]["uncalibrated_score"] == pytest.approx(0.8)
    assert calibrated["score"] != pytest.approx(0.8)


def test_bias_commands_on_pairwise_records(tmp_path, monkeypatch, capsys):
    records = [
        PairRecord(
            id=str(i),
            label="a" if i % 2 else "b",
            winner_ab="a",
            winner_ba="a" if i % 3 else "b",
            len_a=10 + i,
            len_b=50,
            model_a="me" if i % 2 else "you",
            model_b="you" if i % 2 else "me",
        )
        for i in range(30)
    ]
    path = write_records(records, tmp_path / "records.jsonl")
    code, out, err = run_main(monkeypatch, capsys, "bias", "position", str(path), "--n-boot", "50")
    assert code == 0, err
    assert "first_position_wins" in out and "consistent" in out
    code, out, err = run_main(monkeypatch, capsys, "bias", "length", str(path), "--n-boot", "50")
    assert code == 0, err
    assert "accuracy_gap" in out and "length quartile" in out
    code, out, err = run_main(
        monkeypatch, capsys, "bias", "self", str(path), "--own-model", "me", "--n-boot", "50"
    )
    assert code == 0, err
    assert "dbg" in out and "flagged" in out


def test_bad_input_exits_2_with_one_line(tmp_path, monkeypatch, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    code, _, err = run_main(monkeypatch, capsys, "calibrate", "fit", str(empty))
    assert code == 2 and "the file is empty" in err
    unlabelled = tmp_path / "unlabelled.jsonl"
    unlabelled.write_text('{"p": 0.9, "label": 1}\n{"p": 0.4}\n')
    code, _, err = run_main(monkeypatch, capsys, "calibrate", "report", str(unlabelled))
    assert code == 2 and "line 2: label is missing" in err
    points = tmp_path / "points.jsonl"
    points.write_text('{"p": 0.9, "label": 1}\n')
    code, _, err = run_main(monkeypatch, capsys, "bias", "position", str(points))
    assert code == 2 and "pairwise records" in err


def mode_dependent(**options: object) -> ScriptedBackend:
    """Scored (reasoning none): right on every item; decoded: says yes to everything."""

    def reply(request: GenerationRequest, _: int):
        good = "good" in (_RESPONSE.search(request.messages[-1].content) or [""])[0]
        if request.score_after is not None:
            return verdict_reply(0.8 if good else 0.3)
        return verdict_reply(0.7 if good else 0.6)

    return ScriptedBackend(reply, model_id="modal")


def test_eval_compares_two_reasoning_modes(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(backends._REGISTRY, "modal", f"{__name__}:mode_dependent")
    rows = [
        {"id": f"r{i}", "prompt": f"Q{i}?", "response": "good" if i % 2 else "bad", "label": i % 2}
        for i in range(8)
    ]
    data = tmp_path / "points.jsonl"
    data.write_text(
        "".join(json.dumps({**row, "label": bool(row["label"])}) + "\n" for row in rows)
    )
    out_dir = tmp_path / "eval"
    code, out, err = run_main(
        monkeypatch,
        capsys,
        "eval",
        str(data),
        "--backend",
        "modal",
        "--reasoning",
        "none",
        "--compare-reasoning",
        "before",
        "--n-boot",
        "20",
        "--output",
        str(out_dir),
    )
    assert code == 0, err
    line = "reasoning none vs before: sign agreement 0.500 on 8 items; accuracy 1.000 vs 0.500"
    assert line in " ".join(out.split())  # Rich wraps long lines
    agreement = json.loads((out_dir / "mode-agreement.json").read_text())
    assert agreement["modes"] == ["none", "before"] and agreement["n"] == 8
