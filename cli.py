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

from judge.errors import BackendError, JudgeError
from judge.inputs import read_jsonl_samples, sample_from_record
from judge.rubric.library import dump_rubric, list_rubrics, load_rubric, load_rubric_file
from judge.types import Judgment, Rubric, Sample

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
_state: dict[str, bool] = {"debug": False}

BackendOpt = Annotated[
    str, typer.Option(help="Backend: transformers, sglang, sglang-server, openai.")
]
ModelOpt = Annotated[
    str | None,
    typer.Option(help="Model: a local HF folder or .gguf file (default: embedded SmolLM2-135M)."),
]
BaseUrlOpt = Annotated[str | None, typer.Option(help="Server URL for the HTTP backends.")]


@app.callback()
def _main_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log progress (batch counts).")
    ] = False,
) -> None:
    _state["debug"] = debug
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def backend_options(backend: str, model: str | None, base_url: str | None) -> dict[str, Any]:
    """The keyword options a backend factory takes from the CLI flags."""
    options: dict[str, Any] = {}
    if model is not None:
        options["model"] = model
    if base_url is not None:
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
    rubric: Annotated[
        str, typer.Option(help="Library rubric name or a YAML file.")
    ] = "helpfulness",
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
            dropped.add(f"[dim]{item.criterion.id}: {escape(item.reason)}[/dim]")
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
