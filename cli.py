"""The `judge` command line: parse arguments, call the library, print with Rich.

Exit codes: 0 success; 1 judged, but at least one row or judgment failed; 2 bad input or
options (unknown rubric, bad file, bad flag); 3 the backend is unavailable or failed.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.tree import Tree

from judge.cli_config import CliConfig, defaults_for, load_cli_config, parse_backend_options
from judge.errors import BackendError, JudgeError
from judge.inputs import read_jsonl_samples, sample_from_record
from judge.rubric.library import dump_rubric, list_rubrics, load_rubric, load_rubric_file
from judge.types import Judgment, PairJudgment, Rubric, Sample

app = typer.Typer(
    name="judge",
    help="A generative LLM judge with rubrics. Example: judge score --rubric helpfulness "
    '--prompt "What is 2+2?" --response "4"',
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
rubric_app = typer.Typer(
    help="List, show and check rubrics. Example: judge rubric show helpfulness",
    no_args_is_help=True,
)
app.add_typer(rubric_app, name="rubric")

console = Console()
err_console = Console(stderr=True)
_state: dict[str, Any] = {"debug": False, "backend_options": {}}

BackendOpt = Annotated[
    str, typer.Option(help="Backend: transformers, sglang, sglang-server, openai.")
]
ModelOpt = Annotated[
    str | None,
    typer.Option(help="Model: a local HF folder or .gguf file (default: embedded SmolLM2-135M)."),
]
RubricOpt = Annotated[str, typer.Option(help="Library rubric name or a YAML file.")]
BaseUrlOpt = Annotated[str | None, typer.Option(help="Server URL for the HTTP backends.")]


@app.callback()
def _main_options(
    ctx: typer.Context,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log progress (batch counts).")
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="YAML file: `defaults` (option defaults for every command, e.g. backend, "
            "base_url, model) and `backend_options` (keyword options of the backend).",
        ),
    ] = None,
    backend_option: Annotated[
        list[str] | None,
        typer.Option(
            "--backend-option",
            "-B",
            help="KEY=VALUE option of the backend (repeatable), e.g. -B max_concurrency=16.",
        ),
    ] = None,
) -> None:
    _state["debug"] = debug
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    settings = load_cli_config(config) if config is not None else CliConfig()
    extra = dict(settings.backend_options)
    extra.update(parse_backend_options(backend_option or []))
    _state["backend_options"] = extra
    if settings.defaults:
        ctx.default_map = defaults_for(ctx.command, settings.defaults)


HTTP_BACKENDS = ("openai", "sglang-server")


def backend_options(backend: str, model: str | None, base_url: str | None) -> dict[str, Any]:
    """The keyword options a backend factory takes from the CLI flags."""
    options: dict[str, Any] = dict(_state["backend_options"])
    if model is not None:
        options["model"] = model
    if base_url is not None:
        if backend not in HTTP_BACKENDS:
            raise typer.BadParameter(
                f"--base-url applies to the HTTP backends ({', '.join(HTTP_BACKENDS)}), "
                f"not to {backend!r}"
            )
        options["base_url"] = base_url
    return options


def _print_judgment(judgment: Judgment, rubric: Rubric) -> None:
    kinds = {criterion.id: criterion.kind for criterion in rubric.leaves()}
    table = Table(title=f"{judgment.sample_id}: rubric {judgment.rubric}", show_lines=False)
    table.add_column("criterion")
    table.add_column("kind")
    table.add_column("verdict")
    table.add_column("P(yes)", justify="right")
    table.add_column("rationale", overflow="fold")
    for verdict in judgment.verdicts:
        p_yes = "n/a" if verdict.p_yes is None else f"{verdict.p_yes:.2f}"
        shown = verdict.verdict or f"[red]error[/red]: {verdict.error}"
        table.add_row(
            verdict.criterion_id,
            kinds.get(verdict.criterion_id, ""),
            shown,
            p_yes,
            verdict.rationale,
        )
    console.print(table)
    _print_strategy(judgment)
    if judgment.error is not None:
        console.print(f"[red]failed[/red]: {judgment.error}")
        return
    usage = judgment.usage
    confidence = "unavailable" if judgment.confidence is None else f"{judgment.confidence:.2f}"
    capped = (
        f" (capped by hard rule: {', '.join(judgment.capped_by)})" if judgment.capped_by else ""
    )
    console.print(
        f"score [bold]{judgment.score:.3f}[/bold]{capped}  confidence {confidence}  "
        f"model {judgment.model}  tokens {usage.prompt_tokens}+{usage.completion_tokens}"
        f" ({usage.cached_tokens} cached)"
    )


def _load_inputs(
    prompt: str | None, response: str | None, reference: str | None, input_file: Path | None
) -> tuple[list[Sample], list[str]]:
    """Samples from flags or a JSONL file, and the errors of rows that could not be read."""
    if input_file is not None:
        if prompt is not None or response is not None:
            raise typer.BadParameter("give --input FILE or --prompt/--response, not both")
        samples, errors = [], []
        for row in read_jsonl_samples(input_file):
            if row.sample is not None:
                samples.append(row.sample)
            elif row.error is not None:
                errors.append(row.error.message)
        return samples, errors
    if prompt is None or response is None:
        raise typer.BadParameter("give --prompt and --response (or --input FILE.jsonl)")
    record = {"id": "cli", "prompt": prompt, "response": response, "reference": reference}
    return [sample_from_record(record, where="arguments", default_id="cli")], []


SCORE_HELP = 'Score responses against a rubric. Example: judge score --prompt "Hi" --response "Hey"'


@app.command(short_help=SCORE_HELP)
def score(
    rubric: RubricOpt = "helpfulness",
    prompt: Annotated[str | None, typer.Option(help="The prompt the response answers.")] = None,
    response: Annotated[str | None, typer.Option(help="The response to judge.")] = None,
    reference: Annotated[str | None, typer.Option(help="An optional reference answer.")] = None,
    input_file: Annotated[
        Path | None,
        typer.Option("--input", help="JSONL file: one {prompt|messages, response, id?} per line."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="Write judgments as JSONL to this file.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print judgments as JSON lines.")] = False,
    backend: BackendOpt = "transformers",
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    max_rationale_chars: Annotated[
        int, typer.Option(help="Longest rationale per criterion.")
    ] = 200,
    chunk_size: Annotated[
        int, typer.Option(help="Samples per backend batch when scoring a file.")
    ] = 16,
    strategy: Annotated[
        str, typer.Option(help="breadth (subjective tasks), depth (objective), or auto (routed).")
    ] = "breadth",
    draws: Annotated[
        int,
        typer.Option("--samples", help="Self-consistency: K judgments per criterion, one batch."),
    ] = 1,
    likert: Annotated[
        int | None, typer.Option(help="Also rate 1-N (G-Eval expected value), N in 2..9.")
    ] = None,
    max_solution_tokens: Annotated[
        int, typer.Option(help="Depth: longest solution the judge writes before verifying.")
    ] = 384,
    calibrator: Annotated[
        Path | None,
        typer.Option(help="Apply a calibrator JSON (from `judge calibrate fit`) to the scores."),
    ] = None,
    force_calibrator: Annotated[
        bool, typer.Option(help="Apply the calibrator even if fitted for another configuration.")
    ] = False,
) -> None:
    """Score responses against a rubric.

    Example: judge score --rubric helpfulness --prompt "What is 2+2?" --response "4" --json
    """
    from judge.runner.judge import Judge

    rubric_obj = load_rubric(rubric)
    samples, row_errors = _load_inputs(prompt, response, reference, input_file)
    for message in row_errors:
        err_console.print(f"[red]error[/red]: {escape(message)}", highlight=False, soft_wrap=True)
    judge = Judge(
        backend=backend,
        rubric=rubric_obj,
        max_rationale_chars=max_rationale_chars,
        strategy=strategy,  # type: ignore[arg-type]  # validated by Judge (one-line error)
        samples=draws,
        likert=likert,
        max_solution_tokens=max_solution_tokens,
        calibrator=calibrator,
        force_calibrator=force_calibrator,
        **backend_options(backend, model, base_url),
    )
    judgments: list[Judgment] = []
    if input_file is None:
        judgments = judge.score(samples)
    else:
        with Progress(
            TextColumn("scoring"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err_console,
            transient=True,
        ) as progress:
            task = progress.add_task("score", total=len(samples))
            for start in range(0, len(samples), max(1, chunk_size)):
                chunk = samples[start : start + chunk_size]
                judgments.extend(judge.score(chunk))
                progress.advance(task, len(chunk))
    judge.close()
    lines = [judgment.model_dump_json() for judgment in judgments]
    if output is not None:
        output.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    if as_json:
        for line in lines:
            typer.echo(line)
    elif output is None or input_file is None:
        for judgment in judgments:
            _print_judgment(judgment, rubric_obj)
    failed = sum(judgment.error is not None for judgment in judgments) + len(row_errors)
    if input_file is not None:
        err_console.print(
            f"{len(judgments)} judged, {failed} failed"
            + (f"; written to {output}" if output else "")
        )
    if failed:
        raise typer.Exit(1)


@rubric_app.command("list", short_help="List the library rubrics. Example: judge rubric list")
def rubric_list() -> None:
    """List the library rubrics (example: judge rubric list)."""
    table = Table("name", "task type", "criteria", "description")
    for name in list_rubrics():
        rubric = load_rubric(name)
        table.add_row(name, rubric.task_type, str(len(rubric.leaves())), rubric.description)
    console.print(table)


def _tree(rubric: Rubric) -> Tree:
    tree = Tree(
        f"[bold]{rubric.name}[/bold] ({rubric.task_type}, fingerprint {rubric.fingerprint})"
    )
    total = sum(leaf.weight for leaf in rubric.leaves()) or 1.0

    def add(node: Tree, criterion: Any) -> None:
        weight = (
            f"w={criterion.weight / total:.2f}"
            if not criterion.children
            else "(judged by its children)"
        )
        kind = escape(f"[{criterion.kind}]")
        label = f"[cyan]{criterion.id}[/cyan] {kind} {weight}: {escape(criterion.text)}"
        if criterion.provenance.source != "library":
            label += f" [dim]({criterion.provenance.source})[/dim]"
        child = node.add(label)
        for sub in criterion.children:
            add(child, sub)

    for criterion in rubric.criteria:
        add(tree, criterion)
    if rubric.dropped:
        dropped = tree.add("[dim]dropped[/dim]")
        for item in rubric.dropped:
            text = escape(item.criterion.text)
            dropped.add(f"[dim]{item.criterion.id} ({text}): {escape(item.reason)}[/dim]")
    if rubric.weighting:
        tree.add(f"[dim]weights: {escape(rubric.weighting)}[/dim]")
    return tree


@rubric_app.command(
    "show", short_help="Show a rubric as a tree. Example: judge rubric show helpfulness"
)
def rubric_show(
    name: Annotated[str, typer.Argument(help="Library rubric name or a YAML file.")],
    as_yaml: Annotated[bool, typer.Option("--yaml", help="Print the rubric as YAML.")] = False,
) -> None:
    """Show a rubric's criteria as a tree (example: judge rubric show helpfulness)."""
    rubric = load_rubric(name)
    if as_yaml:
        typer.echo(dump_rubric(rubric), nl=False)
    else:
        console.print(_tree(rubric))


