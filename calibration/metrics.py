"""Calibration and selective-prediction metrics on (confidence, correct) pairs.

`confidence` is the judge's probability that its own verdict is right (for a binary verdict with
probability `p` of the positive class, ``max(p, 1 - p)``); `correct` says whether the verdict
matched the gold label. All functions validate their input and raise `judge.errors.InputError`
naming the offending row. Definitions follow Guo et al. 2017 (ECE/MCE, reliability diagrams) and
Geifman & El-Yaniv 2017 / Geifman et al. 2019 (risk-coverage curve, AURC).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from judge.calibration._checks import (
    BoolArray,
    FloatArray,
    binary,
    finite_scores,
    paired,
    probabilities,
)
from judge.errors import InputError

Binning = Literal["width", "mass"]
"""`width`: equal-width bins on [0, 1]; `mass`: bins holding equal numbers of predictions."""


@dataclass(frozen=True)
class ReliabilityBin:
    """One bin of a reliability diagram."""

    lower: float
    upper: float
    count: int
    mean_confidence: float
    accuracy: float

    @property
    def gap(self) -> float:
        """|accuracy - mean confidence|: the bin's calibration error."""
        return abs(self.accuracy - self.mean_confidence)


@dataclass(frozen=True)
class RiskCoverage:
    """The risk-coverage curve: keep the most confident `coverage` share, make `risk` errors."""

    coverage: FloatArray
    risk: FloatArray


def confidence_and_correct(
    p_positive: Any, label: Any, *, ids: Sequence[str] | None = None
) -> tuple[FloatArray, BoolArray]:
    """Turn probabilities of the positive class and gold labels into (confidence, correct).

    The verdict is positive when ``p >= 0.5`` (an exact 0.5 counts as a positive verdict, so a
    50/50 judge is scored as right about half the time on balanced labels, not always wrong).
    """
    p = probabilities(p_positive, "p", ids=ids)
    y = binary(label, "label", ids=ids)
    if p.shape != y.shape:
        raise InputError(f"p has {p.size} values but label has {y.size}")
    if p.size == 0:
        raise InputError("p: no rows", hint="the input is empty; check the file and filters")
    predicted = p >= 0.5
    return np.maximum(p, 1.0 - p), predicted == y


def accuracy(correct: Any) -> float:
    """Share of correct verdicts."""
    hits = binary(correct, "correct")
    if hits.size == 0:
        raise InputError("correct: no rows", hint="the input is empty; check the file and filters")
    return float(hits.mean())


def _bin_index(conf: FloatArray, n_bins: int, binning: Binning) -> list[npt.NDArray[np.intp]]:
    """Indices of the predictions in each bin (empty bins kept for `width`, dropped for `mass`)."""
    if n_bins < 1:
        raise InputError(f"n_bins = {n_bins} must be at least 1")
    if binning == "width":
        # Bin k is [k/n, (k+1)/n); the last bin is closed so that confidence 1.0 lands in it.
        edges = np.arange(n_bins + 1, dtype=np.float64) / n_bins
        which = np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, n_bins - 1)
        return [np.flatnonzero(which == k) for k in range(n_bins)]
    if binning == "mass":
        order = np.argsort(conf, kind="stable")
        return [chunk for chunk in np.array_split(order, n_bins) if chunk.size]
    raise InputError(f"binning = {binning!r} is not 'width' or 'mass'")


def reliability_bins(
    confidence: Any, correct: Any, *, n_bins: int = 10, binning: Binning = "width"
) -> list[ReliabilityBin]:
    """The reliability diagram: per bin, how many, how confident on average, how accurate.

    Equal-width bins are ``[k/n, (k+1)/n)`` with the last one closed; empty ones are returned
    with ``count == 0`` and NaN statistics. Equal-mass bins split the sorted confidences into
    `n_bins` runs of (nearly) equal size; their bounds are the smallest and largest confidence
    in the run.
    """
    conf, hits = paired(confidence, correct)
    bins = []
    for k, members in enumerate(_bin_index(conf, n_bins, binning)):
        if binning == "width":
            lower, upper = k / n_bins, (k + 1) / n_bins
        else:
            lower, upper = float(conf[members].min()), float(conf[members].max())
        if members.size:
            bins.append(
                ReliabilityBin(
                    lower,
                    upper,
                    int(members.size),
                    float(conf[members].mean()),
                    float(hits[members].mean()),
                )
            )
        else:
            bins.append(ReliabilityBin(lower, upper, 0, math.nan, math.nan))
    return bins


def ece(confidence: Any, correct: Any, *, n_bins: int = 10, binning: Binning = "width") -> float:
    """Expected calibration error: the count-weighted mean of |accuracy - confidence| per bin."""
    bins = reliability_bins(confidence, correct, n_bins=n_bins, binning=binning)
    total = sum(b.count for b in bins)
    return float(sum(b.count * b.gap for b in bins if b.count) / total)


def mce(confidence: Any, correct: Any, *, n_bins: int = 10, binning: Binning = "width") -> float:
    """Maximum calibration error: the largest |accuracy - confidence| over non-empty bins."""
    bins = reliability_bins(confidence, correct, n_bins=n_bins, binning=binning)
    return float(max(b.gap for b in bins if b.count))


