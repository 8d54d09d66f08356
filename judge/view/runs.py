"""Open what `judge` writes as a `Run`: an index of the columns people filter by, records on demand.

The index (a pyarrow Table, one row per judgment) stays on the server, so a run of any size
opens without sending it to the browser; the full record of one row is read when its page is
opened (a seek into a JSONL file, a slice of a Parquet table). Readable inputs:

- a JSONL file of judgments (``judge score --output``) or of batch records (``judge batch``);
- a Parquet file (``judge batch ... out.parquet``) or a folder of them (``--engine ray``);
- an eval report folder (``judge eval --output``: ``records.jsonl`` and ``evaluation.json``);
- a probe report folder or file (``judge probe``: ``probe.json``), shown as plots only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from judge.errors import InputError
from judge.types import stable_hash
from judge.view.text import TEXT_FIELDS, column_rationales, column_text, plain_text

INDEX_FIELDS = (
    "id",
    "kind",
    "score",
    "confidence",
    "error_kind",
    "capped",
    "strategy",
    "route",
    "rubric",
    "reasoning",
    "key",
    "winner",
    "flip",
    "label",
)
"""The columns of a run's index besides its position ``i`` and the search text."""

FINGERPRINT_FIELDS = ("model", "rubric_fingerprint", "template_fingerprint", "settings_fingerprint")
PARQUET_GLOB = "part-*.parquet"
_CHUNK = 4096


def judgment_key(record: Mapping[str, Any]) -> str:
    """The fingerprint of the judge configuration that made a record (labels are keyed by it)."""
    return stable_hash([str(record.get(name) or "") for name in FINGERPRINT_FIELDS])


def record_id(record: Mapping[str, Any]) -> str:
    """The sample (or pair) id of a record, whatever tool wrote it."""
    for name in ("sample_id", "pair_id", "id"):
        value = record.get(name)
        if value is not None:
            return str(value)
    return ""


