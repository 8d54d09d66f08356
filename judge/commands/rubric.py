"""`judge rubric ...`: list, show, check, generate and refine rubrics."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from judge.commands.flags import JudgingFlags, model_command
from judge.commands.render import console, err_console, print_error, rubric_tree
from judge.errors import JudgeError, RubricError
from judge.library import dump_rubric, list_rubrics, load_rubric, load_rubric_file
from judge.rubric.settings import GenerateSettings
from judge.storage import write_atomic
from judge.types import Rubric

if TYPE_CHECKING:
    from judge.backends.base import Backend
    from judge.inputs import PreferencePair

rubric_app = typer.Typer(
    help="List, show and check rubrics. Example: judge rubric show helpfulness",
    no_args_is_help=True,
)


@rubric_app.command("list", short_help="List the library rubrics. Example: judge rubric list")
def rubric_list() -> None:
    """List the library rubrics (example: judge rubric list)."""
    table = Table("name", "task type", "criteria", "description")
    for name in list_rubrics():
        rubric = load_rubric(name)
        table.add_row(name, rubric.task_type, str(len(rubric.leaves())), rubric.description)
    console.print(table)


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
        console.print(rubric_tree(rubric))


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
            print_error(str(exc))
    if bad:
        raise typer.Exit(2)


def _emit_rubric(rubric: Rubric, output: Path | None) -> None:
    if output is not None:
        write_atomic(output, dump_rubric(rubric))
    console.print(rubric_tree(rubric))
    if output is not None:
        err_console.print(f"written to {output}")


@rubric_app.command(
    "generate",
    short_help='Generate a rubric for a prompt. Example: judge rubric generate --prompt "Hi"',
)
@model_command
def rubric_generate(
    ctx: typer.Context,
    flags: JudgingFlags,
    prompt: Annotated[
        str | None, typer.Option(help="The request the rubric is for (or use --pairs).")
    ] = None,
    pairs: Annotated[
        Path | None,
        typer.Option(
            help='JSONL of {"prompt", "chosen", "rejected"} rows: one contrastive rubric per row, '
            "kept only if it prefers the chosen response by the minimum margin."
        ),
    ] = None,
    reference: Annotated[
        str | None, typer.Option(help="A reference answer (criteria never contain it).")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(help="Write the rubric as YAML here (with --pairs: a folder, one per row)."),
    ] = None,
    max_criteria: Annotated[int, typer.Option(min=1, max=20, help="Most criteria.")] = 6,
    proposals: Annotated[
        int,
        typer.Option(
            min=1, max=16, help="Proposals sampled in one batch (with --pairs: candidates)."
        ),
    ] = 3,
    meaning_check: Annotated[
        bool,
        typer.Option(
            help="Ask the model which kept criteria check the same thing (one more batch) and "
            "keep one of each."
        ),
    ] = GenerateSettings.model_fields["meaning_check"].default,
) -> None:
    """Ask the model for prompt-specific yes/no criteria (hard rules and principles).

    Example: judge rubric generate --prompt "Write a haiku about rain" --output haiku.yaml
    Example: judge rubric generate --pairs prefs.jsonl --output rubrics/ --dtype float32
    """
    from judge.backends import create_backend
    from judge.inputs import read_preference_pairs

    if (prompt is None) == (pairs is None):
        print_error("give exactly one of --prompt and --pairs")
        raise typer.Exit(2)
    rows = read_preference_pairs(pairs) if pairs is not None else []
    if pairs is not None:
        settings = GenerateSettings(max_criteria=max_criteria, candidates=proposals)
    else:
        settings = GenerateSettings(
            max_criteria=max_criteria, samples=proposals, meaning_check=meaning_check
        )
    engine = create_backend(flags.backend, **flags.backend_options)
    try:
        if prompt is not None:
            from judge.rubric.generate import generate_rubric_report

            report = generate_rubric_report(engine, prompt, reference, settings=settings)
            _emit_rubric(report.rubric, output)
            err_console.print(report.summary())
            return
        failed = _contrastive_rows(engine, rows, reference, settings, output)
    finally:
        engine.close()
    if failed == len(rows):
        raise typer.Exit(1)


def _contrastive_rows(
    engine: Backend,
    rows: list[PreferencePair],
    reference: str | None,
    settings: GenerateSettings,
    output: Path | None,
) -> int:
    """One contrastive rubric per row, all rows in two backend calls; returns the failures.

    A row that yields no rubric is one line naming it; the other rows are written.
    """
    from judge.rubric.contrastive import RankedResponses, generate_contrastive_rubrics

    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
    items = [
        RankedResponses(
            row.prompt, [row.chosen, row.rejected], reference, f"contrastive-row{number}"
        )
        for number, row in enumerate(rows, start=1)
    ]
    failed = 0
    outcomes = generate_contrastive_rubrics(engine, items, settings=settings)
    for number, outcome in enumerate(outcomes, start=1):
        if isinstance(outcome, RubricError):
            failed += 1
            print_error(f"row {number}: {outcome}")
            continue
        _emit_rubric(outcome, None if output is None else output / f"{outcome.name}.yaml")
    err_console.print(f"{len(rows) - failed} of {len(rows)} row(s) gave a contrastive rubric")
    return failed


@rubric_app.command(
    "refine",
    short_help="Refine a rubric with RRD. Example: judge rubric refine --rubric r.yaml --prompt Hi",
)
@model_command
def rubric_refine(
    ctx: typer.Context,
    flags: JudgingFlags,
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
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Refine again; never touch the refinement cache.")
    ] = False,
) -> None:
    """Refine a rubric for a prompt: decompose coarse criteria, filter, weight (RRD).

    Example: judge rubric refine --rubric helpfulness --prompt "Plan a 3-day trip to Rome"
    """
    from judge.backends import create_backend
    from judge.rubric.pool import read_pool_file
    from judge.rubric.refine import refine
    from judge.rubric.settings import load_refine_settings

    rubric_obj = load_rubric(rubric)
    responses = read_pool_file(pool) if pool is not None else None
    settings = load_refine_settings(settings_file, pool_size=pool_size)
    engine = create_backend(flags.backend, **flags.backend_options)
    try:
        result = refine(
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
            f"{len(stats.rounds)} rounds = {stats.backend_calls} backend calls, {stats.requests} "
            f"requests, {stats.rejections} rejections; stopped: {stats.stop_reason}"
        )
        for note in stats.unrefined:
            err_console.print(note)
