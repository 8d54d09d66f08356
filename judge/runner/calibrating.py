"""The one place a fitted calibrator is applied to judgments (`Judge` and `calibration.run_eval`).

A calibrator is fitted offline by the `calibration` package; the runner only needs the two
methods of `Calibrating`, so it never imports `calibration`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

from judge.types import ErrorKind, Judgment, PairJudgment

JudgmentT = TypeVar("JudgmentT", Judgment, PairJudgment)


class Calibrating(Protocol):
    """What applying a calibrator needs (`calibration.Calibrator` is one)."""

    def calibrate_judgment(self, judgment: Judgment, *, force: bool = False) -> Judgment:
        """Return the judgment with a calibrated score; refuse another configuration."""
        ...

    def calibrate_pair(self, judgment: PairJudgment, *, force: bool = False) -> PairJudgment:
        """Return the pair judgment with a calibrated P(a); refuse another configuration."""
        ...


def apply_calibrator(
    calibrator: Calibrating | None,
    judgments: Sequence[JudgmentT],
    *,
    force: bool = False,
    abstain_band: float = 0.0,
) -> list[JudgmentT]:
    """The judgments calibrated (pointwise scores or pairwise P(a)); unchanged without one.

    The calibrator refuses judgments of another model, rubric or template unless `force`. With
    an `abstain_band`, a calibrated pointwise score within it of 0.5 becomes an `abstained`
    failure: a calibrated coin flip is no verdict, and the caller's failure policy decides.
    """
    if calibrator is None:
        return list(judgments)
    calibrated: list[JudgmentT] = []
    for judgment in judgments:
        if isinstance(judgment, PairJudgment):
            calibrated.append(calibrator.calibrate_pair(judgment, force=force))
        else:
            done = calibrator.calibrate_judgment(judgment, force=force)
            calibrated.append(abstain(done, abstain_band))
    return calibrated


def abstain(judgment: Judgment, band: float) -> Judgment:
    """`judgment` as an `abstained` failure when its score is within `band` of 0.5."""
    score = judgment.score
    if band <= 0.0 or score is None or abs(score - 0.5) > band:
        return judgment
    return judgment.model_copy(
        update={
            "score": None,
            "confidence": None,
            "error": f"abstained: calibrated score {score:.3f} is within 0.5 +/- {band}",
            "error_kind": ErrorKind.ABSTAINED,
            "details": {**judgment.details, "abstained_score": score},
        }
    )
