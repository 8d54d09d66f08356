"""The Ray engine when the world around it fails: a node lost mid-job, a driver killed with -9.

A cluster of a head and two worker nodes on this machine (Ray's own ``ray.cluster_utils.Cluster``:
a raylet per node on loopback, each with one CPU and a small object store) runs the real
``judge batch --engine ray`` in a subprocess; the raylet of a worker node that hosts a judge
actor is killed with SIGKILL mid-job. The scripted backend stands in for the model (the model is
not the point here): it takes ``DELAY_S`` per batch, and its scores are a function of the row, so
the output can be compared with the single-process engine's. Deselect with ``-m "not ray"``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from judge import backends
from judge.batch import BatchJob, BatchOptions
from judge.batch.ray_reaper import alive, descendants
from judge.runner.judge import Judge
from tests.conftest import REPO

ray = pytest.importorskip("ray", reason="the ray engine needs ray[data] (pip install judge[ray])")

from ray.cluster_utils import Cluster  # noqa: E402

pytestmark = [
    pytest.mark.ray,
    pytest.mark.slow,
    # Ray's own DataContext warns about its deprecated fields when it is created.
    pytest.mark.filterwarnings("ignore:.*is deprecated.*:DeprecationWarning"),
]

GRADED = "tests.doubles.reward:graded"
DELAY_S = 0.4
ROWS = 48
NODE = {"num_cpus": 1, "object_store_memory": 80 * 2**20}

# The subprocess registers the scripted backend, then runs the real CLI; with an address it joins
# that cluster first, passing the backend's test variables (delay, call log) to its job's workers.
LAUNCH = (
    "import os, sys, ray; from judge import backends; "
    f"backends.register_backend('scripted-graded', '{GRADED}'); "
    "address = sys.argv[sys.argv.index('--ray-address') + 1] if '--ray-address' in sys.argv "
    "else None; "
    "names = ('JUDGE_TEST_BACKEND_DELAY_S', 'JUDGE_TEST_BACKEND_CALLS'); "
    "env = {name: os.environ[name] for name in names if name in os.environ}; "
    "address and ray.init(address=address, log_to_driver=False, "
    "runtime_env={'env_vars': env}); "
    "from judge.__main__ import main; sys.argv = ['judge', *sys.argv[1:]]; main()"
)


def _cli(source: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-c", LAUNCH, "batch", str(source), str(out), "--engine", "ray",
        "--backend", "scripted-graded", "--batch-size", "2", *extra,
    ]  # fmt: skip


def _rows(path: Path, count: int) -> Path:
    lines = [
        json.dumps({"prompt": f"Question {i}?", "response": f"Answer {i}."}) for i in range(count)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _written(out: Path) -> list[dict]:
    return pq.read_table(out, columns=["row", "id", "score", "error"]).to_pylist()


def _parts(out: Path) -> int:
    return len(list(out.glob("part-*.parquet")))


@pytest.fixture(autouse=True)
def _graded_backend(monkeypatch):
    monkeypatch.setitem(backends._REGISTRY, "scripted-graded", GRADED)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A head and two worker nodes, one CPU each; torn down whatever the test did to them."""
    # Ray declares a node dead after 5 missed health checks 3 s apart; 3 of 1 s here shortens
    # the test, not what happens.
    detection = {"health_check_period_ms": 1000, "health_check_failure_threshold": 3}
    head = {**NODE, "include_dashboard": False, "_system_config": detection}
    nodes = Cluster(initialize_head=True, head_node_args=head)
    try:
        for _ in range(2):
            nodes.add_node(**NODE)
        nodes.wait_for_nodes()
        yield nodes
    finally:
        nodes.shutdown()


def _raylet(node: object) -> int:
    from ray._private import ray_constants

    processes = node.all_processes[ray_constants.PROCESS_TYPE_RAYLET]  # type: ignore[attr-defined]
    return int(processes[0].process.pid)


def _hosts_a_judge_actor(raylet: int) -> bool:
    for pid in descendants(raylet):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if command.startswith(b"ray::MapWorker"):
            return True
    return False


def _requests(calls: Path) -> int:
    """Model requests the scripted backend got (one line per batch call, with its size)."""
    return sum(int(line) for line in calls.read_text().split())


def _single_process(
    source: Path, output: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[int, float | None], int]:
    """The local engine's scores of `source`, and its model requests per row."""
    calls = output.with_suffix(".calls")
    monkeypatch.setenv("JUDGE_TEST_BACKEND_CALLS", str(calls))
    BatchJob(Judge("scripted-graded", "helpfulness"), source, output, BatchOptions()).run()
    rows = pq.read_table(output).to_pylist()
    return {r["row"]: r["score"] for r in rows}, _requests(calls) // len(rows)


