"""Agreement between two reasoning modes of one judge on the same labelled items.

`judge eval --compare-reasoning` judges a set twice (e.g. reasoning ``none`` and ``before``) so a
user can see what dropping the rationale costs before choosing: each mode's accuracy, and the
share of items on which the two agree in sign, i.e. both put P(positive) (pointwise: the
judgment's score, an aggregate of P(yes); pairwise: P(A better)) on the same side of 1/2.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict

from judge.calibration.evaluate import Evaluation


class ModeAgreement(BaseModel):
    """How two reasoning modes agree on the items both judged."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    modes: tuple[str, str]
    n: int
    """Items with a probability from both modes (failed or tied items are left out)."""
    sign_agreement: float | None
    """Share of the `n` items where P - 1/2 has the same sign in both modes (None if n is 0)."""
    accuracy: tuple[float, float]
    """Each mode's accuracy on its own evaluation, in the order of `modes`."""
    failed: tuple[int, int]

    def summary(self) -> str:
        """One line for the CLI."""
        first, second = self.modes
        share = "n/a" if self.sign_agreement is None else f"{self.sign_agreement:.3f}"
        return (
            f"reasoning {first} vs {second}: sign agreement {share} on {self.n} items; "
            f"accuracy {self.accuracy[0]:.3f} vs {self.accuracy[1]:.3f}"
        )


def _probabilities(evaluation: Evaluation) -> dict[str, float]:
    """P(positive) by item id; items without one are left out."""
    if evaluation.kind == "pointwise":
        return {record.id: record.p for record in evaluation.records}
    found = {}
    for record in evaluation.records:
        p_a = record.p_a()
        if p_a is not None:
            found[record.id] = p_a
    return found


def _side(p: float) -> int:
    return 0 if math.isclose(p, 0.5) else (1 if p > 0.5 else -1)


def mode_agreement(modes: tuple[str, str], first: Evaluation, second: Evaluation) -> ModeAgreement:
    """Sign agreement of P - 1/2 between two evaluations of the same items, and both accuracies.

    An item that either mode left at exactly 1/2 (no lean) or failed is not counted.
    """
    p_first, p_second = _probabilities(first), _probabilities(second)
    common = [
        item
        for item in p_first
        if item in p_second and _side(p_first[item]) and _side(p_second[item])
    ]
    agree = sum(_side(p_first[item]) == _side(p_second[item]) for item in common)
    return ModeAgreement(
        modes=modes,
        n=len(common),
        sign_agreement=agree / len(common) if common else None,
        accuracy=(first.accuracy, second.accuracy),
        failed=(_failed(first), _failed(second)),
    )


def _failed(evaluation: Evaluation) -> int:
    if evaluation.kind == "pointwise":
        return evaluation.failed
    return sum(1 for record in evaluation.records if record.p_a() is None)