@rubric_app.command(
    "check", short_help="Validate rubric files. Example: judge rubric check rubrics/*.yaml"
)
def rubric_check(
    files: Annotated[list[Path], typer.Argument(help="Rubric YAML files to validate.")],
) -> None:
    """Validate rubric files; errors name the file, the field and the problem.

    Example: judge rubric check rubrics/*.yaml
    """
    bad = 0
    for path in files:
        try:
            rubric = load_rubric_file(path)
            console.print(
                f"[green]ok[/green] {path}: {rubric.name}, {len(rubric.leaves())} criteria"
            )
        except JudgeError as exc:
            bad += 1
            err_console.print(
                f"[red]error[/red]: {escape(str(exc))}", highlight=False, soft_wrap=True
            )
    if bad:
        raise typer.Exit(2)


def _emit_rubric(rubric: Rubric, output: Path | None) -> None:
    if output is not None:
        output.write_text(dump_rubric(rubric), encoding="utf-8")
    console.print(_tree(rubric))
    if output is not None:
        err_console.print(f"written to {output}")


@rubric_app.command(
    "generate",
    short_help='Generate a rubric for a prompt. Example: judge rubric generate --prompt "Hi"',
)
def rubric_generate(
    prompt: Annotated[str, typer.Option(help="The request the rubric is for.")],
    reference: Annotated[
        str | None, typer.Option(help="A reference answer (criteria never contain it).")
    ] = None,
    output: Annotated[Path | None, typer.Option(help="Write the rubric as YAML here.")] = None,
    max_criteria: Annotated[int, typer.Option(min=1, max=20, help="Most criteria.")] = 6,
    backend: BackendOpt = "transformers",
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
) -> None:
    """Ask the model for prompt-specific yes/no criteria (hard rules and principles).

    Example: judge rubric generate --prompt "Write a haiku about rain" --output haiku.yaml
    """
    from judge.backends import create_backend
    from judge.rubric.generate import generate_rubric
    from judge.rubric.settings import GenerateSettings

    settings = GenerateSettings(max_criteria=max_criteria)
    engine = create_backend(backend, **backend_options(backend, model, base_url))
    try:
        rubric = generate_rubric(engine, prompt, reference, settings=settings)
    finally:
        engine.close()
    _emit_rubric(rubric, output)


