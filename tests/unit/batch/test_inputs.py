"""Input files as users save them: a UTF-8 byte-order mark, an empty file."""

import csv
import json
from pathlib import Path

import pytest

from judge import backends
from judge.backends import create_backend
from judge.batch import BatchJob, BatchOptions, FieldMap
from judge.batch.files import count_rows, read_rows
from judge.runner.judge import Judge

ROWS = [{"id": f"r{i}", "prompt": f"Question {i}?", "response": f"Réponse {i}."} for i in range(5)]


@pytest.fixture(autouse=True)
def _registered(monkeypatch):
    monkeypatch.setitem(backends._REGISTRY, "scripted-graded", "tests.doubles.reward:graded")


def _csv_with_bom(path: Path) -> Path:
    # What Excel's "CSV UTF-8" writes: a byte-order mark, then the header.
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "prompt", "response"])
        writer.writeheader()
        writer.writerows(ROWS)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    return path


def _jsonl_with_bom(path: Path) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    return path


@pytest.mark.parametrize("make", [_csv_with_bom, _jsonl_with_bom], ids=["csv", "jsonl"])
def test_a_byte_order_mark_is_not_part_of_the_first_column_or_row(tmp_path, make):
    source = make(tmp_path / ("in.csv" if make is _csv_with_bom else "in.jsonl"))
    fmt = "csv" if source.suffix == ".csv" else "jsonl"
    rows = list(read_rows(source, fmt))
    assert [row.error for row in rows] == [None] * 5
    assert [dict(row.record or {})["id"] for row in rows] == [r["id"] for r in ROWS]
    assert count_rows(source, fmt) == 5
    judge = Judge(create_backend("scripted-graded"), "helpfulness")
    output = tmp_path / "out.jsonl"
    progress = BatchJob(judge, source, output, BatchOptions(fields=FieldMap(id="id"))).run()
    assert progress.judged == 5 and progress.bad_rows == 0


def test_judge_score_flags_a_repeated_id_like_judge_batch(tmp_path, monkeypatch, capsys):
    from judge import _cli as cli

    rows = [*ROWS[:3], {**ROWS[3], "id": "r1"}]
    source = _jsonl_with_bom(tmp_path / "in.jsonl")
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    output = tmp_path / "out.jsonl"
    args = ["score", "--input", str(source), "--output", str(output)]
    monkeypatch.setattr("sys.argv", ["judge", *args, "--backend", "scripted-graded"])
    with pytest.raises(SystemExit) as info:
        cli.main()
    err = capsys.readouterr().err
    assert info.value.code == 1
    assert f"{source}:4: id 'r1' is also row 2" in err and "invalid_input 1" in err
    written = [json.loads(line)["sample_id"] for line in output.read_text().splitlines()]
    assert written == ["r0", "r1", "r2"]
