"""The one loop over the rows of a file: rows in, one chunk of judgments per backend batch out.

`judge batch` (`BatchJob`), `judge score --input`, `judge compare --input` and `judge eval`
(`calibration.run_eval`) all judge their rows here:

    rows = prepared_rows(read_rows(path, "jsonl"), FieldMap(id="id"))   # read, validate
    for chunk in judge_chunks(judge, rows, batch_size=16):             # chunk, judge
        write(chunk.rows, chunk.judgments)

`prepared_rows` validates raw rows (a bad row is a value, not an error), skips the rows a resumed
job wrote before and marks a repeated id; `chunks` packs rows into chunks of `batch_size` valid
rows (bad rows ride along); `judge_chunk` is one judge call per chunk (pointwise rows answered
from the judgment cache where it can, pairs compared both orders); `judge_chunks` drives the
three, optionally reading and validating on a prefetch thread while the backend works.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Collection, Generator, Iterable, Iterator, MutableMapping
from dataclasses import dataclass, field, replace
from typing import Any

from judge.batch.files import RawRow
from judge.batch.rows import MAX_CHARS, BadRow, FieldMap, PreparedRow, prepare_row
from judge.errors import ConfigError
from judge.runner.cache import JudgmentCache, judge_samples
from judge.runner.judge import Judge
from judge.runner.pairwise import DEFAULT_METHOD, Method
from judge.types import ErrorKind, Judgment, Pair, PairJudgment, Sample

AnyJudgment = Judgment | PairJudgment
DEFAULT_FIELDS = FieldMap()


@dataclass(frozen=True)
class JudgedChunk:
    """One chunk of rows and their judgments (one per row, in order)."""

    rows: list[PreparedRow]
    judgments: list[AnyJudgment]
    naive: list[AnyJudgment] = field(default_factory=list)
    """With ``naive=True``: the naive baseline's judgment of each row, in order."""
    cache_hits: int = 0
    """Rows of this chunk answered by the judgment cache."""
    cache_misses: int = 0
    """Rows of this chunk the cache was asked for and did not hold."""


def prepared_rows(
    raws: Iterable[RawRow],
    fields: FieldMap = DEFAULT_FIELDS,
    max_chars: int = MAX_CHARS,
    *,
    done: Collection[tuple[int, str]] = (),
    seen: MutableMapping[str, int] | None = None,
) -> Iterator[PreparedRow]:
    """Validate raw rows: one `PreparedRow` each, skipping the (row, id) pairs in `done`.

    A row whose id an earlier row has (in this file, or in `seen` from a resumed job's output)
    is a bad row of kind ``duplicate_id``.
    """
    first: MutableMapping[str, int] = {} if seen is None else seen
    for raw in raws:
        row = prepare_row(raw, fields, max_chars)
        if (row.number, row.id) in done:
            continue
        if not isinstance(row.item, BadRow):
            number = first.setdefault(row.id, row.number)
            if number != row.number:
                row = replace(
                    row, item=BadRow("duplicate_id", f"id {row.id!r} is also row {number}")
                )
        yield row


def chunks(rows: Iterable[PreparedRow], batch_size: int) -> Iterator[list[PreparedRow]]:
    """Rows in chunks of `batch_size` valid rows.

    Bad rows ride along, and a long run of them (4 x `batch_size`) is a chunk of its own so
    progress keeps moving.
    """
    if batch_size < 1:
        raise ConfigError(f"batch size {batch_size} < 1", hint="rows per backend batch: 1 or more")
    pending: list[PreparedRow] = []
    valid = 0
    for row in rows:
        pending.append(row)
        valid += not isinstance(row.item, BadRow)
        if valid >= batch_size or len(pending) >= 4 * batch_size:
            yield pending
            pending, valid = [], 0
    if pending:
        yield pending


def judge_fingerprints(
    judge: Judge, pairwise: bool, method: Method = DEFAULT_METHOD
) -> dict[str, str]:
    """The model and fingerprints that the records of a pointwise or pairwise job carry."""
    if pairwise:
        return {"model": judge.backend.model_id, **judge.compare_fingerprints(method)}
    return {
        "model": judge.backend.model_id,
        "rubric_fingerprint": judge.rubric.fingerprint,
        "template_fingerprint": judge.template_fingerprint,
        "settings_fingerprint": judge.settings_fingerprint,
    }