@rubric_app.command(
    "refine",
    short_help="Refine a rubric with RRD. Example: judge rubric refine --rubric r.yaml --prompt Hi",
)
def rubric_refine(
    rubric: Annotated[str, typer.Option(help="Library rubric name or a YAML file to refine.")],
    prompt: Annotated[str, typer.Option(help="The request the rubric is for.")],
    pool: Annotated[
        Path | None,
        typer.Option(
            help='JSONL of responses: a string or {"response": ..., "quality": ...} per line '
            "(default: sample --pool-size responses from the model)."
        ),
    ] = None,
    reference: Annotated[str | None, typer.Option(help="A reference answer.")] = None,
    output: Annotated[Path | None, typer.Option(help="Write the refined rubric here.")] = None,
    pool_size: Annotated[
        int | None, typer.Option(min=2, max=64, help="Responses to sample (default 8).")
    ] = None,
    settings_file: Annotated[
        Path | None,
        typer.Option("--settings", help="YAML/JSON of RefineSettings fields (thresholds)."),
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Recompute.")] = False,
    backend: BackendOpt = "transformers",
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
) -> None:
    """Refine a rubric for a prompt: decompose coarse criteria, filter, weight (RRD).

    Example: judge rubric refine --rubric helpfulness --prompt "Plan a 3-day trip to Rome"
    """
    from judge.backends import create_backend
    from judge.rubric.pool import read_pool_file
    from judge.rubric.refine import refine_with_stats
    from judge.rubric.settings import load_refine_settings

    rubric_obj = load_rubric(rubric)
    responses = read_pool_file(pool) if pool is not None else None
    settings = load_refine_settings(settings_file, pool_size=pool_size)
    engine = create_backend(backend, **backend_options(backend, model, base_url))
    try:
        result = refine_with_stats(
            rubric_obj,
            prompt,
            responses,
            engine,
            reference=reference,
            settings=settings,
            cache=not no_cache,
        )
    finally:
        engine.close()
    _emit_rubric(result.rubric, output)
    stats = result.stats
    if stats.cached:
        err_console.print(f"read from the cache ({result.cache_path}): 0 backend calls")
    else:
        err_console.print(
            f"{stats.rounds} rounds = {stats.backend_calls} backend calls, {stats.requests} "
            f"requests, {stats.rejections} rejections; stopped: {stats.stop_reason}"
        )


@app.command(short_help="Which backends work here, and why not. Example: judge doctor")
def doctor(
    sglang_url: Annotated[
        str | None,
        typer.Option(help="SGLang server to probe (default: $SGLANG_URL or 127.0.0.1:30000)."),
    ] = None,
    openai_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible base URL to probe (…/v1).")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds per HTTP probe.")] = 2.0,
) -> None:
    """Check every backend; exit 0 if at least one works, 3 if none does.

    Example: judge doctor --sglang-url http://127.0.0.1:30000
    """
    from judge.backends.doctor import diagnose

    statuses = diagnose(sglang_url=sglang_url, openai_url=openai_url, timeout=timeout)
    table = Table("backend", "status", "detail", show_header=True, header_style="bold")
    colour = {"ok": "green", "unavailable": "red", "not checked": "yellow"}
    for status in statuses:
        hint = f"\n[dim]{escape(status.hint)}[/dim]" if status.hint else ""
        detail = escape(status.detail) + hint
        table.add_row(status.name, f"[{colour[status.status]}]{status.status}[/]", detail)
    console.print(table)
    if not any(status.available for status in statuses):
        raise typer.Exit(3)


