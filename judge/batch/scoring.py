"""The per-batch function of batch jobs: prepared rows in, one result record per row out.

`score_rows` is one judge call for a batch (`judge.batch.loop.judge_chunk`); `BatchScorer` wraps
it as a dict of columns in and a dict of result columns out, the shape Ray Data's
``map_batches`` takes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from judge.batch.files import RawRow, parquet_schema
from judge.batch.loop import judge_chunk, judge_fingerprints
from judge.batch.rows import MAX_CHARS, BadRow, FieldMap, PreparedRow, prepare_row
from judge.errors import ConfigError
from judge.runner.cache import CacheChoice, JudgmentCache, open_cache
from judge.runner.judge import Judge
from judge.runner.pairwise import DEFAULT_METHOD, Method
from judge.settings import JudgeSettings
from judge.types import Judgment, PairJudgment, stable_hash


def record_columns(pairwise: bool) -> list[str]:
    """The columns of a result record: row, id, input error (and kind), fingerprint, judgment."""
    model = PairJudgment if pairwise else Judgment
    return ["row", "id", "input_error", "input_error_kind", "job_fingerprint", *model.model_fields]


def record_schema(pairwise: bool, inputs: Sequence[str] = ()) -> Any:
    """The pyarrow schema of result records (Parquet shards have it; give it to a JSONL reader).

    Every column is typed, nullable, and never of the null type, so shards with and without
    failures load together: ``datasets.load_dataset("json", data_files=shards,
    features=datasets.Features.from_arrow_schema(record_schema(False, ["prompt", "response"])))``.
    """
    return parquet_schema([*record_columns(pairwise), *(input_column(n, pairwise) for n in inputs)])


def input_column(name: str, pairwise: bool) -> str:
    """The record column of an input column: its own name, or ``input_<name>`` on a clash.

    An input ``id`` or ``score`` column never overwrites the judge's field of that name.
    """
    taken = set(record_columns(pairwise))
    while name in taken:
        name = f"input_{name}"
    return name


def _plain(value: Any) -> Any:
    """A JSON-safe copy of an input value (NaN -> None; dates and other objects -> text)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a CSV field with invalid bytes (kept as surrogates)
            return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        return value
    if value is None or isinstance(value, int | float | bool):
        return value
    return json.loads(json.dumps(value, default=str, allow_nan=False))


def score_rows(
    judge: Judge,
    rows: Sequence[PreparedRow],
    job_fingerprint: str,
    *,
    pairwise: bool = False,
    method: Method = DEFAULT_METHOD,
    keep_inputs: bool = True,
    cache: JudgmentCache | None = None,
) -> list[dict[str, Any]]:
    """Judge the valid rows in one call; one result record per row, in order.

    `details` is JSON text in every record (a free-form object would be an object in JSONL but
    text in Parquet, and a different struct in every shard); the input columns follow the result
    columns unless `keep_inputs` is False.
    """
    judgments = judge_chunk(
        judge, list(rows), pairwise=pairwise, method=method, cache=cache
    ).judgments
    return result_records(
        rows, judgments, job_fingerprint, pairwise=pairwise, keep_inputs=keep_inputs
    )


def result_records(
    rows: Sequence[PreparedRow],
    judgments: Sequence[Judgment | PairJudgment],
    job_fingerprint: str,
    *,
    pairwise: bool = False,
    keep_inputs: bool = True,
) -> list[dict[str, Any]]:
    """One result record per row and its judgment (see `score_rows`)."""
    records = []
    for row, judgment in zip(rows, judgments, strict=True):
        bad = row.item if isinstance(row.item, BadRow) else None
        record = {
            "row": row.number,
            "id": row.id,
            "input_error": None if bad is None else judgment.error,
            "input_error_kind": None if bad is None else bad.kind,
            "job_fingerprint": job_fingerprint,
            **judgment.model_dump(mode="json"),
        }
        record["details"] = json.dumps(record["details"], ensure_ascii=False, sort_keys=True)
        if keep_inputs:
            for name, value in row.inputs.items():
                record[input_column(str(name), pairwise)] = _plain(value)
        records.append(record)
    return records


class BatchScorer:
    """The per-batch function of a job: a dict of columns in, a dict of result columns out.

    Shaped for Ray Data's ``map_batches`` (a callable class builds its judge once per worker, with
    `settings` and `backend_options`). Rows need ids that do not depend on the batch: an id column
    (``fields=FieldMap(id=...)``) or a ``_row`` column numbered from the source; a batch with
    neither is refused. `cache` is off unless given (workers on other machines do not share the
    local store; pass a path on storage every worker can lock).
    """

    def __init__(
        self,
        rubric: str = "helpfulness",
        backend: str = "transformers",
        *,
        fields: FieldMap | None = None,
        max_chars: int = MAX_CHARS,
        compare_method: Method = DEFAULT_METHOD,
        keep_inputs: bool = True,
        judge: Judge | None = None,
        settings: JudgeSettings | None = None,
        cache: CacheChoice = None,
        backend_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.judge = judge or Judge(
            backend, rubric, settings=settings, backend_options=backend_options
        )
        self.cache = open_cache(cache)
        self.fields = fields or FieldMap()
        self.max_chars = max_chars
        self.method = compare_method
        self.keep_inputs = keep_inputs
        self.job_fingerprint = job_fingerprint(
            self.judge, self.fields, max_chars, compare_method, keep_inputs
        )

    def __call__(self, batch: Mapping[str, Sequence[Any]]) -> dict[str, list[Any]]:
        """Score one batch of columns."""
        size = len(next(iter(batch.values()), []))
        if "_row" not in batch and self.fields.id is None:
            # Numbering rows per batch would give every batch the ids 1..n.
            raise ConfigError(
                "BatchScorer needs stable row ids: the batch has no '_row' column and no id field",
                hint="pass fields=FieldMap(id='your_id_column'), or add a '_row' column numbered "
                "from the source",
            )
        numbers_ = batch.get("_row", range(1, size + 1))
        names = [name for name in batch if name != "_row"]
        rows = [
            prepare_row(
                RawRow(int(numbers_[i]), {name: batch[name][i] for name in names}),
                self.fields,
                self.max_chars,
            )
            for i in range(size)
        ]
        records = score_rows(
            self.judge,
            rows,
            self.job_fingerprint,
            pairwise=self.fields.pairwise,
            method=self.method,
            keep_inputs=self.keep_inputs,
            cache=self.cache,
        )
        columns = record_columns(self.fields.pairwise)
        if self.keep_inputs:
            columns += [input_column(name, self.fields.pairwise) for name in names]
        return {column: [r.get(column) for r in records] for column in columns}


def job_fingerprint(
    judge: Judge,
    fields: FieldMap,
    max_chars: int,
    method: Method = DEFAULT_METHOD,
    keep_inputs: bool = True,
) -> str:
    """What makes two jobs' records interchangeable: settings, field mapping, limits, inputs."""
    settings = judge_fingerprints(judge, fields.pairwise, method)["settings_fingerprint"]
    return stable_hash([settings, asdict(fields), max_chars, {"inputs": keep_inputs}])
