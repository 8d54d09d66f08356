"""Calibration metrics: hand-computed cases, scikit-learn where it overlaps, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from judge.calibration import metrics
from judge.calibration.agreement import agreement
from judge.calibration.bootstrap import bootstrap_ci
from judge.calibration.summary import summarize_calibration
from judge.errors import InputError

# Hand-computed: bin 9 holds {0.95, 0.95} with 1 of 2 right (gap 0.45), bin 6 holds four 0.65s
# with 3 of 4 right (gap 0.10): ECE = (2 * 0.45 + 4 * 0.10) / 6, MCE = 0.45.
CONF = [0.95, 0.95, 0.65, 0.65, 0.65, 0.65]
HITS = [1, 0, 1, 1, 1, 0]


def test_ece_and_mce_by_hand():
    assert metrics.ece(CONF, HITS) == pytest.approx((2 * 0.45 + 4 * 0.10) / 6)
    assert metrics.mce(CONF, HITS) == pytest.approx(0.45)
    bins = metrics.reliability_bins(CONF, HITS)
    assert [b.count for b in bins] == [0, 0, 0, 0, 0, 0, 4, 0, 0, 2]
    assert bins[6].accuracy == pytest.approx(0.75) and bins[9].mean_confidence == pytest.approx(
        0.95
    )
    assert math.isnan(bins[0].accuracy)


def test_equal_width_bins_are_left_closed_and_the_last_bin_includes_one():
    bins = metrics.reliability_bins([0.3, 1.0, 0.0, 0.9999], [1, 1, 0, 1])
    assert bins[3].count == 1  # 0.3 opens bin [0.3, 0.4), it does not close bin [0.2, 0.3)
    assert bins[9].count == 2  # 1.0 lands in the last bin [0.9, 1.0]
    assert bins[0].count == 1
    assert metrics.ece([1.0, 0.9], [1, 1]) == pytest.approx(0.05)


def test_equal_mass_bins_by_hand():
    # Two bins of two: {0.1, 0.2} conf 0.15 acc 0 and {0.3, 0.4} conf 0.35 acc 1.
    conf, hits = [0.4, 0.1, 0.3, 0.2], [1, 0, 1, 0]
    assert metrics.ece(conf, hits, n_bins=2, binning="mass") == pytest.approx((0.15 + 0.65) / 2)
    bins = metrics.reliability_bins(conf, hits, n_bins=2, binning="mass")
    assert [(b.lower, b.upper, b.count) for b in bins] == [(0.1, 0.2, 2), (0.3, 0.4, 2)]


def test_perfect_and_worst_case_confidences():
    assert metrics.ece([1.0, 1.0, 1.0], [1, 1, 1]) == 0.0
    assert metrics.brier([1.0, 1.0], [1, 1]) == 0.0
    assert metrics.ece([1.0, 1.0], [0, 0]) == 1.0
    assert metrics.brier([1.0, 1.0], [0, 0]) == 1.0
    # Confidently wrong costs -log(eps) nats, finite.
    assert metrics.nll([1.0], [0]) == pytest.approx(-math.log(np.finfo(float).eps))


def test_brier_nll_auroc_by_hand():
    assert metrics.brier([0.8, 0.6], [1, 0]) == pytest.approx((0.04 + 0.36) / 2)
    assert metrics.nll([0.8, 0.6], [1, 0]) == pytest.approx(-(math.log(0.8) + math.log(0.4)) / 2)
    assert metrics.auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)
    assert metrics.auroc([0.5, 0.5], [1, 0]) == pytest.approx(0.5)  # a tie counts one half


def test_risk_coverage_aurc_selective_and_wrong_at_by_hand():
    conf, hits = [0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0]
    curve = metrics.risk_coverage(conf, hits)
    assert curve.coverage.tolist() == [0.25, 0.5, 0.75, 1.0]
    assert curve.risk == pytest.approx([0.0, 0.5, 1 / 3, 0.5])
    assert metrics.aurc(conf, hits) == pytest.approx((0 + 0.5 + 1 / 3 + 0.5) / 4)
    assert metrics.selective_accuracy(conf, hits, 0.5) == pytest.approx(0.5)
    assert metrics.selective_accuracy(conf, hits, 0.25) == pytest.approx(1.0)
    assert metrics.wrong_at(conf, hits, 0.75) == pytest.approx(0.5)
    assert math.isnan(metrics.wrong_at(conf, hits, 0.95))
    assert metrics.coverage_at(conf, 0.75) == pytest.approx(0.5)


def test_tied_confidences_give_the_expected_risk_whatever_the_input_order():
    # One right and one wrong at 0.9: the first kept verdict is wrong with probability 1/2.
    assert metrics.risk_coverage([0.9, 0.9], [1, 0]).risk == pytest.approx([0.5, 0.5])
    assert metrics.aurc([0.9, 0.9, 0.5], [0, 1, 1]) == metrics.aurc([0.5, 0.9, 0.9], [1, 1, 0])


def test_confidence_and_correct_from_probabilities():
    conf, hits = metrics.confidence_and_correct([0.9, 0.2, 0.5, 0.3], [1, 1, 0, 0])
    assert conf.tolist() == pytest.approx([0.9, 0.8, 0.5, 0.7])
    assert hits.tolist() == [True, False, False, True]  # p = 0.5 is read as a positive verdict


@pytest.fixture
def random_predictions():
    rng = np.random.default_rng(7)
    conf = rng.uniform(0.5, 1.0, 500)
    hits = rng.uniform(size=500) < conf**2
    return conf, hits


def test_matches_scikit_learn(random_predictions):
    conf, hits = random_predictions
    assert metrics.auroc(conf, hits) == pytest.approx(roc_auc_score(hits, conf), abs=1e-12)
    assert metrics.brier(conf, hits) == pytest.approx(brier_score_loss(hits, conf), abs=1e-12)
    assert metrics.nll(conf, hits) == pytest.approx(log_loss(hits, conf), abs=1e-12)
    rounded = np.round(conf, 1)  # many ties
    assert metrics.auroc(rounded, hits) == pytest.approx(roc_auc_score(hits, rounded), abs=1e-12)


def test_ece_matches_scikit_learn_calibration_curve(random_predictions):
    conf, hits = random_predictions
    prob_true, prob_pred = calibration_curve(hits, conf, n_bins=10, strategy="uniform")
    counts = np.histogram(conf, bins=np.linspace(0, 1, 11))[0]
    expected = float(np.sum(counts[counts > 0] * np.abs(prob_true - prob_pred)) / conf.size)
    assert metrics.ece(conf, hits) == pytest.approx(expected, abs=1e-12)


def test_spearman_and_agreement_match_scikit_learn():
    from scipy.stats import spearmanr
    from sklearn.metrics import cohen_kappa_score, precision_recall_fscore_support

    rng = np.random.default_rng(3)
    x, y = rng.integers(0, 5, 200).astype(float), rng.integers(0, 5, 200).astype(float)
    assert metrics.spearman(x, y) == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)
    gold = list(rng.choice(["a", "b", "tie"], 300))
    pred = list(rng.choice(["a", "b", "tie"], 300))
    result = agreement(gold, pred, ("a", "b", "tie"))
    p, r, f, _ = precision_recall_fscore_support(gold, pred, average="macro", zero_division=0)
    assert (result.macro_precision, result.macro_recall, result.macro_f1) == pytest.approx(
        (p, r, f)
    )
    assert result.kappa == pytest.approx(cohen_kappa_score(gold, pred))


@pytest.mark.parametrize(
    ("confidence", "correct", "message"),
    [
        ([0.7, 1.2], [1, 0], "row 1: confidence = 1.2 is not a probability in [0, 1]"),
        ([0.7, -0.1], [1, 0], "row 1: confidence = -0.1"),
        ([0.7, float("nan")], [1, 0], "row 1: confidence = nan"),
        ([0.7, None], [1, 0], "row 1: confidence is missing"),
        ([0.7, "high"], [1, 0], "row 1: confidence = 'high' is not a number"),
        ([0.7, 0.8], [1, None], "row 1: correct is missing"),
        ([0.7, 0.8], [1, 2], "row 1: correct = 2 is not a binary label"),
        ([0.7, 0.8], [1], "confidence has 2 values but correct has 1"),
        ([], [], "no rows"),
    ],
)
def test_bad_input_is_an_input_error_naming_the_row(confidence, correct, message):
    with pytest.raises(InputError, match=r".*" + message.replace("[", r"\[").replace("]", r"\]")):
        metrics.ece(confidence, correct)


def test_bad_values_in_numpy_arrays_are_reported_with_their_row():
    with pytest.raises(InputError, match="row 2: confidence = nan"):
        metrics.brier(np.array([0.5, 0.6, np.nan]), np.array([True, False, True]))


def test_auroc_with_one_class_is_an_error_and_a_documented_gap_in_the_summary():
    with pytest.raises(InputError, match="AUROC is undefined: all 3 labels are positive"):
        metrics.auroc([0.9, 0.8, 0.7], [1, 1, 1])
    summary = summarize_calibration([0.9, 0.8, 0.7], [1, 1, 1], n_boot=20)
    assert summary.auroc.value is None
    assert "undefined" in (summary.auroc.note or "")
    assert summary.auroc.format().startswith("n/a (AUROC is undefined")
    assert summary.ece.value == pytest.approx(0.2)


def test_summary_has_intervals_around_the_estimates_and_is_seeded(random_predictions):
    conf, hits = random_predictions
    first = summarize_calibration(conf, hits, n_boot=200, seed=1)
    again = summarize_calibration(conf, hits, n_boot=200, seed=1)
    assert first == again
    for interval in (first.ece, first.brier, first.auroc, first.accuracy, first.aurc):
        assert interval.low is not None and interval.high is not None
        assert interval.low <= interval.value <= interval.high
    assert first.ece.value == pytest.approx(metrics.ece(conf, hits))
    assert [w.tau for w in first.wrong_at] == [0.8, 0.9, 0.95]
    assert first.wrong_at[1].count == int((conf >= 0.9).sum())
    assert set(first.selective_accuracy) == {"0.5", "0.8", "0.9"}


def test_bootstrap_interval_covers_a_known_mean():
    rng = np.random.default_rng(0)
    values = rng.normal(1.0, 1.0, 400)
    interval = bootstrap_ci(lambda v: float(np.mean(v)), values, n_boot=500, seed=0)
    assert interval.low < 1.0 < interval.high
    assert interval.high - interval.low == pytest.approx(2 * 1.96 / 20, rel=0.2)
    assert interval.n_valid == 500
