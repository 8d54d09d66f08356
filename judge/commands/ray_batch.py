"""`judge batch --engine ray`: the same job on a Ray cluster (a local one by default).

The options of `judge batch` mean the same here; the output is a folder of Parquet files (one
per judged block), resumed block by block. Everything that needs neither Ray nor a model (paths,
options, the input's rows, the folder's plan and duplicates, what is left to do) is checked
before Ray starts.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from judge.batch.job import BatchOptions, BatchProgress
from judge.batch.ray_engine import RayJob, RayJudgeSpec, RayPool
from judge.batch.ray_runtime import ray_module
from judge.commands.render import batch_summary, err_console
from judge.errors import ConfigError
from judge.settings import JudgeSettings
from judge.types import Rubric


def run_ray_batch(
    source: Path,
    output: Path,
    *,
    rubric: Rubric,
    backend: str,
    backend_options: dict[str, Any],
    settings: JudgeSettings,
    options: BatchOptions,
    pool: RayPool,
    plan: str,
    address: str | None,
) -> None:
    """Run the job on Ray and print its summary; exit 1 if rows failed."""
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
        pool,
        plan=plan,
        force=options.force,
        input_format=options.input_format,
        max_failures=options.max_failures,
        address=address,
    )
    prepared = job.prepare()
    if prepared.remaining == 0:
        err_console.print(
            f"nothing to do: {escape(str(output))} already holds all {prepared.total} rows of "
            f"{escape(str(source))} (pass --force to judge them again)"
        )
        return
    ray_module()  # not installed: one line and a hint, before the job starts
    # A small input has fewer blocks than replicas; Ray Data says so with a UserWarning.
    warnings.filterwarnings("ignore", message="The minimum number of concurrent actors")
    err_console.print(
        f"ray engine: {pool.replicas} replica(s) of backend {escape(backend)}, "
        f"{prepared.remaining} rows to judge ({prepared.skipped} done before)"
    )
    with Progress(
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("ray", total=prepared.remaining, rate="")

        def show(progress: BatchProgress) -> None:
            rate = progress.done / max(progress.elapsed, 1e-9)
            bar.update(task, completed=progress.done, rate=f"{rate:.1f} rows/s")

        result = job.run(on_progress=show)
    err_console.print(batch_summary(result, output))
    if result.stopped:
        err_console.print(f"[red]stopped[/red]: {escape(result.stopped)}; rerun to resume")
    if result.stopped or result.failed or result.bad_rows:
        raise typer.Exit(1)
