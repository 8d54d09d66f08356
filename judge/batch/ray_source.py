"""Input files as a Ray Dataset whose rows keep their place in the source (for the Ray engine).

Rows are read by the batch package's own reader (`judge.batch.files.read_rows`), so a row's
number is the one `judge batch` gives it (the line of a JSONL file, the data row of a CSV or
Parquet file), its id is that number (``"name:number"`` when several files are read), and an
unreadable line becomes a bad row instead of failing a read task. Numbering happens where the
file is read, never per batch, so ids are the same on every run and every cluster layout.

A row travels as JSON text (``_record``): JSONL rows need not share a schema, and Arrow could
not put a column that is text in one row and an object in another into one block. The scoring
actors decode it (`decode_rows`). Rows already written by an earlier run are skipped here, at
read time, so a resumed job neither reads them into the object store nor judges them again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from judge.batch.files import InputFormat, RawRow, detect_format, read_rows
from judge.errors import InputError

ROW, ID, RECORD, ERROR, ERROR_KIND = "_row", "_id", "_record", "_error", "_error_kind"
SOURCE_COLUMNS = (ROW, ID, RECORD, ERROR, ERROR_KIND)
"""The columns of a `read_source` dataset (the input's own columns are inside ``_record``)."""


def _json_default(value: Any) -> Any:
    """JSON for the odd values a Parquet file may hold (bytes, dates, decimals)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def source_names(paths: Sequence[Path]) -> list[str | None]:
    """The name that prefixes row ids: none for one file, else the file name (or path if taken)."""
    if len(paths) == 1:
        return [None]
    names = [path.name for path in paths]
    unique = len(set(names)) == len(names)
    return [name if unique else str(path) for name, path in zip(names, paths, strict=True)]


def row_id(name: str | None, number: int) -> str:
    """The id of a row without an id column: its number in the source (and the source's name)."""
    return str(number) if name is None else f"{name}:{number}"


@dataclass(frozen=True)
class SourceFile:
    """One file to read: its path, format, id prefix and the row numbers to skip."""

    path: str
    fmt: InputFormat
    name: str | None = None
    skip: frozenset[int] = field(default_factory=frozenset)

    def blocks(self, block_rows: int) -> Iterator[Any]:
        """Read the file into Arrow tables of at most `block_rows` rows (one read task)."""
        import pyarrow as pa

        pending: list[RawRow] = []
        for raw in read_rows(Path(self.path), self.fmt):
            if raw.number in self.skip:
                continue
            pending.append(raw)
            if len(pending) >= block_rows:
                yield pa.table(self._columns(pending))
                pending = []
        if pending:
            yield pa.table(self._columns(pending))

    def _columns(self, rows: Sequence[RawRow]) -> dict[str, list[Any]]:
        return {
            ROW: [raw.number for raw in rows],
            ID: [row_id(self.name, raw.number) for raw in rows],
            RECORD: [
                None
                if raw.record is None
                else json.dumps(raw.record, ensure_ascii=False, default=_json_default)
                for raw in rows
            ],
            ERROR: [raw.error for raw in rows],
            ERROR_KIND: [None if raw.record is not None else raw.error_kind for raw in rows],
        }


def read_source(
    paths: Path | str | Sequence[Path | str],
    *,
    input_format: str | None = None,
    skip: Mapping[int, frozenset[int]] | None = None,
    block_rows: int = 256,
) -> Any:
    """A ``ray.data.Dataset`` of the rows of input files, numbered where they are read.

    One read task per file; `skip` maps a file's index to the row numbers not to read again.
    """
    from judge.batch.ray_runtime import ray_module

    ray = ray_module()
    given = [paths] if isinstance(paths, Path | str) else list(paths)
    files = [Path(path) for path in given]
    for path in files:
        if not path.is_file():
            raise InputError(f"input {path} is not a file", hint="check the path")
    names = source_names(files)
    sources = [
        SourceFile(
            str(path.resolve()),
            detect_format(path, input_format),
            name,
            (skip or {}).get(index, frozenset()),
        )
        for index, (path, name) in enumerate(zip(files, names, strict=True))
    ]
    datasource = _datasource_class(ray)(sources, block_rows)
    # Reading is light next to judging: a read task takes no CPU slot, so an actor pool that
    # holds every CPU of the cluster cannot starve its own input (a hang on a 2-CPU machine).
    return ray.data.read_datasource(datasource, num_cpus=0)


def _datasource_class(ray: Any) -> Any:
    """Ray's Datasource subclass, defined on first use so that `import judge` never imports ray."""
    from ray.data.block import BlockMetadata
    from ray.data.datasource import Datasource, ReadTask

    class JudgeRowsDatasource(Datasource):
        def __init__(self, sources: Sequence[SourceFile], block_rows: int) -> None:
            super().__init__()  # type: ignore[no-untyped-call]
            self.sources = list(sources)
            self.block_rows = block_rows

        def estimate_inmemory_data_size(self) -> int | None:
            return sum(Path(source.path).stat().st_size for source in self.sources)

        def get_read_tasks(self, parallelism: int, *args: Any, **kwargs: Any) -> list[Any]:
            tasks = []
            for source in self.sources:
                metadata = BlockMetadata(
                    num_rows=None,
                    size_bytes=Path(source.path).stat().st_size,
                    input_files=(source.path,),
                    exec_stats=None,
                )

                def read(source: SourceFile = source) -> Iterator[Any]:
                    return source.blocks(self.block_rows)

                tasks.append(ReadTask(read, metadata))
            return tasks

    return JudgeRowsDatasource


@dataclass(frozen=True)
class SourceRow:
    """A row as the scoring actor sees it: its place in the source, its id and its fields."""

    raw: RawRow
    id: str | None


def decode_rows(rows: Sequence[Mapping[str, Any]]) -> list[SourceRow]:
    """Rows of a `read_source` dataset (``_record`` JSON text) or of any dataset with columns.

    A row of another dataset is its own record, minus the ``_row`` and ``_id`` columns that
    carry its place in the source.
    """
    decoded = []
    for row in rows:
        number = int(row[ROW]) if row.get(ROW) is not None else 0
        given_id = row.get(ID)
        if RECORD in row:
            text = row[RECORD]
            raw = (
                RawRow(number, record=json.loads(text))
                if text is not None
                else RawRow(number, error=row.get(ERROR), error_kind=row.get(ERROR_KIND) or "")
            )
        else:
            raw = RawRow(number, record={k: v for k, v in row.items() if k not in (ROW, ID)})
        decoded.append(SourceRow(raw, None if given_id is None else str(given_id)))
    return decoded
