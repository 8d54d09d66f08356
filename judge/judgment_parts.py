"""The typed parts of a `Judgment`: how `auto` routed, self-consistency, a Likert rating.

Floor 1 beside `judge.types`, which re-exports them (`from judge.types import RouteChoice`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RouteChoice(_Frozen):
    """How the `auto` strategy routed a sample (`Judgment.route`)."""

    route: Literal["objective", "subjective"]
    p_route: float | None = None
    """P(route) from the token probabilities; None when the backend gives none."""
    source: Literal["rubric", "model", "fallback"]
    """The rubric's task type, the judge's answer, or the fallback when routing failed."""
    probabilities: dict[str, float] | None = None
    note: str | None = None


class Agreement(_Frozen):
    """Self-consistency of K draws per criterion (`Judgment.consistency`)."""

    samples: int
    agreement: float
    """Weighted mean over the criteria of the share of draws that agree with the verdict."""
    by_criterion: dict[str, float] = Field(default_factory=dict)
    sample_scores: tuple[float | None, ...] = ()
    """The score of each draw alone (None where a draw failed)."""


class LikertRating(_Frozen):
    """A 1-N rating read from the score tokens (`Judgment.likert`, G-Eval's expected value)."""

    scale: int
    scores: tuple[int, ...] = ()
    probabilities: dict[str, float] | None = None
    expected: float | None = None
    normalised: float | None = None
    """`expected` mapped to [0, 1]."""
    rationale: str = ""
    error: str | None = None