def test_a_worker_node_killed_mid_job_loses_no_row_and_writes_none_twice(
    cluster, tmp_path, monkeypatch
):
    source = _rows(tmp_path / "rows.jsonl", ROWS)
    out = tmp_path / "scored"
    log = tmp_path / "driver.log"
    calls = tmp_path / "calls.log"
    environment = {
        **os.environ,
        "JUDGE_TEST_BACKEND_DELAY_S": str(DELAY_S),
        "JUDGE_TEST_BACKEND_CALLS": str(calls),
    }
    command = _cli(source, out, "--replicas", "2", "--ray-address", cluster.address)
    started = time.monotonic()
    with log.open("wb") as stderr:
        driver = subprocess.Popen(
            command, cwd=REPO, env=environment, stdout=subprocess.DEVNULL, stderr=stderr
        )
        try:
            deadline = time.monotonic() + 60
            victim = None
            while victim is None:
                assert driver.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "no judge actor on a worker node in 60 s"
                if _parts(out) >= 3:
                    hosts = [n for n in cluster.worker_nodes if _hosts_a_judge_actor(_raylet(n))]
                    victim = hosts[0] if hosts else None
                time.sleep(0.05)
            before = _parts(out)
            os.kill(_raylet(victim), signal.SIGKILL)
            killed_at = time.monotonic()
            code = driver.wait(timeout=90)
        finally:
            if driver.poll() is None:
                driver.kill()
    finished = time.monotonic()
    message = log.read_text()
    rows = _written(out)
    if code != 0:  # the second outcome allowed: one line, then a rerun resumes
        assert len(message.strip().splitlines()) == 1, message
        rerun = subprocess.run(command, cwd=REPO, env=environment, capture_output=True, timeout=90)
        assert rerun.returncode == 0, rerun.stderr.decode()
        rows = _written(out)
    counts = Counter(r["row"] for r in rows)
    duplicates = sum(n - 1 for n in counts.values())
    expected, per_row = _single_process(source, tmp_path / "single.parquet", monkeypatch)
    judged = _requests(calls) // per_row
    print(
        f"\nlost node: {len(counts)}/{ROWS} rows, {duplicates} duplicates, {judged} rows "
        f"judged (again after the loss: {judged - ROWS}), exit {code}, "
        f"{before} blocks written before the kill, {finished - killed_at:.1f} s from the kill "
        f"to the end, {finished - started:.1f} s in all"
    )
    assert duplicates == 0, [row for row, n in counts.items() if n > 1]
    assert sorted(counts) == list(range(1, ROWS + 1)), "a row is missing"
    assert all(r["error"] is None for r in rows), [r["error"] for r in rows if r["error"]]
    assert {r["row"]: r["score"] for r in rows} == expected


def test_a_driver_killed_with_sigkill_leaves_no_process_of_its_ray_instance(tmp_path):
    source = _rows(tmp_path / "rows.jsonl", ROWS)
    out = tmp_path / "scored"
    log = tmp_path / "driver.log"
    environment = {**os.environ, "JUDGE_TEST_BACKEND_DELAY_S": str(DELAY_S)}
    command = _cli(source, out, "--replicas", "2", "--replica-cpus", "0.5")
    tracked: dict[int, int] = {}
    with log.open("wb") as stderr:
        # A session of its own, as a shell job would be: nothing of the test's is signalled.
        driver = subprocess.Popen(
            command,
            cwd=REPO,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 60
            while _parts(out) < 2:
                assert driver.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "no block was written in 60 s"
                tracked.update(descendants(driver.pid))
                time.sleep(0.1)
            tracked.update(descendants(driver.pid))
            names = " ".join(_name(pid) for pid in tracked)
            for agent in ("ray::DashboardAgent", "ray::RuntimeEnvAgent", "raylet", "gcs_server"):
                assert agent in names, names
            os.kill(driver.pid, signal.SIGKILL)
            killed_at = time.monotonic()
            driver.wait()
        finally:
            if driver.poll() is None:
                driver.kill()
    deadline = time.monotonic() + 20
    while (left := alive(tracked)) and time.monotonic() < deadline:
        time.sleep(0.2)
    print(f"\nkilled driver: {len(tracked)} processes, gone {time.monotonic() - killed_at:.1f} s")
    assert not left, f"left running: {sorted(_name(pid) for pid in left)}"


def _name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode().strip()
    except OSError:
        return "?"
