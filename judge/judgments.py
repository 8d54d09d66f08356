"""What the judge concludes: a verdict per criterion, a judgment per sample, one per pair.

`judge.types` re-exports these names (``from judge.types import Judgment``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from judge.generations import Usage
from judge.judgment_parts import Agreement, LikertRating, RouteChoice
from judge.values import ErrorKind, MayFail


class CriterionVerdict(MayFail):
    """The judge's reading of one criterion on one response."""

    criterion_id: str
    verdict: Literal["yes", "no"] | None = None
    p_yes: float | None = Field(default=None, ge=0.0, le=1.0)
    rationale: str = ""
    error: str | None = None
    error_kind: ErrorKind | None = None


class Judgment(MayFail):
    """The result of judging one sample. A failure is a value: `error` is set, `score` is None."""

    sample_id: str
    score: float | None = Field(default=None, ge=0.0, le=1.0)
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    verdicts: tuple[CriterionVerdict, ...] = ()
    model: str = ""
    rubric: str = ""
    rubric_fingerprint: str = ""
    template_fingerprint: str = ""
    settings_fingerprint: str = ""
    strategy: str = "breadth"
    mode: Literal["pointwise", "pairwise"] = "pointwise"
    capped_by: tuple[str, ...] = ()
    usage: Usage = Usage()
    error: str | None = None
    error_kind: ErrorKind | None = None
    route: RouteChoice | None = None
    consistency: Agreement | None = None
    likert: LikertRating | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class PairJudgment(MayFail):
    """The result of comparing two responses in both orders."""

    pair_id: str
    p_a: float | None = Field(default=None, ge=0.0, le=1.0)
    winner: Literal["a", "b", "tie"] | None = None
    consistent: bool | None = None
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    p_a_ab: float | None = None
    p_a_ba: float | None = None
    winner_ab: Literal["a", "b", "tie"] | None = None
    """The winner with A shown first (direct comparison)."""
    winner_ba: Literal["a", "b", "tie"] | None = None
    """The winner with B shown first (direct comparison)."""
    margin: float | None = None
    """The rubric margin of A over B (rubric comparison), in [-1, 1]."""
    model: str = ""
    rubric_fingerprint: str = ""
    template_fingerprint: str = ""
    settings_fingerprint: str = ""
    strategy: str = "direct"
    usage: Usage = Usage()
    error: str | None = None
    error_kind: ErrorKind | None = None
    details: dict[str, Any] = Field(default_factory=dict)
