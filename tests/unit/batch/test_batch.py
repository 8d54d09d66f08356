import csv
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from judge import _cli as cli
from judge import backends
from judge.backends import create_backend
from judge.batch import BatchJob, BatchOptions, BatchScorer, FieldMap, parse_shard, record_columns
from judge.errors import ConfigError, InputError
from judge.runner.judge import Judge
from judge.types import Judgment


@pytest.fixture(autouse=True)
def _registered(monkeypatch):
    monkeypatch.setitem(backends._REGISTRY, "scripted-graded", "tests.doubles.reward:graded")


def _judge(rubric: str = "helpfulness") -> Judge:
    return Judge(create_backend("scripted-graded"), rubric)


def _rows(n: int) -> list[dict]:
    return [
        {"id": f"r{i}", "prompt": f"Question {i}?", "response": f"Answer {i}."} for i in range(n)
    ]


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _run(source: Path, output: Path, judge: Judge | None = None, **options):
    options.setdefault("fields", FieldMap(id="id"))
    options.setdefault("batch_size", 4)
    return BatchJob(judge or _judge(), source, output, BatchOptions(**options)).run()


def test_every_row_gets_one_record_with_every_judgment_field(tmp_path):
    source = _write_jsonl(tmp_path / "in.jsonl", _rows(10))
    progress = _run(source, tmp_path / "out.jsonl")
    records = _read_jsonl(tmp_path / "out.jsonl")
    assert [r["id"] for r in records] == [f"r{i}" for i in range(10)]
    assert [r["row"] for r in records] == list(range(1, 11))
    inputs = {"input_id", "prompt", "response"}  # the input columns ride along
    assert set(records[0]) == set(record_columns(False)) | inputs
    assert set(record_columns(False)) >= set(Judgment.model_fields)
    assert records[3]["prompt"] == "Question 3?" and records[3]["input_id"] == "r3"
    records[0]["details"] = json.loads(records[0]["details"])  # JSON text in every format
    assert all(r["input_error"] is None and 0 < r["score"] < 1 for r in records)
    assert progress.judged == 10 and progress.judgments == 50 and progress.usage.prompt_tokens > 0
    Judgment.model_validate({k: records[0][k] for k in Judgment.model_fields})


def test_bad_rows_are_recorded_with_row_number_and_reason(tmp_path):
    source = tmp_path / "in.jsonl"
    lines = [
        json.dumps({"id": "ok1", "prompt": "Q?", "response": "A."}).encode(),
        b'{"id": "broken", "prompt": ',
        json.dumps({"id": "nofield", "prompt": "Q?"}).encode(),
        b'{"id": "bytes", "prompt": "Q?", "response": "\xff"}',
        json.dumps({"id": "typed", "prompt": "Q?", "response": 42}).encode(),
        json.dumps({"id": "long", "prompt": "Q?", "response": "x" * 101}).encode(),
        json.dumps({"id": "empty", "prompt": "Q?", "response": "  "}).encode(),
        json.dumps({"id": "ok1", "prompt": "Q?", "response": "again"}).encode(),
        b"[1, 2]",
        b"",
        json.dumps(
            {"id": "ok2", "prompt": [{"role": "user", "content": "Hi"}], "response": "Hello."}
        ).encode(),
    ]
    source.write_bytes(b"\n".join(lines) + b"\n")
    progress = _run(source, tmp_path / "out.jsonl", max_chars=100)
    records = {r["row"]: r for r in _read_jsonl(tmp_path / "out.jsonl")}
    assert sorted(records) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 11]
    errors = {row: r["input_error"] for row, r in records.items() if r["input_error"]}
    assert errors[2].startswith("unreadable: not valid JSON")
    assert errors[3] == "missing_field: missing field 'response'"
    assert errors[4].startswith("invalid_utf8: invalid UTF-8")
    assert errors[5] == "wrong_type: field 'response': expected text, got int"
    assert errors[6] == "too_long: field 'response': 101 characters (limit 100)"
    assert errors[8] == "duplicate_id: id 'ok1' is also row 1"
    assert errors[9] == "unreadable: expected a JSON object, got list"
    assert records[1]["score"] is not None and records[11]["score"] is not None
    assert all(records[row]["score"] is None and records[row]["error"] for row in errors)
    # A blank response is no bad row: it is judged, failing every criterion by rule.
    assert 7 not in errors and records[7]["score"] == 0.0 and records[7]["strategy"] == "empty"
    assert progress.bad_rows == 7 and progress.judged == 3
    assert progress.failures["bad row: invalid_utf8"] == 1


