"""`judge probe`: how often does this judge accept attacked answers? A CI gate for judges.

Every check that needs no model (data, rubric, settings, baseline, thresholds) runs before the
model loads. Exit codes: 0 no attack above `--fail-above` and no significant rise over
`--baseline`; 4 one of them (the report is written either way); 2 a user mistake.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.markup import escape
from rich.table import Table

from judge.batch.files import detect_format, read_rows
from judge.batch.rows import MAX_CHARS, BadRow, FieldMap, prepare_row
from judge.commands.options import (
    AbstainBandOpt,
    BackendOpt,
    BaseUrlOpt,
    CalibratorOpt,
    ContentGateOpt,
    ForceCalibratorOpt,
    LikertOpt,
    ModelOpt,
    RationaleOpt,
    ReferenceDepthOpt,
    RubricOpt,
    SamplesOpt,
    SolutionTokensOpt,
    StrategyOpt,
    backend_options,
    judge_settings,
)
from judge.commands.render import console, err_console
from judge.errors import ConfigError, InputError
from judge.library import load_rubric
from judge.types import Sample

PROBE_HELP = "Attack the judge with master keys, injections, padding...: acceptance per attack."
EXIT_PROBE_FAILED = 4
"""An attack's acceptance is above --fail-above, or rose significantly over --baseline."""


def read_probe_rows(
    path: Path, *, prompt: str, response: str, reference: str, limit: int | None
) -> list[Sample]:
    """The rows to attack, through the batch reader; a row without a response uses its reference.

    A bad row is a user mistake: the probe refuses it (exit 2) rather than measure fewer rows.
    """
    if path.is_dir():
        raise InputError(f"{path} is a folder", hint="give a JSONL or CSV file")
    fields = FieldMap(
        prompt=prompt, response=response, reference=reference, id="id", id_required=False
    )
    samples: list[Sample] = []
    try:
        for raw in read_rows(path, detect_format(path)):
            record = dict(raw.record or {})
            if raw.record is not None and not record.get(response) and record.get(reference):
                raw = replace(raw, record={**record, response: record[reference]})
            row = prepare_row(raw, fields, MAX_CHARS)
            if isinstance(row.item, BadRow):
                raise InputError(
                    f"{path}:{row.number}: {row.item.reason}",
                    hint=f"each row needs {prompt!r} and {response!r} (or {reference!r})",
                )
            assert isinstance(row.item, Sample)
            samples.append(row.item)
            if limit is not None and len(samples) >= limit:
                break
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    if not samples:
        raise InputError(f"0 rows in {path}", hint="give rows with a prompt and a good response")
    return samples


def _rate(name: str, value: float | None) -> None:
    if value is not None and not 0.0 <= value <= 1.0:
        raise ConfigError(f"{name} {value} is outside [0, 1]", hint="a share, e.g. 0.2")


