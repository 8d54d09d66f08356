"""A worker lost behind the real sglang-router (pinned, .ci/install-sglang-conformance.sh).

Two SGLang wire doubles, each a process of its own (`tests.doubles.sglang_worker`), behind the
real router on loopback; a `judge batch` job (the local engine, the SGLang server backend) sends
through the router, and one worker is killed with SIGKILL mid-batch. Every row must come out
exactly once, judged with its own verdicts (P(yes) is a function of the response, whichever
worker answers) or failed with an error kind; every request the lost worker took and never
answered must have been answered by the other. Then `judge doctor` and the reward server's
`/health` must name the lost worker, which the router itself still lists as healthy.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from judge.backends.sglang.server import SGLangServerBackend
from judge.batch import BatchJob, BatchOptions, FieldMap
from judge.reward import RubricReward
from judge.runner.judge import Judge
from judge.settings import JudgeSettings
from judge.types import Criterion, Rubric
from tests.conftest import REPO
from tests.doubles.sglang import make_tokenizer
from tests.doubles.sglang_worker import hashed_p_yes
from tests.loopback import SERVER_START_S
from tests.peers import skip_or_fail

pytestmark = [pytest.mark.sglang_conformance, pytest.mark.slow]

RUBRIC = Rubric(
    name="answers",
    criteria=(
        Criterion(id="correct", text="The answer is correct."),
        Criterion(id="short", text="The answer is one sentence."),
        Criterion(id="polite", text="The answer is polite."),
    ),
)
ROWS = 40
DELAY_S = 0.2
KILL_AFTER_CALLS = 12


@dataclass
class Worker:
    url: str
    process: subprocess.Popen[bytes]
    calls: Path

    def events(self) -> list[tuple[str, str]]:
        lines = self.calls.read_text(encoding="utf-8").splitlines()
        return [(event, digest) for event, _, digest in (line.partition(" ") for line in lines)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_workers(folder: Path, count: int) -> list[Worker]:
    """Start `count` worker processes at once (each loads a tokenizer), then wait for each."""
    started = []
    for index in range(count):
        port_file, calls = folder / f"worker{index}.url", folder / f"worker{index}.calls"
        calls.touch()
        command = [sys.executable, "-m", "tests.doubles.sglang_worker", str(port_file)]
        process = subprocess.Popen([*command, str(DELAY_S), str(calls)], cwd=REPO)
        started.append((port_file, process, calls))
    workers = []
    deadline = time.monotonic() + 60
    for port_file, process, calls in started:
        while not port_file.exists():
            assert process.poll() is None, f"{port_file.stem} exited with {process.returncode}"
            assert time.monotonic() < deadline, f"{port_file.stem} did not start in 60 s"
            time.sleep(0.05)
        workers.append(Worker(port_file.read_text(encoding="utf-8"), process, calls))
    return workers


@dataclass
class Routed:
    url: str
    workers: list[Worker]
    router: subprocess.Popen[bytes]
    log: Path
    retries: str
    """Who retries a failed call: ``router`` (its default), ``backend`` (the router tries a
    call once), or ``nobody`` (the backend too is told not to)."""


@pytest.fixture(params=["router", "backend", "nobody"], ids=lambda who: f"retries-{who}")
def routed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Routed]:
    """Two worker processes and the real router in front of them."""
    if importlib.util.find_spec("sglang_router") is None:
        skip_or_fail("sglang-router is not installed: run .ci/install-sglang-conformance.sh")
    workers: list[Worker] = []
    router = None
    try:
        workers = _start_workers(tmp_path, 2)
        port = _free_port()
        command = [sys.executable, "-m", "sglang_router.launch_router", "--host", "127.0.0.1"]
        command += ["--port", str(port), "--policy", "round_robin", "--worker-urls"]
        command += [w.url for w in workers]
        if request.param != "router":
            command += ["--retry-max-retries", "1"]  # one attempt: the router never retries
        with (tmp_path / "router.log").open("wb") as log:
            router = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            assert router.poll() is None, (tmp_path / "router.log").read_text()[-2000:]
            try:  # it answers /health before its workers are registered
                listed = httpx.get(f"{url}/workers", timeout=1).json().get("workers", [])
                if sum(bool(w.get("is_healthy")) for w in listed) == len(workers):
                    break
            except (httpx.TransportError, ValueError):
                pass
            assert time.monotonic() < deadline, "sglang-router's workers not ready in 30 s"
            time.sleep(0.2)
        yield Routed(url, workers, router, tmp_path / "router.log", request.param)
    finally:
        for process in [router, *(w.process for w in workers)]:
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(10)


def _rows(path: Path) -> Path:
    lines = [
        json.dumps({"id": f"r{i}", "prompt": f"Question {i}?", "response": f"Answer {i}."})
        for i in range(ROWS)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _kill_when_busy(worker: Worker, killed: threading.Event) -> None:
    """SIGKILL the worker once it has taken `KILL_AFTER_CALLS` calls (some still in flight)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if sum(event == "start" for event, _ in worker.events()) >= KILL_AFTER_CALLS:
            worker.process.send_signal(signal.SIGKILL)
            worker.process.wait()
            killed.set()
            return
        time.sleep(0.01)