def _details(record: Mapping[str, Any]) -> dict[str, Any]:
    value = record.get("details")
    if isinstance(value, str):  # batch records hold details as JSON text
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def _json_field(value: Any) -> Any:
    """A nested field that Parquet outputs keep as JSON text (route, consistency, likert)."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if math.isnan(value) else float(value)


def summarise(
    record: Mapping[str, Any], rationales: list[str] | None = None, with_text: bool = True
) -> dict[str, Any]:
    """The index columns of one record (see `INDEX_FIELDS`) and its lower-cased search text.

    `rationales` (one text per verdict) is read from the record's verdicts unless given; the
    text is left out when `with_text` is False (a Parquet run builds it column-wise).
    """
    details = _details(record)
    verdicts = record.get("verdicts") or []
    if not isinstance(verdicts, list):
        verdicts = []
    pairwise = "pair_id" in record or record.get("mode") == "pairwise" or "winner" in record
    if pairwise:
        kind = "pairwise"
    elif "verdicts" in record or "sample_id" in record:
        kind = "pointwise"
    else:
        kind = "record"  # an eval record: p and a gold label
    route = _json_field(record.get("route"))
    if rationales is None:
        rationales = [plain_text(v.get("rationale")) for v in verdicts if isinstance(v, dict)]
    reasoning = details.get("reasoning")
    if reasoning is None and kind == "pointwise" and rationales:
        reasoning = "with rationale" if any(r.strip() for r in rationales) else "none"
    winner_ab, winner_ba = record.get("winner_ab"), record.get("winner_ba")
    flip = None
    if winner_ab is not None and winner_ba is not None:
        flip = winner_ab != winner_ba
    elif isinstance(record.get("consistent"), bool):
        flip = not record["consistent"]
    score = _number(record.get("p_a") if pairwise and "p_a" in record else record.get("score"))
    if kind == "record":
        score = _number(record.get("p"))
    label = record.get("label")
    summary = {
        "id": record_id(record),
        "kind": kind,
        "score": score,
        "confidence": _number(record.get("confidence")),
        "error_kind": record.get("error_kind") or record.get("input_error_kind") or None,
        "capped": bool(record.get("capped_by")),
        "strategy": plain_text(record.get("strategy")) or None,
        "route": route.get("route") if isinstance(route, dict) else None,
        "rubric": plain_text(record.get("rubric")) or None,
        "reasoning": None if reasoning is None else str(reasoning),
        "key": judgment_key(record),
        "winner": plain_text(record.get("winner")) or None,
        "flip": flip,
        "label": None if label is None else plain_text(label),
    }
    if with_text:
        texts = [record_id(record), *rationales, plain_text(record.get("error"))]
        texts.extend(plain_text(record.get(name)) for name in TEXT_FIELDS)
        summary["text"] = "\n".join(t for t in texts if t).lower()
    return summary


@dataclass
class Run:
    """One opened output: its index (pyarrow Table), its records, and any report beside them."""

    path: Path
    name: str
    index: Any
    """pyarrow Table: ``i``, the `INDEX_FIELDS` and ``text``; one row per record, in file order."""
    _reader: _RecordReader
    reports: dict[str, Any] = field(default_factory=dict)
    """Report JSON found with the run: ``probe`` (probe.json), ``evaluation`` (evaluation.json)."""

    _search: tuple[bytes, Any] | None = None

    def __len__(self) -> int:
        return int(self.index.num_rows)

    def search_buffer(self) -> tuple[bytes, Any]:
        """The search texts as one bytes object and their row offsets (numpy), made once."""
        if self._search is None:
            import numpy as np
            import pyarrow as pa

            column = self.index.column("text")
            text = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
            text = text.cast(pa.large_string())
            if len(text) == 0:
                self._search = (b"", np.zeros(1, dtype=np.int64))
                return self._search
            offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)
            offsets = offsets[text.offset : text.offset + len(text) + 1]
            data = text.buffers()[2]
            self._search = (b"" if data is None else data.to_pybytes(), offsets)
        return self._search

    def record(self, position: int) -> dict[str, Any]:
        """The full record at `position` (0-based, file order)."""
        if not 0 <= position < len(self):
            raise InputError(f"{self.name}: no record {position} (it has {len(self)})")
        return self._reader.record(position)

    def positions_of(self, ids: list[str]) -> dict[str, int]:
        """The position of the first record of each id in `ids` that the run holds."""
        import pyarrow.compute as pc

        column = self.index.column("id")
        found = pc.index_in(pc.cast(ids, column.type) if ids else column[:0], value_set=column)
        return {
            ident: int(at)
            for ident, at in zip(ids, found.to_pylist(), strict=True)
            if at is not None
        }


class _RecordReader:
    def record(self, position: int) -> dict[str, Any]:
        raise NotImplementedError


class _JsonlReader(_RecordReader):
    def __init__(self, path: Path, offsets: list[int]) -> None:
        self.path = path
        self.offsets = offsets

    def record(self, position: int) -> dict[str, Any]:
        with self.path.open("rb") as handle:
            handle.seek(self.offsets[position])
            value: dict[str, Any] = json.loads(handle.readline())
        return value


class _TableReader(_RecordReader):
    def __init__(self, table: Any) -> None:
        self.table = table

    def record(self, position: int) -> dict[str, Any]:
        row: dict[str, Any] = self.table.slice(position, 1).to_pylist()[0]
        return {name: _json_field(value) for name, value in row.items()}


def _index_table(summaries: list[dict[str, Any]], text: Any = None) -> Any:
    """The index of a run; `text` is the search column when built column-wise."""
    import pyarrow as pa

    schema = pa.schema(
        [
            ("i", pa.int64()),
            ("id", pa.string()),
            ("kind", pa.string()),
            ("score", pa.float64()),
            ("confidence", pa.float64()),
            ("error_kind", pa.string()),
            ("capped", pa.bool_()),
            ("strategy", pa.string()),
            ("route", pa.string()),
            ("rubric", pa.string()),
            ("reasoning", pa.string()),
            ("key", pa.string()),
            ("winner", pa.string()),
            ("flip", pa.bool_()),
            ("label", pa.string()),
            ("text", pa.large_string()),
        ]
    )
    for position, summary in enumerate(summaries):
        summary["i"] = position
    if text is None:
        return pa.Table.from_pylist(summaries, schema=schema)
    rest = pa.schema([f for f in schema if f.name != "text"])
    return pa.Table.from_pylist(summaries, schema=rest).append_column(schema.field("text"), text)


def _jsonl_lines(path: Path) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """(line number, byte offset, record) of each object line; a torn last line is skipped."""
    offset = 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            start, offset = offset, offset + len(raw)
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except ValueError:
                if not raw.endswith(b"\n"):  # a job still writing (or killed mid-line)
                    return
                raise InputError(
                    f"{path}:{number}: not a JSON object",
                    hint="judge view reads the JSONL that judge score, batch or eval write",
                ) from None
            if not isinstance(record, dict):
                raise InputError(f"{path}:{number}: expected a JSON object, got {record!r:.40}")
            yield number, start, record


def _open_jsonl(path: Path, name: str) -> Run:
    offsets: list[int] = []
    summaries: list[dict[str, Any]] = []
    for _, offset, record in _jsonl_lines(path):
        offsets.append(offset)
        summaries.append(summarise(record))
    return Run(path, name, _index_table(summaries), _JsonlReader(path, offsets))


def _open_parquet(paths: list[Path], where: Path, name: str) -> Run:
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = [pq.read_table(p) for p in paths]
    table = pa.concat_tables(tables, promote_options="default") if tables else pa.table({})
    table = table.combine_chunks()
    rationales = column_rationales(table)
    heavy = {"verdicts", *TEXT_FIELDS}
    light = table.select([name for name in table.column_names if name not in heavy])
    summaries: list[dict[str, Any]] = []
    for batch in light.to_batches(max_chunksize=_CHUNK):
        start = len(summaries)
        for offset, row in enumerate(batch.to_pylist()):
            given = rationales[start + offset]
            summaries.append(summarise(row, [] if given is None else [given], with_text=False))
    return Run(where, name, _index_table(summaries, column_text(table)), _TableReader(table))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not readable JSON ({exc})") from None


def open_run(path: Path) -> Run:
    """Open one output of `judge` for viewing; refuses (one line) what it cannot read."""
    name = path.name or str(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder", hint="give a judge output to view")
    if path.is_dir():
        return _open_folder(path, name)
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return _open_parquet([path], path, name)
    if path.name == "probe.json":
        return _open_folder(path.parent, name)
    if suffix in (".jsonl", ".ndjson", ".json"):
        return _open_jsonl(path, name)
    raise InputError(
        f"{path}: cannot tell what it holds from the suffix {suffix or '(none)'!r}",
        hint="judge view reads .jsonl, .parquet, a Ray output folder, or an eval/probe report",
    )


def _open_folder(folder: Path, name: str) -> Run:
    reports: dict[str, Any] = {}
    for report, file_name in (("probe", "probe.json"), ("evaluation", "evaluation.json")):
        if (folder / file_name).is_file():
            reports[report] = _read_json(folder / file_name)
    parts = sorted(folder.glob(PARQUET_GLOB))
    if parts:
        run = _open_parquet(parts, folder, name)
    elif (folder / "records.jsonl").is_file():
        run = _open_jsonl(folder / "records.jsonl", name)
        run.path = folder
    elif reports:
        run = Run(folder, name, _index_table([]), _RecordReader())
    else:
        raise InputError(
            f"{folder}: no part-*.parquet, records.jsonl or probe.json in it",
            hint="give a Ray output folder, an eval report folder or a probe report folder",
        )
    run.reports = reports
    return run
