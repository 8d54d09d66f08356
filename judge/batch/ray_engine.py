"""Ray Data as a batch engine: a pool of judge actors, stable row ids, Parquet per block, resume.

`score_dataset` takes a ``ray.data.Dataset`` and returns one of result records (input columns
kept unless ``keep_inputs=False``). Each actor of the pool builds one judge, that is one
backend: an SGLang engine on its GPU (``num_gpus=1``), a client of a server endpoint, or the
embedded model; the pool's size is the number of replicas. Row ids come from the source: an id
column (``FieldMap(id=...)``), or the ``_row``/``_id`` columns that `read_source` numbers where
the file is read; a dataset with neither is refused, never numbered per batch.

`run_ray_job` is ``judge batch --engine ray``: one input file in, a folder of Parquet files out.
Every batch an actor judges is written by that actor as one file (temporary name, fsync,
rename), with the typed schema of `record_schema`, and named after the rows it holds. A rerun
reads the row numbers of the finished files and skips them at read time, so a job killed at any
point (driver included) resumes at the granularity of written blocks, and no row is written
twice. The folder records the plan of the command that wrote it (``_plan.json``); another plan
is refused before Ray starts, and an actor refuses files made with another job fingerprint
(e.g. a server that now serves another model), unless ``force``.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from judge.backends import backend_target, register_backend
from judge.batch.files import count_rows, detect_format, records_table, write_parquet
from judge.batch.job import BatchProgress
from judge.batch.lock import OutputLock
from judge.batch.preflight import check_fields, refuse_duplicates
from judge.batch.ray_runtime import (
    check_pool,
    raise_reported,
    ray_module,
    ray_session,
    reported,
    unwrap,
)
from judge.batch.ray_source import decode_rows, read_source
from judge.batch.rows import MAX_CHARS, BadRow, FieldMap, PreparedRow, prepare_row
from judge.batch.scoring import input_column, job_fingerprint, record_columns, score_rows
from judge.errors import ConfigError, InputError, JudgeError
from judge.runner.judge import Judge
from judge.runner.pairwise import DEFAULT_METHOD, Method
from judge.settings import JudgeSettings
from judge.storage import write_atomic
from judge.types import Rubric, Usage, stable_hash

PLAN_FILE = "_plan.json"
PART_GLOB = "part-*.parquet"
WRITERS_FILE = "_writers.lock"
"""Every writing actor holds a shared ``flock`` on it while it lives; see `wait_for_writers`."""


def hold_writer_lock(out_dir: Path) -> int:
    """Take the shared lock of a writing actor (kept until the actor's process ends)."""
    fd = os.open(out_dir / WRITERS_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


def wait_for_writers(out_dir: Path, timeout_s: float = 120.0) -> None:
    """Wait until no actor of an earlier run can still write into `out_dir`.

    A driver killed with ``kill -9`` leaves its actors alive until Ray notices (seconds): one
    of them could still rename a finished block into the folder after a rerun has listed it,
    and its rows would be judged twice. The rerun takes the lock exclusively first.
    """
    fd = os.open(out_dir / WRITERS_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ConfigError(
                        f"actors of an earlier run still write into {out_dir}",
                        hint="stop them (ray list actors; ray stop) and rerun",
                    ) from None
                time.sleep(0.2)
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class RayJudgeSpec:
    """What each actor needs to build its judge; picklable, and no model is built on the driver."""

    rubric: Rubric | str = "helpfulness"
    backend: str = "transformers"
    backend_options: Mapping[str, Any] = field(default_factory=dict)
    """Keyword options of the backend (``model=``, ``base_url=``, ...)."""
    settings: JudgeSettings | None = None
    fields: FieldMap = field(default_factory=FieldMap)
    max_chars: int = MAX_CHARS
    compare_method: Method = DEFAULT_METHOD
    keep_inputs: bool = True
    backend_target: str | None = None
    """``"module:factory"`` of the backend, resolved on the driver so a backend registered
    there (your own, or a test's) is registered in every actor too."""

    def resolved(self) -> RayJudgeSpec:
        """This spec with its backend's factory looked up (an unknown name fails here, early)."""
        return replace(self, backend_target=self.backend_target or backend_target(self.backend))


@dataclass(frozen=True)
class RayPool:
    """The actor pool: replicas (one backend each), resources per replica, rows per batch."""

    replicas: int = 1
    cpus: float = 1.0
    gpus: float = 0.0
    batch_size: int = 32

    def map_args(self, ray: Any) -> dict[str, Any]:
        """The ``map_batches`` arguments of this pool."""
        if self.batch_size < 1:
            raise ConfigError(f"batch size {self.batch_size} < 1", hint="give 1 or more")
        return {
            "compute": ray.data.ActorPoolStrategy(size=self.replicas),
            "num_cpus": self.cpus,
            "num_gpus": self.gpus,
            "batch_size": self.batch_size,
            "batch_format": "pyarrow",
        }


def _renamed(row: PreparedRow, row_id: str) -> PreparedRow:
    item = row.item if isinstance(row.item, BadRow) else row.item.model_copy(update={"id": row_id})
    return replace(row, id=row_id, item=item)


class ScoringActor:
    """One replica: one judge built once; a block of rows in, result records (or a file) out."""

    def __init__(
        self, spec: RayJudgeSpec, out_dir: str | None = None, expected: str | None = None
    ) -> None:
        self.spec = spec
        self.out_dir = None if out_dir is None else Path(out_dir)
        # A judge that cannot be built (no such model, a server that is down) is raised by the
        # first call: an error of a call reaches the driver as itself, one of the constructor
        # only as the text of an ActorDiedError.
        self.failure: JudgeError | None = None
        try:
            if self.out_dir is not None:
                self.writer_lock = hold_writer_lock(self.out_dir)
            if spec.backend_target is not None:
                register_backend(spec.backend, spec.backend_target)
            self.judge = Judge(
                spec.backend,
                spec.rubric,
                settings=spec.settings,
                backend_options=spec.backend_options,
            )
            self.fingerprint = job_fingerprint(
                self.judge, spec.fields, spec.max_chars, spec.compare_method, spec.keep_inputs
            )
            if expected is not None and expected != self.fingerprint:
                raise ConfigError(
                    f"{out_dir} holds results made with other settings (job fingerprint "
                    f"{expected}, now {self.fingerprint}: the model or backend changed)",
                    hint="pass --force to start over, or write to a new folder",
                )
        except JudgeError as exc:
            self.failure = exc

    def records(self, table: Any) -> tuple[list[dict[str, Any]], list[str]]:
        """Judge a block: its result records, and the names of its input columns."""
        fields = self.spec.fields
        prepared, inputs = [], {}
        for row in decode_rows(table.to_pylist()):
            if row.id is None and fields.id is None and row.raw.number == 0:
                raise ConfigError(
                    "the dataset has no id column and no '_row' column, so rows have no stable ids",
                    hint="read files with judge.batch.ray_source.read_source, or pass "
                    "fields=FieldMap(id='your_id_column')",
                )
            one = prepare_row(row.raw, fields, self.spec.max_chars)
            number = row.raw.number
            if row.id is not None and one.id == f"#{number}":  # an unreadable row
                one = _renamed(one, f"#{row.id}")
            elif row.id is not None and fields.id is None and one.id == str(number):
                one = _renamed(one, row.id)
            prepared.append(one)
            inputs.update(dict.fromkeys(str(name) for name in one.inputs))
        records = score_rows(
            self.judge,
            prepared,
            self.fingerprint,
            pairwise=fields.pairwise,
            method=self.spec.compare_method,
            keep_inputs=self.spec.keep_inputs,
        )
        return records, list(inputs) if self.spec.keep_inputs else []

    def __call__(self, table: Any) -> Any:
        """Score one block: result records, or (writing a folder) one file and its counters."""
        if self.failure is not None and self.out_dir is None:
            raise self.failure  # reaches the caller as the text of a Ray error
        if self.failure is not None:  # a value for the job's driver, which raises it as itself
            return _summary(None, BatchProgress(), reported(self.failure))
        records, inputs = self.records(table)
        pairwise = self.spec.fields.pairwise
        columns = record_columns(pairwise) + [input_column(name, pairwise) for name in inputs]
        if self.out_dir is None:
            return records_table(columns, records)
        rows = sorted(int(record["row"]) for record in records)
        name = f"part-{rows[0]:09d}-{rows[-1]:09d}-{stable_hash(rows)[:8]}.parquet"
        write_parquet(self.out_dir / name, columns, None, iter(records))
        counted = BatchProgress()
        counted.add(records)
        return _summary(name, counted, None)


def _summary(name: str | None, counted: BatchProgress, failure: str | None) -> Any:
    """One row for the driver: the block's file and counters, or why no block can be judged."""
    import pyarrow as pa

    values = {
        "file": (name, pa.string()),
        "judged": (counted.judged, pa.int64()),
        "failed": (counted.failed, pa.int64()),
        "bad_rows": (counted.bad_rows, pa.int64()),
        "judgments": (counted.judgments, pa.int64()),
        "score_sum": (counted.score_sum, pa.float64()),
        "failures": (json.dumps(dict(counted.failures)), pa.string()),
        "usage": (counted.usage.model_dump_json(), pa.string()),
        "failure": (failure, pa.string()),
    }
    return pa.table({key: pa.array([value], kind) for key, (value, kind) in values.items()})


def score_dataset(ds: Any, spec: RayJudgeSpec, pool: RayPool | None = None) -> Any:
    """Score a ``ray.data.Dataset`` on a pool of judge actors; a Dataset of result records."""
    ray = ray_module()
    pool = pool or RayPool()
    if ray.is_initialized():
        check_pool(ray, pool.replicas, pool.cpus, pool.gpus)
    return ds.map_batches(
        ScoringActor, fn_constructor_kwargs={"spec": spec.resolved()}, **pool.map_args(ray)
    )


def written_keys(out_dir: Path) -> list[tuple[int, str, str]]:
    """(row, id, job fingerprint) of every record in the finished files of a job folder."""
    import pyarrow.parquet as pq

    keys: list[tuple[int, str, str]] = []
    for path in sorted(out_dir.glob(PART_GLOB)):
        table = pq.read_table(path, columns=["row", "id", "job_fingerprint"])
        keys.extend(zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True))
    return keys


def _check_folder(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(
            f"output {out_dir} is a file, and the ray engine writes a folder of Parquet files",
            hint="give a folder path, e.g. scored/",
        )
    parent = out_dir.parent
    if not parent.is_dir():
        raise ConfigError(f"output {out_dir}: folder {parent} does not exist", hint="create it")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"output {out_dir}: not writable", hint="choose a folder you can write")


@dataclass
class RayJob:
    """``judge batch --engine ray``: one input file, one output folder, a pool of judge actors."""

    source: Path
    out_dir: Path
    spec: RayJudgeSpec
    pool: RayPool = field(default_factory=RayPool)
    plan: str = ""
    force: bool = False
    input_format: str | None = None
    max_failures: int | None = None
    address: str | None = None

    def prepare(self) -> BatchProgress:
        """Every check that needs neither Ray nor a model; the counters of what is left to do."""
        self.spec = self.spec.resolved()
        if not self.source.is_file():
            missing = "does not exist" if not self.source.exists() else "is not a file"
            raise InputError(f"input {self.source} {missing}", hint="check the path")
        self.fmt = detect_format(self.source, self.input_format)
        _check_folder(self.out_dir)
        if self.pool.batch_size < 1 or self.pool.replicas < 1:
            raise ConfigError("batch size and replicas must be >= 1", hint="give 1 or more")
        progress = BatchProgress(total=count_rows(self.source, self.fmt))
        if progress.total == 0:
            raise InputError(f"0 rows in {self.source}", hint="check the file")
        check_fields(self.source, self.fmt, self.spec.fields)
        plan_path = self.out_dir / PLAN_FILE
        self.keys = (
            [] if self.force else written_keys(self.out_dir) if self.out_dir.is_dir() else []
        )
        if self.keys and plan_path.is_file():
            recorded = json.loads(plan_path.read_text(encoding="utf-8")).get("plan")
            if recorded != self.plan:
                raise ConfigError(
                    f"{self.out_dir} holds {len(self.keys)} results made with other settings "
                    "(rubric, model, backend, sampling, field mapping or --drop-inputs changed)",
                    hint="pass --force to start over, or write to a new folder",
                )
        refuse_duplicates(self.out_dir, self.keys)
        fingerprints = sorted({str(key[2]) for key in self.keys})
        if len(fingerprints) > 1:
            raise ConfigError(
                f"{self.out_dir} mixes results of {len(fingerprints)} job fingerprints",
                hint="pass --force to start over",
            )
        self.expected = fingerprints[0] if fingerprints else None
        progress.skipped = len({key[0] for key in self.keys})
        return progress

    def run(self, on_progress: Callable[[BatchProgress], None] | None = None) -> BatchProgress:
        """Run (or resume) the job; the folder is locked for the whole run."""
        self.prepare()
        self.out_dir.mkdir(exist_ok=True)
        with OutputLock(self.out_dir):
            wait_for_writers(self.out_dir)
            progress = self.prepare()  # again: what an earlier run's last actors wrote counts
            if self.force:
                for stale in self.out_dir.glob(PART_GLOB):
                    stale.unlink()
            for partial in self.out_dir.glob("part-*.parquet.tmp"):  # blocks a kill cut short
                partial.unlink()
            write_atomic(self.out_dir / PLAN_FILE, json.dumps({"plan": self.plan}) + "\n")
            if progress.remaining == 0:
                return progress
            with ray_session(self.address) as ray:
                check_pool(ray, self.pool.replicas, self.pool.cpus, self.pool.gpus)
                try:
                    self._score(ray, progress, on_progress)
                except Exception as exc:
                    raise unwrap(exc) from None
        return progress

    def _score(
        self,
        ray: Any,
        progress: BatchProgress,
        on_progress: Callable[[BatchProgress], None] | None,
    ) -> None:
        done = frozenset(int(key[0]) for key in self.keys)
        ds = read_source(
            self.source, input_format=self.fmt, skip={0: done}, block_rows=self.pool.batch_size
        )
        results = ds.map_batches(
            ScoringActor,
            fn_constructor_kwargs={
                "spec": self.spec,
                "out_dir": str(self.out_dir.resolve()),
                "expected": self.expected,
            },
            **self.pool.map_args(ray),
        )
        if on_progress:
            on_progress(progress)
        for block in results.iter_rows():
            if block["failure"] is not None:
                raise_reported(block["failure"])
            progress.judged += block["judged"]
            progress.failed += block["failed"]
            progress.bad_rows += block["bad_rows"]
            progress.judgments += block["judgments"]
            progress.score_sum += block["score_sum"]
            progress.failures.update(json.loads(block["failures"]))
            progress.usage = progress.usage + Usage.model_validate_json(block["usage"])
            if on_progress:
                on_progress(progress)
            failures = progress.failed + progress.bad_rows
            if self.max_failures is not None and failures > self.max_failures:
                progress.stopped = f"{failures} failures > --max-failures {self.max_failures}"
                break


def run_ray_job(
    source: Path,
    out_dir: Path,
    spec: RayJudgeSpec,
    pool: RayPool | None = None,
    **options: Any,
) -> BatchProgress:
    """Score `source` into Parquet files under `out_dir` (see `RayJob`); return the counters."""
    return RayJob(source, out_dir, spec, pool or RayPool(), **options).run()


__all__: Sequence[str] = [
    "RayJob",
    "RayJudgeSpec",
    "RayPool",
    "ScoringActor",
    "read_source",
    "run_ray_job",
    "score_dataset",
    "written_keys",
]
