"""Read samples from user files; every bad row becomes an error naming its line and field."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from judge.errors import InputError
from judge.types import Sample


@dataclass(frozen=True)
class Row:
    """One input row: a sample, or the error that stopped it from being one."""

    line: int
    sample: Sample | None = None
    error: InputError | None = None


def describe_validation_error(exc: ValidationError, whole: str = "row") -> str:
    """One line naming each invalid field and what is wrong (`whole`: the name of the record)."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or whole
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "missing"
        elif error["type"] == "extra_forbidden":
            message = "unknown field"
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def sample_from_record(record: Any, *, where: str, default_id: str) -> Sample:
    """Validate one record (a dict with prompt or messages, response, ...) into a Sample."""
    if not isinstance(record, dict):
        raise InputError(f"{where}: expected a JSON object, got {type(record).__name__}")
    data = dict(record)
    data.setdefault("id", default_id)
    if not isinstance(data["id"], str):
        data["id"] = str(data["id"])
    try:
        return Sample.model_validate(data)
    except ValidationError as exc:
        raise InputError(
            f"{where}: {describe_validation_error(exc)}",
            hint="each row needs 'prompt' (or 'messages') and 'response'; optional 'id', "
            "'reference', 'metadata'",
        ) from None


def read_jsonl_samples(path: Path) -> Iterator[Row]:
    """Yield one Row per non-blank line of a JSONL file; bad lines are Rows with an error."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            where = f"{path}:{number}"
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield Row(number, error=InputError(f"{where}: invalid UTF-8 at byte {exc.start}"))
                continue
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as exc:
                yield Row(
                    number,
                    error=InputError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})"),
                )
                continue
            try:
                yield Row(
                    number, sample=sample_from_record(record, where=where, default_id=str(number))
                )
            except InputError as exc:
                yield Row(number, error=exc)
