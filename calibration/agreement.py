"""Agreement of categorical verdicts with gold labels: accuracy, macro P/R/F1, Cohen's kappa.

Used where verdicts have more than two outcomes (a/b/tie) and there are no probabilities, e.g. the
released PandaLM judgments.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence

from pydantic import BaseModel, ConfigDict

from judge.errors import InputError


class Agreement(BaseModel):
    """How well `predicted` matches `gold` over a fixed set of classes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n: int
    accuracy: float
    macro_precision: float
    macro_recall: float
    macro_f1: float
    kappa: float
    per_class: dict[str, tuple[float, float, float]]
    """class -> (precision, recall, F1)"""


def _ratio(numerator: float, denominator: float) -> float:
    # A class never predicted (or never present) scores 0, as in the usual macro averages.
    return numerator / denominator if denominator else 0.0


def agreement(
    gold: Sequence[Hashable], predicted: Sequence[Hashable], classes: Sequence[Hashable]
) -> Agreement:
    """Compare categorical verdicts with gold labels over `classes` (macro averages over them).

    Every gold and predicted value must be one of `classes`; map "no verdict" to a class (or
    drop the row) before calling, so that the choice is explicit.
    """
    if len(gold) != len(predicted):
        raise InputError(f"gold has {len(gold)} labels but predicted has {len(predicted)}")
    if not gold:
        raise InputError("agreement: no rows", hint="the input is empty; check the file")
    allowed = set(classes)
    for index, (g, p) in enumerate(zip(gold, predicted, strict=True)):
        for name, value in (("gold", g), ("predicted", p)):
            if value not in allowed:
                raise InputError(
                    f"row {index}: {name} = {value!r} is not one of {sorted(map(str, classes))}"
                )
    pairs = Counter(zip(gold, predicted, strict=True))
    n = len(gold)
    gold_counts = Counter(gold)
    predicted_counts = Counter(predicted)
    per_class: dict[str, tuple[float, float, float]] = {}
    for cls in classes:
        hits = pairs[(cls, cls)]
        precision = _ratio(hits, predicted_counts[cls])
        recall = _ratio(hits, gold_counts[cls])
        f1 = _ratio(2 * precision * recall, precision + recall)
        per_class[str(cls)] = (precision, recall, f1)
    observed = sum(pairs[(cls, cls)] for cls in classes) / n
    expected = sum(gold_counts[cls] * predicted_counts[cls] for cls in classes) / (n * n)
    kappa = (observed - expected) / (1.0 - expected) if expected < 1.0 else 1.0
    k = len(classes)
    return Agreement(
        n=n,
        accuracy=observed,
        macro_precision=sum(v[0] for v in per_class.values()) / k,
        macro_recall=sum(v[1] for v in per_class.values()) / k,
        macro_f1=sum(v[2] for v in per_class.values()) / k,
        kappa=kappa,
        per_class=per_class,
    )
