"""`run_batch`: the whole of `judge batch` as one library call (scripted backend)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from judge import backends
from judge.batch import BatchOptions, BatchRun, FieldMap, run_batch
from judge.errors import ConfigError, InputError, RubricError
from judge.settings import JudgeSettings


@pytest.fixture(autouse=True)
def _registered(monkeypatch, tmp_path):
    monkeypatch.setitem(backends._REGISTRY, "scripted-graded", "tests.doubles.reward:graded")
    monkeypatch.setenv("JUDGE_TEST_BACKEND_MARKER", str(tmp_path / "loads.txt"))


def _source(tmp_path: Path, n: int = 6, bad: bool = False) -> Path:
    rows = [
        {"id": f"r{i}", "prompt": f"Question {i}?", "response": f"Answer {i}."} for i in range(n)
    ]
    if bad:
        rows.append({"id": "empty", "prompt": "Q?"})
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _loads(tmp_path: Path) -> int:
    marker = tmp_path / "loads.txt"
    return len(marker.read_text().splitlines()) if marker.exists() else 0


def test_a_run_judges_every_row_records_its_plan_and_a_rerun_has_nothing_left(tmp_path):
    source, output = _source(tmp_path), tmp_path / "scored.jsonl"
    seen: list[int] = []
    options = BatchOptions(fields=FieldMap(id="id"), batch_size=4)
    run = run_batch(
        source, output, backend="scripted-graded", options=options, cache=False,
        settings=JudgeSettings(max_rationale_chars=80),
        on_progress=lambda progress: seen.append(progress.done),
    )  # fmt: skip
    assert isinstance(run, BatchRun) and run.ok and not run.nothing_left
    assert run.progress.judged == 6 and run.progress.total == 6 and seen[-1] == 6
    records = [json.loads(line) for line in output.read_text().splitlines()]
    assert [r["id"] for r in records] == [f"r{i}" for i in range(6)]
    assert output.with_name(output.name + ".plan.json").is_file()
    assert _loads(tmp_path) == 1

    again = run_batch(
        source, output, backend="scripted-graded", options=options, cache=False,
        settings=JudgeSettings(max_rationale_chars=80),
    )  # fmt: skip
    assert again.nothing_left and again.ok and again.progress.total == 6
    assert _loads(tmp_path) == 1, "nothing left: no model was loaded"
    with pytest.raises(ConfigError, match="other settings"):
        run_batch(
            source, output, backend="scripted-graded", options=options, cache=False,
            backend_options={"model": "another-model"},
        )  # fmt: skip


def test_bad_rows_make_the_run_not_ok_and_are_written_with_their_reason(tmp_path):
    source, output = _source(tmp_path, n=3, bad=True), tmp_path / "scored.jsonl"
    run = run_batch(source, output, backend="scripted-graded", cache=False)
    assert not run.ok and run.progress.bad_rows == 1 and run.progress.judged == 3
    last = json.loads(output.read_text().splitlines()[-1])
    assert last["input_error"] is not None


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"engine": "spark"}, ConfigError, "--engine 'spark'"),
        ({"engine": "ray", "cache": Path("c.sqlite")}, ConfigError, "--cache with --engine ray"),
        ({"engine": "ray", "options": BatchOptions(shard=(0, 2))}, ConfigError, "--shard"),
        ({"rubric": "no-such-rubric"}, RubricError, "no-such-rubric"),
    ],
)
def test_mistakes_are_refused_before_any_model_loads(tmp_path, kwargs, error, message):
    source = _source(tmp_path)
    with pytest.raises(error, match=message):
        run_batch(source, tmp_path / "out", backend="scripted-graded", **kwargs)
    assert _loads(tmp_path) == 0


def test_a_missing_input_is_refused_before_any_model_loads(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        run_batch(tmp_path / "nope.jsonl", tmp_path / "o.jsonl", backend="scripted-graded")
    assert _loads(tmp_path) == 0