@contextmanager
def _reward_server(reward: RubricReward) -> Iterator[str]:
    import uvicorn

    from judge.reward.serve import create_app

    config = uvicorn.Config(create_app(reward), host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + SERVER_START_S
    while not server.started:
        assert time.monotonic() < deadline, "reward server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_a_worker_killed_mid_batch_loses_and_duplicates_no_judgment(routed, tmp_path):
    lost, kept = routed.workers
    nobody = routed.retries == "nobody"
    # Told not to retry, and with no prefix warm-ups (whose failure fails no row), every 5xx
    # answer of the router fails the one verdict it was for.
    with SGLangServerBackend(
        routed.url,
        tokenizer_object=make_tokenizer(),
        max_retries=0 if nobody else 3,
        warm_prefixes=not nobody,
    ) as backend:
        records, unanswered = _judge_while_a_worker_dies(backend, routed, tmp_path)
        if routed.retries == "router":  # what the router lists does not depend on retries
            _lost_worker_is_reported(backend, routed.url, lost, kept)
    routed.router.terminate()  # its log is written out as it stops
    routed.router.wait(10)
    log = re.sub(r"\x1b\[[0-9;]*m", "", routed.log.read_text(errors="replace"))  # colours
    answers = Counter(re.findall(r"status_code=(\d+)", log))
    server_errors = sum(n for code, n in answers.items() if code.startswith("5"))
    failed = [r for r in records if r["error"] is not None]
    # The router resends most of the lost worker's calls itself (not every one: a resend may
    # meet the lost worker again); trying each call once, it answers each with a 5xx.
    if routed.retries != "router":
        assert server_errors > 0, answers
    if nobody:
        assert 1 <= len(failed) <= server_errors, (len(failed), answers)
        for record in failed:  # a failure with its kind, never a verdict made up
            assert record["error_kind"] == "generation" and "HTTP 5" in record["error"], record
            assert record["score"] is None
    else:
        # Every call the lost worker took and never answered was answered by the other one.
        assert not failed, failed
        answered_by_kept = {digest for event, digest in kept.events() if event == "done"}
        assert unanswered <= answered_by_kept, unanswered - answered_by_kept
    duplicates = len(records) - len({r["id"] for r in records})
    print(
        f"\nlost router worker, retries by {routed.retries}: {len(records)}/{ROWS} rows, "
        f"{duplicates} duplicates, {len(failed)} failed, {len(unanswered)} calls in flight on "
        f"the lost worker, {server_errors} 5xx answers from the router"
    )


def _judge_while_a_worker_dies(
    backend: SGLangServerBackend, routed: Routed, tmp_path: Path
) -> tuple[list[dict[str, Any]], set[str]]:
    """Judge every row while one worker is killed: the rows written, the calls it never answered."""
    lost = routed.workers[0]
    source, output = _rows(tmp_path / "rows.jsonl"), tmp_path / "judged.jsonl"
    killed = threading.Event()
    killer = threading.Thread(target=_kill_when_busy, args=(lost, killed), daemon=True)
    options = BatchOptions(fields=FieldMap(id="id"), batch_size=8)
    started = time.monotonic()
    killer.start()
    # The runner resends a failed request once, in one more batch, unless told not to.
    settings = JudgeSettings(retries=0 if routed.retries == "nobody" else 1)
    judge = Judge(backend, RUBRIC, settings=settings)
    progress = BatchJob(judge, source, output, options).run()
    elapsed = time.monotonic() - started
    killer.join()
    assert killed.is_set(), "the worker was not killed mid-batch"

    records = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    counts = Counter(record["id"] for record in records)
    assert sorted(counts) == sorted(f"r{i}" for i in range(ROWS)), "a row is missing"
    assert max(counts.values()) == 1, "a row was written twice"
    for record in records:
        if record["error"] is None:
            expected = hashed_p_yes(f"Answer {int(record['id'][1:])}.")
            assert [v["p_yes"] for v in record["verdicts"]] == pytest.approx([expected] * 3)
    lost_events = lost.events()
    started_there = {digest for event, digest in lost_events if event == "start"}
    unanswered = started_there - {digest for event, digest in lost_events if event == "done"}
    assert unanswered, "nothing was in flight on the worker when it was killed"
    print(f"\n{progress.judged} judged, {progress.failed} failed in {elapsed:.1f} s")
    return records, unanswered


def _lost_worker_is_reported(
    backend: SGLangServerBackend, url: str, lost: Worker, kept: Worker
) -> None:
    # The router still lists the lost worker as healthy (it re-checks every 60 s) ...
    listed = httpx.get(f"{url}/workers", timeout=5).json()["workers"]
    assert {w["url"]: w["is_healthy"] for w in listed}[lost.url] is True
    # ... the backend, doctor and the reward server's /health probe it and see it lost.
    serving = backend.serving_health()
    assert not serving.healthy
    assert [(w.url, w.healthy) for w in serving.workers if not w.healthy] == [(lost.url, False)]
    assert "1 of 2 workers answer" in serving.detail and lost.url in serving.detail

    doctor = subprocess.run(
        [sys.executable, "-m", "judge", "doctor", "--sglang-url", url],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "400"},
        timeout=60,
    )
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    line = next(row for row in doctor.stdout.splitlines() if "sglang-server" in row)
    assert "1 of 2 workers answer" in line and f"lost: {lost.url} (unreachable" in line, line

    reward = RubricReward(RUBRIC, backend, on_error=0.0)
    with _reward_server(reward) as server:
        health = httpx.get(f"{server}/health", timeout=10).json()
        scored = httpx.post(
            f"{server}/score",
            json={"samples": [{"id": "x", "prompt": "Question 1?", "response": "Answer 1."}]},
            timeout=30,
        ).json()
    reward.close()
    assert health["status"] == "degraded"
    workers = {w["url"]: (w["healthy"], w["detail"]) for w in health["backend"]["workers"]}
    assert workers[kept.url] == (True, "ok")
    assert workers[lost.url][0] is False and workers[lost.url][1].startswith("unreachable")
    assert scored["errors"] == [None]  # the remaining worker still judges
