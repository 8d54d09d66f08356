"""Bias studies on constructed judges whose biases are known."""

from __future__ import annotations

import numpy as np
import pytest

from judge.calibration.bias import length_bias, panel_gold, position_bias, self_preference
from judge.calibration.evaluate import evaluate_pairwise
from judge.calibration.records import PairRecord
from judge.errors import InputError


def labelled_pairs(n: int = 200, seed: int = 0) -> list[dict]:
    """Pairs with random gold sides and random, never equal, lengths."""
    rng = np.random.default_rng(seed)
    pairs = []
    for index in range(n):
        len_a, len_b = rng.choice(np.arange(20, 2000), size=2, replace=False)
        pairs.append(
            {
                "id": f"p{index}",
                "label": "a" if rng.uniform() < 0.5 else "b",
                "len_a": int(len_a),
                "len_b": int(len_b),
            }
        )
    return pairs


def always_first(pair: dict) -> PairRecord:
    return PairRecord(**pair, winner_ab="a", winner_ba="b")


def always_longer(pair: dict) -> PairRecord:
    longer = "a" if pair["len_a"] > pair["len_b"] else "b"
    return PairRecord(**pair, winner_ab=longer, winner_ba=longer)


def oracle(pair: dict) -> PairRecord:
    return PairRecord(**pair, winner_ab=pair["label"], winner_ba=pair["label"])


def test_a_judge_that_always_picks_the_first_position():
    pairs = labelled_pairs()
    share_a = np.mean([p["label"] == "a" for p in pairs])
    result = position_bias([always_first(p) for p in pairs], n_boot=200)
    assert result.first_position_wins.value == 1.0
    assert result.consistency.value == 0.0 and result.consistent == 0
    assert result.accuracy_ab == pytest.approx(share_a)
    assert result.accuracy_ba == pytest.approx(1 - share_a)
    assert result.accuracy_average == pytest.approx(0.5)
    assert result.accuracy_both == 0.0  # inconsistent pairs count as wrong
    evaluation = evaluate_pairwise([always_first(p) for p in pairs], n_boot=50)
    assert evaluation.accuracy == 0.0  # every pair is a flip
    assert evaluation.length.accuracy_gap.value == pytest.approx(
        0.0
    )  # it does not care about length


def test_a_judge_that_always_picks_the_longer_response():
    pairs = labelled_pairs()
    records = [always_longer(p) for p in pairs]
    position = position_bias(records, n_boot=200)
    assert position.consistency.value == 1.0
    assert position.first_position_wins.low < 0.5 < position.first_position_wins.high
    result = length_bias(records, n_boot=200)
    assert result.judge_prefers_longer == 1.0
    assert result.gold_prefers_longer == pytest.approx(0.5, abs=0.1)
    assert result.accuracy_longer_better == 1.0 and result.accuracy_shorter_better == 0.0
    assert result.accuracy_gap.value == 1.0
    assert result.length_coefficient.value > 2.0 and result.length_coefficient.low > 0
    quartiles = result.quartiles
    assert len(quartiles) == 4 and sum(q.n for q in quartiles) == 2 * len(pairs)
    assert quartiles[-1].judge_win_rate > quartiles[-1].gold_win_rate + 0.2
    assert quartiles[0].judge_win_rate < quartiles[0].gold_win_rate - 0.2


def test_a_length_blind_oracle_shows_no_length_bias():
    result = length_bias([oracle(p) for p in labelled_pairs()], n_boot=200)
    assert result.accuracy_gap.value == 0.0
    assert abs(result.length_coefficient.value) < 0.5
    assert result.judge_prefers_longer == result.gold_prefers_longer


