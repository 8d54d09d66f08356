"""`judge batch` (a resumable file job) and `judge serve` (the HTTP reward server)."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeRemainingColumn,
)

from judge.batch.rows import MAX_CHARS
from judge.commands.flags import JudgingFlags, judging_command
from judge.commands.options import (
    DEFAULT_PAIR_METHOD,
    BatchSizeOpt,
    CacheOpt,
    ForceOpt,
    NoCacheOpt,
    PairMethodOpt,
    RubricOpt,
    check_cache_flags,
    checked_pair_method,
    judgment_cache,
)
from judge.commands.render import batch_summary, err_console
from judge.library import load_rubric

if TYPE_CHECKING:
    from judge.batch import BatchProgress, BatchRun

BATCH_HELP = "Score a file, resumably. Example: judge batch rows.jsonl out.jsonl"
SERVE_HELP = "Serve rewards over HTTP (OpenRLHF). Example: judge serve --port 8000"


@judging_command
def batch(
    ctx: typer.Context,
    flags: JudgingFlags,
    input_file: Annotated[Path, typer.Argument(help="Rows: .jsonl, .parquet or .csv.")],
    output: Annotated[
        Path, typer.Argument(help="Results: .jsonl or .parquet; an existing one is resumed.")
    ],
    rubric: RubricOpt = "helpfulness",
    prompt_field: Annotated[
        str, typer.Option(help="Column of the prompt (text or messages).")
    ] = "prompt",
    response_field: Annotated[str, typer.Option(help="Column of the response.")] = "response",
    id_field: Annotated[
        str | None,
        typer.Option(help="Column of a unique row id.", show_default="the row number"),
    ] = None,
    reference_field: Annotated[
        str | None, typer.Option(help="Column of an optional reference answer.")
    ] = "reference",
    a_field: Annotated[str | None, typer.Option(help="Pairwise: column of response A.")] = None,
    b_field: Annotated[str | None, typer.Option(help="Pairwise: column of response B.")] = None,
    pair_method: PairMethodOpt = DEFAULT_PAIR_METHOD,
    input_format: Annotated[
        str | None,
        typer.Option(
            help="Format of INPUT_FILE: jsonl, parquet or csv.", show_default="from its suffix"
        ),
    ] = None,
    batch_size: BatchSizeOpt = 32,
    shard: Annotated[str, typer.Option(help="Do shard i of n (0-based), e.g. 0/4.")] = "0/1",
    max_failures: Annotated[
        int | None, typer.Option(help="Stop once more rows than this have failed.")
    ] = None,
    max_chars: Annotated[
        int, typer.Option(help="Longest text field; longer rows are bad.")
    ] = MAX_CHARS,
    force: ForceOpt = False,
    drop_inputs: Annotated[
        bool,
        typer.Option("--drop-inputs", help="Write only result columns, not the input's columns."),
    ] = False,
    repair: Annotated[
        bool,
        typer.Option(
            "--repair", help="Keep the first record of each row of an output with duplicates."
        ),
    ] = False,
    engine: Annotated[
        str,
        typer.Option(
            metavar="local|ray",
            help="local (this process) or ray (OUTPUT is a folder of Parquet files).",
        ),
    ] = "local",
    replicas: Annotated[int, typer.Option(help="Ray: judge actors, one backend each.")] = 1,
    replica_cpus: Annotated[float, typer.Option(help="Ray: CPUs per replica.")] = 1.0,
    replica_gpus: Annotated[float, typer.Option(help="Ray: GPUs per replica.")] = 0.0,
    ray_address: Annotated[
        str | None,
        typer.Option(help="Ray: a cluster's address.", show_default="start a local one"),
    ] = None,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Score every row of a file; rerun the same command to resume after a crash.

    Example: judge batch rows.jsonl scored.parquet --id-field id --batch-size 64 --shard 0/4
    """
    from judge.batch import BatchOptions, FieldMap, parse_shard, run_batch
    from judge.batch.ray_engine import RayPool

    fields = FieldMap(
        prompt=prompt_field,
        response=response_field,
        id=id_field,
        reference=reference_field or None,
        response_a=a_field,
        response_b=b_field,
    )
    options = BatchOptions(
        fields=fields,
        batch_size=batch_size,
        shard=parse_shard(shard),
        max_failures=max_failures,
        max_chars=max_chars,
        force=force,
        repair=repair,
        keep_inputs=not drop_inputs,
        compare_method=checked_pair_method(pair_method),
        input_format=input_format,
    )
    check_cache_flags(cache, no_cache)
    if engine == "ray":
        # The command's own process (the library leaves these alone): a small input has fewer
        # blocks than replicas, which Ray Data says with a UserWarning; its INFO chatter is not
        # the command's output.
        warnings.filterwarnings("ignore", message="The minimum number of concurrent actors")
        logging.getLogger("ray.data").setLevel(logging.WARNING)
    note = f"ray engine: {replicas} replica(s) of backend {escape(flags.backend)}"
    with batch_progress(note if engine == "ray" else None) as (on_start, on_progress):
        run = run_batch(
            input_file,
            output,
            rubric=load_rubric(rubric),
            backend=flags.backend,
            backend_options=flags.backend_options,
            settings=flags.settings,
            options=options,
            engine=engine,
            pool=RayPool(replicas, replica_cpus, replica_gpus, batch_size),
            ray_address=ray_address,
            cache=False if no_cache else (cache or True),
            on_start=on_start,
            on_progress=on_progress,
        )
    render_batch(run, input_file)


