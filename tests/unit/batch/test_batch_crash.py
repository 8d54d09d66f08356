"""`judge batch` killed with SIGKILL mid-job, then rerun, gives the rows of an uninterrupted run."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import REPO

# The subprocess registers the scripted test backend, then runs the real CLI entry point.
LAUNCH = (
    "import sys; from judge import backends; "
    "backends.register_backend('scripted-graded', 'tests.doubles.reward:graded'); "
    "from judge.__main__ import main; sys.argv = ['judge', *sys.argv[1:]]; main()"
)


def _command(source: Path, output: Path) -> list[str]:
    return [
        sys.executable, "-c", LAUNCH, "batch", str(source), str(output),
        "--backend", "scripted-graded", "--id-field", "id", "--batch-size", "4",
    ]  # fmt: skip


def _env(delay_s: float) -> dict[str, str]:
    return {**os.environ, "JUDGE_TEST_BACKEND_DELAY_S": str(delay_s)}


def _complete_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _kill_after(source: Path, output: Path, journal: Path, lines: int, min_s: float = 0) -> None:
    """Start a slow job; SIGKILL it once `journal` holds `lines` lines and `min_s` have passed."""
    process = subprocess.Popen(
        _command(source, output), cwd=REPO, env=_env(0.04),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    started = time.monotonic()
    deadline = started + 60
    while _complete_lines(journal) < lines or time.monotonic() - started < min_s:
        assert process.poll() is None, "the job finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait()


def _finish(source: Path, output: Path) -> None:
    done = subprocess.run(_command(source, output), cwd=REPO, env=_env(0), capture_output=True)
    # 1 when this run met bad rows (a resumed run may have none left to meet).
    assert done.returncode in (0, 1), done.stderr.decode()


def _input(tmp_path: Path) -> Path:
    rows = [
        {"id": f"r{i}", "prompt": f"Question {i}?", "response": f"Answer {i}."} for i in range(40)
    ]
    rows[7]["response"] = ""
    rows[23] = {"id": "r3", "prompt": "dup?", "response": "dup"}
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return source


def test_jsonl_job_killed_at_several_points_resumes_to_the_uninterrupted_result(tmp_path):
    source = _input(tmp_path)
    reference = tmp_path / "reference.jsonl"
    _finish(source, reference)
    expected = reference.read_text(encoding="utf-8")
    assert len(expected.splitlines()) == 40

    output = tmp_path / "out.jsonl"
    # Killed while starting, within the first batches, and past halfway.
    for lines, min_s in ((0, 0.3), (5, 0), (22, 0)):
        _kill_after(source, output, output, lines, min_s)
        if not output.exists():
            continue
        written = output.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)
        complete = [json.loads(line) for line in written if line.endswith("\n")]
        keys = [(record["row"], record["id"]) for record in complete]
        assert len(keys) == len(set(keys)), "a row was written twice"
        assert (
            "".join(written[: len(complete)]) == expected[: len("".join(written[: len(complete)]))]
        )
    _finish(source, output)
    assert output.read_text(encoding="utf-8") == expected


@pytest.mark.slow  # three subprocesses that each import pyarrow (and pandas through it)
def test_parquet_job_killed_mid_run_resumes_to_the_uninterrupted_result(tmp_path):
    source = _input(tmp_path)
    reference = tmp_path / "reference.parquet"
    _finish(source, reference)

    output = tmp_path / "out.parquet"
    journal = tmp_path / "out.parquet.journal.jsonl"
    _kill_after(source, output, journal, 9)
    assert journal.exists() and not output.exists()
    _finish(source, output)
    assert not journal.exists()
    assert pq.read_table(output).to_pylist() == pq.read_table(reference).to_pylist()
