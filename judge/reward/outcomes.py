"""What a reward call returns: one outcome per item (reward, judge score, failure) and the batch.

A failed item carries its error and kind beside a reward set by the caller's `on_error` policy,
so a failure is never silently a number.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Literal

from judge.types import Judgment, PairJudgment

OnError = Literal["none", "raise"] | float
JudgeResult = Judgment | PairJudgment


@dataclass(frozen=True)
class RewardOutcome:
    """The reward of one item, the judge score behind it, and why it failed if it did."""

    reward: float | None
    score: float | None = None
    error: str | None = None
    error_kind: str | None = None
    """An `ErrorKind` value; ``judge_<kind>`` for the judge's own failures, ``backend`` when the
    whole judge call raised."""
    judgment: JudgeResult | None = None
    failed_hard_rules: tuple[str, ...] = ()


@dataclass(frozen=True)
class RewardBatch:
    """The outcomes of one reward call, in input order, with the breakdown used for logging."""

    outcomes: tuple[RewardOutcome, ...]

    @property
    def rewards(self) -> list[float | None]:
        """One reward per item (the failure value where the item failed)."""
        return [outcome.reward for outcome in self.outcomes]

    @property
    def scores(self) -> list[float | None]:
        """One judge score in [0, 1] per item, None where it failed."""
        return [outcome.score for outcome in self.outcomes]

    def failures(self) -> dict[str, int]:
        """How many items failed, by kind."""
        return dict(Counter(o.error_kind for o in self.outcomes if o.error_kind is not None))

    def criterion_means(self) -> dict[str, float]:
        """Mean P(yes) per criterion over the judged items (0/1 verdicts where P is unknown)."""
        values: dict[str, list[float]] = {}
        for outcome in self.outcomes:
            if not isinstance(outcome.judgment, Judgment) or outcome.error is not None:
                continue
            for verdict in outcome.judgment.verdicts:
                if verdict.p_yes is not None:
                    values.setdefault(verdict.criterion_id, []).append(verdict.p_yes)
                elif verdict.verdict is not None:
                    values.setdefault(verdict.criterion_id, []).append(
                        float(verdict.verdict == "yes")
                    )
        return {criterion: sum(v) / len(v) for criterion, v in values.items()}


__all__ = ["JudgeResult", "OnError", "RewardBatch", "RewardOutcome"]
