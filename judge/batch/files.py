"""Files of batch jobs: rows in (JSONL, Parquet, CSV), results out (JSONL, Parquet), crash-safely.

Results go to an append-only JSONL journal, one line per row, written and fsynced once per batch.
A `kill -9` can only leave a torn last line, which `Journal.load` detects and cuts off; a bad
line anywhere else is corruption and is refused. For a JSONL output the journal is the output;
for Parquet it sits beside it (``out.parquet.journal.jsonl``) and is converted when the job
completes (written to a temporary file and renamed, so a Parquet file is never half-written).
"""

from __future__ import annotations

import codecs
import csv
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from judge.errors import ConfigError, InputError, StorageError
from judge.storage import atomic_path

InputFormat = Literal["jsonl", "parquet", "csv"]
OutputFormat = Literal["jsonl", "parquet"]

_SUFFIXES: dict[str, InputFormat] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
}


@dataclass(frozen=True)
class RawRow:
    """One input row: its number (line for JSONL, data row for CSV/Parquet) and its fields."""

    number: int
    record: Mapping[str, Any] | None = None
    error: str | None = None
    error_kind: str = "unreadable"


def detect_format(path: Path, given: str | None = None) -> InputFormat:
    """The file format from `given` (``--input-format``) or the file's suffix."""
    if given is not None and given not in ("jsonl", "parquet", "csv"):
        raise ConfigError(f"--input-format {given!r}", hint="use jsonl, parquet or csv")
    name = given or _SUFFIXES.get(path.suffix.lower())
    if name not in ("jsonl", "parquet", "csv"):
        raise ConfigError(
            f"cannot tell the format of {path} from its suffix {path.suffix or '(none)'!r}",
            hint="name it .jsonl, .parquet or .csv, or pass --input-format jsonl|parquet|csv",
        )
    return name  # type: ignore[return-value]


OUTPUT_SUFFIXES: dict[str, OutputFormat] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
"""Output suffixes and the format each means; any other suffix is refused, not guessed."""


def output_format_of(path: Path, allowed: Sequence[OutputFormat] = ("jsonl", "parquet")) -> str:
    """The format an output's suffix names, refusing one that names none of `allowed`.

    A ``.txt`` or ``.csv`` (or ``.json``, which readers take for one JSON document) written as
    JSON lines would be misread by whoever opens it, and the next run would read it back; so
    the suffix must say what is inside.
    """
    fmt = OUTPUT_SUFFIXES.get(path.suffix.lower())
    if fmt not in allowed:
        names = " or ".join(s for s, f in OUTPUT_SUFFIXES.items() if f in allowed)
        kinds = " or ".join({"jsonl": "JSON lines", "parquet": "Parquet"}[f] for f in allowed)
        raise ConfigError(
            f"output {path}: the suffix {path.suffix or '(none)'!r} names no output format",
            hint=f"name it {names} ({kinds})",
        )
    return fmt  # type: ignore[return-value]


def read_rows(path: Path, fmt: InputFormat) -> Iterator[RawRow]:
    """Yield the rows of a file; rows that cannot be read carry an error, not an exception."""
    if not path.is_file():
        raise InputError(f"cannot read {path}: no such file")
    if fmt == "jsonl":
        yield from _jsonl_rows(path)
    elif fmt == "csv":
        yield from _csv_rows(path)
    else:
        yield from _parquet_rows(path)


def count_rows(path: Path, fmt: InputFormat, shard: tuple[int, int] = (0, 1)) -> int:
    """How many rows of shard ``i/n`` `read_rows` yields, without parsing JSON rows."""
    index, count = shard
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return len(range(index, int(pq.ParquetFile(path).metadata.num_rows), count))
    if fmt == "csv":
        return sum((row.number - 1) % count == index for row in _csv_rows(path))
    total = 0
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if number == 1:
                line = line.removeprefix(codecs.BOM_UTF8)
            total += bool(line.strip()) and (number - 1) % count == index
    return total


def columns_seen(path: Path, fmt: InputFormat, wanted: Sequence[set[str]]) -> list[str]:
    """The column names of a file, in order of first appearance.

    CSV and Parquet name their columns once (the header, the schema). JSONL rows each name
    their own, so rows are read until every set in `wanted` has a member (at once, in the
    usual file) or the file ends (only when a column is missing from every row).
    """
    if fmt == "parquet":
        return parquet_columns(path)
    if fmt == "csv":
        with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
            return list(csv.DictReader(handle).fieldnames or [])
    seen: dict[str, None] = {}
    for row in _jsonl_rows(path):
        if row.record is not None:
            seen.update(dict.fromkeys(row.record))
            if all(names & seen.keys() for names in wanted):
                break
    return list(seen)


