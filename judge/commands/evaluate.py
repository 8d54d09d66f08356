"""`judge eval`: run a judge over a labelled set, report it beside the naive baseline, gate it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from judge.commands.calibrate import BootOpt, ForceOpt, FormatOpt, OutDirOpt, OwnModelOpt
from judge.commands.options import (
    BackendOpt,
    BaseUrlOpt,
    LikertOpt,
    ModelOpt,
    RationaleOpt,
    ReasoningOpt,
    SamplesOpt,
    SolutionTokensOpt,
    StrategyOpt,
    backend_options,
    judge_settings,
)
from judge.commands.render import console, err_console, print_error, print_summary
from judge.errors import ConfigError, InputError
from judge.library import load_rubric
from judge.runner.pairwise import DEFAULT_METHOD

EVAL_HELP = "Meta-evaluate a judge. Example: judge eval data.jsonl --limit 20"


def eval_command(
    ctx: typer.Context,
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
        str,
        typer.Option(
            help="Pairs: rubric (order-free; the default of Judge.compare and judge compare) or "
            "direct (both orders: measures position bias)."
        ),
    ] = DEFAULT_METHOD,
    gold_threshold: Annotated[float | None, typer.Option(help="gold_score >= it passes.")] = None,
    chunk_size: Annotated[int, typer.Option(help="Items per backend batch.")] = 16,
    n_boot: BootOpt = 1000,
    seed: Annotated[int, typer.Option(help="Seed of pair placement and bootstrap.")] = 0,
    strategy: StrategyOpt = None,
    draws: SamplesOpt = None,
    max_rationale_chars: RationaleOpt = None,
    likert: LikertOpt = None,
    max_solution_tokens: SolutionTokensOpt = None,
    baseline: Annotated[
        Path | None,
        typer.Option(
            help="An earlier evaluation.json: exit 4 if accuracy, ECE, position consistency or "
            "probe acceptance got significantly worse (95% bootstrap interval)."
        ),
    ] = None,
    tolerance: Annotated[
        float,
        typer.Option(
            help="--baseline: a regression is a change whose whole interval is worse than this."
        ),
    ] = 0.0,
    probe_report: Annotated[
        Path | None,
        typer.Option(help="A `judge probe` probe.json to store with (and gate on) this run."),
    ] = None,
    mixed_groups: Annotated[
        bool,
        typer.Option(help="Best-of-N data: judge only prompts with both right and wrong answers."),
    ] = False,
    relative_confidence: Annotated[
        int,
        typer.Option(
            help="Pointwise: also rank the verdicts by relative confidence against this many "
            "random partners each (one more batch); 0: off."
        ),
    ] = 0,
    reasoning: ReasoningOpt = None,
    compare_reasoning: Annotated[
        str | None,
        typer.Option(
            help="Also judge the items with this reasoning (before, after, none) and report "
            "each mode's accuracy and their sign agreement, uncalibrated (mode-agreement.json)."
        ),
    ] = None,
    naive: Annotated[
        bool,
        typer.Option(
            help="Also ask the same model the plainest question (yes/no, or A/B in both orders) "
            "in the same batches and report judge - naive per metric with 95% intervals."
        ),
    ] = True,
    gate: Annotated[
        list[str] | None,
        typer.Option(
            help="A named gate to enforce (exit 4 on failure): judge>=naive fails when the judge "
            "is significantly worse than the naive baseline on accuracy, AUROC or position "
            "consistency (--tolerance applies)."
        ),
    ] = None,
) -> None:
    """Run a judge over a labelled set; write accuracy, calibration and biases as a report.

    The judging flags (--strategy, --samples, --max-rationale-chars, ...) are those of `judge
    score`. With --baseline it is a drift gate: exit 4 on a significant regression.
    Example: judge eval ../shared/data/llmbar/Natural --limit 20 --out eval-report
    """
    import calibration
    from calibration.drift import (
        EXIT_REGRESSION,
        NAIVE_GATE,
        compare_evaluations,
        drift_lines,
        load_evaluation,
        naive_lines,
    )
    from calibration.probe_acceptance import read_probe_report
    from judge.runner.judge import Judge

    # Every check that needs no model comes first: a mistake costs seconds, not a model load.
    if pair_method not in ("rubric", "direct"):
        raise ConfigError(f"--pair-method {pair_method!r}", hint="rubric or direct")
    if chunk_size < 1:
        raise ConfigError(f"--chunk-size {chunk_size} < 1", hint="items per backend batch: 1+")
    settings = judge_settings(
        ctx,
        max_rationale_chars=max_rationale_chars,
        strategy=strategy,
        samples=draws,
        likert=likert,
        max_solution_tokens=max_solution_tokens,
        reasoning=reasoning,
    )
    eval_set = calibration.load_eval_set(data, seed=seed, gold_threshold=gold_threshold)
    if mixed_groups:
        eval_set = eval_set.mixed_groups()
        if not eval_set.samples:
            raise InputError(
                f"{data}: no prompt group has both right and wrong responses",
                hint="--mixed-groups needs best-of-N data (N labelled responses per prompt)",
            )
    old = load_evaluation(baseline) if baseline is not None else None
    if old is not None and old.kind != eval_set.kind:
        raise ConfigError(
            f"baseline {baseline} is a {old.kind} evaluation, {data} is {eval_set.kind} data",
            hint="give the evaluation.json of a run on the same data",
        )
    if not 0.0 <= tolerance < 1.0:
        raise ConfigError(f"--tolerance {tolerance} is not in [0, 1)")
    if relative_confidence < 0 or (relative_confidence and eval_set.kind != "pointwise"):
        raise ConfigError(
            f"--relative-confidence {relative_confidence}",
            hint="partners per judgment, 1 or more, on pointwise data (0: off)",
        )
    gates = list(dict.fromkeys(gate or []))
    for name in gates:
        if name != NAIVE_GATE:
            raise ConfigError(f"--gate {name!r} is not a known gate", hint=f"known: {NAIVE_GATE}")
    if NAIVE_GATE in gates and not naive:
        raise ConfigError(f"--gate {NAIVE_GATE} needs the naive baseline", hint="drop --no-naive")
    probe = read_probe_report(probe_report) if probe_report is not None else None
    # Checked before any model loads: a bad mode is a one-line error.
    other = None if compare_reasoning is None else settings.updated(reasoning=compare_reasoning)
    rubric_obj = load_rubric(rubric)
    fitted = calibration.load_score_calibrator(calibrator) if calibrator else None
    criteria_fit = fitted if isinstance(fitted, calibration.CriteriaFit) else None
    if (settings.score_rule == "fitted") != (criteria_fit is not None):
        raise ConfigError(
            f"score_rule {settings.score_rule!r} with --calibrator {calibrator}",
            hint="score_rule fitted takes a criteria fit (judge calibrate fit-criteria) as "
            "--calibrator; the other rules take a probability calibrator (judge calibrate fit)",
        )
    options = backend_options(ctx, backend, model, base_url)
    judge = Judge(
        backend=backend,
        rubric=rubric_obj,
        settings=settings,
        calibrator=criteria_fit,
        force_calibrator=force,
        **options,
    )
    probability_calibrator = fitted if isinstance(fitted, calibration.Calibrator) else None
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
            calibrator=probability_calibrator,
            force=force,
            n_boot=n_boot,
            seed=seed,
            progress=lambda done, _: progress.update(task, completed=done),
            relative_partners=relative_confidence,
            naive=naive,
            naive_tolerance=tolerance,
        )
        if other is not None:
            # The same backend, judged again under the other mode (no second model load).
            second = Judge(backend=judge.backend, rubric=rubric_obj, settings=other)
            task = progress.add_task(f"eval ({other.reasoning})", total=total)
            compared = calibration.run_eval(
                second,
                eval_set,
                limit=limit,
                chunk_size=chunk_size,
                own_models=own_model,
                pair_method=pair_method,
                n_boot=n_boot,
                seed=seed,
                progress=lambda done, _: progress.update(task, completed=done),
            )
    judge.close()
    if probe is not None:
        evaluation = evaluation.model_copy(update={"probe": probe})
    report = calibration.write_report(
        evaluation,
        out,
        format=report_format,
        calibrator=probability_calibrator,
    )
    print_summary(evaluation, report)
    if evaluation.naive is not None:
        console.print("against the naive baseline (judge - naive, paired 95% interval):")
        for line in naive_lines(evaluation.naive.checks, evaluation.naive.skipped):
            style = "red" if "JUDGE WORSE" in line else "dim" if line.startswith("not") else ""
            console.print(f"  [{style}]{line}[/{style}]" if style else f"  {line}", highlight=False)
    if other is not None:
        from calibration.modes import mode_agreement

        agreement = mode_agreement((settings.reasoning, other.reasoning), evaluation, compared)
        (out / "mode-agreement.json").write_text(agreement.model_dump_json(indent=2) + "\n")
        console.print(agreement.summary())
    if old is not None:
        drift = compare_evaluations(
            evaluation,
            old,
            baseline_name=str(baseline),
            tolerance=tolerance,
            n_boot=n_boot,
            seed=seed,
        )
        (out / "drift.json").write_text(drift.model_dump_json(indent=1), encoding="utf-8")
        for line in drift_lines(drift):
            style = "red" if "REGRESSED" in line else "dim" if line.startswith("not") else ""
            console.print(f"[{style}]{line}[/{style}]" if style else line, highlight=False)
        if drift.regressed:
            print_error(f"drift gate: a significant regression against {baseline}")
            raise typer.Exit(EXIT_REGRESSION)
        console.print(f"drift gate: no significant regression against {baseline}")
    if NAIVE_GATE in gates and evaluation.naive is not None:
        if evaluation.naive.judge_worse:
            print_error(f"gate {NAIVE_GATE}: the judge is significantly worse than the baseline")
            raise typer.Exit(EXIT_REGRESSION)
        console.print(f"gate {NAIVE_GATE}: passed")
