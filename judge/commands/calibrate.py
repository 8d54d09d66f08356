"""`judge eval`, `judge calibrate ...` and `judge bias ...`: the calibration package's commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from judge.commands.flags import JudgingFlags, judging_command
from judge.commands.options import (
    DEFAULT_PAIR_METHOD,
    BatchSizeOpt,
    CalibratorOpt,
    ForceCalibratorOpt,
    LabelsOpt,
    LimitOpt,
    NaiveOpt,
    NBootOpt,
    PairMethodOpt,
    RubricOpt,
    checked_pair_method,
)
from judge.commands.render import (
    console,
    err_console,
    print_error,
    print_result,
    print_summary,
)

calibrate_app = typer.Typer(
    help="Fit, apply and report calibrators. Example: judge calibrate fit records.jsonl",
    no_args_is_help=True,
)
bias_app = typer.Typer(
    help="Position, length and self-preference bias. Example: judge bias position records.jsonl",
    no_args_is_help=True,
)

EVAL_HELP = "Meta-evaluate a judge. Example: judge eval data.jsonl --limit 20"

RecordsArg = Annotated[Path, typer.Argument(help="JSONL of judged records (p + label, or pairs).")]
FingerprintOpt = Annotated[
    Path | None, typer.Option(help="Judge fingerprint JSON (default: evaluation.json beside it).")
]
OwnModelOpt = Annotated[list[str] | None, typer.Option("--own-model", help="The judge's model.")]
FormatOpt = Annotated[str, typer.Option("--format", help="Report format: md or html.")]
OutDirOpt = Annotated[
    Path, typer.Option("--output", help="Folder for the report, plots and records.")
]


def _fingerprint(fingerprint: Path | None, records: Path) -> Any:
    from judge.calibration.apply import fingerprint_beside, read_fingerprint

    return read_fingerprint(fingerprint) if fingerprint else fingerprint_beside(records)


@judging_command
def eval_command(
    ctx: typer.Context,
    flags: JudgingFlags,
    data: Annotated[
        Path | None, typer.Argument(help="Labelled set (LLMBar, PandaLM, HHH, JSONL...).")
    ] = None,
    labels: LabelsOpt = None,
    rubric: RubricOpt = "helpfulness",
    limit: LimitOpt = None,
    output: OutDirOpt = Path("eval-report"),
    report_format: FormatOpt = "md",
    calibrator: CalibratorOpt = None,
    force_calibrator: ForceCalibratorOpt = False,
    own_model: OwnModelOpt = None,
    pair_method: PairMethodOpt = DEFAULT_PAIR_METHOD,
    gold_threshold: Annotated[float | None, typer.Option(help="gold_score >= it passes.")] = None,
    batch_size: BatchSizeOpt = 16,
    n_boot: NBootOpt = 1000,
    eval_seed: Annotated[
        int, typer.Option(help="Seed of pair placement (which response is A) and bootstrap.")
    ] = 0,
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
    compare_reasoning: Annotated[
        str | None,
        typer.Option(
            help="Also judge the items with this reasoning (before, after, none) and report "
            "each mode's accuracy and their sign agreement, uncalibrated (mode-agreement.json)."
        ),
    ] = None,
    naive: NaiveOpt = True,
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

    With --baseline it is a drift gate: exit 4 on a significant regression. With --labels the
    labelled set is the items labelled in judge view (written to OUTPUT/gold-from-labels.jsonl).
    Example: judge eval data.jsonl --limit 20 --output eval-report
    """
    from judge.calibration.drift import EXIT_REGRESSION, NAIVE_GATE, drift_lines, naive_lines
    from judge.calibration.eval_job import labelled_set, run_eval_job

    columns = (TextColumn("judging"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        tasks: dict[str, Any] = {}

        def show(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(label, total=total)
            bar.update(tasks[label], completed=done)

        run = run_eval_job(
            labelled_set(data, labels, output),
            rubric=rubric,
            backend=flags.backend,
            backend_options=flags.backend_options,
            settings=flags.settings,
            output=output,
            report_format=report_format,
            limit=limit,
            batch_size=batch_size,
            pair_method=checked_pair_method(pair_method),
            calibrator=calibrator,
            force_calibrator=force_calibrator,
            own_models=own_model,
            gold_threshold=gold_threshold,
            mixed_groups=mixed_groups,
            relative_confidence=relative_confidence,
            compare_reasoning=compare_reasoning,
            baseline=baseline,
            tolerance=tolerance,
            probe_report=probe_report,
            n_boot=n_boot,
            seed=eval_seed,
            naive=naive,
            gates=gate or (),
            progress=show,
        )
    print_summary(run.evaluation, run.report)
    if run.evaluation.naive is not None:
        console.print("against the naive baseline (judge - naive, paired 95% interval):")
        for line in naive_lines(run.evaluation.naive.checks, run.evaluation.naive.skipped):
            style = "red" if "JUDGE WORSE" in line else "dim" if line.startswith("not") else ""
            console.print(f"  [{style}]{line}[/{style}]" if style else f"  {line}", highlight=False)
    if run.agreement is not None:
        console.print(run.agreement.summary())
    if run.drift is not None:
        for line in drift_lines(run.drift):
            style = "red" if "REGRESSED" in line else "dim" if line.startswith("not") else ""
            console.print(f"[{style}]{line}[/{style}]" if style else line, highlight=False)
        if run.regressed:
            print_error(f"drift gate: a significant regression against {baseline}")
            raise typer.Exit(EXIT_REGRESSION)
        console.print(f"drift gate: no significant regression against {baseline}")
    if NAIVE_GATE in run.gates:
        if run.naive_gate_failed:
            print_error(f"gate {NAIVE_GATE}: the judge is significantly worse than the baseline")
            raise typer.Exit(EXIT_REGRESSION)
        console.print(f"gate {NAIVE_GATE}: passed")


@calibrate_app.command("fit", short_help="Fit a calibrator. Example: judge calibrate fit r.jsonl")
def calibrate_fit(
    records: Annotated[
        Path | None, typer.Argument(help="JSONL of judged records (p + label, or pairs).")
    ] = None,
    labels: LabelsOpt = None,
    labels_level: Annotated[
        str,
        typer.Option(
            help="--labels: calibrate the score on judgment labels (judgment) or P(yes) on "
            "per-criterion labels (criterion)."
        ),
    ] = "judgment",
    output: Annotated[Path, typer.Option("--output", help="Calibrator JSON to write.")] = Path(
        "calibrator.json"
    ),
    method: Annotated[str, typer.Option(help="temperature, platt or isotonic.")] = "temperature",
    holdout: Annotated[float, typer.Option(help="Share held out to check the fit.")] = 0.3,
    folds: Annotated[int | None, typer.Option(help="Cross-validate with K folds.")] = None,
    raw_scores: Annotated[bool, typer.Option(help="p is a raw score of any scale.")] = False,
    p_field: Annotated[str, typer.Option(help="Field with the probability.")] = "p",
    label_field: Annotated[str, typer.Option(help="Field with the gold label.")] = "label",
    fingerprint: FingerprintOpt = None,
    split_seed: Annotated[int, typer.Option(help="Seed of the held-out split.")] = 0,
) -> None:
    """Fit a calibrator on judged records and check it on rows it was not fitted on.

    With --labels the gold is what a person marked in judge view (<run>.labels.jsonl).
    Example: judge calibrate fit eval-report/records.jsonl --method temperature --output cal.json
    """
    from judge import calibration
    from judge.calibration.gold import label_records, records_or_labels

    records_or_labels(records, labels, "records")
    if labels is not None:
        loaded, config = label_records(labels, labels_level)  # type: ignore[arg-type]
        if fingerprint is not None:
            config = _fingerprint(fingerprint, labels)
    else:
        assert records is not None
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
        seed=split_seed,
        input="score" if raw_scores else "probability",
    )
    fitted.save(output)
    check = fitted.check
    if check is not None:
        table = Table("held-out metric", "before", "after", title=check.protocol)
        for name in ("ece", "brier", "nll", "auroc", "accuracy"):
            before = None if check.before is None else getattr(check.before, name)
            after = getattr(check.after, name)
            table.add_row(name, *("n/a" if v is None else f"{v:.4f}" for v in (before, after)))
        console.print(table)
    console.print(f"{method} calibrator written to {output}")


@calibrate_app.command(
    "fit-criteria", short_help="Fit score_rule fitted. Example: judge calibrate fit-criteria j d"
)
def calibrate_fit_criteria(
    judgments: Annotated[
        Path, typer.Argument(help="Our judgments of the labelled items (judge score --output).")
    ],
    labels: Annotated[Path, typer.Argument(help="The labelled set (ids match sample_id).")],
    output: Annotated[Path, typer.Option(help="Criteria fit JSON to write.")] = Path(
        "criteria-fit.json"
    ),
    ridge: Annotated[float, typer.Option(help="L2 penalty on the weights.")] = 0.1,
    gold_threshold: Annotated[float | None, typer.Option(help="gold_score >= it passes.")] = None,
) -> None:
    """Fit the weights of score_rule fitted: a logistic fit over the criteria's log-odds.

    Judge the labelled set first (any score rule: the verdicts are the same), then pass the fit
    as --calibrator with --score-rule fitted.
    Example: judge calibrate fit-criteria judgments.jsonl data.jsonl --output criteria-fit.json
    """
    from judge import calibration
    from judge.calibration.data import read_jsonl
    from judge.errors import ConfigError, InputError
    from judge.types import Judgment

    if ridge < 0:
        raise ConfigError(f"--ridge {ridge} < 0", hint="an L2 penalty: 0 or more")
    eval_set = calibration.load_eval_set(labels, gold_threshold=gold_threshold)
    if eval_set.kind != "pointwise":
        raise ConfigError(f"{labels}: pairwise data", hint="fit-criteria fits pointwise labels")
    rows = [row for _, row in read_jsonl(judgments) if "sample_id" in row]
    if not rows:
        raise InputError(f"{judgments}: no judgments (lines with sample_id)")
    parsed = [Judgment.model_validate(row) for row in rows]
    gold = {sample.id: sample.label for sample in eval_set.samples}
    fit = calibration.fit_from_judgments(parsed, gold, ridge=ridge)
    fit.save(output)
    table = Table("criterion", "weight", title=f"fitted on {fit.n_fit} judgments")
    for name, weight in zip(fit.criteria, fit.weights, strict=True):
        table.add_row(name, f"{weight:+.3f}")
    table.add_row("(intercept)", f"{fit.intercept:+.3f}")
    console.print(table)
    console.print(
        f"criteria fit written to {output}; use it with --score-rule fitted as --calibrator"
    )


@calibrate_app.command("apply", short_help="Calibrate. Example: judge calibrate apply c.json j")
def calibrate_apply(
    calibrator: Annotated[Path, typer.Argument(help="Calibrator JSON (judge calibrate fit).")],
    inputs: Annotated[Path, typer.Argument(help="Judgments (judge score --output) or records.")],
    output: Annotated[Path, typer.Option("--output", help="JSONL to write.")] = Path(
        "calibrated.jsonl"
    ),
    force_calibrator: ForceCalibratorOpt = False,
    fingerprint: FingerprintOpt = None,
) -> None:
    """Apply a calibrator; judgments of another judge are refused unless --force-calibrator.

    Example: judge calibrate apply cal.json judgments.jsonl --output calibrated.jsonl
    """
    from judge import calibration
    from judge.calibration.apply import calibrate_file, read_fingerprint

    fitted = calibration.load_calibrator(calibrator)
    config = read_fingerprint(fingerprint) if fingerprint else None
    count = calibrate_file(fitted, inputs, output, fingerprint=config, force=force_calibrator)
    console.print(f"{count} lines calibrated, written to {output}")


@calibrate_app.command("report", short_help="Report. Example: judge calibrate report r.jsonl")
def calibrate_report(
    records: RecordsArg,
    output: OutDirOpt = Path("calibration-report"),
    calibrator: CalibratorOpt = None,
    force_calibrator: ForceCalibratorOpt = False,
    fingerprint: FingerprintOpt = None,
    own_model: OwnModelOpt = None,
    report_format: FormatOpt = "md",
    n_boot: NBootOpt = 1000,
) -> None:
    """Report calibration (and biases, for pairs) of judged records, optionally recalibrated.

    Example: judge calibrate report eval-report/records.jsonl --calibrator cal.json
    """
    from judge import calibration

    loaded = calibration.load_records(records)
    config = _fingerprint(fingerprint, records)
    fitted = calibration.load_calibrator(calibrator) if calibrator else None
    if fitted is not None:
        unknown = calibration.JudgeFingerprint()
        loaded = calibration.calibrate_records(
            fitted, loaded, fingerprint=config or unknown, force=force_calibrator
        )
    evaluation = calibration.evaluate_records(
        loaded, name=records.stem, own_models=own_model, fingerprint=config, n_boot=n_boot
    )
    report = calibration.write_report(
        evaluation,
        output,
        format=report_format,
        calibrator=fitted,
    )
    print_summary(evaluation, report)


def _pair_records(records: Path) -> list[Any]:
    from judge import calibration

    loaded = calibration.load_records(records)
    if not isinstance(loaded[0], calibration.PairRecord):
        raise typer.BadParameter(f"{records}: bias studies need pairwise records")
    return list(loaded)


@bias_app.command("position", short_help="Position bias. Example: judge bias position r.jsonl")
def bias_position(records: RecordsArg, n_boot: NBootOpt = 1000) -> None:
    """Consistency across orders, P(first position wins), accuracy counting flips as wrong.

    Example: judge bias position eval-report/records.jsonl
    """
    from judge import calibration

    print_result("position bias", calibration.position_bias(_pair_records(records), n_boot=n_boot))


@bias_app.command("length", short_help="Length bias. Example: judge bias length r.jsonl")
def bias_length(records: RecordsArg, n_boot: NBootOpt = 1000) -> None:
    """Preference for longer responses, controlling for the gold label; win rate by quartile.

    Example: judge bias length eval-report/records.jsonl
    """
    from judge import calibration

    result = calibration.length_bias(_pair_records(records), n_boot=n_boot)
    print_result("length bias", result)
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
    n_boot: NBootOpt = 1000,
) -> None:
    """DBG: the judge's win rate for its own model's responses minus their gold win rate.

    Example: judge bias self records.jsonl --own-model llama-7b --panel other_judge.jsonl
    """
    from judge import calibration

    gold = calibration.panel_gold([_pair_records(path) for path in panel]) if panel else None
    pairs = _pair_records(records)
    result = calibration.self_preference(pairs, own_model, gold=gold, n_boot=n_boot)
    print_result("self-preference (DBG as a share; x100 for points)", result)
    if result.flagged:
        console.print("[red]flagged[/red]: DBG above 5 points")
