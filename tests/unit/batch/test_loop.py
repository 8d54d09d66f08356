"""The one loop over rows of a file (`judge.batch.loop`): defined once, used by score, batch, eval.

The structural test reads the modules' source (it fails when a command grows its own chunking
loop or stops importing the shared one); the behaviour test runs the three commands on the same
rows with the same scripted backend and compares what they wrote.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from judge import backends
from judge._cli import app
from judge.batch.files import RawRow
from judge.batch.loop import chunks, judge_chunks, prepared_rows
from judge.batch.rows import BadRow, FieldMap, PreparedRow
from judge.runner.judge import Judge
from judge.types import Judgment, Sample
from tests.conftest import REPO
from tests.doubles.reward import graded as graded_backend

USERS = {
    "judge.batch.job": REPO / "judge" / "batch" / "job.py",
    "judge.commands.score": REPO / "judge" / "commands" / "score.py",
    "calibration.run": REPO / "calibration" / "run.py",
}
LOOP_NAMES = {"judge_chunks", "judge_chunk", "chunks", "prepared_rows"}
JUDGE_CALLS = {
    "score", "compare", "score_with_naive", "compare_with_naive", "judge_samples",
    "judge_prepared", "score_rows",
}  # fmt: skip


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def _sources() -> list[Path]:
    return sorted((REPO / "judge").rglob("*.py")) + sorted((REPO / "calibration").rglob("*.py"))


def test_the_loop_is_defined_once_and_the_file_commands_import_it():
    defined = {
        node.name: path.relative_to(REPO).as_posix()
        for path in _sources()
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.FunctionDef) and node.name in LOOP_NAMES
    }
    assert set(defined.values()) == {"judge/batch/loop.py"}, defined
    for module, path in USERS.items():
        imported = {
            alias.name
            for node in ast.walk(_tree(path))
            if isinstance(node, ast.ImportFrom) and node.module == "judge.batch.loop"
            for alias in node.names
        }
        assert "judge_chunks" in imported, f"{module} does not judge its rows in the one loop"


def test_no_file_command_calls_the_judge_inside_a_loop_of_its_own():
    """A `for` loop around a judge call is the loop `judge_chunks` already is."""
    for module, path in USERS.items():
        for loop in (n for n in ast.walk(_tree(path)) if isinstance(n, ast.For | ast.While)):
            for call in (n for n in ast.walk(loop) if isinstance(n, ast.Call)):
                func = call.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                assert name not in JUDGE_CALLS, f"{module}:{call.lineno} calls {name} in a loop"


def test_chunks_count_valid_rows_and_let_bad_rows_ride_along():
    good = [PreparedRow(i, f"r{i}", Sample(id=f"r{i}", prompt="q", response="r")) for i in range(5)]
    bad = [PreparedRow(10 + i, f"b{i}", BadRow("missing_field", "no response")) for i in range(9)]
    packed = list(chunks([good[0], *bad[:2], *good[1:]], 2))
    assert [len(c) for c in packed] == [4, 2, 1]  # 2 valid each; the bad rows ride in the first
    assert [len(c) for c in chunks(bad, 2)] == [8, 1]  # a run of bad rows flushes at 4 x size


def test_prepared_rows_skip_what_was_done_and_mark_a_repeated_id():
    raws = [
        RawRow(i, {"id": "x" if i != 3 else "y", "prompt": "q", "response": "r"}) for i in (1, 2, 3)
    ]
    rows = list(prepared_rows(raws, FieldMap(id="id"), done={(3, "y")}))
    assert [r.number for r in rows] == [1, 2]
    assert isinstance(rows[1].item, BadRow) and rows[1].item.kind == "duplicate_id"


def test_prefetch_gives_the_same_chunks_and_leaving_early_stops_the_reader():
    rows = [
        PreparedRow(i, f"r{i}", Sample(id=f"r{i}", prompt="q", response=f"answer {i}"))
        for i in range(1, 11)
    ]
    judge = Judge(backend=graded_backend(), rubric="helpfulness")
    plain = [c.judgments for c in judge_chunks(judge, rows, batch_size=3)]
    ahead = [c.judgments for c in judge_chunks(judge, rows, batch_size=3, prefetch=2)]
    assert plain == ahead and [len(c) for c in plain] == [3, 3, 3, 1]
    looping = judge_chunks(judge, iter(rows), batch_size=3, prefetch=1)
    next(looping)
    looping.close()  # the prefetch thread is joined, not left reading


@pytest.fixture
def graded(monkeypatch):
    monkeypatch.setitem(backends._REGISTRY, "scripted-graded", "tests.doubles.reward:graded")


def _rows(path: Path) -> Path:
    rows = [
        {"id": f"r{i}", "prompt": f"Question {i}?", "response": "an answer " * (1 + i % 4),
         "label": i % 2 == 0}
        for i in range(11)
    ]  # fmt: skip
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_score_batch_and_eval_give_the_same_judgments_for_the_same_rows(tmp_path, graded):
    source = _rows(tmp_path / "rows.jsonl")
    runner = CliRunner()
    common = ["--backend", "scripted-graded", "--batch-size", "4", "--rubric", "helpfulness"]
    scored = runner.invoke(
        app, ["score", "--input", str(source), "--output", str(tmp_path / "s.jsonl"), *common]
    )
    assert scored.exit_code == 0, scored.output
    batched = runner.invoke(
        app, ["batch", str(source), str(tmp_path / "b.jsonl"), "--id-field", "id", *common]
    )
    assert batched.exit_code == 0, batched.output
    evaluated = runner.invoke(
        app,
        [
            "eval",
            str(source),
            "--output",
            str(tmp_path / "e"),
            "--no-naive",
            "--n-boot",
            "0",
            *common,
        ],
    )
    assert evaluated.exit_code == 0, evaluated.output

    score_lines = (tmp_path / "s.jsonl").read_text().splitlines()
    by_score = {j.sample_id: j for j in map(Judgment.model_validate_json, score_lines)}
    by_batch = {}
    for line in (tmp_path / "b.jsonl").read_text().splitlines():
        record = json.loads(line)
        record["details"] = json.loads(record["details"])
        fields = {k: v for k, v in record.items() if k in Judgment.model_fields}
        by_batch[record["id"]] = Judgment.model_validate(fields)
    assert len(by_score) == 11 and by_score == by_batch
    records = [
        json.loads(line) for line in (tmp_path / "e" / "records.jsonl").read_text().splitlines()
    ]
    assert {r["id"]: r["p"] for r in records} == {i: j.score for i, j in by_score.items()}