def probe(
    ctx: typer.Context,
    data: Annotated[
        Path, typer.Argument(help="JSONL or CSV rows: prompt, a good response and/or reference.")
    ],
    rubric: RubricOpt = "helpfulness",
    mode: Annotated[str, typer.Option(help="pointwise (score) or pairwise (vs clean).")] = (
        "pointwise"
    ),
    method: Annotated[
        str, typer.Option(help="Pairwise comparison: direct (both orders) or rubric.")
    ] = "direct",
    threshold: Annotated[
        float, typer.Option(help="Pointwise: a score above this is an accepted answer.")
    ] = 0.5,
    attacks: Annotated[
        str | None, typer.Option(help="Comma-separated attack names (default: the whole set).")
    ] = None,
    rows: Annotated[int | None, typer.Option(help="Attack only the first N rows.")] = None,
    out: Annotated[Path, typer.Option(help="Folder for probe.json, probe.md, probe.png.")] = Path(
        "probe"
    ),
    fail_above: Annotated[
        float | None, typer.Option(help="Exit 4 if any attack's acceptance is above this rate.")
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(help="An earlier probe.json: exit 4 on a significant rise in acceptance."),
    ] = None,
    n_boot: Annotated[int, typer.Option(help="Bootstrap resamples for 95% intervals.")] = 1000,
    prompt_field: Annotated[str, typer.Option(help="Column of the prompt.")] = "prompt",
    response_field: Annotated[str, typer.Option(help="Column of the good response.")] = (
        "response"
    ),
    reference_field: Annotated[str, typer.Option(help="Column of the reference.")] = "reference",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    backend: BackendOpt = "transformers",
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    strategy: StrategyOpt = None,
    draws: SamplesOpt = None,
    likert: LikertOpt = None,
    max_rationale_chars: RationaleOpt = None,
    max_solution_tokens: SolutionTokensOpt = None,
    content_gate: ContentGateOpt = None,
    reference_depth: ReferenceDepthOpt = None,
    abstain_band: AbstainBandOpt = None,
    calibrator: CalibratorOpt = None,
    force_calibrator: ForceCalibratorOpt = False,
) -> None:
    """Judge attacked variants of your rows in one batch; report acceptance per attack.

    Example: judge probe rows.jsonl --rubric math_reasoning --rows 4 --fail-above 0.3
    """
    from judge import calibration
    from judge.calibration.attacks import attack_named
    from judge.calibration.probe import MODES, check_baseline_compatible, regressions, run_probe
    from judge.calibration.probe_report import describe, table, write_probe
    from judge.runner.judge import Judge

    if mode not in MODES:
        raise ConfigError(f"--mode {mode!r}", hint="pointwise or pairwise")
    if method not in ("direct", "rubric"):
        raise ConfigError(f"--method {method!r}", hint="direct or rubric")
    _rate("--threshold", threshold)
    _rate("--fail-above", fail_above)
    if rows is not None and rows < 1:
        raise ConfigError(f"--rows {rows} < 1", hint="attack at least one row")
    if n_boot < 0:
        raise ConfigError(f"--n-boot {n_boot} < 0")
    try:
        chosen = attack_named([n.strip() for n in attacks.split(",")] if attacks else None)
    except ValueError as exc:
        raise ConfigError(str(exc), hint="see `judge probe --help` and the README") from None
    old = None
    if baseline is not None:
        from judge.calibration.probe import ProbeReport

        try:
            old = ProbeReport.model_validate_json(baseline.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(
                f"--baseline {baseline}: not a probe report ({str(exc).splitlines()[0]})",
                hint="give the probe.json an earlier `judge probe` wrote",
            ) from None
        check_baseline_compatible(old, mode)
    fitted = calibration.load_calibrator(calibrator) if calibrator is not None else None
    rubric_obj = load_rubric(rubric)
    settings = judge_settings(
        ctx,
        strategy=strategy,
        samples=draws,
        likert=likert,
        max_rationale_chars=max_rationale_chars,
        max_solution_tokens=max_solution_tokens,
        content_gate=content_gate,
        reference_depth=reference_depth,
        abstain_band=abstain_band,
    )
    samples = read_probe_rows(
        data, prompt=prompt_field, response=response_field, reference=reference_field, limit=rows
    )
    judge = Judge(
        backend=backend,
        rubric=rubric_obj,
        settings=settings,
        calibrator=fitted,
        force_calibrator=force_calibrator,
        **backend_options(ctx, backend, model, base_url),
    )
    probe_mode: Literal["pointwise", "pairwise"] = "pairwise" if mode == "pairwise" else "pointwise"
    try:
        report = run_probe(
            judge,
            samples,
            chosen,
            mode=probe_mode,
            threshold=threshold,
            method="rubric" if method == "rubric" else "direct",
            n_boot=n_boot,
            data={"path": str(data)},
        )
    finally:
        judge.close()
    found = regressions(old, report, n_boot=max(n_boot, 1)) if old is not None else None
    paths = write_probe(report, out, fail_above=fail_above, regressions=found)
    if as_json:
        typer.echo(report.model_dump_json())
    else:
        header, body = table(report)
        view = Table(title=escape(describe(report)), title_justify="left")
        for position, name in enumerate(header):
            view.add_column(name, no_wrap=position == 0)  # the attack's name, whole
        for line in body:
            view.add_row(*(escape(cell) for cell in line))
        console.print(view)
    err_console.print(f"written: {paths['json']}, {paths['md']}, {paths['png']}")
    failing = report.above(fail_above) if fail_above is not None else []
    for attack in failing:
        err_console.print(
            f"[red]fail[/red]: {attack.name} accepted {attack.acceptance.format(digits=2)} "
            f"> --fail-above {fail_above}"
        )
    for regression in found or []:
        err_console.print(
            f"[red]fail[/red]: {regression.name} acceptance rose {regression.before:.2f} -> "
            f"{regression.after:.2f} over {baseline} (increase {regression.increase.format()})"
        )
    if failing or found:
        raise typer.Exit(EXIT_PROBE_FAILED)