def test_rerun_skips_done_rows_and_a_torn_last_line_is_dropped(tmp_path):
    source = _write_jsonl(tmp_path / "in.jsonl", _rows(12))
    reference = tmp_path / "reference.jsonl"
    _run(source, reference)
    expected = reference.read_text()

    output = tmp_path / "out.jsonl"
    lines = expected.splitlines(keepends=True)
    output.write_text("".join(lines[:5]) + lines[5][: len(lines[5]) // 2])  # killed mid-write
    judge = _judge()
    progress = _run(source, output, judge=judge)
    assert output.read_text() == expected
    assert progress.skipped == 5 and progress.done == 7

    again = _run(source, output, judge=judge)
    assert again.skipped == 12 and again.done == 0
    assert output.read_text() == expected


def test_a_corrupt_line_before_the_end_is_refused(tmp_path):
    source = _write_jsonl(tmp_path / "in.jsonl", _rows(4))
    output = tmp_path / "out.jsonl"
    _run(source, output)
    lines = output.read_text().splitlines(keepends=True)
    output.write_text(lines[0] + "garbage\n" + "".join(lines[1:]))
    with pytest.raises(InputError, match=r"out\.jsonl:2: not a result record"):
        _run(source, output)


def test_changed_settings_are_refused_unless_forced(tmp_path):
    source = _write_jsonl(tmp_path / "in.jsonl", _rows(4))
    output = tmp_path / "out.jsonl"
    _run(source, output)
    with pytest.raises(ConfigError, match=r"judge settings \(rubric, model"):
        _run(source, output, judge=_judge("harmlessness"))
    with pytest.raises(
        ConfigError, match="the field mapping, --max-chars or --drop-inputs changed"
    ):
        _run(source, output, fields=FieldMap(id="id", reference=None))
    _run(source, output, judge=_judge("harmlessness"), force=True)
    assert {r["rubric"] for r in _read_jsonl(output)} == {"harmlessness"}
    assert len(_read_jsonl(output)) == 4


def test_parquet_in_and_out(tmp_path):
    rows = _rows(9)
    rows[4]["prompt"] = [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "Hi"},
    ]
    source = tmp_path / "in.parquet"
    table = pa.Table.from_pylist(
        [
            {
                **row,
                "prompt": json.dumps(row["prompt"])
                if isinstance(row["prompt"], list)
                else row["prompt"],
            }
            for row in rows
        ]
    )
    pq.write_table(table, source)
    jsonl_source = _write_jsonl(tmp_path / "in.jsonl", rows)
    # Parquet cannot mix text and lists in one column: the messages row is a JSON string there.
    messages_table = pa.Table.from_pylist(
        [{"id": "m", "prompt": rows[4]["prompt"], "response": "Hello!"}]
    )
    pq.write_table(messages_table, tmp_path / "messages.parquet")

    output = tmp_path / "out.parquet"
    progress = _run(source, output)
    assert progress.judged == 9 and not (tmp_path / "out.parquet.journal.jsonl").exists()
    written = pq.read_table(output)
    assert written.column_names == [*record_columns(False), "input_id", "prompt", "response"]
    assert written.schema.field("score").type == pa.float64()
    assert pa.types.is_list(written.schema.field("verdicts").type)
    from_jsonl = tmp_path / "out.jsonl"
    _run(jsonl_source, from_jsonl)
    jsonl_records = _read_jsonl(from_jsonl)
    parquet_records = written.to_pylist()
    for mine, theirs in zip(parquet_records, jsonl_records, strict=True):
        if mine["id"] == "r4":
            continue  # judged from a JSON string in Parquet, from messages in JSONL
        assert mine["score"] == theirs["score"] and mine["verdicts"] == theirs["verdicts"]
        assert mine["usage"] == theirs["usage"] and mine["details"] == theirs["details"]

    [message_record] = pq.read_table(
        _run_to(tmp_path / "messages.parquet", tmp_path / "m.parquet")
    ).to_pylist()
    assert message_record["score"] is not None and message_record["input_error"] is None

    # Rerunning a finished Parquet job does nothing; a crash leaves a journal that is resumed.
    assert _run(source, output).skipped == 9
    journal = tmp_path / "resume.parquet.journal.jsonl"
    journal.write_text("".join(json.dumps(r) + "\n" for r in jsonl_records[:3] if r["id"] != "r4"))
    resumed = _run(source, tmp_path / "resume.parquet")
    assert resumed.skipped == 3 and not journal.exists()
    assert pq.read_table(tmp_path / "resume.parquet").column("id").to_pylist() == [
        f"r{i}" for i in range(9)
    ]


def _run_to(source: Path, output: Path) -> Path:
    _run(source, output)
    return output


def test_csv_input_with_an_invalid_byte_in_one_field(tmp_path):
    source = tmp_path / "in.csv"
    with source.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["key", "question", "answer"])
        writer.writerow(["a", "Q1?", "A1"])
        writer.writerow(["b", "Q2?", "BAD"])
        writer.writerow(["c", "Q3?", "A3, with a comma"])
    source.write_bytes(source.read_bytes().replace(b"BAD", b"\xff\xfe"))
    fields = FieldMap(prompt="question", response="answer", id="key", reference=None)
    progress = _run(source, tmp_path / "out.jsonl", fields=fields)
    records = _read_jsonl(tmp_path / "out.jsonl")
    assert [r["id"] for r in records] == ["a", "b", "c"]
    assert records[1]["input_error"].startswith("invalid_utf8: field 'answer'")
    assert progress.judged == 2


