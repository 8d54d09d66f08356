"""`judge probe`: how often does this judge accept attacked answers? A CI gate for judges.

Every check that needs no model (data, rubric, settings, baseline, thresholds) runs before the
model loads (`judge.calibration.probe_job`). Exit codes: 0 no attack above `--fail-above` and no
significant rise over `--baseline`; 4 one of them (the report is written either way); 2 a user
mistake.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from judge.commands.flags import JudgingFlags, judging_command
from judge.commands.options import (
    DEFAULT_PAIR_METHOD,
    CalibratorOpt,
    ForceCalibratorOpt,
    LimitOpt,
    NaiveOpt,
    NBootOpt,
    PairMethodOpt,
    RubricOpt,
    checked_pair_method,
)
from judge.commands.render import console, err_console

PROBE_HELP = "Attack the judge with master keys, injections, padding...: acceptance per attack."


@judging_command
def probe(
    ctx: typer.Context,
    flags: JudgingFlags,
    data: Annotated[
        Path, typer.Argument(help="JSONL or CSV rows: prompt, a good response and/or reference.")
    ],
    rubric: RubricOpt = "helpfulness",
    mode: Annotated[str, typer.Option(help="pointwise (score) or pairwise (vs clean).")] = (
        "pointwise"
    ),
    pair_method: PairMethodOpt = DEFAULT_PAIR_METHOD,
    threshold: Annotated[
        float, typer.Option(help="Pointwise: a score above this is an accepted answer.")
    ] = 0.5,
    attacks: Annotated[
        str | None,
        typer.Option(help="Comma-separated attack names.", show_default="the whole set"),
    ] = None,
    limit: LimitOpt = None,
    output: Annotated[
        Path, typer.Option("--output", help="Folder for probe.json, probe.md, probe.png.")
    ] = Path("probe"),
    fail_above: Annotated[
        float | None, typer.Option(help="Exit 4 if any attack's acceptance is above this rate.")
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(help="An earlier probe.json: exit 4 on a significant rise in acceptance."),
    ] = None,
    n_boot: NBootOpt = 1000,
    prompt_field: Annotated[str, typer.Option(help="Column of the prompt.")] = "prompt",
    response_field: Annotated[str, typer.Option(help="Column of the good response.")] = (
        "response"
    ),
    reference_field: Annotated[str, typer.Option(help="Column of the reference.")] = "reference",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    calibrator: CalibratorOpt = None,
    force_calibrator: ForceCalibratorOpt = False,
    naive: NaiveOpt = True,
) -> None:
    """Judge attacked variants of your rows in one batch; report acceptance per attack.

    Example: judge probe rows.jsonl --rubric math_reasoning --limit 4 --fail-above 0.3
    """
    from judge.calibration.probe_job import EXIT_PROBE_FAILED, run_probe_job
    from judge.calibration.probe_report import describe, table

    run = run_probe_job(
        data,
        rubric=rubric,
        backend=flags.backend,
        backend_options=flags.backend_options,
        settings=flags.settings,
        output=output,
        mode=mode,
        pair_method=checked_pair_method(pair_method),
        threshold=threshold,
        attacks=[name.strip() for name in attacks.split(",")] if attacks else None,
        limit=limit,
        fail_above=fail_above,
        baseline=baseline,
        n_boot=n_boot,
        fields=(prompt_field, response_field, reference_field),
        calibrator=calibrator,
        force_calibrator=force_calibrator,
        naive=naive,
    )
    if as_json:
        typer.echo(run.report.model_dump_json())
    else:
        header, body = table(run.report)
        view = Table(title=escape(describe(run.report)), title_justify="left")
        for position, name in enumerate(header):
            view.add_column(name, no_wrap=position == 0)  # the attack's name, whole
        for line in body:
            view.add_row(*(escape(cell) for cell in line))
        console.print(view)
    paths = run.paths
    err_console.print(f"written: {paths['json']}, {paths['md']}, {paths['png']}")
    for attack in run.failing:
        err_console.print(
            f"[red]fail[/red]: {attack.name} accepted {attack.acceptance.format(digits=2)} "
            f"> --fail-above {fail_above}"
        )
    for regression in run.regressions or []:
        err_console.print(
            f"[red]fail[/red]: {regression.name} acceptance rose {regression.before:.2f} -> "
            f"{regression.after:.2f} over {baseline} (increase {regression.increase.format()})"
        )
    if run.failed:
        raise typer.Exit(EXIT_PROBE_FAILED)
