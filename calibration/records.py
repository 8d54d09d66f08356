"""The records calibration works on: labelled pointwise and pairwise verdicts, and the judge config.

These are the boundary between loaders (ours, or a JSONL written by any other tool) and the
metrics, recalibrators and bias studies. Frozen pydantic models that reject unknown fields.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from judge.errors import InputError
from judge.types import Judgment, PairJudgment

Side = Literal["a", "b", "tie"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class JudgeFingerprint(_Frozen):
    """What a calibrator was fitted for: the judge model, rubric, template and settings.

    Empty strings mean "unknown" (judgments produced elsewhere); two fingerprints match only when
    all four fields are equal.
    """

    model: str = ""
    rubric_fingerprint: str = ""
    template_fingerprint: str = ""
    settings_fingerprint: str = ""

    @classmethod
    def of(cls, judgment: Judgment | PairJudgment) -> JudgeFingerprint:
        """The configuration that produced one judgment."""
        return cls(
            model=judgment.model,
            rubric_fingerprint=judgment.rubric_fingerprint,
            template_fingerprint=judgment.template_fingerprint,
            settings_fingerprint=judgment.settings_fingerprint,
        )

    @classmethod
    def common(cls, judgments: Iterable[Judgment | PairJudgment]) -> JudgeFingerprint:
        """The one configuration shared by all `judgments`; mixing configurations is an error."""
        found: JudgeFingerprint | None = None
        for index, judgment in enumerate(judgments):
            current = cls.of(judgment)
            if found is None:
                found = current
            elif current != found:
                raise InputError(
                    f"judgment {index} was produced by another configuration than judgment 0: "
                    + "; ".join(found.differences(current)),
                    hint="fit or evaluate one judge configuration at a time",
                )
        if found is None:
            raise InputError("no judgments given")
        return found

    def differences(self, other: JudgeFingerprint) -> list[str]:
        """Human-readable list of the fields that differ, ``field: mine != theirs``."""
        return [
            f"{name}: {getattr(self, name)!r} != {getattr(other, name)!r}"
            for name in type(self).model_fields
            if getattr(self, name) != getattr(other, name)
        ]


class PointRecord(_Frozen):
    """One judged response with a gold binary label (pass/fail, correct/incorrect, ...).

    `p` is the judge's probability that the label is positive (e.g. P(yes) for "is this answer
    correct?", or a pointwise score in [0, 1]). `gold_score` optionally keeps a graded gold score.
    """

    id: str
    p: float = Field(ge=0.0, le=1.0)
    label: bool
    gold_score: float | None = None
    category: str | None = None
    length: int | None = Field(default=None, ge=0)
    model: str | None = None


class PairRecord(_Frozen):
    """One labelled pair, judged in one or both presentation orders.

    `winner_ab` is the verdict with `a` shown first, `winner_ba` the verdict with `b` shown first,
    both named in the pair's own a/b terms (not "first"/"second"). None means no verdict (the
    judge failed or the order was not run). `p_a_ab`/`p_a_ba` are the judge's P(a is better) in
    each order, where the backend gives probabilities. `label` is the gold better response.
    """

    id: str
    label: Side | None = None
    orders: Literal["both", "ab"] = "both"
    winner_ab: Side | None = None
    winner_ba: Side | None = None
    p_a_ab: float | None = Field(default=None, ge=0.0, le=1.0)
    p_a_ba: float | None = Field(default=None, ge=0.0, le=1.0)
    len_a: int | None = Field(default=None, ge=0)
    len_b: int | None = Field(default=None, ge=0)
    model_a: str | None = None
    model_b: str | None = None
    category: str | None = None

    @model_validator(mode="after")
    def _single_order_has_no_ba(self) -> PairRecord:
        if self.orders == "ab" and (self.winner_ba is not None or self.p_a_ba is not None):
            raise ValueError("orders = 'ab' but a verdict for the b-first order is given")
        return self

    def verdict(self, order: Literal["ab", "ba"]) -> Side | None:
        """The verdict in one order: the recorded winner, else read from the probability."""
        winner = self.winner_ab if order == "ab" else self.winner_ba
        if winner is not None:
            return winner
        p = self.p_a_ab if order == "ab" else self.p_a_ba
        if p is None:
            return None
        return "a" if p > 0.5 else "b" if p < 0.5 else "tie"

    @property
    def both_orders(self) -> bool:
        """Whether the judge was run in both presentation orders (a verdict may still be None)."""
        return self.orders == "both"

    def p_a(self) -> float | None:
        """P(a is better) over the orders run: mean probability, else the share of votes for a.

        A tie vote counts one half. None when the judge gave no verdict in any order.
        """
        probs = [p for p in (self.p_a_ab, self.p_a_ba) if p is not None]
        if probs:
            return sum(probs) / len(probs)
        votes = [v for v in (self.verdict("ab"), self.verdict("ba")) if v is not None]
        if not votes:
            return None
        return sum(1.0 if v == "a" else 0.5 if v == "tie" else 0.0 for v in votes) / len(votes)


class LabelledPair(_Frozen):
    """A pairwise meta-evaluation item: a prompt, two responses, and which one is better."""

    id: str
    prompt: str
    response_a: str
    response_b: str
    label: Side
    category: str | None = None
    model_a: str | None = None
    model_b: str | None = None
    reference: str | None = None
    """A reference answer the judge (and the naive baseline) may compare against."""


class LabelledSample(_Frozen):
    """A pointwise meta-evaluation item: a response and whether it is good (gold `label`).

    `released_score` keeps a score that another judge or reward model gave it, where a data set
    ships one (raw, any scale), so released judgments can be evaluated without re-judging.
    """

    id: str
    prompt: str
    response: str
    label: bool
    gold_score: float | None = None
    category: str | None = None
    model: str | None = None
    released_score: float | None = None
    group: str | None = None
    """The prompt this response is one of N answers to (best-of-N data), e.g. ``math/17``."""
    answer: str | None = None
    """The final answer extracted from the response, for the majority-answer baseline."""
    reference: str | None = None
    """A reference answer the judge (and the naive baseline) may compare against."""