# --- calibration: `judge eval`, `judge calibrate ...`, `judge bias ...` (library: calibration/) ---

calibrate_app = typer.Typer(
    help="Fit, apply and report calibrators. Example: judge calibrate fit records.jsonl",
    no_args_is_help=True,
)
bias_app = typer.Typer(
    help="Position, length and self-preference bias. Example: judge bias position records.jsonl",
    no_args_is_help=True,
)
app.add_typer(calibrate_app, name="calibrate")
app.add_typer(bias_app, name="bias")

RecordsArg = Annotated[Path, typer.Argument(help="JSONL of judged records (p + label, or pairs).")]
FingerprintOpt = Annotated[
    Path | None, typer.Option(help="Judge fingerprint JSON (default: evaluation.json beside it).")
]
OwnModelOpt = Annotated[list[str] | None, typer.Option("--own-model", help="The judge's model.")]
FormatOpt = Annotated[str, typer.Option("--format", help="Report format: md or html.")]
BootOpt = Annotated[int, typer.Option(help="Bootstrap resamples for 95% intervals.")]
ForceOpt = Annotated[bool, typer.Option(help="Use a calibrator fitted for another judge.")]
OutDirOpt = Annotated[Path, typer.Option(help="Folder for the report, plots and records.")]


def _print_summary(evaluation: Any, report: Path) -> None:
    line = f"{evaluation.name}: n={evaluation.n}, accuracy {evaluation.accuracy:.3f}"
    if evaluation.calibration is not None:
        line += f", ECE {evaluation.calibration.ece.format()}"
    console.print(line)
    console.print(f"report written to {report}")


