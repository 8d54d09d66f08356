"""`judge batch` (a resumable file job) and `judge serve` (the HTTP reward server)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from judge.batch.rows import MAX_CHARS
from judge.commands.options import (
    BackendOpt,
    BaseUrlOpt,
    CacheOpt,
    ModelOpt,
    NoCacheOpt,
    ReasoningOpt,
    RubricOpt,
    backend_options,
    cli_state,
    judge_settings,
    judgment_cache,
    setting_help,
)
from judge.commands.render import batch_summary, err_console
from judge.errors import ConfigError
from judge.library import load_rubric

BATCH_HELP = "Score a file, resumably. Example: judge batch rows.jsonl out.jsonl"
SERVE_HELP = "Serve rewards over HTTP (OpenRLHF). Example: judge serve --port 8000"


def batch(
    ctx: typer.Context,
    input_file: Annotated[Path, typer.Argument(help="Rows: .jsonl, .parquet or .csv.")],
    output: Annotated[
        Path, typer.Argument(help="Results: .jsonl or .parquet; an existing one is resumed.")
    ],
    rubric: RubricOpt = "helpfulness",
    backend: BackendOpt = "transformers",
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    prompt_field: Annotated[
        str, typer.Option(help="Column of the prompt (text or messages).")
    ] = "prompt",
    response_field: Annotated[str, typer.Option(help="Column of the response.")] = "response",
    id_field: Annotated[
        str | None, typer.Option(help="Column of a unique row id (default: the row number).")
    ] = None,
    reference_field: Annotated[
        str | None, typer.Option(help="Column of an optional reference answer.")
    ] = "reference",
    a_field: Annotated[str | None, typer.Option(help="Pairwise: column of response A.")] = None,
    b_field: Annotated[str | None, typer.Option(help="Pairwise: column of response B.")] = None,
    compare_method: Annotated[
        str, typer.Option(help="Pairwise: rubric (criteria margin) or direct.")
    ] = "rubric",
    input_format: Annotated[
        str | None,
        typer.Option(
            help="Format of INPUT_FILE: jsonl, parquet or csv [default: from its suffix]."
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Rows per backend batch.")] = 32,
    shard: Annotated[str, typer.Option(help="Do shard i of n (0-based), e.g. 0/4.")] = "0/1",
    max_failures: Annotated[
        int | None, typer.Option(help="Stop once more rows than this have failed.")
    ] = None,
    max_chars: Annotated[
        int, typer.Option(help="Longest text field; longer rows are bad.")
    ] = MAX_CHARS,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an output written with other settings.")
    ] = False,
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
    max_rationale_chars: Annotated[
        int | None, typer.Option(help=setting_help("max_rationale_chars"))
    ] = None,
    engine: Annotated[
        str, typer.Option(help="local (this process) or ray (OUTPUT is a folder of Parquet files).")
    ] = "local",
    replicas: Annotated[int, typer.Option(help="Ray: judge actors, one backend each.")] = 1,
    replica_cpus: Annotated[float, typer.Option(help="Ray: CPUs per replica.")] = 1.0,
    replica_gpus: Annotated[float, typer.Option(help="Ray: GPUs per replica.")] = 0.0,
    ray_address: Annotated[
        str | None, typer.Option(help="Ray: a cluster's address (default: start a local one).")
    ] = None,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
    reasoning: ReasoningOpt = None,
) -> None:
    """Score every row of a file; rerun the same command to resume after a crash.

    Example: judge batch rows.jsonl scored.parquet --id-field id --batch-size 64 --shard 0/4
    """
    from rich.progress import SpinnerColumn

    from judge.batch import BatchJob, BatchOptions, FieldMap, parse_shard
    from judge.batch.preflight import plan_fingerprint, preflight, record_plan
    from judge.runner.judge import Judge

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
        compare_method=compare_method,  # type: ignore[arg-type]
        input_format=input_format,
    )
    # Every check that needs no model comes first (see judge.batch.preflight).
    rubric_obj = load_rubric(rubric)
    settings = judge_settings(ctx, max_rationale_chars=max_rationale_chars, reasoning=reasoning)
    plan = plan_fingerprint(
        rubric=rubric_obj.fingerprint,
        settings=settings.fingerprint,
        backend=backend,
        model=model,
        base_url=base_url,
        backend_options=cli_state(ctx).backend_options,
        options=options,
    )
    if engine not in ("local", "ray"):
        raise ConfigError(f"--engine {engine!r}", hint="use local or ray")
    if engine == "ray":
        if cache is not None:
            raise ConfigError(
                "--cache with --engine ray",
                hint="Ray workers on other machines share no local file: drop --cache",
            )
        from judge.batch.ray_engine import RayPool
        from judge.commands.ray_batch import run_ray_batch

        pool = RayPool(replicas, replica_cpus, replica_gpus, batch_size)
        run_ray_batch(
            input_file,
            output,
            rubric=rubric_obj,
            backend=backend,
            backend_options=backend_options(ctx, backend, model, base_url),
            settings=settings,
            options=options,
            pool=pool,
            plan=plan_fingerprint(plan=plan, engine="ray"),
            address=ray_address,
        )
        return
    checked = preflight(input_file, output, options, plan)
    if checked.nothing_left:
        err_console.print(
            f"nothing to do: {escape(str(output))} already holds all {checked.total} rows of "
            f"{escape(str(input_file))} (pass --force to judge them again)"
        )
        return
    store = judgment_cache(cache, no_cache)
    judge = Judge(
        backend=backend,
        rubric=rubric_obj,
        settings=settings,
        **backend_options(ctx, backend, model, base_url),
    )
    job = BatchJob(judge, input_file, output, options, cache=store)
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

        def show(progress: Any) -> None:
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

        try:
            result = job.run(on_progress=show)
        finally:
            judge.close()
            if store is not None:
                store.close()
    if result.stopped is None:
        record_plan(output, plan, job.fingerprint)
    err_console.print(batch_summary(result, output, store))
    if result.stopped:
        err_console.print(f"[red]stopped[/red]: {escape(result.stopped)}; rerun to resume")
    if result.stopped or result.failed or result.bad_rows:
        raise typer.Exit(1)


def _on_error(value: str) -> Any:
    if value in ("none", "raise"):
        return value
    try:
        return float(value)
    except ValueError:
        raise typer.BadParameter(f"--on-error {value!r}: use none, raise or a number") from None


def serve(
    ctx: typer.Context,
    rubric: RubricOpt = "helpfulness",
    backend: BackendOpt = "transformers",
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
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
    reasoning: ReasoningOpt = None,
) -> None:
    """Serve the judge as a reward model: POST /get_reward (OpenRLHF), POST /score, GET /health.

    Example: judge serve --rubric helpfulness --backend sglang-server --base-url http://127.0.0.1:30000
    """
    from judge.reward import RubricReward
    from judge.reward.serve import serve as run_server

    settings = judge_settings(ctx, reasoning=reasoning)
    reward = RubricReward(
        load_rubric(rubric),
        backend,
        settings=settings,
        on_error=_on_error(on_error),
        timeout_s=timeout,
        scale=scale,
        offset=offset,
        hard_rule_penalty=hard_rule_penalty,
        max_batch=max_batch,
        max_wait_s=max_wait_ms / 1000,
        max_queue=max_queue,
        cache=judgment_cache(cache, no_cache),
        **backend_options(ctx, backend, model, base_url),
    )
    store = reward.cache.path if reward.cache is not None else "off"
    err_console.print(
        f"judge reward server on http://{host}:{port} (POST /get_reward, /score); "
        f"judgment cache {escape(str(store))}"
    )
    run_server(reward, host=host, port=port, token=token, max_body_bytes=max_body_bytes)
