"""What a batch job can check before a model loads: options, paths, the input, the resume state.

`judge batch` runs `preflight` first, so a mistake (a missing input, an output in a missing
folder, ``--batch-size 0``, an output another job is writing, an output with duplicate records)
costs seconds instead of a model load, and a job with nothing left to do never loads one.

"Nothing left" must not hide a changed setting, and the job fingerprint that records carry needs
the loaded model (its id). So a finished run leaves ``<output>.plan.json``: a hash of everything
the command was given (rubric, settings, backend, model, options, field mapping) beside the job
fingerprint it produced. A rerun with the same plan hash and a complete output skips the model;
any other rerun loads it and is checked record by record as before.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from judge.batch.files import (
    InputFormat,
    Journal,
    columns_seen,
    count_rows,
    detect_format,
    output_format_of,
    parquet_keys,
)
from judge.batch.lock import OutputLock
from judge.batch.rows import FieldMap
from judge.batch.stream import check_output_path
from judge.errors import ConfigError, InputError, StorageError
from judge.storage import write_atomic
from judge.types import stable_hash

if TYPE_CHECKING:
    from judge.batch.options import BatchOptions

logger = logging.getLogger(__name__)


def check_options(options: BatchOptions) -> None:
    """Refuse option values no job can run with."""
    for name, value in (("batch size", options.batch_size), ("prefetch", options.prefetch)):
        if value < 1:
            raise ConfigError(f"{name} {value} < 1", hint=f"give a {name} of 1 or more")
    if options.max_chars < 1:
        raise ConfigError(f"max chars {options.max_chars} < 1", hint="give 1 or more")
    if options.max_failures is not None and options.max_failures < 0:
        raise ConfigError(f"max failures {options.max_failures} < 0", hint="give 0 or more")
    if options.compare_method not in ("rubric", "direct"):
        raise ConfigError(f"compare method {options.compare_method!r}", hint="use rubric or direct")


def required_columns(fields: FieldMap) -> dict[str, tuple[str, ...]]:
    """What a row must hold, by the option that names it: the column, then any stand-in."""
    prompt = (fields.prompt, *((fields.messages,) if fields.messages else ()))
    required = {"--prompt-field": prompt}
    if fields.pairwise:
        required["--a-field"] = (fields.response_a or "response_a",)
        required["--b-field"] = (fields.response_b or "response_b",)
    else:
        required["--response-field"] = (fields.response,)
    if fields.id is not None and fields.id_required:
        required["--id-field"] = (fields.id,)
    return required


def check_fields(source: Path, fmt: InputFormat, fields: FieldMap) -> None:
    """Refuse a field mapping that names a column no row of `source` has (before any model).

    Such a job could only fail every row; the error names the option, the column and the
    columns the file does have.
    """
    required = required_columns(fields)
    try:
        columns = columns_seen(source, fmt, [set(names) for names in required.values()])
    except Exception as exc:  # pyarrow / csv errors on a file that is not what it claims
        raise InputError(f"cannot read {source} as {fmt}: {exc}") from None
    present = set(columns)
    for option, (name, *stand_ins) in required.items():
        if present & {name, *stand_ins}:
            continue
        instead = "".join(f" (nor {other!r}, read in its place)" for other in stand_ins)
        shown = ", ".join(columns[:20]) + (f", ... ({len(columns)} in all)" * (len(columns) > 20))
        raise InputError(
            f"{option}: no row of {source} has a column {name!r}{instead} "
            f"(its columns: {shown or 'none'})",
            hint=f"pass {option} with one of its columns",
        )


def output_format(output: Path, given: str | None) -> str:
    """``parquet`` or ``jsonl``: the given format, or the one the output's suffix names."""
    if given is None:
        return output_format_of(output)
    if given not in ("jsonl", "parquet"):
        raise ConfigError(f"output format {given!r}", hint="use jsonl or parquet")
    return given


def journal_of(output: Path, parquet: bool) -> Journal:
    """The append-only journal of an output (the output itself for JSONL)."""
    return Journal(output.with_name(output.name + ".journal.jsonl") if parquet else output)


