"""`judge compare`: which of two responses is better, given on the command line or in a file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from judge.batch.rows import FieldMap, PreparedRow
from judge.batch.stream import LineWriter
from judge.commands.flags import JudgingFlags, judging_command
from judge.commands.options import (
    DEFAULT_PAIR_METHOD,
    BatchSizeOpt,
    PairMethodOpt,
    RubricOpt,
    check_batch_size,
    checked_pair_method,
)
from judge.commands.render import print_pair
from judge.commands.score import file_rows, finish, judge_rows, split_rows
from judge.errors import InputError
from judge.inputs import pair_from_record
from judge.library import load_rubric

COMPARE_HELP = 'Which response is better. Example: judge compare --prompt "2+2?" --a 4 --b 5'

PAIR_FIELDS = FieldMap(id="id", id_required=False, response_a="response_a", response_b="response_b")
"""Columns of `judge compare --input`: prompt or messages, response_a, response_b, id, reference."""


def _argument_rows(
    prompt: str | None, a: str | None, b: str | None, reference: str | None
) -> list[PreparedRow]:
    if (prompt, a, b) == (None, None, None):
        raise InputError(
            "judge compare: no pair given", hint="give --prompt, --a and --b, or --input"
        )
    given = {"prompt": prompt, "response_a": a, "response_b": b, "reference": reference}
    record = {"id": "cli", **{key: value for key, value in given.items() if value is not None}}
    return [PreparedRow(0, "cli", pair_from_record(record, where="judge compare"))]


@judging_command
def compare(
    ctx: typer.Context,
    flags: JudgingFlags,
    prompt: Annotated[str | None, typer.Option(help="The prompt both responses answer.")] = None,
    a: Annotated[str | None, typer.Option("--a", help="Response A.")] = None,
    b: Annotated[str | None, typer.Option("--b", help="Response B.")] = None,
    reference: Annotated[str | None, typer.Option(help="An optional reference answer.")] = None,
    input_file: Annotated[
        Path | None,
        typer.Option(
            "--input",
            help="JSONL file: one {prompt|messages, response_a, response_b, id?, reference?} "
            "per line.",
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="Write pair judgments as JSONL to this file.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON lines.")] = False,
    pair_method: PairMethodOpt = DEFAULT_PAIR_METHOD,
    rubric: RubricOpt = "helpfulness",
    batch_size: BatchSizeOpt = 16,
) -> None:
    """Compare two responses: P(A better), order consistency (direct), winner.

    The default pair method is ``rubric``, as in `Judge.compare` and `judge eval`: each response
    is judged on every criterion and the weighted margin decides (a tie is compared directly in
    both orders). ``--pair-method direct`` asks which is better in both orders, without the
    rubric.

    Example: judge compare --input pairs.jsonl --output compared.jsonl
    """
    from judge.runner.judge import Judge

    # Every check that needs no model comes first: a mistake costs seconds, not a model load.
    method = checked_pair_method(pair_method)
    check_batch_size(batch_size)
    if input_file is not None and (prompt, a, b) != (None, None, None):
        raise InputError("--input with --prompt/--a/--b", hint="give one of them, not both")
    rubric_obj = load_rubric(rubric)
    if input_file is None:
        rows = _argument_rows(prompt, a, b, reference)
    else:
        rows = file_rows(input_file, PAIR_FIELDS)
    good, bad = split_rows(rows, input_file)
    writer = LineWriter(output) if output is not None else None
    try:
        results = judge_rows(
            good, writer, as_json, input_file is not None,
            lambda: Judge(
                backend=flags.backend,
                rubric=rubric_obj,
                settings=flags.settings,
                backend_options=flags.backend_options,
            ),
            batch_size,
            method=method,
        )  # fmt: skip
    finally:
        if writer is not None:
            writer.close()
    if not as_json and (output is None or input_file is None):
        for result in results:
            print_pair(result)
    finish(results, bad, input_file, output)
