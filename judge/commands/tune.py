"""`judge tune`: evaluate a grid of configurations on a labelled set; write the best as a config."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from judge.commands.flags import JudgingFlags, judging_command
from judge.commands.options import (
    DEFAULT_PAIR_METHOD,
    BatchSizeOpt,
    ForceOpt,
    LimitOpt,
    NBootOpt,
    PairMethodOpt,
    RubricOpt,
    checked_pair_method,
)
from judge.commands.render import err_console, print_tune

TUNE_HELP = "Choose a configuration on labelled data. Example: judge tune data.jsonl --grid g.yaml"


@judging_command
def tune(
    ctx: typer.Context,
    flags: JudgingFlags,
    data: Annotated[Path, typer.Argument(help="Labelled set (LLMBar, PandaLM, HHH, JSONL...).")],
    grid: Annotated[
        Path | None,
        typer.Option(
            help="YAML grid: key -> values (every combination), or a list of such mappings. "
            "Keys: the judging settings, rubric, pair_method.",
            show_default="reasoning none/before x score_rule mean/cap x holistic_weight 0/0.5 "
            "(x reference_anchor when the data has references); pairs: reasoning x "
            "pair_method x holistic_weight",
        ),
    ] = None,
    rubric: RubricOpt = "helpfulness",
    limit: LimitOpt = None,
    output: Annotated[
        Path, typer.Option("--output", help="Folder for the report, tuned.yaml and journals.")
    ] = Path("tune-report"),
    pair_method: PairMethodOpt = DEFAULT_PAIR_METHOD,
    metric: Annotated[
        str, typer.Option(help="The measure to choose by: accuracy or AUROC.")
    ] = "accuracy",
    tolerance: Annotated[
        float,
        typer.Option(help="A configuration beats the baseline when judge - naive is above it."),
    ] = 0.0,
    gold_threshold: Annotated[float | None, typer.Option(help="gold_score >= it passes.")] = None,
    batch_size: BatchSizeOpt = 16,
    n_boot: NBootOpt = 1000,
    eval_seed: Annotated[
        int, typer.Option(help="Seed of pair placement (which response is A) and bootstrap.")
    ] = 0,
    force: ForceOpt = False,
) -> None:
    """Judge a labelled set with every configuration of a grid and the naive baseline; choose.

    Writes report.md, tune.json and tuned.yaml (a --config file) to --output; a rerun resumes.
    Example: judge tune data.jsonl --grid grid.yaml --limit 50 --output tune-report
    """
    from judge.calibration.tune import run_tune

    columns = (TextColumn("tuning"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    # A bar only on a terminal: a refused grid stays one line on stderr.
    shown = err_console.is_terminal
    with Progress(*columns, console=err_console, transient=True, disable=not shown) as bar:
        task = bar.add_task("tune", total=None)
        run = run_tune(
            data,
            grid=grid,
            rubric=rubric,
            backend=flags.backend,
            backend_options=flags.backend_options,
            settings=flags.settings,
            output=output,
            limit=limit,
            batch_size=batch_size,
            pair_method=checked_pair_method(pair_method),
            metric=metric,
            tolerance=tolerance,
            n_boot=n_boot,
            seed=eval_seed,
            gold_threshold=gold_threshold,
            force=force,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    print_tune(run.summary, run.report, run.config)