def _failure(judge: Judge, row: PreparedRow, pairwise: bool, method: Method) -> AnyJudgment:
    """The ``invalid_input`` judgment of a bad row, carrying the judge's fingerprints."""
    assert isinstance(row.item, BadRow)
    failure: dict[str, Any] = {
        "error": f"{row.item.kind}: {row.item.reason}",
        "error_kind": ErrorKind.INVALID_INPUT,
        **judge_fingerprints(judge, pairwise, method),
    }
    if pairwise:
        return PairJudgment(pair_id=row.id, **failure)
    return Judgment(sample_id=row.id, rubric=judge.rubric.name, **failure)


def judge_chunk(
    judge: Judge,
    rows: list[PreparedRow],
    *,
    pairwise: bool = False,
    method: Method = DEFAULT_METHOD,
    cache: JudgmentCache | None = None,
    naive: bool = False,
) -> JudgedChunk:
    """Judge the valid rows of one chunk in one judge call; one judgment per row, in order.

    A bad row is an ``invalid_input`` failure. Pointwise rows judged before are answered from
    `cache` (pairs are always judged); `naive` also asks the naive baseline in the same backend
    batches (no cache then).
    """
    if naive and cache is not None:
        raise ConfigError(
            "the naive baseline is not answered from the judgment cache",
            hint="run without the cache, or without the naive baseline",
        )
    samples = [(i, r.item) for i, r in enumerate(rows) if isinstance(r.item, Sample)]
    pairs = [(i, r.item) for i, r in enumerate(rows) if isinstance(r.item, Pair)]
    results: dict[int, AnyJudgment] = {}
    baseline: dict[int, AnyJudgment] = {}
    looked_up = (cache.hits, cache.misses) if cache is not None else (0, 0)
    if samples:
        items = [s for _, s in samples]
        positions = [i for i, _ in samples]
        if naive:
            judged, asked = judge.score_with_naive(items)
            baseline.update(zip(positions, asked, strict=True))
        else:
            judged = judge_samples(judge, items, cache)
        results.update(zip(positions, judged, strict=True))
    if pairs:
        items_ = [p for _, p in pairs]
        positions = [i for i, _ in pairs]
        if naive:
            compared, asked_ = judge.compare_with_naive(items_, method=method)
            baseline.update(zip(positions, asked_, strict=True))
        else:
            compared = judge.compare(items_, method=method)
        results.update(zip(positions, compared, strict=True))
    judgments = [
        results.get(i) or _failure(judge, row, pairwise, method) for i, row in enumerate(rows)
    ]
    naive_ = [baseline.get(i) or judgments[i] for i in range(len(rows))] if naive else []
    hits, misses = (cache.hits, cache.misses) if cache is not None else (0, 0)
    return JudgedChunk(rows, judgments, naive_, hits - looked_up[0], misses - looked_up[1])


_END = object()


def judge_chunks(
    judge: Judge,
    rows: Iterable[PreparedRow],
    *,
    batch_size: int,
    pairwise: bool = False,
    method: Method = DEFAULT_METHOD,
    cache: JudgmentCache | None = None,
    naive: bool = False,
    prefetch: int = 0,
) -> Generator[JudgedChunk, None, None]:
    """The one loop: rows in chunks of `batch_size`, each chunk one judge call, yielded in order.

    With `prefetch` > 0, rows are read, validated and chunked on a thread (up to `prefetch`
    chunks ahead) while the backend works on the current chunk; an error there is raised here.
    Leaving the loop early (``break``, an exception) stops the thread.
    """
    packed = chunks(rows, batch_size)
    if prefetch <= 0:
        for chunk in packed:
            yield judge_chunk(
                judge, chunk, pairwise=pairwise, method=method, cache=cache, naive=naive
            )
        return
    waiting: queue.Queue[Any] = queue.Queue(maxsize=prefetch)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                waiting.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for chunk in packed:
                if not put(chunk):
                    return
            put(_END)
        except Exception as exc:  # raised again on the judging thread
            put(exc)

    producer = threading.Thread(target=produce, name="rows-prefetch", daemon=True)
    producer.start()
    try:
        while (item := waiting.get()) is not _END:
            if isinstance(item, Exception):
                raise item
            yield judge_chunk(
                judge, item, pairwise=pairwise, method=method, cache=cache, naive=naive
            )
    finally:
        stop.set()
        producer.join()
