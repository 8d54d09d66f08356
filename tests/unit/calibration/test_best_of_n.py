"""Best-of-N: expected pick accuracy (ties uniform), baselines, Kendall tau, the MATH loader."""

import math

import numpy as np
import pytest

from judge.calibration.best_of_n import best_of_n, kendall_tau_b, majority_accuracy, pick_accuracy
from judge.calibration.data import load_math_verification
from judge.calibration.jsonl import EvalSet
from judge.calibration.records import LabelledSample
from tests.conftest import shared_data_dir


def _group(name, labels, released=None, answers=None):
    return [
        LabelledSample(
            id=f"{name}/{k}",
            prompt=f"{name}?",
            response=f"answer {k}",
            label=label,
            group=name,
            released_score=None if released is None else released[k],
            answer=None if answers is None else answers[k],
        )
        for k, label in enumerate(labels)
    ]


def test_a_pick_is_the_expected_label_of_the_tied_top_scores():
    labels = np.asarray([1.0, 0.0, 0.0, 1.0])
    assert pick_accuracy(np.asarray([0.9, 0.2, 0.1, 0.3]), labels) == 1.0
    assert pick_accuracy(np.asarray([0.2, 0.9, 0.1, 0.3]), labels) == 0.0
    assert pick_accuracy(np.asarray([0.9, 0.9, 0.9, 0.1]), labels) == pytest.approx(1 / 3)
    assert pick_accuracy(np.asarray([np.nan, 0.1, np.nan, np.nan]), labels) == 0.0  # NaN loses
    assert pick_accuracy(np.full(4, np.nan), labels) == 0.5  # nothing judged: a random pick


def test_majority_answer_breaks_ties_between_answers_uniformly():
    labels = np.asarray([1.0, 1.0, 0.0, 0.0, 0.0])
    assert majority_accuracy(["7", "7", "8", "8", "8"], labels) == 0.0
    assert majority_accuracy(["7", "7", "8", "8", "9"], labels) == 0.5
    assert majority_accuracy([None] * 5, labels) is None


def test_kendall_tau_b_on_known_cases():
    assert kendall_tau_b(np.asarray([1, 2, 3, 4]), np.asarray([1, 2, 3, 4])) == 1.0
    assert kendall_tau_b(np.asarray([4, 3, 2, 1]), np.asarray([1, 2, 3, 4])) == -1.0
    # Binary labels: the 2 pairs tied in the label count in one factor only, so tau-b < 1 even
    # for a perfect ranking: 4 concordant, 0 discordant -> 4 / sqrt(4 * 6).
    perfect = kendall_tau_b(np.asarray([0.9, 0.8, 0.1, 0.2]), np.asarray([1, 1, 0, 0]))
    assert perfect == pytest.approx(4 / math.sqrt(24))
    # 3 concordant, 1 discordant (0.1 vs 0.2), 2 label ties -> (3 - 1) / sqrt(4 * 6).
    value = kendall_tau_b(np.asarray([0.9, 0.3, 0.5, 0.2]), np.asarray([1, 1, 0, 0]))
    assert value == pytest.approx(2 / math.sqrt(24))
    # A pair tied in both counts in neither factor: 4 concordant, 1 label tie -> 4 / sqrt(5 * 4).
    both = kendall_tau_b(np.asarray([0.2, 0.9, 0.9, 0.1]), np.asarray([0, 1, 1, 0]))
    assert both == pytest.approx(4 / math.sqrt(20))
    assert math.isnan(kendall_tau_b(np.asarray([0.3, 0.5]), np.asarray([1, 1])))


def test_best_of_n_reports_every_selector_as_expected_values():
    samples = [
        *_group("g1", [True, False, False, False], [0.1, 0.9, 0.2, 0.3], ["4", "5", "5", "6"]),
        *_group("g2", [False, True, True, False], [0.8, 0.7, 0.6, 0.1], ["1", "2", "2", "3"]),
        *_group("g3", [True, True, True, True], [0.5, 0.4, 0.3, 0.2], ["9", "9", "9", "9"]),
    ]
    judge = [0.9, 0.1, 0.2, 0.3, 0.2, 0.9, 0.9, 0.1, 0.5, None, 0.5, 0.4]
    result = best_of_n(samples, judge, n_boot=200)
    by = {r.selector: r.accuracy.value for r in result.selectors}
    assert by["judge"] == pytest.approx((1.0 + 1.0 + 1.0) / 3)
    assert by["random"] == pytest.approx((0.25 + 0.5 + 1.0) / 3)
    assert by["majority answer"] == pytest.approx((0.0 + 1.0 + 1.0) / 3)
    assert by["reward model"] == pytest.approx((0.0 + 0.0 + 1.0) / 3)
    assert by["oracle"] == 1.0
    assert result.groups == 3 and result.mixed_groups == 2 and result.failed == 1
    assert result.judge_minus_random.value == pytest.approx(by["judge"] - by["random"])
    # g1 and g2 rank the correct responses first (tau-b 3/sqrt(18) and 4/sqrt(20)); g3 holds
    # the failed judgment (and one label only) and is left out.
    expected = (3 / math.sqrt(18) + 4 / math.sqrt(20)) / 2
    assert result.kendall_tau.value == pytest.approx(expected) and result.kendall_groups == 2
    assert result.reward_model_tau is not None and result.reward_model_tau.value < 0


def test_mixed_groups_keeps_the_prompts_where_a_pick_matters():
    samples = (*_group("all", [True, True]), *_group("mixed", [True, False]))
    kept = EvalSet(name="s", kind="pointwise", samples=samples).mixed_groups()
    assert [s.group for s in kept.samples] == ["mixed", "mixed"]


def test_math_verification_loads_as_groups_of_eight_with_answers_and_rm_scores():
    root = shared_data_dir()
    if root is None:
        pytest.skip("../shared/data is absent (real evaluation data, not in the repository)")
    samples = load_math_verification(root / "math_verification" / "math_cot_100.jsonl")
    assert len(samples) == 800 and len({s.group for s in samples}) == 100
    assert all(s.answer is not None and s.released_score is not None for s in samples)
    mixed = EvalSet(name="m", kind="pointwise", samples=tuple(samples)).mixed_groups()
    assert len({s.group for s in mixed.samples}) == 10  # the data README: 10 mixed problems
    result = best_of_n(samples, [s.released_score for s in samples], n_boot=0)
    by = {r.selector: r.accuracy.value for r in result.selectors}
    assert by["judge"] == by["reward model"]  # the RM scores used as the judge's
    assert by["oracle"] == 0.96  # 4 problems have no correct solution