@contextmanager
def batch_progress(
    note: str | None = None,
) -> Iterator[tuple[Callable[[BatchProgress], None] | None, Callable[[BatchProgress], None]]]:
    """A live progress bar of a batch job: (on_start, on_progress) for `run_batch`.

    With a `note`, on_start prints it with the rows left to judge when judging begins.
    """
    with Progress(
        SpinnerColumn(),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rates]}  failures {task.fields[failures]}"),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("batch", total=None, rates="", failures=0)

        def start(progress: BatchProgress) -> None:
            err_console.print(
                f"{note}, {progress.remaining} rows to judge ({progress.skipped} done before)"
            )

        def show(progress: BatchProgress) -> None:
            elapsed = max(progress.elapsed, 1e-9)
            rates = (
                f"{progress.done / elapsed:.1f} rows/s  "
                f"{progress.judgments / elapsed:.1f} judgments/s"
            )
            bar.update(
                task,
                total=progress.total - progress.skipped,
                completed=progress.done,
                rates=rates,
                failures=progress.failed + progress.bad_rows,
            )

        yield (start if note is not None else None), show


def render_batch(run: BatchRun, input_file: Path) -> None:
    """Print a batch run's summary; exit 1 if it stopped early or rows failed."""
    if run.nothing_left:
        err_console.print(
            f"nothing to do: {escape(str(run.output))} already holds all {run.progress.total} "
            f"rows of {escape(str(input_file))} (pass --force to judge them again)"
        )
        return
    err_console.print(batch_summary(run.progress, run.output, run.cache))
    if run.progress.stopped:
        err_console.print(f"[red]stopped[/red]: {escape(run.progress.stopped)}; rerun to resume")
    if not run.ok:
        raise typer.Exit(1)


def _on_error(value: str) -> Any:
    if value in ("none", "raise"):
        return value
    try:
        return float(value)
    except ValueError:
        raise typer.BadParameter(f"--on-error {value!r}: use none, raise or a number") from None


@judging_command
def serve(
    ctx: typer.Context,
    flags: JudgingFlags,
    rubric: RubricOpt = "helpfulness",
    host: Annotated[
        str, typer.Option(help="Address to listen on (loopback by default).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="JUDGE_SERVE_TOKEN", help="Require this bearer token (or ?access_token=)."
        ),
    ] = None,
    on_error: Annotated[
        str,
        typer.Option(help="Reward of a failed item: a number, none (null) or raise (HTTP 500)."),
    ] = "0.0",
    scale: Annotated[
        float, typer.Option(help="Reward = scale * score + offset - penalties.")
    ] = 1.0,
    offset: Annotated[float, typer.Option(help="Added to every reward.")] = 0.0,
    hard_rule_penalty: Annotated[
        float, typer.Option(help="Subtracted per hard rule judged 'no'.")
    ] = 0.0,
    max_batch: Annotated[int, typer.Option(help="Most samples per coalesced backend batch.")] = 256,
    max_wait_ms: Annotated[
        float, typer.Option(help="How long a request waits for company.")
    ] = 10.0,
    max_queue: Annotated[int, typer.Option(help="Most waiting samples before 503.")] = 4096,
    timeout: Annotated[
        float,
        typer.Option(help="A request's deadline (s); past it, HTTP 503 + Retry-After."),
    ] = 170.0,
    max_body_bytes: Annotated[
        int, typer.Option(help="Larger request bodies get HTTP 413 before they are parsed.")
    ] = 4 * 1024 * 1024,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Serve the judge as a reward model: POST /get_reward (OpenRLHF), POST /score, GET /health.

    Example: judge serve --rubric helpfulness --backend sglang-server --base-url http://127.0.0.1:30000
    """
    from judge.reward import RubricReward
    from judge.reward.serve import serve as run_server

    reward = RubricReward(
        load_rubric(rubric),
        flags.backend,
        settings=flags.settings,
        on_error=_on_error(on_error),
        timeout_s=timeout,
        scale=scale,
        offset=offset,
        hard_rule_penalty=hard_rule_penalty,
        max_batch=max_batch,
        max_wait_s=max_wait_ms / 1000,
        max_queue=max_queue,
        cache=judgment_cache(cache, no_cache),
        backend_options=flags.backend_options,
    )
    store = reward.cache.path if reward.cache is not None else "off"
    err_console.print(
        f"judge reward server on http://{host}:{port} (POST /get_reward, /score); "
        f"judgment cache {escape(str(store))}"
    )
    run_server(reward, host=host, port=port, token=token, max_body_bytes=max_body_bytes)
