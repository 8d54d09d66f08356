"""All calibration metrics of one set of verdicts, with bootstrap intervals, as one model."""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from judge.calibration import metrics
from judge.calibration._checks import paired
from judge.calibration.bootstrap import Interval, bootstrap_ci
from judge.errors import InputError

DEFAULT_COVERAGES = (0.5, 0.8, 0.9)
DEFAULT_TAUS = (0.8, 0.9, 0.95)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BinSummary(_Frozen):
    """One reliability-diagram bin (NaN statistics are written as None)."""

    lower: float
    upper: float
    count: int
    mean_confidence: float | None
    accuracy: float | None


class WrongAt(_Frozen):
    """Wrong@tau: of the verdicts at confidence >= tau (`count`, `coverage`), the share wrong."""

    tau: float
    rate: Interval
    count: int
    coverage: float


class CalibrationSummary(_Frozen):
    """Calibration of a judge's confidences against correctness, with 95% bootstrap intervals."""

    n: int
    mean_confidence: float
    accuracy: Interval
    ece: Interval
    ece_mass: Interval
    mce: float
    brier: Interval
    nll: Interval
    auroc: Interval
    aurc: Interval
    selective_accuracy: dict[str, Interval]
    wrong_at: tuple[WrongAt, ...]
    bins: tuple[BinSummary, ...]
    n_bins: int

    @property
    def overconfidence(self) -> float:
        """Mean confidence minus accuracy: positive when the judge claims more than it delivers."""
        assert self.accuracy.value is not None
        return self.mean_confidence - self.accuracy.value


def _none_if_nan(value: float) -> float | None:
    return None if math.isnan(value) else value


def summarize_calibration(
    confidence: Any,
    correct: Any,
    *,
    n_bins: int = 10,
    coverages: Sequence[float] = DEFAULT_COVERAGES,
    taus: Sequence[float] = DEFAULT_TAUS,
    n_boot: int = 1000,
    seed: int = 0,
    ids: Sequence[str] | None = None,
) -> CalibrationSummary:
    """Compute every metric of `calibration.metrics` on one set of (confidence, correct) pairs.

    Intervals come from one seeded paired bootstrap per metric (`n_boot` resamples; 0 for none).
    A metric undefined on the data (AUROC with one class) is recorded with its reason, not raised.
    """
    conf, hits = paired(confidence, correct, ids=ids)

    def interval(statistic: Any) -> Interval:
        return bootstrap_ci(statistic, conf, hits, n_boot=n_boot, seed=seed)

    wrong = []
    for tau in taus:
        confident = conf >= tau
        wrong.append(
            WrongAt(
                tau=tau,
                rate=interval(partial(_wrong_at_or_raise, tau=tau)),
                count=int(confident.sum()),
                coverage=float(confident.mean()),
            )
        )
    bins = metrics.reliability_bins(conf, hits, n_bins=n_bins)
    return CalibrationSummary(
        n=int(conf.size),
        mean_confidence=float(conf.mean()),
        accuracy=interval(lambda c, h: float(np.mean(h))),
        ece=interval(partial(metrics.ece, n_bins=n_bins)),
        ece_mass=interval(partial(metrics.ece, n_bins=n_bins, binning="mass")),
        mce=metrics.mce(conf, hits, n_bins=n_bins),
        brier=interval(metrics.brier),
        nll=interval(metrics.nll),
        auroc=interval(metrics.auroc),
        aurc=interval(metrics.aurc),
        selective_accuracy={f"{c:g}": interval(partial(_selective, coverage=c)) for c in coverages},
        wrong_at=tuple(wrong),
        bins=tuple(
            BinSummary(
                lower=b.lower,
                upper=b.upper,
                count=b.count,
                mean_confidence=_none_if_nan(b.mean_confidence),
                accuracy=_none_if_nan(b.accuracy),
            )
            for b in bins
        ),
        n_bins=n_bins,
    )


def _selective(conf: Any, hits: Any, *, coverage: float) -> float:
    return metrics.selective_accuracy(conf, hits, coverage)


def _wrong_at_or_raise(conf: Any, hits: Any, *, tau: float) -> float:
    value = metrics.wrong_at(conf, hits, tau)
    if math.isnan(value):
        raise InputError(f"no verdict has confidence >= {tau:g}")
    return value