def _fingerprint(fingerprint: Path | None, records: Path) -> Any:
    from calibration.apply import fingerprint_beside, read_fingerprint

    return read_fingerprint(fingerprint) if fingerprint else fingerprint_beside(records)


@app.command("eval", short_help="Meta-evaluate a judge. Example: judge eval data.jsonl --limit 20")
def eval_command(
    data: Annotated[Path, typer.Argument(help="Labelled set (LLMBar, PandaLM, HHH, JSONL...).")],
    rubric: Annotated[str, typer.Option(help="Library rubric name or YAML file.")] = "helpfulness",
    backend: BackendOpt = "transformers",
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    limit: Annotated[int | None, typer.Option(help="Judge only the first N items.")] = None,
    out: OutDirOpt = Path("eval-report"),
    report_format: FormatOpt = "md",
    calibrator: Annotated[Path | None, typer.Option(help="Apply this calibrator.")] = None,
    force: ForceOpt = False,
    own_model: OwnModelOpt = None,
    pair_method: Annotated[
        str | None, typer.Option(help="Pairs: direct (both orders) or rubric (order-free).")
    ] = None,
    gold_threshold: Annotated[float | None, typer.Option(help="gold_score >= it passes.")] = None,
    chunk_size: Annotated[int, typer.Option(help="Items per backend batch.")] = 16,
    n_boot: BootOpt = 1000,
    seed: Annotated[int, typer.Option(help="Seed of pair placement and bootstrap.")] = 0,
) -> None:
    """Run a judge over a labelled set; write accuracy, calibration and biases as a report.

    Example: judge eval ../shared/data/llmbar/Natural --limit 20 --out eval-report
    """
    import calibration
    from judge.runner.judge import Judge

    eval_set = calibration.load_eval_set(data, seed=seed, gold_threshold=gold_threshold)
    options = backend_options(backend, model, base_url)
    judge = Judge(backend=backend, rubric=load_rubric(rubric), **options)
    fitted = calibration.load_calibrator(calibrator) if calibrator else None
    total = len(eval_set) if limit is None else min(limit, len(eval_set))
    columns = (TextColumn("judging"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task("eval", total=total)
        evaluation = calibration.run_eval(
            judge,
            eval_set,
            limit=limit,
            chunk_size=chunk_size,
            own_models=own_model,
            pair_method=pair_method,
            calibrator=fitted,
            force=force,
            n_boot=n_boot,
            seed=seed,
            progress=lambda done, _: progress.update(task, completed=done),
        )
    judge.close()
    report = calibration.write_report(
        evaluation,
        out,
        format=report_format,
        calibrator=fitted,
    )
    _print_summary(evaluation, report)


@calibrate_app.command("fit", short_help="Fit a calibrator. Example: judge calibrate fit r.jsonl")
def calibrate_fit(
    records: RecordsArg,
    out: Annotated[Path, typer.Option(help="Calibrator JSON to write.")] = Path("calibrator.json"),
    method: Annotated[str, typer.Option(help="temperature, platt or isotonic.")] = "temperature",
    holdout: Annotated[float, typer.Option(help="Share held out to check the fit.")] = 0.3,
    folds: Annotated[int | None, typer.Option(help="Cross-validate with K folds.")] = None,
    raw_scores: Annotated[bool, typer.Option(help="p is a raw score of any scale.")] = False,
    p_field: Annotated[str, typer.Option(help="Field with the probability.")] = "p",
    label_field: Annotated[str, typer.Option(help="Field with the gold label.")] = "label",
    fingerprint: FingerprintOpt = None,
    seed: Annotated[int, typer.Option(help="Seed of the split.")] = 0,
) -> None:
    """Fit a calibrator on judged records and check it on rows it was not fitted on.

    Example: judge calibrate fit eval-report/records.jsonl --method temperature --out cal.json
    """
    import calibration

    loaded = calibration.load_records(records, p_field=p_field, label_field=label_field)
    config = _fingerprint(fingerprint, records)
    if config is None:
        err_console.print("note: no judge fingerprint found; fitting for an 'unknown' judge")
    fitted = calibration.fit_on_records(
        loaded,
        method=method,  # type: ignore[arg-type]
        fingerprint=config,
        holdout=holdout,
        folds=folds,
        seed=seed,
        input="score" if raw_scores else "probability",
    )
    fitted.save(out)
    check = fitted.check
    if check is not None:
        table = Table("held-out metric", "before", "after", title=check.protocol)
        for name in ("ece", "brier", "nll", "auroc", "accuracy"):
            before = None if check.before is None else getattr(check.before, name)
            after = getattr(check.after, name)
            table.add_row(name, *("n/a" if v is None else f"{v:.4f}" for v in (before, after)))
        console.print(table)
    console.print(f"{method} calibrator written to {out}")


@calibrate_app.command("apply", short_help="Calibrate. Example: judge calibrate apply c.json j")
def calibrate_apply(
    calibrator: Annotated[Path, typer.Argument(help="Calibrator JSON (judge calibrate fit).")],
    inputs: Annotated[Path, typer.Argument(help="Judgments (judge score --output) or records.")],
    out: Annotated[Path, typer.Option(help="JSONL to write.")] = Path("calibrated.jsonl"),
    force: ForceOpt = False,
    fingerprint: FingerprintOpt = None,
) -> None:
    """Apply a calibrator; judgments of another model/rubric/template are refused unless --force.

    Example: judge calibrate apply cal.json judgments.jsonl --out calibrated.jsonl
    """
    import calibration
    from calibration.apply import calibrate_file, read_fingerprint

    fitted = calibration.load_calibrator(calibrator)
    config = read_fingerprint(fingerprint) if fingerprint else None
    count = calibrate_file(fitted, inputs, out, fingerprint=config, force=force)
    console.print(f"{count} lines calibrated, written to {out}")


@calibrate_app.command("report", short_help="Report. Example: judge calibrate report r.jsonl")
def calibrate_report(
    records: RecordsArg,
    out: OutDirOpt = Path("calibration-report"),
    calibrator: Annotated[Path | None, typer.Option(help="Calibrate the records first.")] = None,
    force: ForceOpt = False,
    fingerprint: FingerprintOpt = None,
    own_model: OwnModelOpt = None,
    report_format: FormatOpt = "md",
    n_boot: BootOpt = 1000,
) -> None:
    """Report calibration (and biases, for pairs) of judged records, optionally recalibrated.

    Example: judge calibrate report eval-report/records.jsonl --calibrator cal.json
    """
    import calibration

    loaded = calibration.load_records(records)
    config = _fingerprint(fingerprint, records)
    fitted = calibration.load_calibrator(calibrator) if calibrator else None
    if fitted is not None:
        unknown = calibration.JudgeFingerprint()
        loaded = calibration.calibrate_records(
            fitted, loaded, fingerprint=config or unknown, force=force
        )
    evaluation = calibration.evaluate_records(
        loaded, name=records.stem, own_models=own_model, fingerprint=config, n_boot=n_boot
    )
    report = calibration.write_report(
        evaluation,
        out,
        format=report_format,
        calibrator=fitted,
    )
    _print_summary(evaluation, report)


def _pair_records(records: Path) -> list[Any]:
    import calibration

    loaded = calibration.load_records(records)
    if not isinstance(loaded[0], calibration.PairRecord):
        raise typer.BadParameter(f"{records}: bias studies need pairwise records")
    return list(loaded)


def _print_result(title: str, result: Any) -> None:
    table = Table("measure", "value", title=title)
    for name, value in result:
        if value is None or isinstance(value, tuple | list):
            continue
        if isinstance(value, float):
            value = f"{value:.4f}"
        elif hasattr(value, "low"):  # an Interval: estimate [95% CI]
            value = value.format()
        table.add_row(name, str(value))
    console.print(table)


@bias_app.command("position", short_help="Position bias. Example: judge bias position r.jsonl")
def bias_position(records: RecordsArg, n_boot: BootOpt = 1000) -> None:
    """Consistency across orders, P(first position wins), accuracy counting flips as wrong.

    Example: judge bias position eval-report/records.jsonl
    """
    import calibration

    _print_result("position bias", calibration.position_bias(_pair_records(records), n_boot=n_boot))


@bias_app.command("length", short_help="Length bias. Example: judge bias length r.jsonl")
def bias_length(records: RecordsArg, n_boot: BootOpt = 1000) -> None:
    """Preference for longer responses, controlling for the gold label; win rate by quartile.

    Example: judge bias length eval-report/records.jsonl
    """
    import calibration

    result = calibration.length_bias(_pair_records(records), n_boot=n_boot)
    _print_result("length bias", result)
    table = Table("length quartile", "responses", "judge win rate", "gold win rate")
    for q in result.quartiles:
        rates = (f"{q.judge_win_rate:.3f}", f"{q.gold_win_rate:.3f}")
        table.add_row(f"{q.lower}-{q.upper}", str(q.n), *rates)
    console.print(table)


@bias_app.command("self", short_help="Self-preference (DBG). Example: judge bias self r.jsonl")
def bias_self(
    records: RecordsArg,
    own_model: Annotated[list[str], typer.Option("--own-model", help="The judge's model(s).")],
    panel: Annotated[list[Path] | None, typer.Option(help="Other judges' records: gold.")] = None,
    n_boot: BootOpt = 1000,
) -> None:
    """DBG: the judge's win rate for its own model's responses minus their gold win rate.

    Example: judge bias self records.jsonl --own-model llama-7b --panel other_judge.jsonl
    """
    import calibration

    gold = calibration.panel_gold([_pair_records(path) for path in panel]) if panel else None
    pairs = _pair_records(records)
    result = calibration.self_preference(pairs, own_model, gold=gold, n_boot=n_boot)
    _print_result("self-preference (DBG as a share; x100 for points)", result)
    if result.flagged:
        console.print("[red]flagged[/red]: DBG above 5 points")


# --- `judge batch` and `judge serve` (library: judge/batch.py, judge/reward.py, judge/serve.py) ---


def _batch_summary(progress: Any, output: Path) -> Table:
    table = Table("", "", title=f"batch job: {output}", show_header=False)
    rate = progress.done / progress.elapsed if progress.elapsed > 0 else 0.0
    mean = "n/a" if progress.mean_score is None else f"{progress.mean_score:.3f}"
    rows = [
        ("rows in shard", progress.total),
        ("done before (skipped)", progress.skipped),
        ("judged", progress.judged),
        ("failed judgments", progress.failed),
        ("bad rows", progress.bad_rows),
        *((f"  {kind}", n) for kind, n in sorted(progress.failures.items())),
        ("mean score", mean),
        (
            "tokens (prompt + completion)",
            f"{progress.usage.prompt_tokens} + {progress.usage.completion_tokens}",
        ),
        ("cached prompt tokens", progress.usage.cached_tokens),
        ("time", f"{progress.elapsed:.1f} s ({rate:.1f} rows/s)"),
    ]
    for name, value in rows:
        table.add_row(name, escape(str(value)))
    return table


@app.command(short_help="Score a file, resumably. Example: judge batch rows.jsonl out.jsonl")
def batch(
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
    batch_size: Annotated[int, typer.Option(help="Rows per backend batch.")] = 32,
    shard: Annotated[str, typer.Option(help="Do shard i of n (0-based), e.g. 0/4.")] = "0/1",
    max_failures: Annotated[
        int | None, typer.Option(help="Stop once more rows than this have failed.")
    ] = None,
    max_chars: Annotated[
        int, typer.Option(help="Longest text field; longer rows are bad.")
    ] = 200_000,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an output written with other settings.")
    ] = False,
    max_rationale_chars: Annotated[
        int, typer.Option(help="Longest rationale per criterion.")
    ] = 200,
) -> None:
    """Score every row of a file; rerun the same command to resume after a crash.

    Example: judge batch rows.jsonl scored.parquet --id-field id --batch-size 64 --shard 0/4
    """
    from rich.progress import SpinnerColumn

    from judge.batch import BatchJob, BatchOptions, FieldMap, parse_shard
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
        compare_method=compare_method,  # type: ignore[arg-type]
    )
    judge = Judge(
        backend=backend,
        rubric=load_rubric(rubric),
        max_rationale_chars=max_rationale_chars,
        **backend_options(backend, model, base_url),
    )
    job = BatchJob(judge, input_file, output, options)
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
    err_console.print(_batch_summary(result, output))
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


