"""`judge eval`, `judge calibrate ...` and `judge bias ...`: the calibration package's commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from judge.commands.render import (
    console,
    err_console,
    print_result,
    print_summary,
)
from judge.errors import ConfigError, InputError

calibrate_app = typer.Typer(
    help="Fit, apply and report calibrators. Example: judge calibrate fit records.jsonl",
    no_args_is_help=True,
)
bias_app = typer.Typer(
    help="Position, length and self-preference bias. Example: judge bias position records.jsonl",
    no_args_is_help=True,
)

RecordsArg = Annotated[Path, typer.Argument(help="JSONL of judged records (p + label, or pairs).")]
FingerprintOpt = Annotated[
    Path | None, typer.Option(help="Judge fingerprint JSON (default: evaluation.json beside it).")
]
OwnModelOpt = Annotated[list[str] | None, typer.Option("--own-model", help="The judge's model.")]
FormatOpt = Annotated[str, typer.Option("--format", help="Report format: md or html.")]
BootOpt = Annotated[int, typer.Option(help="Bootstrap resamples for 95% intervals.")]
ForceOpt = Annotated[bool, typer.Option(help="Use a calibrator fitted for another judge.")]
OutDirOpt = Annotated[Path, typer.Option(help="Folder for the report, plots and records.")]


def _fingerprint(fingerprint: Path | None, records: Path) -> Any:
    from calibration.apply import fingerprint_beside, read_fingerprint

    return read_fingerprint(fingerprint) if fingerprint else fingerprint_beside(records)


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


@calibrate_app.command(
    "fit-criteria", short_help="Fit score_rule fitted. Example: judge calibrate fit-criteria j d"
)
def calibrate_fit_criteria(
    judgments: Annotated[
        Path, typer.Argument(help="Our judgments of the labelled items (judge score --output).")
    ],
    labels: Annotated[Path, typer.Argument(help="The labelled set (ids match sample_id).")],
    out: Annotated[Path, typer.Option(help="Criteria fit JSON to write.")] = Path(
        "criteria-fit.json"
    ),
    ridge: Annotated[float, typer.Option(help="L2 penalty on the weights.")] = 0.1,
    gold_threshold: Annotated[float | None, typer.Option(help="gold_score >= it passes.")] = None,
) -> None:
    """Fit the weights of score_rule fitted: a logistic fit over the criteria's log-odds.

    Judge the labelled set first (any score rule: the verdicts are the same), then pass the fit
    as --calibrator with score_rule fitted.
    Example: judge calibrate fit-criteria judgments.jsonl data.jsonl --out criteria-fit.json
    """
    import calibration
    from calibration.data import read_jsonl
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
    fit.save(out)
    table = Table("criterion", "weight", title=f"fitted on {fit.n_fit} judgments")
    for name, weight in zip(fit.criteria, fit.weights, strict=True):
        table.add_row(name, f"{weight:+.3f}")
    table.add_row("(intercept)", f"{fit.intercept:+.3f}")
    console.print(table)
    console.print(f"criteria fit written to {out}; use it with score_rule fitted as --calibrator")


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
    print_summary(evaluation, report)


def _pair_records(records: Path) -> list[Any]:
    import calibration

    loaded = calibration.load_records(records)
    if not isinstance(loaded[0], calibration.PairRecord):
        raise typer.BadParameter(f"{records}: bias studies need pairwise records")
    return list(loaded)


@bias_app.command("position", short_help="Position bias. Example: judge bias position r.jsonl")
def bias_position(records: RecordsArg, n_boot: BootOpt = 1000) -> None:
    """Consistency across orders, P(first position wins), accuracy counting flips as wrong.

    Example: judge bias position eval-report/records.jsonl
    """
    import calibration

    print_result("position bias", calibration.position_bias(_pair_records(records), n_boot=n_boot))


@bias_app.command("length", short_help="Length bias. Example: judge bias length r.jsonl")
def bias_length(records: RecordsArg, n_boot: BootOpt = 1000) -> None:
    """Preference for longer responses, controlling for the gold label; win rate by quartile.

    Example: judge bias length eval-report/records.jsonl
    """
    import calibration

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
    n_boot: BootOpt = 1000,
) -> None:
    """DBG: the judge's win rate for its own model's responses minus their gold win rate.

    Example: judge bias self records.jsonl --own-model llama-7b --panel other_judge.jsonl
    """
    import calibration

    gold = calibration.panel_gold([_pair_records(path) for path in panel]) if panel else None
    pairs = _pair_records(records)
    result = calibration.self_preference(pairs, own_model, gold=gold, n_boot=n_boot)
    print_result("self-preference (DBG as a share; x100 for points)", result)
    if result.flagged:
        console.print("[red]flagged[/red]: DBG above 5 points")