def _jsonl_rows(path: Path) -> Iterator[RawRow]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number == 1:
                raw = raw.removeprefix(codecs.BOM_UTF8)
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield RawRow(
                    number, error=f"invalid UTF-8 at byte {exc.start}", error_kind="invalid_utf8"
                )
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as exc:
                yield RawRow(number, error=f"not valid JSON ({exc.msg} at column {exc.colno})")
                continue
            if not isinstance(record, dict):
                yield RawRow(number, error=f"expected a JSON object, got {type(record).__name__}")
                continue
            yield RawRow(number, record=record)


def _csv_rows(path: Path) -> Iterator[RawRow]:
    # surrogateescape keeps invalid bytes as lone surrogates, so one bad field fails one row;
    # utf-8-sig drops the byte-order mark that spreadsheet programs write.
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        for number, record in enumerate(csv.DictReader(handle), start=1):
            if None in record:
                yield RawRow(number, error="more values than header columns")
                continue
            yield RawRow(number, record=record)


def _parquet_rows(path: Path) -> Iterator[RawRow]:
    import pyarrow.parquet as pq

    number = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=1024):
        for record in batch.to_pylist():
            number += 1
            yield RawRow(number, record=record)


class Journal:
    """An append-only JSONL file of result records, safe against being killed at any moment."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> list[dict[str, Any]]:
        """Read the complete records; cut off a torn last line (from a kill mid-write)."""
        if not self.path.exists():
            return []
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            with self.path.open("r+b") as handle:
                handle.truncate(end)
                handle.flush()
                os.fsync(handle.fileno())
        records = []
        for number, line in enumerate(data[:end].splitlines(), start=1):
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise InputError(
                    f"{self.path}:{number}: not a result record (the file is corrupt, or not "
                    "the output of a judge batch job)",
                    hint="use another output path, or --force to overwrite it",
                ) from None
            if not isinstance(record, dict) or "row" not in record or "id" not in record:
                raise InputError(
                    f"{self.path}:{number}: not a result record of a judge batch job",
                    hint="use another output path, or --force to overwrite it",
                )
            records.append(record)
        return records

    def append(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Append records as lines in one write, then flush and fsync.

        A write that fails (full disk, I/O error) is undone: the file is cut back to its size
        before, so it holds whole batches only, and `StorageError` is raised.
        """
        if not records:
            return
        payload = "".join(
            json.dumps(r, ensure_ascii=False, allow_nan=False) + "\n" for r in records
        )
        append_durably(self.path, payload.encode("utf-8"))

    def keep_first(self) -> list[dict[str, Any]]:
        """Rewrite the journal with the first record of each (row, id), atomically; return it."""
        records = self.load()
        seen: set[tuple[Any, Any]] = set()
        kept = []
        for record in records:
            key = (record["row"], record["id"])
            if key not in seen:
                seen.add(key)
                kept.append(record)
        if len(kept) == len(records):
            return records
        with atomic_path(self.path) as temporary:
            Journal(temporary).append(kept)
        return kept

    def remove(self) -> None:
        """Delete the journal file if it exists."""
        self.path.unlink(missing_ok=True)


def append_durably(path: Path, payload: bytes) -> None:
    """Append `payload` to `path` and fsync; on failure cut the file back and raise StorageError.

    Cutting back needs no free space, so after a full disk the file ends where the last
    successful append ended: every line in it is whole, and a rerun resumes from there.
    """
    size = path.stat().st_size if path.exists() else 0
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StorageError.writing(path, exc) from exc
    try:
        write_all(fd, payload)
        os.fsync(fd)
    except OSError as exc:
        cut_back(fd, size)
        raise StorageError.writing(path, exc) from exc
    finally:
        os.close(fd)


def write_all(fd: int, payload: bytes) -> None:
    """Write every byte of `payload` (unbuffered, so a failed write is never retried later)."""
    view = memoryview(payload)
    while view:
        view = view[os.write(fd, view) :]


