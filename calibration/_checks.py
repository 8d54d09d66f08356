"""Validation of metric inputs: every bad value is an `InputError` naming the row and the field."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from judge.errors import InputError

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def _row(index: int, ids: Sequence[str] | None) -> str:
    return f"row {index} (id {ids[index]!r})" if ids is not None else f"row {index}"


def _as_list(values: Any, field: str) -> list[Any]:
    if isinstance(values, np.ndarray):
        if values.ndim != 1:
            raise InputError(f"{field}: expected a 1-D sequence, got shape {values.shape}")
        return list(values.tolist())
    if isinstance(values, str | bytes) or not hasattr(values, "__len__"):
        raise InputError(f"{field}: expected a sequence of values, got {type(values).__name__}")
    return list(values)


def _numeric(values: Any) -> FloatArray | None:
    """`values` as a float array when it is already a 1-D numeric array (the fast path)."""
    if isinstance(values, np.ndarray) and values.ndim == 1 and values.dtype.kind in "fiu":
        return values.astype(np.float64, copy=False)
    return None


def probabilities(
    values: Any, field: str = "confidence", *, ids: Sequence[str] | None = None
) -> FloatArray:
    """Return `values` as floats in [0, 1]; a missing, NaN or out-of-range value is an error."""
    fast = _numeric(values)
    if fast is not None:
        bad = ~((fast >= 0.0) & (fast <= 1.0))  # NaN fails both comparisons
        if not bad.any():
            return fast
        values = fast[: int(np.argmax(bad)) + 1].tolist()
    items = _as_list(values, field)
    for index, value in enumerate(items):
        if value is None:
            raise InputError(
                f"{_row(index, ids)}: {field} is missing",
                hint=f"every row needs a {field} between 0 and 1",
            )
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise InputError(
                f"{_row(index, ids)}: {field} = {value!r} is not a number",
                hint=f"{field} must be a number between 0 and 1",
            )
        number = float(value)
        if math.isnan(number) or not 0.0 <= number <= 1.0:
            raise InputError(
                f"{_row(index, ids)}: {field} = {value!r} is not a probability in [0, 1]",
                hint="pass probabilities, not raw scores or logits (rescale, or fit a Platt "
                "calibrator on the raw scores)",
            )
    return np.asarray(items, dtype=np.float64)


def finite_scores(
    values: Any, field: str = "score", *, ids: Sequence[str] | None = None
) -> FloatArray:
    """Return `values` as finite floats (any range); missing or NaN is an error."""
    fast = _numeric(values)
    if fast is not None:
        bad = ~np.isfinite(fast)
        if not bad.any():
            return fast
        values = fast[: int(np.argmax(bad)) + 1].tolist()
    items = _as_list(values, field)
    for index, value in enumerate(items):
        if value is None:
            raise InputError(f"{_row(index, ids)}: {field} is missing")
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise InputError(f"{_row(index, ids)}: {field} = {value!r} is not a number")
        if not math.isfinite(float(value)):
            raise InputError(f"{_row(index, ids)}: {field} = {value!r} is not a finite number")
    return np.asarray(items, dtype=np.float64)


def binary(values: Any, field: str = "correct", *, ids: Sequence[str] | None = None) -> BoolArray:
    """Return `values` as booleans; accepts bools and 0/1, rejects anything else or a gap."""
    if isinstance(values, np.ndarray) and values.ndim == 1 and values.dtype == np.bool_:
        return values.astype(np.bool_, copy=False)
    fast = _numeric(values)
    if fast is not None and bool(np.all((fast == 0.0) | (fast == 1.0))):
        return np.asarray(fast == 1.0, dtype=np.bool_)
    items = _as_list(values, field)
    out = np.empty(len(items), dtype=np.bool_)
    for index, value in enumerate(items):
        if value is None:
            raise InputError(
                f"{_row(index, ids)}: {field} is missing",
                hint=f"every row needs a gold {field} (true/false or 1/0)",
            )
        if isinstance(value, bool | np.bool_):
            out[index] = bool(value)
        elif isinstance(value, int | float | np.integer | np.floating) and value in (0, 1):
            out[index] = value == 1
        else:
            raise InputError(
                f"{_row(index, ids)}: {field} = {value!r} is not a binary label",
                hint=f"{field} must be true/false or 1/0",
            )
    return out


def paired(
    confidence: Any, correct: Any, *, ids: Sequence[str] | None = None
) -> tuple[FloatArray, BoolArray]:
    """Validate a (confidence, correct) pair of equal, non-zero length."""
    conf = probabilities(confidence, "confidence", ids=ids)
    hits = binary(correct, "correct", ids=ids)
    if conf.shape != hits.shape:
        raise InputError(
            f"confidence has {conf.size} values but correct has {hits.size}",
            hint="pass one correctness label per confidence",
        )
    nonempty(conf.size, "confidence")
    return conf, hits


def nonempty(size: int, what: str) -> None:
    """Raise when there is nothing to compute a metric on."""
    if size == 0:
        raise InputError(f"{what}: no rows", hint="the input is empty; check the file and filters")