def test_shards_split_rows_deterministically_and_cover_the_input(tmp_path):
    source = _write_jsonl(tmp_path / "in.jsonl", _rows(10))
    full = tmp_path / "full.jsonl"
    _run(source, full)
    parts = []
    for index in range(3):
        out = tmp_path / f"part{index}.jsonl"
        _run(source, out, shard=(index, 3))
        parts.append(_read_jsonl(out))
    assert [r["row"] for r in parts[1]] == [2, 5, 8]
    merged = sorted((r for part in parts for r in part), key=lambda r: r["row"])
    assert merged == _read_jsonl(full)
    assert parse_shard("2/3") == (2, 3)
    for bad in ("3/3", "x", "1/0"):
        with pytest.raises(ConfigError):
            parse_shard(bad)


def test_max_failures_stops_the_job_and_a_rerun_resumes(tmp_path):
    rows = _rows(12)
    for row in rows[2:6]:
        row["response"] = 42  # a bad row (a blank response is judged, by rule)
    source = _write_jsonl(tmp_path / "in.jsonl", rows)
    output = tmp_path / "out.jsonl"
    progress = _run(source, output, max_failures=1)
    assert progress.stopped and "--max-failures 1" in progress.stopped
    assert 0 < len(_read_jsonl(output)) < 12
    _run(source, output)
    assert [r["row"] for r in _read_jsonl(output)] == list(range(1, 13))


def test_batch_scorer_refuses_a_batch_without_stable_row_ids():
    scorer = BatchScorer(judge=_judge())
    with pytest.raises(ConfigError, match="needs stable row ids"):
        scorer({"prompt": ["Q1?", "Q2?"], "response": ["A1", "A2"]})
    numbered = scorer({"_row": [7, 8], "prompt": ["Q1?", "Q2?"], "response": ["A1", "A2"]})
    assert numbered["row"] == [7, 8] and numbered["id"] == ["7", "8"]


def test_batch_scorer_maps_columns_to_columns_like_ray_map_batches():
    scorer = BatchScorer(judge=_judge(), fields=FieldMap(id="id"))
    batch = {
        "id": np.array(["a", "b", "c"], dtype=object),
        "prompt": np.array(["Q1?", "Q2?", "Q3?"], dtype=object),
        "response": np.array(["A1", 7, "A3"], dtype=object),
        "reference": np.array([None, None, float("nan")], dtype=object),
    }
    out = scorer(batch)
    assert list(out) == [*record_columns(False), "input_id", "prompt", "response", "reference"]
    assert all(len(column) == 3 for column in out.values())
    assert out["id"] == ["a", "b", "c"] and out["row"] == [1, 2, 3]
    assert out["score"][0] is not None and out["score"][1] is None and out["input_error"][1]
    assert scorer.judge.backend.calls == 1


def test_cli_batch_prints_a_summary_and_exits_1_on_bad_rows(tmp_path, monkeypatch, capsys):
    rows = _rows(5)
    rows[3]["response"] = ["not", "text"]
    source = _write_jsonl(tmp_path / "in.jsonl", rows)
    output = tmp_path / "out.jsonl"
    args = [
        "judge",
        "batch",
        str(source),
        str(output),
        "--backend",
        "scripted-graded",
        "--id-field",
        "id",
    ]
    monkeypatch.setattr("sys.argv", args)
    with pytest.raises(SystemExit) as info:
        cli.main()
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert "judged" in err and "bad rows" in err and "mean score" in err and "wrong_type" in err
    assert len(_read_jsonl(output)) == 5

    monkeypatch.setattr("sys.argv", [*args[:3], str(tmp_path / "clean.jsonl"), *args[4:]])
    source.write_text("".join(json.dumps(r) + "\n" for r in _rows(3)))
    with pytest.raises(SystemExit) as info:
        cli.main()
    assert info.value.code == 0

    monkeypatch.setattr("sys.argv", [*args, "--rubric", "harmlessness"])
    with pytest.raises(SystemExit) as info:
        cli.main()
    err = capsys.readouterr().err
    assert info.value.code == 2 and "--force" in err and "Traceback" not in err


def test_pairwise_job_compares_the_a_and_b_fields(tmp_path):
    rows = [
        {"id": f"p{i}", "prompt": f"Q{i}?", "a": f"First {i}", "b": f"Second {i}"} for i in range(5)
    ]
    rows[2]["b"] = " "
    source = _write_jsonl(tmp_path / "in.jsonl", rows)
    fields = FieldMap(id="id", response_a="a", response_b="b")
    output = tmp_path / "out.jsonl"
    progress = _run(source, output, fields=fields)
    records = _read_jsonl(output)
    assert list(records[0]) == [*record_columns(True), "input_id", "prompt", "a", "b"]
    assert [r["pair_id"] for r in records] == [f"p{i}" for i in range(5)]
    # A blank response loses by rule, without a model call.
    assert records[2]["input_error"] is None and records[2]["winner"] == "a"
    assert records[2]["strategy"] == "empty" and records[2]["p_a"] == 1.0
    assert all(r["p_a"] is not None for r in records)
    assert progress.judged == 5 and progress.bad_rows == 0
    assert _run(source, output, fields=fields).skipped == 5
    with pytest.raises(ConfigError, match="judge settings"):
        _run(source, output, fields=fields, compare_method="direct")
