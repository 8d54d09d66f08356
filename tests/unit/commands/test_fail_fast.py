"""Every user mistake that needs no model: one line with a hint, exit 2, before the backend loads.

The walk covers the refusals the CLI makes before loading; the backend is the scripted one,
whose factory leaves a marker file, so a check that ran only after "the model load" fails here
instead of passing slowly.
"""

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from judge import _cli as cli
from judge import backends
from judge.batch.lock import OutputLock

Case = Callable[[Path], list[str]]


def _rows(tmp_path: Path, name: str = "in.jsonl", n: int = 3) -> Path:
    source = tmp_path / name
    rows = [{"id": f"r{i}", "prompt": f"Q{i}?", "response": f"A{i}."} for i in range(n)]
    source.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return source


def _batch(tmp_path: Path, *args: str, source: Path | None = None, out: str = "out.jsonl"):
    source = source or _rows(tmp_path)
    return ["batch", str(source), str(tmp_path / out), "--backend", "scripted-graded", *args]


def _score(tmp_path: Path, *args: str, source: Path | None = None) -> list[str]:
    source = source or _rows(tmp_path)
    return ["score", "--input", str(source), "--backend", "scripted-graded", *args]


def _pairs(tmp_path: Path, n: int = 3) -> Path:
    source = tmp_path / "pairs.jsonl"
    rows = [{"prompt": f"Q{i}?", "response_a": f"A{i}.", "response_b": f"B{i}."} for i in range(n)]
    source.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return source


def _compare(tmp_path: Path, *args: str, source: Path | None = None) -> list[str]:
    source = source or _pairs(tmp_path)
    return ["compare", "--input", str(source), "--backend", "scripted-graded", *args]


def _empty(tmp_path: Path) -> Path:
    (tmp_path / "empty.jsonl").write_text("\n\n", encoding="utf-8")
    return tmp_path / "empty.jsonl"


def _duplicated(tmp_path: Path) -> list[str]:
    record = {"row": 1, "id": "r0", "job_fingerprint": "f", "settings_fingerprint": "s"}
    (tmp_path / "out.jsonl").write_text(json.dumps(record) + "\n" + json.dumps(record) + "\n")
    return _batch(tmp_path)


CASES: dict[str, tuple[Case, str]] = {
    "batch: missing input": (
        lambda t: _batch(t, source=t / "missing.jsonl"),
        "missing.jsonl does not exist",
    ),
    "batch: input is a folder": (lambda t: _batch(t, source=t), "is not a file"),
    "batch: input of unknown format": (
        lambda t: _batch(t, source=_rows(t, "in.txt")),
        "cannot tell the format",
    ),
    "batch: empty input": (lambda t: _batch(t, source=_empty(t)), "0 rows in"),
    "batch: output folder missing": (
        lambda t: _batch(t, out="missing_dir/out.jsonl"),
        "does not exist",
    ),
    "batch: output is a folder": (lambda t: _batch(t, out="."), "is a folder"),
    "batch: output is the input": (lambda t: _batch(t, out="in.jsonl"), "the same file"),
    "batch: rubric is a folder": (lambda t: _batch(t, "--rubric", str(t)), "is a folder"),
    "batch: unknown rubric": (lambda t: _batch(t, "--rubric", "nope"), "unknown rubric"),
    "batch: --batch-size 0": (lambda t: _batch(t, "--batch-size", "0"), "batch size 0 < 1"),
    "batch: --max-chars 0": (lambda t: _batch(t, "--max-chars", "0"), "max chars 0 < 1"),
    "batch: --shard 2/2": (lambda t: _batch(t, "--shard", "2/2"), "need 0 <= i < n"),
    "batch: --pair-method": (
        lambda t: _batch(t, "--pair-method", "vote"),
        "--pair-method 'vote'",
    ),
    "batch: output with duplicate records": (_duplicated, "duplicate records"),
    "batch --engine ray: unknown engine": (
        lambda t: _batch(t, "--engine", "spark"),
        "--engine 'spark'",
    ),
    "batch --engine ray: output is a file": (
        lambda t: _batch(t, "--engine", "ray", source=_rows(t), out="in.jsonl"),
        "is a file, and the ray engine writes a folder",
    ),
    "batch --engine ray: output folder missing": (
        lambda t: _batch(t, "--engine", "ray", out="missing_dir/scored"),
        "does not exist",
    ),
    "batch --engine ray: missing input": (
        lambda t: _batch(t, "--engine", "ray", source=t / "missing.jsonl"),
        "missing.jsonl does not exist",
    ),
    "batch --engine ray: --shard": (
        lambda t: _batch(t, "--engine", "ray", "--shard", "0/2"),
        "--shard with --engine ray",
    ),
    "batch --engine ray: --replicas 0": (
        lambda t: _batch(t, "--engine", "ray", "--replicas", "0"),
        "replicas must be >= 1",
    ),
    "score: --batch-size 0": (lambda t: _score(t, "--batch-size", "0"), "--batch-size 0 < 1"),
    "score: --batch-size -3": (lambda t: _score(t, "--batch-size", "-3"), "--batch-size -3"),
    "score: --likert 12": (lambda t: _score(t, "--likert", "12"), "likert scale 12"),
    "score: --samples 0": (lambda t: _score(t, "--samples", "0"), "samples 0 < 1"),
    "score: input is a folder": (lambda t: _score(t, source=t), "is a folder"),
    "score: missing input": (
        lambda t: _score(t, source=t / "missing.jsonl"),
        "cannot read",
    ),
    "score: empty input": (lambda t: _score(t, source=_empty(t)), "0 rows in"),
    "score: output folder missing": (
        lambda t: _score(t, "--output", str(t / "missing_dir" / "out.jsonl")),
        "does not exist",
    ),
    "score: output is a folder": (lambda t: _score(t, "--output", str(t)), "is a folder"),
    "score: rubric is a folder": (lambda t: _score(t, "--rubric", str(t)), "is a folder"),
    "compare: --pair-method vote": (
        lambda t: _compare(t, "--pair-method", "vote"),
        "--pair-method 'vote'",
    ),
    "compare: --batch-size 0": (lambda t: _compare(t, "--batch-size", "0"), "--batch-size 0"),
    "compare: --samples 0": (lambda t: _compare(t, "--samples", "0"), "samples 0 < 1"),
    "compare: missing input": (lambda t: _compare(t, source=t / "no.jsonl"), "cannot read"),
    "compare: empty input": (lambda t: _compare(t, source=_empty(t)), "0 rows in"),
    "compare: --input and --a": (lambda t: _compare(t, "--a", "x"), "--input with --prompt"),
    "compare: output is a folder": (lambda t: _compare(t, "--output", str(t)), "is a folder"),
    "compare: unknown rubric": (lambda t: _compare(t, "--rubric", "nope"), "unknown rubric"),
    "score: --reasoning later": (
        lambda t: _score(t, "--reasoning", "later"),
        "unknown reasoning 'later'",
    ),
    "score: --reasoning none --samples 3": (
        lambda t: _score(t, "--reasoning", "none", "--samples", "3"),
        "with reasoning 'none'",
    ),
    "batch: --reasoning later": (
        lambda t: _batch(t, "--reasoning", "later"),
        "unknown reasoning 'later'",
    ),
}


