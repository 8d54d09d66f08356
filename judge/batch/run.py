"""`run_batch`: the whole of `judge batch` as one call, on this process or on a Ray cluster.

Every check that needs no model (options, paths, the input, the output's resume state and plan)
runs first; a job with nothing left to do never loads a model. The local engine judges in this
process (`BatchJob`, with the judgment cache); the Ray engine writes a folder of Parquet files
(`RayJob`). Either way the result is the job's counters (`BatchProgress`).

    from judge.batch import BatchOptions, run_batch
    run = run_batch(Path("rows.jsonl"), Path("scored.jsonl"), rubric="helpfulness")
    print(run.progress.judged, run.progress.failed, run.ok)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from judge.batch.job import BatchJob, BatchOptions, BatchProgress
from judge.batch.preflight import plan_fingerprint, preflight, record_plan
from judge.errors import ConfigError
from judge.library import load_rubric
from judge.runner.cache import CacheChoice, JudgmentCache, open_cache
from judge.settings import DEFAULTS, JudgeSettings
from judge.types import Rubric

if TYPE_CHECKING:
    from judge.batch.ray_engine import RayPool

OnProgress = Callable[[BatchProgress], None]


@dataclass(frozen=True)
class BatchRun:
    """What `run_batch` did: the counters, and whether there was anything left to do."""

    output: Path
    progress: BatchProgress
    """This run's counters; `progress.stopped` says why a run stopped early."""
    nothing_left: bool = False
    """The output already held every row, written under the same plan: nothing was judged."""
    cache: JudgmentCache | None = None
    """The judgment cache the local engine used (closed), for its hits and misses."""

    @property
    def ok(self) -> bool:
        """No row failed, no row was bad, and the run did not stop early."""
        progress = self.progress
        return not (progress.stopped or progress.failed or progress.bad_rows)


def batch_plan(
    rubric: Rubric,
    settings: JudgeSettings,
    backend: str,
    backend_options: Mapping[str, Any],
    options: BatchOptions,
) -> str:
    """Hash of everything a job was given, before a model loads (see `judge.batch.preflight`)."""
    rest = dict(backend_options)
    model, base_url = rest.pop("model", None), rest.pop("base_url", None)
    return plan_fingerprint(
        rubric=rubric.fingerprint,
        settings=settings.fingerprint,
        backend=backend,
        model=model,
        base_url=base_url,
        backend_options=rest,
        options=options,
    )


def run_batch(
    source: Path,
    output: Path,
    *,
    rubric: Rubric | str = "helpfulness",
    backend: str = "transformers",
    backend_options: Mapping[str, Any] | None = None,
    settings: JudgeSettings = DEFAULTS,
    options: BatchOptions | None = None,
    engine: str = "local",
    pool: RayPool | None = None,
    ray_address: str | None = None,
    cache: CacheChoice = True,
    on_start: OnProgress | None = None,
    on_progress: OnProgress | None = None,
) -> BatchRun:
    """Judge every row of `source` into `output`; rerun the same call to resume after a crash.

    `engine` is ``local`` (this process) or ``ray`` (`output` is then a folder of Parquet
    files). `cache` is the local engine's judgment cache (True: the default store, False:
    none, or a path); the Ray engine takes none, and a path is refused there. `on_start` is
    called with the counters once the checks passed and judging begins, `on_progress` after
    each batch.
    """
    rubric_obj = load_rubric(rubric) if isinstance(rubric, str) else rubric
    options = options or BatchOptions()
    backend_options = dict(backend_options or {})
    plan = batch_plan(rubric_obj, settings, backend, backend_options, options)
    if engine == "ray":
        if cache is not None and not isinstance(cache, bool):
            raise ConfigError(
                "--cache with --engine ray",
                hint="Ray workers on other machines share no local file: drop --cache",
            )
        return _run_ray(
            source, output, rubric_obj, backend, backend_options, settings, options,
            pool, plan_fingerprint(plan=plan, engine="ray"), ray_address, on_start, on_progress,
        )  # fmt: skip
    if engine != "local":
        raise ConfigError(f"--engine {engine!r}", hint="use local or ray")
    return _run_local(
        source, output, rubric_obj, backend, backend_options, settings, options, plan, cache,
        on_start, on_progress,
    )  # fmt: skip


def _run_local(
    source: Path,
    output: Path,
    rubric: Rubric,
    backend: str,
    backend_options: dict[str, Any],
    settings: JudgeSettings,
    options: BatchOptions,
    plan: str,
    cache: CacheChoice,
    on_start: OnProgress | None,
    on_progress: OnProgress | None,
) -> BatchRun:
    from judge.runner.judge import Judge

    checked = preflight(source, output, options, plan)
    if checked.nothing_left:
        done = BatchProgress(total=checked.total, skipped=checked.total)
        return BatchRun(output, done, nothing_left=True)
    store = open_cache(cache)
    try:
        judge = Judge(
            backend=backend, rubric=rubric, settings=settings, backend_options=backend_options
        )
        try:
            job = BatchJob(judge, source, output, options, cache=store)
            if on_start is not None:
                on_start(BatchProgress(total=checked.total, skipped=checked.written))
            progress = job.run(on_progress=on_progress)
        finally:
            judge.close()
    finally:
        if store is not None:
            store.close()
    if progress.stopped is None:
        record_plan(output, plan, job.fingerprint)
    return BatchRun(output, progress, cache=store)


def _run_ray(
    source: Path,
    output: Path,
    rubric: Rubric,
    backend: str,
    backend_options: dict[str, Any],
    settings: JudgeSettings,
    options: BatchOptions,
    pool: RayPool | None,
    plan: str,
    address: str | None,
    on_start: OnProgress | None,
    on_progress: OnProgress | None,
) -> BatchRun:
    """The same job on Ray: the output is a folder of Parquet files, resumed block by block."""
    from judge.batch.ray_engine import RayJob, RayJudgeSpec, RayPool
    from judge.batch.ray_runtime import ray_module

    if options.shard != (0, 1):
        raise ConfigError(
            "--shard with --engine ray", hint="Ray spreads the rows over --replicas; leave it out"
        )
    if options.repair:
        raise ConfigError(
            "--repair with --engine ray", hint="a folder with a row twice needs --force"
        )
    spec = RayJudgeSpec(
        rubric=rubric,
        backend=backend,
        backend_options=backend_options,
        settings=settings,
        fields=options.fields,
        max_chars=options.max_chars,
        compare_method=options.compare_method,
        keep_inputs=options.keep_inputs,
    )
    job = RayJob(
        source,
        output,
        spec,
        pool or RayPool(batch_size=options.batch_size),
        plan=plan,
        force=options.force,
        input_format=options.input_format,
        max_failures=options.max_failures,
        address=address,
    )
    prepared = job.prepare()
    if prepared.remaining == 0:
        return BatchRun(output, prepared, nothing_left=True)
    ray_module()  # not installed: one line and a hint, before the job starts
    if on_start is not None:
        on_start(prepared)
    return BatchRun(output, job.run(on_progress=on_progress))
