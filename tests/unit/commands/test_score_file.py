"""`judge score --input`: the output is checked before the model loads and written as it goes."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from judge.types import Judgment
from tests.conftest import REPO
from tests.unit.batch.test_batch_crash import LAUNCH


def _input(tmp_path: Path, n: int = 12) -> Path:
    rows = [
        {"id": f"r{i}", "prompt": f"Question {i}?", "response": f"Answer {i}."} for i in range(n)
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return source


def _env(tmp_path: Path, delay_s: float = 0) -> dict[str, str]:
    return {
        **os.environ,
        "JUDGE_TEST_BACKEND_DELAY_S": str(delay_s),
        "JUDGE_TEST_BACKEND_MARKER": str(tmp_path / "backend-loaded"),
    }


def _score(source: Path, output: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-c", LAUNCH, "score", "--input", str(source), "--output", str(output),
        "--backend", "scripted-graded", *extra,
    ]  # fmt: skip


def test_a_bad_output_path_is_refused_in_one_line_before_the_backend_loads(tmp_path):
    source = _input(tmp_path)
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o500)
    bad_outputs = [tmp_path / "missing_dir" / "out.jsonl", tmp_path, source.with_name("in.csv")]
    if os.geteuid() != 0:  # root writes anywhere
        bad_outputs.append(locked / "out.jsonl")
    (tmp_path / "in.csv").mkdir()
    for output in bad_outputs:
        started = time.monotonic()
        done = subprocess.run(
            _score(source, output), cwd=REPO, env=_env(tmp_path), capture_output=True, text=True
        )
        assert done.returncode == 2, (output, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1 and "hint:" in done.stderr
        assert str(output) in done.stderr
        assert time.monotonic() - started < 30
        assert not (tmp_path / "backend-loaded").exists(), "the backend loaded before the refusal"


def test_ctrl_c_keeps_the_judgments_already_written(tmp_path):
    source, output = _input(tmp_path, 40), tmp_path / "out.jsonl"
    process = subprocess.Popen(
        _score(source, output, "--batch-size", "2"), cwd=REPO, env=_env(tmp_path, 0.3),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not output.exists() or output.read_text().count("\n") < 4:
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    lines = output.read_text(encoding="utf-8").splitlines()
    assert 4 <= len(lines) < 40
    judged = [Judgment.model_validate_json(line) for line in lines]
    assert [j.sample_id for j in judged] == [f"r{i}" for i in range(len(lines))]
    assert f"{len(lines)} judgments kept in {output}" in stderr
    assert "Traceback" not in stderr


def test_a_complete_run_writes_every_judgment_and_releases_the_output(tmp_path):
    source, output = _input(tmp_path), tmp_path / "out.jsonl"
    done = subprocess.run(
        _score(source, output, "--batch-size", "5"), cwd=REPO, env=_env(tmp_path),
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    judged = [Judgment.model_validate_json(line) for line in output.read_text().splitlines()]
    assert [j.sample_id for j in judged] == [f"r{i}" for i in range(12)]
    assert not output.with_name("out.jsonl.lock").exists()