def brier(confidence: Any, correct: Any) -> float:
    """Mean squared error of the confidence as a forecast of correctness.

    For a binary verdict this equals the Brier score of ``p`` against the label.
    """
    conf, hits = paired(confidence, correct)
    return float(np.mean((conf - hits) ** 2))


def nll(confidence: Any, correct: Any) -> float:
    """Mean negative log-likelihood of correctness (natural log).

    Confidences are clipped to ``[eps, 1 - eps]`` with the float64 machine epsilon, so a
    confidently wrong verdict costs about 36 nats rather than infinity.
    """
    conf, hits = paired(confidence, correct)
    eps = float(np.finfo(np.float64).eps)
    clipped = np.clip(conf, eps, 1.0 - eps)
    return float(-np.mean(np.where(hits, np.log(clipped), np.log1p(-clipped))))


def auroc(scores: Any, labels: Any) -> float:
    """Area under the ROC curve of `scores` for `labels` (the Mann-Whitney U statistic).

    Tied scores count one half. With one class only the AUROC is undefined and this raises
    `InputError`; `summarize_calibration` records it as missing with that reason instead.
    """
    s = finite_scores(scores, "score")
    y = binary(labels, "label")
    if s.shape != y.shape:
        raise InputError(f"scores has {s.size} values but labels has {y.size}")
    n_pos = int(y.sum())
    n_neg = int(y.size - n_pos)
    if n_pos == 0 or n_neg == 0:
        only = "positive (all correct)" if n_neg == 0 else "negative (all wrong)"
        raise InputError(
            f"AUROC is undefined: all {y.size} labels are {only}",
            hint="AUROC needs at least one positive and one negative example",
        )
    rank_sum = float(average_ranks(s)[y].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def average_ranks(values: FloatArray) -> FloatArray:
    """1-based ranks of `values`, tied values sharing the mean of their ranks."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    starts = np.cumsum(counts) - counts
    return np.asarray((starts + (counts + 1) / 2.0)[inverse], dtype=np.float64)


def spearman(x: Any, y: Any) -> float:
    """Spearman rank correlation (Pearson correlation of average ranks); NaN if one is constant."""
    rx = average_ranks(finite_scores(x, "x"))
    ry = average_ranks(finite_scores(y, "y"))
    if rx.shape != ry.shape:
        raise InputError(f"x has {rx.size} values but y has {ry.size}")
    if rx.size < 2 or rx.std() == 0 or ry.std() == 0:
        return math.nan
    return float(np.corrcoef(rx, ry)[0, 1])


def _expected_errors(conf: FloatArray, hits: BoolArray) -> FloatArray:
    """Expected number of errors among the k most confident, k = 1..n, ties broken at random."""
    order = np.argsort(-conf, kind="stable")
    errors = (~hits[order]).astype(np.float64)
    _, group, sizes = np.unique(-conf[order], return_inverse=True, return_counts=True)
    group_errors = np.bincount(group, weights=errors, minlength=sizes.size)
    errors_before = np.cumsum(group_errors) - group_errors
    starts = np.cumsum(sizes) - sizes
    position_in_group = np.arange(conf.size) - starts[group] + 1
    return np.asarray(
        errors_before[group] + position_in_group * group_errors[group] / sizes[group],
        dtype=np.float64,
    )


def risk_coverage(confidence: Any, correct: Any) -> RiskCoverage:
    """Selective risk at every coverage k/n when keeping the k most confident verdicts.

    Tied confidences are treated as one threshold: within a tie the risk is the expectation
    over random orderings, so the curve does not depend on input order.
    """
    conf, hits = paired(confidence, correct)
    k = np.arange(1, conf.size + 1, dtype=np.float64)
    return RiskCoverage(coverage=k / conf.size, risk=_expected_errors(conf, hits) / k)


def aurc(confidence: Any, correct: Any) -> float:
    """Area under the risk-coverage curve (mean selective risk over k = 1..n); lower is better."""
    return float(risk_coverage(confidence, correct).risk.mean())


def selective_accuracy(confidence: Any, correct: Any, coverage: float) -> float:
    """Accuracy on the most confident `coverage` share of verdicts (at least one verdict)."""
    if not 0.0 < coverage <= 1.0:
        raise InputError(f"coverage = {coverage} must be in (0, 1]")
    curve = risk_coverage(confidence, correct)
    keep = max(1, math.ceil(coverage * curve.risk.size - 1e-9))
    return float(1.0 - curve.risk[keep - 1])


def wrong_at(confidence: Any, correct: Any, tau: float) -> float:
    """Wrong@tau: the share of verdicts with confidence >= tau that are wrong.

    Returns NaN when no verdict reaches tau (there is nothing to be wrong about).
    """
    conf, hits = paired(confidence, correct)
    confident = conf >= tau
    if not confident.any():
        return math.nan
    return float(1.0 - hits[confident].mean())


def coverage_at(confidence: Any, tau: float) -> float:
    """Share of verdicts with confidence >= tau."""
    conf = probabilities(confidence, "confidence")
    if conf.size == 0:
        raise InputError("confidence: no rows")
    return float((conf >= tau).mean())
