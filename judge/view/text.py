"""The search text of a run's index: which fields it holds, and how a Parquet run builds it.

A JSONL run builds each row's text in Python as it reads the row (`judge.view.runs.summarise`);
a Parquet run builds the whole column with pyarrow, from the same fields in the same order.
"""

from __future__ import annotations

import json
from typing import Any

TEXT_FIELDS = ("prompt", "messages", "response", "reference", "response_a", "response_b", "chosen")
"""The judged texts the search reads, besides the id, the rationales and the error."""


def plain_text(value: Any) -> str:
    """A field as text: a string as it is, None as empty, anything else as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def column_rationales(table: Any) -> list[str | None]:
    """Each row's rationales joined (None where it has no verdicts), column-wise."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if "verdicts" not in table.column_names:
        return [None] * table.num_rows
    verdicts = table.column("verdicts").combine_chunks()
    rationale = pc.struct_field(verdicts.flatten(), "rationale")
    lists = pa.ListArray.from_arrays(verdicts.offsets, rationale, mask=verdicts.is_null())
    joined = pc.binary_join(lists, "\n")
    counts = pc.fill_null(pc.list_value_length(verdicts), 0)
    found: list[str | None] = pc.if_else(
        pc.greater(counts, 0), pc.fill_null(joined, ""), None
    ).to_pylist()
    return found


def column_text(table: Any) -> Any:
    """The lower-cased search text of every row, built column-wise (as `summarise` builds it)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for name in ("sample_id", "pair_id", "id"):
        if name in table.column_names:
            columns.append(pc.cast(table.column(name), pa.large_string()))
            break
    rationales = column_rationales(table)
    columns.append(pa.array(rationales, pa.large_string()))
    for name in ("error", *TEXT_FIELDS):
        if name in table.column_names:
            column = table.column(name)
            if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
                column = pa.array([plain_text(v) for v in column.to_pylist()], pa.large_string())
            columns.append(pc.cast(column, pa.large_string()))
    if not columns:
        return pa.array([""] * table.num_rows, pa.large_string())
    separator = pa.scalar("\n", pa.large_string())
    joined = pc.binary_join_element_wise(*columns, separator, null_handling="skip")
    return pc.utf8_lower(joined)