@pytest.fixture
def marker(tmp_path, monkeypatch) -> Path:
    monkeypatch.setitem(backends._REGISTRY, "scripted-graded", "tests.doubles.reward:graded")
    path = tmp_path.parent / f"{tmp_path.name}-backend-loaded"
    monkeypatch.setenv("JUDGE_TEST_BACKEND_MARKER", str(path))
    return path


def _main(monkeypatch, capsys, args: list[str]) -> tuple[int, str]:
    monkeypatch.setattr("sys.argv", ["judge", *args])
    with pytest.raises(SystemExit) as info:
        cli.main()
    return int(info.value.code or 0), capsys.readouterr().err


@pytest.mark.parametrize("name", list(CASES))
def test_each_mistake_is_one_line_with_a_hint_before_the_backend_loads(
    name, tmp_path, monkeypatch, capsys, marker
):
    make_args, message = CASES[name]
    code, err = _main(monkeypatch, capsys, make_args(tmp_path))
    assert code == 2, err
    assert message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not marker.exists(), "the backend loaded before the mistake was found"


def test_an_output_another_job_writes_is_refused_before_the_backend_loads(
    tmp_path, monkeypatch, capsys, marker
):
    with OutputLock(tmp_path / "out.jsonl"):
        code, err = _main(monkeypatch, capsys, _batch(tmp_path))
    assert code == 2 and "being written by another job (pid" in err
    assert not marker.exists()


def test_a_resume_with_nothing_left_does_not_load_the_backend(
    tmp_path, monkeypatch, capsys, marker
):
    args = _batch(tmp_path, "--id-field", "id")
    assert _main(monkeypatch, capsys, args)[0] == 0  # the first run judges the 3 rows
    assert marker.exists()
    marker.unlink()
    code, err = _main(monkeypatch, capsys, args)
    assert code == 0 and "nothing to do" in err and "all 3 rows" in err
    assert not marker.exists()


def test_batch_with_reasoning_none_scores_without_decoding(tmp_path, monkeypatch, capsys, marker):
    code, _ = _main(
        monkeypatch, capsys, _batch(tmp_path, "--reasoning", "none", "--id-field", "id")
    )
    assert code == 0
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and all(row["score"] is not None for row in rows)
    # A different mode is a different job: the output is not resumed across modes.
    code, err = _main(monkeypatch, capsys, _batch(tmp_path, "--id-field", "id"))
    assert code == 2 and "other settings" in err