def cut_back(fd: int, size: int) -> None:
    """Truncate the open file to `size` bytes, as far as a failing file system allows."""
    try:
        os.ftruncate(fd, size)
        os.lseek(fd, size, os.SEEK_SET)
        os.fsync(fd)
    except OSError:
        pass  # a torn last line is still cut off by the next `Journal.load`


# Parquet column types of the record fields; any other field is stored as a JSON string.
def _parquet_types() -> dict[str, Any]:
    import pyarrow as pa

    verdict = pa.struct(
        [
            ("criterion_id", pa.string()),
            ("verdict", pa.string()),
            ("p_yes", pa.float64()),
            ("rationale", pa.string()),
            ("error", pa.string()),
            ("error_kind", pa.string()),
        ]
    )
    usage = pa.struct(
        [
            ("prompt_tokens", pa.int64()),
            ("completion_tokens", pa.int64()),
            ("cached_tokens", pa.int64()),
        ]
    )
    floats = ("score", "confidence", "p_a", "p_a_ab", "p_a_ba", "margin")
    return {
        "row": pa.int64(),
        "verdicts": pa.list_(verdict),
        "capped_by": pa.list_(pa.string()),
        "usage": usage,
        "consistent": pa.bool_(),
        **{name: pa.float64() for name in floats},
    }


def parquet_schema(columns: Sequence[str]) -> Any:
    """A pyarrow schema for record columns: typed where known, else strings (JSON for objects)."""
    import pyarrow as pa

    types = _parquet_types()
    return pa.schema([(name, types.get(name, pa.string())) for name in columns])


def _to_parquet_value(name: str, value: Any, typed: set[str]) -> Any:
    if name in typed or value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def records_table(columns: Sequence[str], records: Sequence[Mapping[str, Any]]) -> Any:
    """Records as a pyarrow Table of the Parquet record schema (the writer's own conversion)."""
    import pyarrow as pa

    typed = set(_parquet_types())
    rows = [{c: _to_parquet_value(c, record.get(c), typed) for c in columns} for record in records]
    return pa.Table.from_pylist(rows, schema=parquet_schema(columns))


def write_parquet(
    target: Path,
    columns: Sequence[str],
    existing: Path | None,
    records: Iterator[Mapping[str, Any]],
) -> int:
    """Write `existing` Parquet rows then `records` to `target` atomically; return the row count.

    A failed write (full disk) removes the temporary file and raises `StorageError`; `target`
    and the journal it is made from stay as they were.
    """
    schema = parquet_schema(columns)
    try:
        with atomic_path(target) as temporary:
            written = _write_parquet(temporary, schema, existing, records, columns)
    except OSError as exc:  # pyarrow's I/O errors are OSErrors too
        raise StorageError.writing(target, exc) from exc
    return written


def _write_parquet(
    temporary: Path,
    schema: Any,
    existing: Path | None,
    records: Iterator[Mapping[str, Any]],
    columns: Sequence[str],
) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    typed = set(_parquet_types())
    written = 0
    with pq.ParquetWriter(temporary, schema) as writer:
        if existing is not None:
            for batch in pq.ParquetFile(existing).iter_batches(batch_size=4096):
                writer.write_table(pa.Table.from_batches([batch]).select(columns).cast(schema))
                written += batch.num_rows
        chunk: list[dict[str, Any]] = []
        for record in records:
            chunk.append({c: _to_parquet_value(c, record.get(c), typed) for c in columns})
            if len(chunk) >= 4096:
                writer.write_table(pa.Table.from_pylist(chunk, schema=schema))
                written += len(chunk)
                chunk = []
        if chunk:
            writer.write_table(pa.Table.from_pylist(chunk, schema=schema))
            written += len(chunk)
    return written


def parquet_columns(path: Path) -> list[str]:
    """The column names of a Parquet file, from its footer."""
    import pyarrow.parquet as pq

    return list(pq.ParquetFile(path).schema_arrow.names)


def parquet_keys(path: Path) -> list[tuple[int, str, str, str]]:
    """(row, id, job fingerprint, settings fingerprint) of every record of a Parquet output."""
    import pyarrow.parquet as pq

    names = ["row", "id", "job_fingerprint", "settings_fingerprint"]
    table = pq.read_table(path, columns=names)
    return list(zip(*(table.column(name).to_pylist() for name in names), strict=True))
