"""Validate input rows of a batch job into Samples or Pairs; every problem is a BadRow.

A row is checked for presence, type, UTF-8 and length of each mapped field; a bad row carries a
kind (for the job's summary) and a reason (for its record), and never stops the job.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import ValidationError

from judge.batch.files import RawRow
from judge.errors import describe_validation_error
from judge.inputs import to_messages
from judge.types import Pair, Sample

MAX_CHARS = 200_000
"""Longest text field of a row; longer rows are bad rows (``too_long``)."""


@dataclass(frozen=True)
class FieldMap:
    """Which input columns hold the prompt (text or messages), response, id and reference.

    Set `response_a` and `response_b` (instead of `response`) for pairwise jobs.
    """

    prompt: str = "prompt"
    """Column of the prompt: text, or a list of chat messages."""
    messages: str | None = "messages"
    """Column of chat messages, read when the prompt column is absent."""
    response: str = "response"
    id: str | None = None
    """Column of a unique row id; None numbers the rows (from 1, the line or row number)."""
    id_required: bool = True
    """Whether a row without the id column is bad (else it is numbered)."""
    reference: str | None = "reference"
    response_a: str | None = None
    response_b: str | None = None

    @property
    def pairwise(self) -> bool:
        """Whether rows are pairs of responses to compare."""
        return self.response_a is not None or self.response_b is not None


@dataclass(frozen=True)
class BadRow:
    """Why a row cannot be judged: a kind (for the summary) and a message."""

    kind: str
    reason: str


@dataclass(frozen=True)
class PreparedRow:
    """An input row ready for the judge: its number, id, and a Sample, Pair or BadRow."""

    number: int
    id: str
    item: Sample | Pair | BadRow
    inputs: Mapping[str, Any] = field(default_factory=dict)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _text(record: Mapping[str, Any], name: str, max_chars: int, required: bool) -> str | None:
    """A text field, checked for presence, type, UTF-8 and length; raises BadRow."""
    value = record.get(name)
    if _missing(value):
        if required:
            raise _Bad("missing_field", f"missing field {name!r}")
        return None
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _Bad(
                "invalid_utf8", f"field {name!r}: invalid UTF-8 at byte {exc.start}"
            ) from None
    if isinstance(value, numbers.Number) and not isinstance(value, bool) and not required:
        value = str(value)  # a numeric reference answer ("42") is still an answer
    if not isinstance(value, str):
        raise _Bad("wrong_type", f"field {name!r}: expected text, got {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _Bad(
            "invalid_utf8", f"field {name!r}: invalid UTF-8 at character {exc.start}"
        ) from None
    if len(value) > max_chars:
        raise _Bad("too_long", f"field {name!r}: {len(value)} characters (limit {max_chars})")
    return value


class _Bad(Exception):
    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.row = BadRow(kind, reason)


def _row_id(record: Mapping[str, Any], fields: FieldMap, number: int) -> str:
    if fields.id is None:
        return str(number)
    value = record.get(fields.id)
    if _missing(value) and not fields.id_required:
        return str(number)
    if _missing(value) or isinstance(value, bool) or value == "":
        raise _Bad("missing_field", f"missing id field {fields.id!r}")
    if isinstance(value, numbers.Integral | str):
        return str(value)
    raise _Bad("wrong_type", f"id field {fields.id!r}: expected text or an integer")


def prepare_row(raw: RawRow, fields: FieldMap, max_chars: int) -> PreparedRow:
    """Validate one raw row into a Sample or Pair; every problem becomes a BadRow.

    The row keeps its input columns (`inputs`), which result records carry along.
    """
    return replace(_prepare(raw, fields, max_chars), inputs=raw.record or {})


def _prepare(raw: RawRow, fields: FieldMap, max_chars: int) -> PreparedRow:
    if raw.record is None:
        return PreparedRow(raw.number, f"#{raw.number}", BadRow(raw.error_kind, raw.error or "?"))
    record = raw.record
    try:
        row_id = _row_id(record, fields, raw.number)
    except _Bad as bad:
        return PreparedRow(raw.number, f"#{raw.number}", bad.row)
    try:
        prompt_value = record.get(fields.prompt)
        if _missing(prompt_value) and fields.messages is not None:
            prompt_value = record.get(fields.messages, prompt_value)
        conversation: dict[str, Any]
        if isinstance(prompt_value, list | tuple):
            conversation = {"messages": to_messages(prompt_value, f"field {fields.prompt!r}")}
            if sum(len(m.content) for m in conversation["messages"]) > max_chars:
                raise _Bad("too_long", f"field {fields.prompt!r}: over {max_chars} characters")
        else:
            conversation = {"prompt": _text(record, fields.prompt, max_chars, required=True)}
        reference = None
        if fields.reference is not None:
            reference = _text(record, fields.reference, max_chars, required=False)
        common = {"id": row_id, **conversation, "reference": reference or None}
        item: Sample | Pair
        if fields.pairwise:
            a = _text(record, fields.response_a or "response_a", max_chars, required=True)
            b = _text(record, fields.response_b or "response_b", max_chars, required=True)
            item = Pair(**common, response_a=a, response_b=b)
        else:
            response = _text(record, fields.response, max_chars, required=True)
            item = Sample(**common, response=response)
    except _Bad as bad:
        return PreparedRow(raw.number, row_id, bad.row)
    except ValidationError as exc:
        reason = describe_validation_error(exc)
        return PreparedRow(raw.number, row_id, BadRow("invalid", reason))
    except Exception as exc:  # InputError from a malformed message list
        return PreparedRow(raw.number, row_id, BadRow("invalid", str(exc)))
    return PreparedRow(raw.number, row_id, item)
