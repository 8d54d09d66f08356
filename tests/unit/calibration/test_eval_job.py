"""`run_eval_job`: the whole of `judge eval` as one library call (scripted judges)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from judge import backends
from judge.calibration.eval_job import EvalRun, run_eval_job
from judge.errors import ConfigError, InputError
from judge.settings import JudgeSettings
from tests.unit.commands.test_calibration_cli import labelled_pairs


@pytest.fixture(autouse=True)
def _backends(monkeypatch):
    monkeypatch.setitem(
        backends._REGISTRY, "drift", "tests.unit.commands.test_drift_gate:configurable"
    )
    monkeypatch.setitem(backends._REGISTRY, "never-loads", "tests.doubles.nonexistent:backend")


def _points(path: Path, n: int = 12) -> Path:
    rows = [
        {"id": f"p{i}", "prompt": f"Question {i}?", "response": "a full answer " * (1 + i % 3),
         "label": i % 2 == 0}
        for i in range(n)
    ]  # fmt: skip
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_a_run_writes_the_report_and_a_degraded_judge_regresses_against_it(tmp_path):
    data = labelled_pairs(tmp_path / "pairs.jsonl", n=40)
    seen: list[tuple[str, int, int]] = []
    base = run_eval_job(
        data, backend="drift", backend_options={"model": "good"}, output=tmp_path / "base",
        n_boot=200, batch_size=7, progress=lambda *step: seen.append(step),
    )  # fmt: skip
    assert isinstance(base, EvalRun) and base.evaluation.n == 40
    assert base.evaluation.accuracy == 1.0 and base.drift is None and not base.regressed
    assert base.report == tmp_path / "base" / "report.md" and base.report.is_file()
    assert seen[-1] == ("eval", 40, 40) and len(seen) == 6  # one step per batch of 7
    baseline = tmp_path / "base" / "evaluation.json"

    same = run_eval_job(
        data, backend="drift", backend_options={"model": "good"}, output=tmp_path / "same",
        n_boot=200, baseline=baseline,
    )  # fmt: skip
    assert same.drift is not None and not same.regressed
    worse = run_eval_job(
        data, backend="drift", backend_options={"model": "degraded"}, output=tmp_path / "worse",
        n_boot=200, baseline=baseline,
    )  # fmt: skip
    assert worse.regressed
    stored = json.loads((tmp_path / "worse" / "drift.json").read_text())
    assert any(check["regressed"] for check in stored["checks"])


def test_a_second_reasoning_mode_is_judged_on_the_same_backend_and_compared(tmp_path):
    data = _points(tmp_path / "points.jsonl")
    run = run_eval_job(
        data, backend="drift", output=tmp_path / "modes", n_boot=20,
        settings=JudgeSettings(reasoning="none"), compare_reasoning="after",
    )  # fmt: skip
    assert run.agreement is not None and run.agreement.modes == ("none", "after")
    stored = json.loads((tmp_path / "modes" / "mode-agreement.json").read_text())
    assert stored["n"] == run.agreement.n == 12


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"pair_method": "vote"}, ConfigError, "pair method 'vote'"),
        ({"batch_size": 0}, ConfigError, "--batch-size 0 < 1"),
        ({"tolerance": 1.5}, ConfigError, "--tolerance 1.5"),
        ({"relative_confidence": 2}, ConfigError, "--relative-confidence 2"),
        ({"compare_reasoning": "sideways"}, ConfigError, "unknown reasoning 'sideways'"),
        ({"mixed_groups": True}, InputError, "no prompt group"),
        ({"baseline": Path("missing.json")}, InputError, "missing.json"),
    ],
)
def test_mistakes_are_refused_before_the_model_loads(tmp_path, kwargs, error, message):
    data = labelled_pairs(tmp_path / "pairs.jsonl", n=4)
    with pytest.raises(error, match=message):
        run_eval_job(data, backend="never-loads", output=tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()
