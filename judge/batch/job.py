"""Resumable batch scoring jobs (`judge batch`): rows in, one result record per row out.

A job reads rows (JSONL, Parquet, CSV) on a prefetch thread that validates them and packs
batches while the backend works on the previous one; each batch is one `Judge` call, and its
records are appended to a journal and fsynced before the next (see `judge.batch.files`). A record
is keyed by its row number and id plus the job fingerprint (the judge's settings fingerprint and
the field mapping), so rerunning the same command skips the rows already written, and a changed
rubric, model or template is refused instead of mixed in. Bad rows become records with their
reason (`input_error`) and do not stop the job; `max_failures` stops it on purpose.

`BatchScorer` is the per-batch function alone, shaped for Ray Data:
``ds.map_batches(BatchScorer, fn_constructor_kwargs={...}, batch_size=64, concurrency=4)``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from judge.batch.files import (
    InputFormat,
    count_rows,
    detect_format,
    parquet_columns,
    parquet_keys,
    read_rows,
    write_parquet,
)
from judge.batch.lock import OutputLock
from judge.batch.loop import judge_chunks, judge_fingerprints, prepared_rows
from judge.batch.options import BatchOptions
from judge.batch.preflight import (
    check_options,
    journal_of,
    output_format,
    refuse_duplicates,
)
from judge.batch.rows import FieldMap, PreparedRow
from judge.batch.scoring import BatchScorer, job_fingerprint, record_columns, result_records
from judge.errors import ConfigError, StorageError
from judge.runner.cache import JudgmentCache
from judge.runner.judge import Judge
from judge.types import Usage

__all__ = [
    "BatchJob",
    "BatchOptions",
    "BatchProgress",
    "BatchScorer",
    "FieldMap",
    "parse_shard",
    "record_columns",
]


@dataclass
class BatchProgress:
    """Counters of a running job (this run only; `skipped` rows were done by earlier runs)."""

    total: int = 0
    skipped: int = 0
    judged: int = 0
    failed: int = 0
    bad_rows: int = 0
    judgments: int = 0
    score_sum: float = 0.0
    failures: Counter[str] = field(default_factory=Counter)
    cache_hits: int = 0
    """Rows answered by the judgment cache (no model call)."""
    cache_misses: int = 0
    """Rows the cache was asked for and did not hold (judged by the model)."""
    usage: Usage = field(default_factory=Usage)
    started: float = field(default_factory=time.monotonic)
    stopped: str | None = None

    @property
    def done(self) -> int:
        """Rows written by this run."""
        return self.judged + self.failed + self.bad_rows

    @property
    def remaining(self) -> int:
        """Rows of the shard still to do."""
        return max(0, self.total - self.skipped - self.done)

    @property
    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self.started

    @property
    def mean_score(self) -> float | None:
        """Mean score of the rows judged by this run."""
        return self.score_sum / self.judged if self.judged else None

    def add(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Count a written batch of records."""
        for record in records:
            if record["input_error"] is not None:
                self.bad_rows += 1
                self.failures[f"bad row: {record['input_error_kind']}"] += 1
                continue
            self.judgments += len(record.get("verdicts", ()))
            usage = record.get("usage") or {}
            self.usage = self.usage + Usage(**usage)
            score = record.get("score", record.get("p_a"))
            if record.get("error") is not None or score is None:
                self.failed += 1
                self.failures[f"judge: {record.get('error_kind') or 'no score'}"] += 1
            else:
                self.judged += 1
                self.score_sum += score


def parse_shard(text: str) -> tuple[int, int]:
    """Read ``"i/n"`` (0 <= i < n)."""
    index, _, count = text.partition("/")
    try:
        shard = (int(index), int(count))
    except ValueError:
        raise ConfigError(f"shard {text!r}", hint="write it as i/n, e.g. 0/4") from None
    if not 0 <= shard[0] < shard[1]:
        raise ConfigError(f"shard {text!r}: need 0 <= i < n", hint="shards are 0/n .. (n-1)/n")
    return shard


def _kept(exc: StorageError, progress: BatchProgress, where: str = "") -> StorageError:
    """`exc` with what stays written: the rows of earlier runs and of this run's whole batches."""
    kept = progress.skipped + progress.done
    place = f" {where}" if where else ""
    return StorageError(
        f"{exc.message}; the {kept} rows written before stay{place}, and rerunning the same "
        "command resumes after them",
        hint=exc.hint,
    )


