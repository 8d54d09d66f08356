"""One writer per output: real `judge batch` processes racing for one file, killed, resumed."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from judge.batch.lock import OutputLock, lock_path
from judge.errors import ConfigError
from tests.conftest import REPO
from tests.unit.batch.test_batch_crash import LAUNCH, _input


def _command(source: Path, output: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-c", LAUNCH, "batch", str(source), str(output),
        "--backend", "scripted-graded", "--id-field", "id", "--batch-size", "4", *extra,
    ]  # fmt: skip


def _start(source: Path, output: Path, delay_s: float) -> subprocess.Popen[bytes]:
    env = {**os.environ, "JUDGE_TEST_BACKEND_DELAY_S": str(delay_s)}
    return subprocess.Popen(
        _command(source, output), cwd=REPO, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _wait_for_lines(process: subprocess.Popen[bytes], path: Path, lines: int) -> None:
    deadline = time.monotonic() + 60
    while not path.exists() or path.read_bytes().count(b"\n") < lines:
        assert process.poll() is None, "the job finished too early"
        assert time.monotonic() < deadline
        time.sleep(0.005)


def _ids(path: Path) -> list[str]:
    return [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_second_writer_is_refused_naming_the_holder_and_the_file_holds_each_row_once(tmp_path):
    source, output = _input(tmp_path), tmp_path / "out.jsonl"
    first = _start(source, output, delay_s=0.5)  # 10 batches: still running when refused
    _wait_for_lines(first, output, 4)
    second = subprocess.run(
        _command(source, output, "--shard", "1/2"), cwd=REPO, capture_output=True, text=True
    )
    assert second.returncode == 2
    message = second.stderr.strip()
    assert len(message.splitlines()) == 1 and "Traceback" not in message
    assert f"pid {first.pid} on host {socket.gethostname()}" in message
    assert first.wait(timeout=60) == 1  # the input has bad rows
    keys = [(r["row"], r["id"]) for r in map(json.loads, output.read_text().splitlines())]
    assert len(keys) == 40 and len(set(keys)) == 40
    assert not lock_path(output).exists()


def test_a_lock_left_by_a_killed_job_is_taken_over_and_the_rerun_completes(tmp_path):
    source, output = _input(tmp_path), tmp_path / "out.jsonl"
    first = _start(source, output, delay_s=0.05)
    _wait_for_lines(first, output, 8)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert f"pid {first.pid} " in lock_path(output).read_text()  # left behind, stale
    rerun = subprocess.run(_command(source, output), cwd=REPO, capture_output=True, text=True)
    assert rerun.returncode == 1, rerun.stderr
    source_ids = [json.loads(line)["id"] for line in source.read_text().splitlines()]
    assert sorted(_ids(output)) == sorted(source_ids)  # every row once (r3 is in twice)
    assert not lock_path(output).exists()


def test_resume_refuses_duplicate_records_and_repair_keeps_the_first(tmp_path):
    source, output = _input(tmp_path), tmp_path / "out.jsonl"
    done = subprocess.run(_command(source, output), cwd=REPO, capture_output=True)
    assert done.returncode == 1
    lines = output.read_text().splitlines(keepends=True)
    output.write_text("".join(lines[:10] + lines[2:5] + lines[10:]))  # two writers' leftovers
    refused = subprocess.run(_command(source, output), cwd=REPO, capture_output=True, text=True)
    assert refused.returncode == 2
    assert "3 duplicate records" in refused.stderr and "--repair" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    repaired = subprocess.run(
        _command(source, output, "--repair"), cwd=REPO, capture_output=True, text=True
    )
    assert repaired.returncode == 0, repaired.stderr  # nothing left to judge, nothing failed
    assert output.read_text() == "".join(lines)


def test_the_lock_is_exclusive_within_a_process_too_and_released_on_exit(tmp_path):
    output = tmp_path / "out.jsonl"
    with OutputLock(output):
        try:
            OutputLock(output).acquire()
        except ConfigError as exc:
            assert f"pid {os.getpid()}" in str(exc)
        else:
            raise AssertionError("a second lock on the same output was granted")
    with OutputLock(output):
        assert lock_path(output).exists()
    assert not lock_path(output).exists()