@app.command(short_help="Serve rewards over HTTP (OpenRLHF). Example: judge serve --port 8000")
def serve(
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
    timeout: Annotated[float, typer.Option(help="Seconds before a request's items fail.")] = 170.0,
) -> None:
    """Serve the judge as a reward model: POST /get_reward (OpenRLHF), POST /score, GET /health.

    Example: judge serve --rubric helpfulness --backend sglang-server --base-url http://127.0.0.1:30000
    """
    from judge.reward import RubricReward
    from judge.serve import serve as run_server

    reward = RubricReward(
        load_rubric(rubric),
        backend,
        on_error=_on_error(on_error),
        timeout_s=timeout,
        scale=scale,
        offset=offset,
        hard_rule_penalty=hard_rule_penalty,
        max_batch=max_batch,
        max_wait_s=max_wait_ms / 1000,
        max_queue=max_queue,
        **backend_options(backend, model, base_url),
    )
    err_console.print(f"judge reward server on http://{host}:{port} (POST /get_reward, /score)")
    run_server(reward, host=host, port=port, token=token)


# --- strategies and pairwise: `judge compare` (library: judge/runner/) ---


def _print_strategy(judgment: Judgment) -> None:
    """One line on how a judgment was reasoned: strategy, route, self-consistency, Likert."""
    details = judgment.details
    parts = [f"strategy {judgment.strategy}"]
    if "route" in details:
        p_route = details.get("p_route")
        shown = "n/a" if p_route is None else f"{p_route:.2f}"
        parts.append(f"route {details['route']} (P={shown}, from {details['route_source']})")
    if "agreement" in details:
        parts.append(f"{details['samples']} samples, agreement {details['agreement']:.2f}")
    likert = details.get("likert") or {}
    if likert.get("expected") is not None:
        parts.append(f"Likert {likert['expected']:.2f} of {likert['scale']}")
    console.print("  ".join(parts), highlight=False)