class BatchJob:
    """One resumable job: an input file, an output file, a judge."""

    def __init__(
        self,
        judge: Judge,
        source: Path,
        output: Path,
        options: BatchOptions,
        cache: JudgmentCache | None = None,
    ) -> None:
        check_options(options)
        self.judge, self.source, self.output, self.options = judge, source, output, options
        self.cache = cache
        self.input_format: InputFormat = detect_format(source, options.input_format)
        self.parquet = output_format(output, options.output_format) == "parquet"
        self.journal = journal_of(output, self.parquet)
        self.fingerprint = job_fingerprint(
            judge, options.fields, options.max_chars, options.compare_method, options.keep_inputs
        )
        self.settings_fingerprint = judge_fingerprints(
            judge, options.fields.pairwise, options.compare_method
        )["settings_fingerprint"]
        self.columns = record_columns(options.fields.pairwise)

    def _in_shard(self, number: int) -> bool:
        index, count = self.options.shard
        return (number - 1) % count == index

    def _resume(self) -> tuple[set[tuple[int, str]], dict[str, int]]:
        """Rows already written (by row and id), refusing results of other settings."""
        if self.options.force:
            self.journal.remove()
            if self.parquet:
                self.output.unlink(missing_ok=True)
        records = self.journal.load()
        if self.options.repair:
            records = self.journal.keep_first()
        keys = [
            (r["row"], r["id"], r.get("job_fingerprint"), r.get("settings_fingerprint"))
            for r in records
        ]
        if self.parquet and self.output.exists():
            keys = parquet_keys(self.output) + keys
        stale = [key for key in keys if key[2] != self.fingerprint]
        if stale:
            changed = (
                "the judge settings (rubric, model, templates or sampling)"
                if stale[0][3] != self.settings_fingerprint
                else "the field mapping, --max-chars or --drop-inputs"
            )
            raise ConfigError(
                f"{self.output} holds {len(stale)} results made with other settings: "
                f"{changed} changed (job fingerprint {stale[0][2]}, now {self.fingerprint})",
                hint="pass --force to start over, or write to a new output path",
            )
        done = {(key[0], key[1]) for key in keys}
        refuse_duplicates(self.output, keys)
        seen = {key[1]: key[0] for key in keys}
        return done, seen

    def _rows(self, done: set[tuple[int, str]], seen: dict[str, int]) -> Iterator[PreparedRow]:
        """The rows of this shard not written before, validated (a repeated id is a bad row)."""
        raws = (
            raw for raw in read_rows(self.source, self.input_format) if self._in_shard(raw.number)
        )
        return prepared_rows(
            raws, self.options.fields, self.options.max_chars, done=done, seen=seen
        )

    def run(self, on_progress: Callable[[BatchProgress], None] | None = None) -> BatchProgress:
        """Run (or resume) the job; returns the counters, with `stopped` set if it stopped early.

        The output is locked for the whole run: a second job on it is refused (`ConfigError`).
        """
        with OutputLock(self.output):
            return self._run_locked(on_progress)

    def _run_locked(self, on_progress: Callable[[BatchProgress], None] | None) -> BatchProgress:
        done, seen = self._resume()
        progress = BatchProgress()
        progress.total = count_rows(self.source, self.input_format, self.options.shard)
        progress.skipped = len(done)
        if on_progress:
            on_progress(progress)
        judged = judge_chunks(
            self.judge,
            self._rows(done, seen),
            batch_size=self.options.batch_size,
            pairwise=self.options.fields.pairwise,
            method=self.options.compare_method,
            cache=self.cache,
            prefetch=self.options.prefetch,
        )
        try:
            for chunk in judged:
                records = result_records(
                    chunk.rows,
                    chunk.judgments,
                    self.fingerprint,
                    pairwise=self.options.fields.pairwise,
                    keep_inputs=self.options.keep_inputs,
                )
                try:
                    self.journal.append(records)
                except StorageError as exc:
                    raise _kept(exc, progress) from exc
                progress.add(records)
                progress.cache_hits += chunk.cache_hits
                progress.cache_misses += chunk.cache_misses
                if on_progress:
                    on_progress(progress)
                failures = progress.failed + progress.bad_rows
                if self.options.max_failures is not None and failures > self.options.max_failures:
                    progress.stopped = (
                        f"{failures} failures > --max-failures {self.options.max_failures}"
                    )
                    break
        finally:
            judged.close()
        if self.parquet and progress.stopped is None:
            try:
                self._finish_parquet()
            except StorageError as exc:
                raise _kept(exc, progress, f"in {self.journal.path}") from exc
        return progress

    def _finish_parquet(self) -> None:
        existing = self.output if self.output.exists() else None
        new = self.journal.load()
        if existing is not None and not new:
            return
        written = {(key[0], key[1]) for key in parquet_keys(existing)} if existing else set()
        fresh = (r for r in new if (r["row"], r["id"]) not in written)
        # The input columns follow the result columns, in the order they first appear.
        columns = dict.fromkeys(self.columns)
        if existing is not None:
            columns.update(dict.fromkeys(parquet_columns(existing)))
        for record in new:
            columns.update(dict.fromkeys(record))
        write_parquet(self.output, list(columns), existing, fresh)
        self.journal.remove()
