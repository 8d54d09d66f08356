"""`judge score`: judge responses given on the command line or in a file.

The file helpers (`file_rows`, `judge_rows`, `finish`) serve `judge compare --input` too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from judge.batch.files import read_rows
from judge.batch.loop import judge_chunks, prepared_rows
from judge.batch.rows import MAX_CHARS, BadRow, FieldMap, PreparedRow
from judge.batch.stream import LineWriter
from judge.commands.flags import JudgingFlags, judging_command
from judge.commands.options import (
    BatchSizeOpt,
    CacheOpt,
    CalibratorOpt,
    ForceCalibratorOpt,
    NoCacheOpt,
    RubricOpt,
    check_batch_size,
    judgment_cache,
)
from judge.commands.render import cache_line, err_console, print_error, print_judgment
from judge.errors import InputError
from judge.inputs import sample_from_record
from judge.library import load_rubric
from judge.runner.cache import JudgmentCache
from judge.runner.pairwise import DEFAULT_METHOD, Method
from judge.types import ErrorKind, Judgment, PairJudgment

SCORE_HELP = 'Score responses against a rubric. Example: judge score --prompt "Hi" --response "Hey"'


SCORE_FIELDS = FieldMap(id="id", id_required=False)
"""Columns of `judge score --input`: prompt (or messages), response, optional id and reference."""


def file_rows(input_file: Path, fields: FieldMap = SCORE_FIELDS) -> list[PreparedRow]:
    """The rows of a JSONL file, read and validated by `judge.batch.loop` (as `judge batch`).

    A later row with an id seen before is a bad row (``duplicate_id``), as in `judge batch`.
    """
    if input_file.is_dir():
        raise InputError(f"--input {input_file} is a folder", hint="give a JSONL file")
    try:
        rows = list(prepared_rows(read_rows(input_file, "jsonl"), fields, MAX_CHARS))
    except OSError as exc:
        raise InputError(f"cannot read {input_file}: {exc.strerror}") from None
    if not rows:
        raise InputError(
            f"0 rows in {input_file}", hint="give a JSONL file with one JSON object per line"
        )
    return rows


def _argument_rows(
    prompt: str | None, response: str | None, reference: str | None
) -> list[PreparedRow]:
    if prompt is None or response is None:
        raise typer.BadParameter("give --prompt and --response (or --input FILE.jsonl)")
    record = {"id": "cli", "prompt": prompt, "response": response, "reference": reference}
    return [PreparedRow(0, "cli", sample_from_record(record, where="arguments", default_id="cli"))]


@judging_command
def score(
    ctx: typer.Context,
    flags: JudgingFlags,
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
    batch_size: BatchSizeOpt = 16,
    calibrator: CalibratorOpt = None,
    force_calibrator: ForceCalibratorOpt = False,
    cache: CacheOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Score responses against a rubric.

    Example: judge score --rubric helpfulness --prompt "What is 2+2?" --response "4" --json
    """
    from judge.runner.judge import Judge

    # Every check that needs no model comes first: a mistake costs seconds, not a model load.
    check_batch_size(batch_size)
    fitted = None
    if calibrator is not None:
        from judge import calibration

        fitted = calibration.load_score_calibrator(calibrator)
    rubric_obj = load_rubric(rubric)
    if input_file is not None and (prompt is not None or response is not None):
        raise typer.BadParameter("give --input FILE or --prompt/--response, not both")
    if input_file is None:
        rows = _argument_rows(prompt, response, reference)
    else:
        rows = file_rows(input_file)
    good, bad = split_rows(rows, input_file)
    store = judgment_cache(cache, no_cache)
    writer = LineWriter(output) if output is not None else None
    try:
        judgments = judge_rows(
            good, writer, as_json, input_file is not None,
            lambda: Judge(
                backend=flags.backend,
                rubric=rubric_obj,
                settings=flags.settings,
                calibrator=fitted,
                force_calibrator=force_calibrator,
                backend_options=flags.backend_options,
            ),
            batch_size,
            store,
        )  # fmt: skip
    finally:
        if writer is not None:
            writer.close()
        if store is not None:
            store.close()
    if not as_json and (output is None or input_file is None):
        for judgment in judgments:
            print_judgment(judgment, rubric_obj)
    finish(judgments, bad, input_file, output, cache_line(store))


def split_rows(
    rows: list[PreparedRow], input_file: Path | None
) -> tuple[list[PreparedRow], list[PreparedRow]]:
    """The rows that can be judged and the bad ones, each bad one printed as one line."""
    bad = [row for row in rows if isinstance(row.item, BadRow)]
    for row in bad:
        assert isinstance(row.item, BadRow)
        print_error(f"{input_file}:{row.number}: {row.item.reason}")
    return [row for row in rows if not isinstance(row.item, BadRow)], bad


def finish(
    judgments: Sequence[Judgment | PairJudgment],
    bad: list[PreparedRow],
    input_file: Path | None,
    output: Path | None,
    cache_text: str | None = None,
) -> None:
    """Print a file run's summary (judged, failed by kind, where, the cache); exit 1 on failures."""
    kinds = Counter(str(j.error_kind) for j in judgments if j.error is not None)
    kinds.update({str(ErrorKind.INVALID_INPUT): len(bad)} if bad else {})
    failed = sum(kinds.values())
    if input_file is not None:
        by_kind = ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items()))
        err_console.print(
            f"{len(judgments)} judged, {failed} failed"
            + (f" ({by_kind})" if by_kind else "")
            + (f"; written to {output}" if output else "")
            + (f"; judgment cache: {cache_text}" if cache_text is not None else "")
        )
    if failed:
        raise typer.Exit(1)


def judge_rows(
    good: list[PreparedRow],
    writer: LineWriter | None,
    as_json: bool,
    show_progress: bool,
    make_judge: Callable[[], Any],
    batch_size: int,
    cache: JudgmentCache | None = None,
    method: Method | None = None,
) -> list[Any]:
    """Judge the rows in the one file loop (`judge.batch.loop.judge_chunks`), chunk by chunk.

    Each chunk is written (and printed, for --json) when done.
    With a compare `method` the rows are pairs. Ctrl-C stops between or inside batches; what was
    written stays, and the run exits 130.
    """
    judge = make_judge()
    judgments: list[Judgment | PairJudgment] = []
    columns = (TextColumn("judging"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    try:
        with Progress(
            *columns, console=err_console, transient=True, disable=not show_progress
        ) as progress:
            task = progress.add_task("score", total=len(good))
            judged = judge_chunks(
                judge,
                good,
                batch_size=batch_size,
                pairwise=method is not None,
                method=method or DEFAULT_METHOD,
                cache=cache,
            )
            for chunk in judged:
                done = chunk.judgments
                lines = [judgment.model_dump_json() for judgment in done]
                if writer is not None:
                    writer.write(lines)
                if as_json:
                    for line in lines:
                        typer.echo(line)
                judgments.extend(done)
                progress.advance(task, len(chunk.rows))
    except KeyboardInterrupt:
        kept = ""
        if writer is not None:
            writer.close()
            kept = f"; {writer.lines} judgments kept in {writer.path}"
        print_error(f"interrupted before all {len(good)} rows were judged{kept}")
        raise typer.Exit(130) from None
    finally:
        judge.close()
    return judgments
