"""Rows/s of the Ray Data engine next to the single-process job, same rows, same scripted backend.

The backend is the scripted test double (`tests.doubles.reward:graded`) with a fixed latency per
backend call (`--latency`, seconds per batch), standing in for a server that answers a batch of
32 rows x 5 criteria in that time; the latency is a sleep, so replicas overlap it as they would
overlap waits on SGLang servers, even on 2 cores. Both arms run the real jobs
(`judge.batch.BatchJob` to a Parquet file; `judge.batch.ray_engine.RayJob` to a folder of
Parquet blocks); the Ray arm's time includes starting a local Ray cluster and its actors, which is
what the crossover (rows at which Ray's start-up is paid back) depends on.

    python benchmarks/ray_engine.py --rows 256 1024 --replicas 4 --latency 0.5
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from batch_throughput import rows  # noqa: E402

from judge import backends  # noqa: E402
from judge.batch import BatchJob, BatchOptions  # noqa: E402
from judge.batch.ray_engine import RayJob, RayJudgeSpec, RayPool  # noqa: E402
from judge.batch.ray_runtime import ray_session  # noqa: E402
from judge.runner.judge import Judge  # noqa: E402

BATCH = 32


def single_process(source: Path, folder: Path) -> float:
    """Seconds of the single-process job on `source` (the backend built before the clock)."""
    judge = Judge("scripted-graded", "helpfulness")
    started = time.perf_counter()
    progress = BatchJob(
        judge, source, folder / "single.parquet", BatchOptions(batch_size=BATCH)
    ).run()
    assert progress.judged == progress.total, progress
    return time.perf_counter() - started


def ray_job(source: Path, folder: Path, replicas: int, out: str) -> float:
    """Seconds of the Ray job on `source`, including the start of the cluster and its actors."""
    started = time.perf_counter()
    with ray_session(num_cpus=2):
        pool = RayPool(replicas=replicas, cpus=min(1.0, 2 / replicas), batch_size=BATCH)
        job = RayJob(source, folder / out, RayJudgeSpec(backend="scripted-graded"), pool, plan="b")
        progress = job.run()
    assert progress.judged == progress.total, progress
    return time.perf_counter() - started


def ray_startup(folder: Path, replicas: int) -> float:
    """Seconds of a Ray job on one row: start-up alone (cluster, read task, actors, one file)."""
    source = folder / "one.jsonl"
    source.write_text(json.dumps({"prompt": "Q?", "response": "A."}) + "\n")
    return ray_job(source, folder, replicas, "one")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--replicas", type=int, default=4)
    parser.add_argument("--latency", type=float, default=0.5, help="seconds per backend batch")
    args = parser.parse_args()
    os.environ["JUDGE_TEST_BACKEND_DELAY_S"] = str(args.latency)  # Ray's workers inherit it
    backends.register_backend("scripted-graded", "tests.doubles.reward:graded")
    print(f"latency {args.latency} s per batch of {BATCH} rows; {args.replicas} replicas; 2 CPUs")
    print("| rows | single-process s | rows/s | ray s | rows/s | ray / single speed |")
    print("|---:|---:|---:|---:|---:|---:|")
    measured: list[tuple[int, float, float]] = []
    where = ""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        startup = ray_startup(folder, args.replicas)
        for count in args.rows:
            data, where = rows(count)
            source = folder / f"rows-{count}.jsonl"
            source.write_text("".join(json.dumps(row) + "\n" for row in data), encoding="utf-8")
            single = single_process(source, folder)
            (folder / "single.parquet").unlink()
            distributed = ray_job(source, folder, args.replicas, f"ray-{count}")
            measured.append((count, single, distributed))
            print(
                f"| {count} | {single:.1f} | {count / single:.1f} | {distributed:.1f} | "
                f"{count / distributed:.1f} | {single / distributed:.2f}x |",
                flush=True,
            )
    print(f"rows from: {where}; Ray start-up (a 1-row job): {startup:.1f} s")
    # At the largest size: time per row of each arm once Ray's start-up is taken out.
    count, single, distributed = measured[-1]
    single_row, ray_row = single / count, max(distributed - startup, 0.0) / count
    print(
        f"per row at {count} rows: single {1000 * single_row:.1f} ms, ray {1000 * ray_row:.1f} ms"
    )
    if single_row > ray_row:
        print(
            f"crossover ~ {startup / (single_row - ray_row):.0f} rows (start-up / saving per row)"
        )
    else:
        print("Ray saves nothing per row here: no crossover")


if __name__ == "__main__":
    main()