def refuse_duplicates(output: Path, keys: Sequence[tuple[Any, ...]]) -> None:
    """Raise if two records share a (row, id): two writers, or a hand-merged file."""
    counts = Counter((key[0], key[1]) for key in keys)
    extra = sum(times - 1 for times in counts.values())
    if extra:
        (row, row_id), times = counts.most_common(1)[0]
        raise InputError(
            f"{output} holds {extra} duplicate records (row {row}, id {row_id!r} {times} "
            "times): two jobs wrote it at once",
            hint="rerun with --repair to keep the first record of each row, or --force to "
            "start over",
        )


@dataclass(frozen=True)
class Preflight:
    """What the checks found: the input's format and size, and what earlier runs wrote."""

    input_format: InputFormat
    total: int
    written: int
    fingerprints: frozenset[str]
    finished: bool
    planned: str | None = None
    duplicates: bool = False

    @property
    def nothing_left(self) -> bool:
        """Every row of the shard was written, by a finished run of this very plan."""
        return (
            self.finished
            and not self.duplicates
            and 0 < self.total <= self.written
            and self.planned is not None
            and self.fingerprints == {self.planned}
        )


def plan_fingerprint(**given: Any) -> str:
    """Hash of what a command was given (before any model loads); `repr` for odd values."""
    return stable_hash(json.loads(json.dumps(given, sort_keys=True, default=repr)))


def plan_path(output: Path) -> Path:
    """The sidecar that names the plan a finished run of `output` followed."""
    return output.with_name(output.name + ".plan.json")


def record_plan(output: Path, plan: str, job_fingerprint: str) -> None:
    """Write the plan sidecar (write-then-rename) once a run has finished its output.

    The sidecar only spares a later rerun its model load, so a full disk here is a warning:
    the finished output is whole, and a rerun without the sidecar finds nothing left to judge.
    """
    target = plan_path(output)
    try:
        write_atomic(target, json.dumps({"plan": plan, "job_fingerprint": job_fingerprint}) + "\n")
    except (OSError, StorageError) as exc:
        logger.warning("%s not written (%s); a rerun will load the model to check", target, exc)


def _planned(output: Path, plan: str | None) -> str | None:
    """The job fingerprint of the sidecar if it was written for `plan`, else None."""
    if plan is None:
        return None
    try:
        data = json.loads(plan_path(output).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("plan") != plan:
        return None
    fingerprint = data.get("job_fingerprint")
    return fingerprint if isinstance(fingerprint, str) else None


def preflight(
    source: Path, output: Path, options: BatchOptions, plan: str | None = None
) -> Preflight:
    """Run every check of a job that needs no model; raise the first mistake found."""
    check_options(options)
    if not source.exists():
        raise InputError(f"input {source} does not exist", hint="check the path")
    if not source.is_file():
        raise InputError(f"input {source} is not a file", hint="give a .jsonl, .parquet or .csv")
    input_format = detect_format(source, options.input_format)
    if source.resolve() == output.resolve():
        raise ConfigError(f"input and output are the same file: {source}", hint="write elsewhere")
    check_output_path(output)
    parquet = output_format(output, options.output_format) == "parquet"
    with OutputLock(output):  # refused now, not after the model load, if another job writes it
        pass
    try:
        total = count_rows(source, input_format, options.shard)
    except Exception as exc:  # pyarrow / csv errors on a file that is not what it claims
        raise InputError(f"cannot read {source} as {input_format}: {exc}") from None
    if total == 0:
        raise InputError(
            f"0 rows in {source}"
            + (f" (shard {options.shard[0]}/{options.shard[1]})" * (options.shard[1] > 1)),
            hint="check the file (and --shard)",
        )
    check_fields(source, input_format, options.fields)
    if options.force:
        return Preflight(input_format, total, 0, frozenset(), False)
    journal = journal_of(output, parquet)
    keys = [(r["row"], r["id"], r.get("job_fingerprint")) for r in journal.load()]
    finished = not parquet or not journal.path.exists()
    if parquet and output.exists():
        keys = [key[:3] for key in parquet_keys(output)] + keys
    if not options.repair:
        refuse_duplicates(output, keys)
    index, count = options.shard
    in_shard = {(key[0], key[1]) for key in keys if (key[0] - 1) % count == index}
    fingerprints = frozenset(str(key[2]) for key in keys)
    return Preflight(
        input_format,
        total,
        len(in_shard),
        fingerprints,
        finished,
        _planned(output, plan),
        duplicates=len({(key[0], key[1]) for key in keys}) < len(keys),
    )