def _print_pair(result: PairJudgment) -> None:
    if result.error is not None or result.p_a is None:
        console.print(f"[red]failed[/red]: {escape(result.error or 'no verdict')}")
        return
    details = result.details
    if result.p_a_ab is not None and result.p_a_ba is not None:
        orders = f"A first {result.p_a_ab:.3f}, B first {result.p_a_ba:.3f}"
        console.print(f"P(A better) [bold]{result.p_a:.3f}[/bold] (swap-averaged: {orders})")
    elif "margin" in details and result.strategy == "rubric":
        console.print(
            f"P(A better) [bold]{result.p_a:.3f}[/bold] (rubric margin {details['margin']:+.3f})"
        )
    else:
        console.print(f"P(A better) [bold]{result.p_a:.3f}[/bold] ({result.strategy})")
    if result.consistent is True:
        console.print("orders: consistent (both orders prefer the same response)")
    elif result.consistent is False:
        console.print(
            f"orders: [yellow]FLIP[/yellow] (A first -> {details.get('winner_ab')}, "
            f"B first -> {details.get('winner_ba')}): the position decided, confidence halved"
        )
    else:
        reason = details.get("consistency") or details.get("note")
        console.print(f"orders: not applicable ({escape(str(reason))})")
    confidence = "unavailable" if result.confidence is None else f"{result.confidence:.2f}"
    winner = {"a": "A", "b": "B", "tie": "tie"}[result.winner or "tie"]
    usage = result.usage
    console.print(
        f"winner [bold]{winner}[/bold]  confidence {confidence}  method {result.strategy}  "
        f"model {result.model}  tokens {usage.prompt_tokens}+{usage.completion_tokens}"
        f" ({usage.cached_tokens} cached)",
        highlight=False,
    )


