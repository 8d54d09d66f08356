"""Agreement between two reasoning modes (`judge eval --compare-reasoning`)."""

from __future__ import annotations

import pytest

from judge.calibration.evaluate import evaluate_pairwise, evaluate_pointwise
from judge.calibration.modes import mode_agreement
from judge.calibration.records import PairRecord, PointRecord


def points(ps: list[float], labels: list[bool]) -> list[PointRecord]:
    return [
        PointRecord(id=f"i{k}", p=p, label=y)
        for k, (p, y) in enumerate(zip(ps, labels, strict=True))
    ]


def test_sign_agreement_and_both_accuracies():
    labels = [True, True, False, False, True]
    first = evaluate_pointwise(points([0.9, 0.6, 0.2, 0.7, 0.5], labels), n_boot=20)
    second = evaluate_pointwise(points([0.8, 0.4, 0.1, 0.8, 0.9], labels), n_boot=20, failed=1)
    agreement = mode_agreement(("none", "before"), first, second)
    # i4 has no lean in `none` (exactly 1/2): 4 items counted, 3 agree (i1 flips).
    assert agreement.n == 4 and agreement.sign_agreement == pytest.approx(0.75)
    assert agreement.accuracy == (first.accuracy, second.accuracy)
    assert agreement.failed == (0, 1)
    assert "reasoning none vs before: sign agreement 0.750 on 4 items" in agreement.summary()


def test_items_judged_by_one_mode_only_are_not_counted():
    first = evaluate_pointwise(points([0.9, 0.2], [True, False]), n_boot=20)
    second = evaluate_pointwise(
        [PointRecord(id="i0", p=0.1, label=True), PointRecord(id="other", p=0.9, label=True)],
        n_boot=20,
    )
    agreement = mode_agreement(("after", "before"), first, second)
    assert agreement.n == 1 and agreement.sign_agreement == 0.0


def test_pairwise_sets_compare_p_a():
    def records(p_ab: list[float | None]) -> list[PairRecord]:
        return [
            PairRecord(id=f"p{k}", label="a", orders="ab", p_a_ab=p) for k, p in enumerate(p_ab)
        ]

    first = evaluate_pairwise(records([0.7, 0.3, None]), n_boot=20)
    second = evaluate_pairwise(records([0.6, 0.6, 0.8]), n_boot=20)
    agreement = mode_agreement(("none", "before"), first, second)
    assert agreement.n == 2 and agreement.sign_agreement == pytest.approx(0.5)
    assert agreement.failed == (1, 0)
