"""The Ray Data engine on a local 2-CPU Ray cluster, with scripted backends (one start per module).

Deselect with ``-m "not ray"``. The cluster's workers get ``JUDGE_TEST_BACKEND_DELAY_S`` through
the runtime environment, so the scripted backend takes a realistic time per batch there and none
in this process.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from judge import backends
from judge.batch import BatchJob, BatchOptions, FieldMap, record_schema
from judge.errors import ConfigError, JudgeError
from judge.runner.judge import Judge
from tests.conftest import REPO

ray = pytest.importorskip(
    "ray", reason="the ray engine needs ray[data] (pip install rubric-judge[ray])"
)

from judge.batch.ray_engine import RayJob, RayJudgeSpec, RayPool, score_dataset  # noqa: E402
from judge.batch.ray_source import read_source  # noqa: E402

pytestmark = [
    pytest.mark.ray,
    # Ray's own DataContext warns about its deprecated fields when it is created.
    pytest.mark.filterwarnings("ignore:.*is deprecated.*:DeprecationWarning"),
]

GRADED = "tests.doubles.reward:graded"
DELAY_S = 0.15


@pytest.fixture(scope="module")
def cluster():
    """One local Ray cluster on 2 CPUs for the whole module."""
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"JUDGE_TEST_BACKEND_DELAY_S": str(DELAY_S)}},
    )
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(autouse=True)
def _graded_backend(monkeypatch):
    monkeypatch.setitem(backends._REGISTRY, "scripted-graded", GRADED)


def _rows(path: Path, count: int, **extra: object) -> Path:
    rows = [
        {"prompt": f"Question {i}?", "response": f"Answer {i}.", "topic": f"t{i % 3}", **extra}
        for i in range(count)
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _spec(**options: object) -> RayJudgeSpec:
    return RayJudgeSpec(backend="scripted-graded", **options)  # type: ignore[arg-type]


def test_ten_rows_without_an_id_column_get_ten_stable_ids_and_keep_their_columns(cluster, tmp_path):
    source = _rows(tmp_path / "rows.jsonl", 10)
    first = score_dataset(
        read_source(source, block_rows=3), _spec(), RayPool(replicas=2, cpus=0.5, batch_size=3)
    ).take_all()
    again = score_dataset(
        read_source(source, block_rows=7), _spec(), RayPool(cpus=0.5, batch_size=7)
    ).take_all()
    assert sorted(r["id"] for r in first) == sorted(str(i) for i in range(1, 11))
    by_id = {r["id"]: r for r in first}
    for record in again:  # other block boundaries, same ids for the same rows and scores
        assert by_id[record["id"]]["prompt"] == record["prompt"]
        assert by_id[record["id"]]["score"] == record["score"]
    for record in first:
        number = int(record["id"])
        assert record["row"] == number
        assert record["prompt"] == f"Question {number - 1}?"
        assert record["topic"] == f"t{(number - 1) % 3}"
        assert isinstance(record["details"], str) and record["score"] is not None


def test_several_files_give_ids_prefixed_with_the_file(cluster, tmp_path):
    a = _rows(tmp_path / "a.jsonl", 3)
    b = _rows(tmp_path / "b.jsonl", 2)
    records = score_dataset(read_source([a, b]), _spec(), RayPool(cpus=0.5)).take_all()
    ids = sorted(r["id"] for r in records)
    assert ids == ["a.jsonl:1", "a.jsonl:2", "a.jsonl:3", "b.jsonl:1", "b.jsonl:2"]


def test_a_dataset_without_ids_is_refused_and_an_id_column_is_used(cluster):
    items = [{"prompt": "Q?", "response": f"A{i}", "key": f"k{i}"} for i in range(4)]
    with pytest.raises(Exception, match="no stable ids"):
        score_dataset(ray.data.from_items(items), _spec(), RayPool(cpus=0.5)).take_all()
    records = score_dataset(
        ray.data.from_items(items),
        _spec(fields=FieldMap(id="key"), keep_inputs=False),
        RayPool(cpus=0.5),
    ).take_all()
    assert sorted(r["id"] for r in records) == ["k0", "k1", "k2", "k3"]
    assert "prompt" not in records[0] and "key" not in records[0]


def _single_process(source: Path, output: Path) -> list[dict]:
    judge = Judge("scripted-graded", "helpfulness")
    BatchJob(judge, source, output, BatchOptions(batch_size=4)).run()
    return pq.read_table(output).to_pylist()


def test_job_folder_has_the_records_and_schema_of_the_single_process_job(cluster, tmp_path):
    source = _rows(tmp_path / "rows.jsonl", 13)
    with source.open("a", encoding="utf-8") as handle:
        handle.write("{not json\n")  # row 14: a bad row, not a failed read task
    out = tmp_path / "scored"
    progress = RayJob(source, out, _spec(), RayPool(2, 0.5, 0.0, 4), plan="p").run()
    assert (progress.judged, progress.bad_rows, progress.total) == (13, 1, 14)
    parts = sorted(out.glob("part-*.parquet"))
    assert len(parts) == 4  # blocks of 4 rows: 1-4, 5-8, 9-12, 13-14
    schema = record_schema(False, ["prompt", "response", "topic"])
    assert all(pq.read_schema(part).equals(schema) for part in parts)
    ray_rows = sorted(pq.read_table(out).to_pylist(), key=lambda r: r["row"])
    expected = _single_process(source, tmp_path / "single.parquet")
    assert ray_rows == expected
    assert ray_rows[13]["input_error_kind"] == "unreadable" and ray_rows[13]["score"] is None


def test_rerun_skips_written_blocks_and_another_plan_is_refused(cluster, tmp_path):
    source = _rows(tmp_path / "rows.jsonl", 9)
    out = tmp_path / "scored"
    pool = RayPool(1, 0.5, 0.0, 3)
    RayJob(source, out, _spec(), pool, plan="p").run()
    first = pq.read_table(out).to_pylist()
    parts = sorted(out.glob("part-*.parquet"))
    parts[1].unlink()  # as if the run had been killed before this block was written
    (out / "part-000000099-000000099-x.parquet.tmp").write_bytes(b"torn")
    again = RayJob(source, out, _spec(), pool, plan="p").run()
    assert (again.skipped, again.judged) == (6, 3)
    assert not list(out.glob("*.tmp"))
    rows = pq.read_table(out).to_pylist()
    assert sorted(r["row"] for r in rows) == list(range(1, 10))
    assert sorted(rows, key=lambda r: r["row"]) == sorted(first, key=lambda r: r["row"])
    with pytest.raises(ConfigError, match="other settings"):
        RayJob(source, out, _spec(keep_inputs=False), pool, plan="q").prepare()
    forced = RayJob(source, out, _spec(keep_inputs=False), pool, plan="q", force=True).run()
    assert forced.judged == 9 and "prompt" not in pq.read_table(out).column_names


def test_a_backend_that_cannot_be_built_is_one_error_on_the_driver(cluster, tmp_path):
    source = _rows(tmp_path / "rows.jsonl", 2)
    spec = RayJudgeSpec(rubric="no-such-rubric", backend="scripted-graded")
    with pytest.raises(JudgeError, match="no-such-rubric") as info:
        RayJob(source, tmp_path / "scored", spec, RayPool(cpus=0.5), plan="p").run()
    assert "\n" not in str(info.value), "a remote traceback instead of the error itself"


def test_a_pool_larger_than_the_cluster_is_refused_instead_of_waiting(cluster, tmp_path):
    source = _rows(tmp_path / "rows.jsonl", 2)
    with pytest.raises(ConfigError, match="3 replicas x 1 CPU = 3 CPU, but the Ray cluster has 2"):
        RayJob(source, tmp_path / "scored", _spec(), RayPool(replicas=3), plan="p").run()


# The subprocess registers the scripted backend and joins the module's cluster with the backend's
# delay in its job's environment (the CLI then uses that connection), then runs the real CLI.
LAUNCH = (
    "import sys, ray; from judge import backends; "
    f"backends.register_backend('scripted-graded', '{GRADED}'); "
    "ray.init(address=sys.argv[-1], log_to_driver=False, "
    f"runtime_env={{'env_vars': {{'JUDGE_TEST_BACKEND_DELAY_S': '{DELAY_S}'}}}}); "
    "from judge.__main__ import main; sys.argv = ['judge', *sys.argv[1:]]; main()"
)


def _cli(source: Path, out: Path, address: str) -> list[str]:
    return [
        sys.executable, "-c", LAUNCH, "batch", str(source), str(out), "--engine", "ray",
        "--backend", "scripted-graded", "--batch-size", "2", "--replica-cpus", "0.5",
        "--replicas", "2", "--ray-address", address,
    ]  # fmt: skip


def test_driver_killed_mid_run_then_rerun_leaves_every_row_exactly_once(cluster, tmp_path):
    source = _rows(tmp_path / "rows.jsonl", 40)
    out = tmp_path / "scored"
    log = tmp_path / "driver.log"
    with log.open("wb") as stderr:
        driver = subprocess.Popen(
            _cli(source, out, cluster), cwd=REPO, stdout=subprocess.DEVNULL, stderr=stderr
        )
        deadline = time.monotonic() + 120
        while len(list(out.glob("part-*.parquet"))) < 3:
            assert driver.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "no block was written in 120 s"
            time.sleep(0.05)
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait()
    written = pq.read_table(out).num_rows
    assert 6 <= written < 40, "the kill came after the job had finished"
    rerun = subprocess.run(_cli(source, out, cluster), cwd=REPO, capture_output=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr.decode()
    assert "done before" in rerun.stderr.decode()
    rows = [r["row"] for r in pq.read_table(out, columns=["row"]).to_pylist()]
    assert sorted(rows) == list(range(1, 41)), "a row is missing or written twice"
    nothing = subprocess.run(_cli(source, out, cluster), cwd=REPO, capture_output=True)
    assert nothing.returncode == 0 and b"nothing to do" in nothing.stderr


def test_an_actor_refuses_a_folder_of_another_job_fingerprint_under_the_same_plan(
    cluster, tmp_path
):
    # The plan hashes what the command was given; a server that now serves another model gives
    # the same plan but another job fingerprint, which only a built judge can see.
    source = _rows(tmp_path / "rows.jsonl", 4)
    out = tmp_path / "scored"
    pool = RayPool(1, 0.5, 0.0, 2)
    RayJob(source, out, _spec(backend_options={"model": "a"}), pool, plan="p").run()
    next(out.glob("part-*.parquet")).unlink()  # leave rows to do, so the actors start
    with pytest.raises(ConfigError, match="the model or backend changed"):
        RayJob(source, out, _spec(backend_options={"model": "b"}), pool, plan="p").run()
    assert pq.read_table(out).num_rows == 2, "a refused run wrote nothing"


def test_a_ray_session_puts_the_hosts_ray_data_context_and_loggers_back(cluster):
    """The library runs inside notebooks and trainers: a job's Ray settings end with the job."""
    import logging

    from judge.batch.ray_runtime import ray_session

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars, context.execution_options.preserve_order = True, False
    levels = {name: logging.getLogger(name).level for name in ("ray", "ray.data")}
    with ray_session():
        assert context.execution_options.preserve_order and not context.enable_progress_bars
    assert context.enable_progress_bars and not context.execution_options.preserve_order
    assert {name: logging.getLogger(name).level for name in levels} == levels