def test_self_preference_dbg_of_a_judge_that_always_favours_its_own_model():
    rng = np.random.default_rng(4)
    records = []
    for index in range(300):
        own_is_a = rng.uniform() < 0.5
        label = "a" if rng.uniform() < 0.5 else "b"
        own_side = "a" if own_is_a else "b"
        records.append(
            PairRecord(
                id=f"p{index}",
                label=label,
                winner_ab=own_side,
                winner_ba=own_side,
                model_a="me" if own_is_a else "other",
                model_b="other" if own_is_a else "me",
            )
        )
    result = self_preference(records, "me", n_boot=300)
    assert result.judge_win_rate == 1.0
    assert result.dbg.value == pytest.approx(1.0 - result.gold_win_rate)
    assert result.dbg.low > 0.05 and result.flagged
    honest = [r.model_copy(update={"winner_ab": r.label, "winner_ba": r.label}) for r in records]
    fair = self_preference(honest, "me", n_boot=300)
    assert fair.dbg.value == 0.0 and not fair.flagged


def test_self_preference_counts_ties_and_flips_as_half_and_uses_a_panel_as_gold():
    records = [
        PairRecord(id="1", label="a", winner_ab="a", winner_ba="b", model_a="me", model_b="x"),
        PairRecord(id="2", label="tie", winner_ab="b", winner_ba="b", model_a="x", model_b="me"),
        PairRecord(id="3", label="b", winner_ab="a", winner_ba="a", model_a="x", model_b="y"),
    ]
    by_labels = self_preference(records, ["me"], n_boot=0)
    assert by_labels.n == 2  # pair 3 has no response by the judge's model
    assert by_labels.judge_win_rate == pytest.approx((0.5 + 1.0) / 2)
    assert by_labels.gold_win_rate == pytest.approx((1.0 + 0.5) / 2)
    assert by_labels.dbg.value == pytest.approx(0.0)
    panel = [
        [
            PairRecord(id="1", winner_ab="b", winner_ba="b"),
            PairRecord(id="2", winner_ab="a", winner_ba="b"),
        ],
        [
            PairRecord(id="1", winner_ab="b", winner_ba="a"),
            PairRecord(id="2", winner_ab="a", winner_ba="a"),
        ],
    ]
    gold = panel_gold(panel)
    assert gold == {"1": pytest.approx(0.25), "2": pytest.approx(0.75)}
    by_panel = self_preference(records, "me", gold=gold, n_boot=0)
    assert by_panel.gold_source == "panel"
    assert by_panel.gold_win_rate == pytest.approx((0.25 + 0.25) / 2)
    assert by_panel.dbg.value == pytest.approx(0.75 - 0.25) and by_panel.flagged


def test_missing_inputs_are_clear_errors():
    with pytest.raises(InputError, match="no pairs"):
        position_bias([])
    with pytest.raises(InputError, match=r"pair 0 .* has no gold label"):
        position_bias([PairRecord(id="x", winner_ab="a", winner_ba="a")])
    with pytest.raises(InputError, match="judged in one order only"):
        position_bias([PairRecord(id="x", label="a", orders="ab", winner_ab="a")])
    with pytest.raises(InputError, match="no response lengths"):
        length_bias([PairRecord(id="x", label="a", winner_ab="a", winner_ba="a")])
    with pytest.raises(InputError, match="exactly one response by"):
        self_preference([PairRecord(id="x", label="a", winner_ab="a", winner_ba="a")], "me")
    with pytest.raises(ValueError, match="orders = 'ab'"):
        PairRecord(id="x", orders="ab", winner_ba="a")


def test_evaluation_reports_why_a_study_could_not_run():
    records = [
        PairRecord(
            id=str(i), label="a" if i % 2 else "b", orders="ab", p_a_ab=0.8 if i % 2 else 0.3
        )
        for i in range(10)
    ]
    evaluation = evaluate_pairwise(records, n_boot=20)
    assert evaluation.position is None and "one order" in evaluation.position_note
    assert evaluation.length is None and "lengths" in evaluation.length_note
    assert evaluation.self_preference is None
    assert evaluation.confidence_source == "probabilities"
    assert evaluation.accuracy == 1.0 and evaluation.calibration.ece.value == pytest.approx(0.25)
