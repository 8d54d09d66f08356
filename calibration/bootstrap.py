"""Seeded percentile-bootstrap confidence intervals for any statistic of paired arrays."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from judge.errors import InputError


class Interval(BaseModel):
    """A point estimate with a bootstrap interval.

    `value` is None (and `note` says why) when the statistic is undefined on the data, e.g. an
    AUROC when every verdict is correct.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: float | None
    low: float | None = None
    high: float | None = None
    level: float = 0.95
    n_boot: int = 0
    n_valid: int = 0
    note: str | None = None

    def format(self, scale: float = 1.0, digits: int = 3) -> str:
        """Render as ``value [low, high]`` (times `scale`), or the reason it is missing."""
        if self.value is None:
            return f"n/a ({self.note})" if self.note else "n/a"
        text = f"{self.value * scale:.{digits}f}"
        if self.low is not None and self.high is not None:
            text += f" [{self.low * scale:.{digits}f}, {self.high * scale:.{digits}f}]"
        return text


def bootstrap_ci(
    statistic: Callable[..., float],
    *arrays: Any,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Estimate ``statistic(*arrays)`` and a percentile interval from rows resampled together.

    The arrays are resampled by the same row indices (a paired bootstrap). Resamples on which the
    statistic is undefined (it raises `InputError` or returns NaN) are skipped and counted out
    of `n_valid`; the same `seed` gives the same interval. With ``n_boot == 0`` only the point
    estimate is returned. If the statistic is undefined on the full data, `value` is None and
    `note` carries the reason.
    """
    if not 0.0 < level < 1.0:
        raise InputError(f"level = {level} must be between 0 and 1")
    if n_boot < 0:
        raise InputError(f"n_boot = {n_boot} must be >= 0")
    columns = [np.asarray(array) for array in arrays]
    if not columns:
        raise InputError("bootstrap_ci needs at least one array")
    size = columns[0].shape[0]
    if any(column.shape[0] != size for column in columns):
        raise InputError(
            "bootstrap_ci: arrays differ in length: "
            + ", ".join(str(column.shape[0]) for column in columns)
        )
    try:
        estimate = float(statistic(*columns))
    except InputError as exc:
        return Interval(value=None, level=level, note=exc.message)
    if math.isnan(estimate):
        return Interval(value=None, level=level, note="undefined on this data")
    if n_boot == 0 or size == 0:
        return Interval(value=estimate, level=level)
    rng = np.random.default_rng(seed)

    def resample() -> float:
        rows = rng.integers(0, size, size=size)
        return float(statistic(*(column[rows] for column in columns)))

    return _percentile_interval(estimate, resample, n_boot=n_boot, level=level)


def bootstrap_difference(
    statistic: Callable[..., float],
    baseline: tuple[Any, ...],
    current: tuple[Any, ...],
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> Interval:
    """``statistic(*current) - statistic(*baseline)`` with a percentile interval, unpaired.

    For two runs on different items: each side's rows are resampled on their own (the arrays
    within a side together). Paired runs (the same items) use `bootstrap_ci` on the difference
    instead, which gives a narrower interval.
    """
    old = [np.asarray(array) for array in baseline]
    new = [np.asarray(array) for array in current]
    if not old or not new:
        raise InputError("bootstrap_difference needs arrays on both sides")

    def difference(old_rows: Any, new_rows: Any) -> float:
        return float(
            statistic(*(c[new_rows] for c in new)) - statistic(*(c[old_rows] for c in old))
        )

    n_old, n_new = old[0].shape[0], new[0].shape[0]
    try:
        estimate = difference(np.arange(n_old), np.arange(n_new))
    except InputError as exc:
        return Interval(value=None, level=level, note=exc.message)
    if math.isnan(estimate) or n_boot == 0 or n_old == 0 or n_new == 0:
        return Interval(value=None if math.isnan(estimate) else estimate, level=level)
    rng = np.random.default_rng(seed)

    def resample() -> float:
        return difference(rng.integers(0, n_old, n_old), rng.integers(0, n_new, n_new))

    return _percentile_interval(estimate, resample, n_boot=n_boot, level=level)


def _percentile_interval(
    estimate: float, resample: Callable[[], float], *, n_boot: int, level: float
) -> Interval:
    """The percentile interval of `n_boot` draws of `resample` around `estimate`.

    A draw whose statistic is undefined (InputError or NaN) is skipped and counted out of
    `n_valid`; with no valid draw the interval has no bounds.
    """
    draws: list[float] = []
    for _ in range(n_boot):
        try:
            value = resample()
        except InputError:
            continue
        if not math.isnan(value):
            draws.append(value)
    if not draws:
        return Interval(value=estimate, level=level, n_boot=n_boot, n_valid=0)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(np.asarray(draws), [tail, 1.0 - tail])
    return Interval(
        value=estimate,
        low=float(low),
        high=float(high),
        level=level,
        n_boot=n_boot,
        n_valid=len(draws),
    )