COMPARE_HELP = 'Which response is better. Example: judge compare --prompt "2+2?" --a 4 --b 5'


@app.command(short_help=COMPARE_HELP)
def compare(
    prompt: Annotated[str | None, typer.Option(help="The prompt both responses answer.")] = None,
    a: Annotated[str | None, typer.Option("--a", help="Response A.")] = None,
    b: Annotated[str | None, typer.Option("--b", help="Response B.")] = None,
    rubric: Annotated[
        str | None,
        typer.Option(help="Compare by this rubric's verdicts (default: directly, both orders)."),
    ] = None,
    reference: Annotated[str | None, typer.Option(help="An optional reference answer.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    backend: BackendOpt = "transformers",
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    max_rationale_chars: Annotated[int, typer.Option(help="Longest rationale per answer.")] = 200,
    samples: Annotated[int, typer.Option(help="Self-consistency: K judgments per order.")] = 1,
) -> None:
    """Compare two responses in both orders: swap-averaged P(A), order consistency, winner.

    Example: judge compare --prompt "What is 2+2?" --a "4" --b "5" --json
    """
    from judge.runner.judge import Judge
    from judge.runner.pairwise import pair_from_record

    given = {"prompt": prompt, "response_a": a, "response_b": b, "reference": reference}
    record = {"id": "cli", **{key: value for key, value in given.items() if value is not None}}
    pair = pair_from_record(record, where="judge compare")
    judge = Judge(
        backend=backend,
        rubric=load_rubric(rubric or "helpfulness"),
        max_rationale_chars=max_rationale_chars,
        samples=samples,
        **backend_options(backend, model, base_url),
    )
    [result] = judge.compare([pair], method="rubric" if rubric else "direct")
    judge.close()
    if as_json:
        typer.echo(result.model_dump_json())
    else:
        _print_pair(result)
    if result.error is not None:
        raise typer.Exit(1)


def main() -> None:
    """Run the app; user errors print one line (tracebacks only with --debug)."""
    try:
        app(standalone_mode=True)
    except JudgeError as exc:
        if _state["debug"]:
            raise
        err_console.print(f"[red]error[/red]: {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(3 if isinstance(exc, BackendError) else 2)


if __name__ == "__main__":
    main()
