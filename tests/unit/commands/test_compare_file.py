"""`judge compare --input`: pairs from a file, judged in batches and written as they are judged."""

import json
from pathlib import Path

import pytest

from judge import _cli as cli
from judge import backends
from judge.types import PairJudgment


@pytest.fixture(autouse=True)
def _graded(monkeypatch):
    monkeypatch.setitem(backends._REGISTRY, "scripted-graded", "tests.doubles.reward:graded")


def _main(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.argv", ["judge", "compare", "--backend", "scripted-graded", *args])
    with pytest.raises(SystemExit) as info:
        cli.main()
    captured = capsys.readouterr()
    return int(info.value.code or 0), captured.out, " ".join(captured.err.split())


def _pairs(tmp_path: Path, rows: list[dict]) -> Path:
    source = tmp_path / "pairs.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return source


ROWS = [
    {"id": f"p{i}", "prompt": f"Question {i}?", "response_a": f"A{i}.", "response_b": f"B {i}!"}
    for i in range(5)
]


@pytest.mark.parametrize("method", ["rubric", "direct"])
def test_each_row_is_one_pair_judgment_in_order_with_the_method_asked(
    tmp_path, monkeypatch, capsys, method
):
    output = tmp_path / "out.jsonl"
    args = ["--input", str(_pairs(tmp_path, ROWS)), "--output", str(output), "--batch-size", "2"]
    code, _, err = _main(monkeypatch, capsys, *args, "--pair-method", method)
    assert code == 0, err
    judged = [PairJudgment.model_validate_json(line) for line in output.read_text().splitlines()]
    assert [j.pair_id for j in judged] == [row["id"] for row in ROWS]
    assert all(j.error is None and j.p_a is not None for j in judged)
    assert all(j.strategy.startswith(method) for j in judged)
    if method == "direct":
        assert all(j.p_a_ab is not None and j.p_a_ba is not None for j in judged)
    else:
        assert all(j.margin is not None for j in judged)
    assert f"5 judged, 0 failed; written to {output}" in err


def test_the_default_method_is_the_rubric_one_as_in_the_library(tmp_path, monkeypatch, capsys):
    code, out, err = _main(monkeypatch, capsys, "--input", str(_pairs(tmp_path, ROWS)), "--json")
    assert code == 0, err
    judged = [PairJudgment.model_validate_json(line) for line in out.splitlines()]
    assert len(judged) == 5 and all(j.strategy.startswith("rubric") for j in judged)


def test_bad_rows_fail_as_values_and_blank_responses_lose_by_rule(tmp_path, monkeypatch, capsys):
    rows = [
        ROWS[0],
        {"id": "blank-a", "prompt": "Q?", "response_a": " ", "response_b": "An answer."},
        {"id": "no-b", "prompt": "Q?", "response_a": "x"},
        {"id": "both-blank", "prompt": "Q?", "response_a": "\n", "response_b": ""},
    ]
    output = tmp_path / "out.jsonl"
    args = ["--input", str(_pairs(tmp_path, rows)), "--output", str(output)]
    code, _, err = _main(monkeypatch, capsys, *args)
    assert code == 1  # a bad row is a failure of the run
    assert "pairs.jsonl:3: missing field 'response_b'" in err
    assert "3 judged, 1 failed (invalid_input 1)" in err
    judged = {
        j.pair_id: j for j in map(PairJudgment.model_validate_json, output.read_text().splitlines())
    }
    assert judged["blank-a"].winner == "b" and judged["blank-a"].strategy == "empty"
    assert judged["blank-a"].usage.prompt_tokens == 0
    assert judged["both-blank"].winner == "tie"
