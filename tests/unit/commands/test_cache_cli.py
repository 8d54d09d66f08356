"""The judgment cache in `judge batch` and `judge score`: on by default, shared, opt-out."""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

# The subprocess registers a cacheable scripted backend, then runs the real CLI entry point.
LAUNCH = (
    "import sys; from judge import backends; "
    "backends.register_backend('scripted-cacheable', 'tests.doubles.reward:graded_cacheable'); "
    "from judge.__main__ import main; sys.argv = ['judge', *sys.argv[1:]]; main()"
)


def _rows(tmp_path: Path, n: int = 6) -> Path:
    source = tmp_path / "in.jsonl"
    rows = [{"id": f"r{i}", "prompt": f"Question {i}?", "response": f"A{i}."} for i in range(n)]
    source.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return source


def _judge(tmp_path: Path, *args: str, store: Path | None = None) -> tuple[int, str, int]:
    """Run `judge ARGS` in a fresh process; return its exit code, stderr and batch calls."""
    calls = tmp_path / "calls.txt"
    calls.unlink(missing_ok=True)
    env = {**os.environ, "JUDGE_TEST_BACKEND_CALLS": str(calls), "COLUMNS": "200"}
    if store is not None:
        env["JUDGE_JUDGMENT_CACHE"] = str(store)
    else:
        env.pop("JUDGE_JUDGMENT_CACHE", None)
        env["JUDGE_CACHE_DIR"] = str(tmp_path / "cache-root")
    done = subprocess.run(
        [sys.executable, "-c", LAUNCH, *args, "--backend", "scripted-cacheable"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    made = len(calls.read_text().splitlines()) if calls.exists() else 0
    return done.returncode, done.stderr, made


def test_a_batch_rerun_in_another_process_is_answered_by_the_default_store(tmp_path):
    source = _rows(tmp_path)
    code, err, calls = _judge(tmp_path, "batch", str(source), str(tmp_path / "a.jsonl"))
    assert code == 0 and calls == 1, err
    assert "0 hits, 6 misses" in err and str(tmp_path / "cache-root") in err
    assert (tmp_path / "cache-root" / "judgments.sqlite").is_file()
    code, err, calls = _judge(tmp_path, "batch", str(source), str(tmp_path / "b.jsonl"))
    assert code == 0 and calls == 0, "every row came from the store: no model call"
    assert "6 hits, 0 misses" in err
    first = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    second = [json.loads(line) for line in (tmp_path / "b.jsonl").read_text().splitlines()]
    assert [r["score"] for r in first] == [r["score"] for r in second]
    code, err, calls = _judge(
        tmp_path, "batch", str(source), str(tmp_path / "c.jsonl"), "--max-rationale-chars", "50"
    )
    assert code == 0 and calls == 1 and "0 hits, 6 misses" in err, "other settings: judged"


def test_score_and_batch_share_one_store_and_no_cache_never_touches_it(tmp_path):
    source = _rows(tmp_path, 4)
    store = tmp_path / "shared.sqlite"
    code, err, calls = _judge(tmp_path, "score", "--input", str(source), "--json", store=store)
    assert code == 0 and calls == 1 and "0 hits, 4 misses" in err, err
    code, err, calls = _judge(
        tmp_path, "batch", str(source), str(tmp_path / "o.jsonl"), store=store
    )
    assert code == 0 and calls == 0 and "4 hits" in err, err
    untouched = tmp_path / "untouched.sqlite"
    for args in (
        ("score", "--prompt", "Q?", "--response", "A", "--no-cache"),
        ("batch", str(source), str(tmp_path / "p.jsonl"), "--no-cache"),
    ):
        code, err, calls = _judge(tmp_path, *args, store=untouched)
        assert code == 0 and calls == 1, err
    assert not untouched.exists()
    code, err, _ = _judge(tmp_path, "score", "--prompt", "Q?", "--response", "A", "--no-cache",
                          "--cache", str(store))  # fmt: skip
    assert code == 2 and "not both" in err
