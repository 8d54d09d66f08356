"""Relative confidence: partner matches, Elo and Bradley-Terry on known cases, one batch of both
orders through the runner, selective AUC against direct confidence."""

import json

import numpy as np
import pytest

from judge.backends.scripted import ScriptedBackend, ScriptedReply
from judge.calibration.relative import (
    aggregate_preferences,
    bradley_terry,
    elo_ratings,
    partner_matches,
    selective_auc,
)
from judge.errors import InputError
from judge.prompting import default_prompts
from judge.runner.relative import confidence_preferences
from judge.runner.requests import RequestBuilder
from judge.types import Sample


def test_partner_matches_are_distinct_others_and_seeded():
    matches = partner_matches(10, 3, seed=1)
    assert len(matches) == 30 and all(i != j for i, j in matches)
    for item in range(10):
        partners = [j for i, j in matches if i == item]
        assert len(partners) == len(set(partners)) == 3
    assert matches == partner_matches(10, 3, seed=1) != partner_matches(10, 3, seed=2)
    assert len(partner_matches(3, 5)) == 6  # at most count - 1 partners
    with pytest.raises(InputError):
        partner_matches(1, 1)


def test_one_elo_match_moves_both_ratings_by_k_times_the_surprise():
    ratings = elo_ratings(2, [(0, 1)], [1.0], k=16, passes=1)
    assert ratings[0] == pytest.approx(8.0) and ratings[1] == pytest.approx(-8.0)
    draw = elo_ratings(2, [(0, 1)], [0.5], k=16, passes=1)
    assert np.allclose(draw, 0.0)


def test_elo_orders_a_transitive_tournament():
    matches = [(i, j) for i in range(4) for j in range(4) if i != j]
    outcomes = [1.0 if i < j else 0.0 for i, j in matches]  # item 0 beats all, then 1, ...
    ratings = elo_ratings(4, matches, outcomes)
    assert list(np.argsort(-ratings)) == [0, 1, 2, 3]
    assert ratings.sum() == pytest.approx(0.0)  # Elo is zero-sum


def test_bradley_terry_recovers_known_strengths_from_expected_outcomes():
    truth = np.asarray([1.0, 0.0, -0.5, -0.5])
    matches = [(i, j) for i in range(4) for j in range(4) if i < j]
    outcomes = [1.0 / (1.0 + np.exp(-(truth[i] - truth[j]))) for i, j in matches]
    theta = bradley_terry(4, matches, outcomes, ridge=1e-9)
    assert np.allclose(theta - theta.mean(), truth - truth.mean(), atol=1e-4)
    # An item that wins everything stays finite (the ridge), ranked first.
    unbeaten = bradley_terry(3, [(0, 1), (0, 2), (1, 2)], [1.0, 1.0, 0.5])
    assert np.isfinite(unbeaten).all() and np.argmax(unbeaten) == 0


def test_selective_auc_rewards_ranking_right_verdicts_first():
    correct = [True, True, False, False]
    assert selective_auc([0.9, 0.8, 0.2, 0.1], correct) > selective_auc(
        [0.1, 0.2, 0.8, 0.9], correct
    )
    # Keeping the right ones first: risk 0, 0, 1/3, 1/2 -> AURC 5/24.
    assert selective_auc([0.9, 0.8, 0.2, 0.1], correct) == pytest.approx(1 - 5 / 24)


def test_aggregate_compares_relative_with_direct_confidence_and_drops_failed_matches():
    correct = [True, True, True, False, False, False]
    direct = [0.6, 0.9, 0.7, 0.95, 0.8, 0.65]  # direct confidence ranks wrong verdicts high
    matches = partner_matches(6, 5, seed=0)
    # The preferences know which verdicts are right: relative confidence should beat direct.
    preferences = [1.0 if correct[i] and not correct[j] else 0.0 if correct[j] and not correct[i]
                   else 0.5 for i, j in matches]  # fmt: skip
    preferences[0] = None
    result = aggregate_preferences(direct, correct, matches, preferences, n_partners=5, n_boot=100)
    assert result.failed_matches == 1 and result.matches == 30 and result.n == 6
    # Both rankings put the 3 right verdicts first: the best possible selective AUC here,
    # 1 - (0 + 0 + 0 + 1/4 + 2/5 + 3/6) / 6.
    best = 1 - (0.25 + 0.4 + 0.5) / 6
    assert result.elo.value == pytest.approx(best) and result.bradley_terry.value == pytest.approx(
        best
    )
    assert result.direct.value is not None and result.direct.value < best - 0.2
    assert result.elo_minus_direct.value == pytest.approx(best - result.direct.value)
    with pytest.raises(InputError, match="every match failed"):
        aggregate_preferences(direct, correct, matches[:2], [None, None], n_partners=1)


def _sure_of_short(request, _):
    """Prefers the judgment whose response is shorter; fails on a response that says 'broken'."""
    text = request.messages[-1].content
    first, second = (part.split("</response>")[0] for part in text.split("<response>\n")[1:3])
    if "broken" in first + second:
        return ScriptedReply(text="no json")
    p_first = 0.8 if len(first) < len(second) else 0.2
    reply = json.dumps({"rationale": "r", "winner": "A" if p_first > 0.5 else "B"})
    return ScriptedReply(text=reply, choice_probs={"A": p_first, "B": 1 - p_first})


def test_preferences_run_both_orders_in_one_batch_and_a_failure_is_none():
    backend = ScriptedBackend(_sure_of_short)
    builder = RequestBuilder(prompts=default_prompts(), capabilities=backend.capabilities)
    items = [
        (Sample(id="s", prompt="Q?", response="4"), True),
        (Sample(id="l", prompt="Q?", response="four, I think, maybe"), False),
        (Sample(id="b", prompt="Q?", response="broken"), True),
    ]
    preferences = confidence_preferences(backend, builder, items, [(0, 1), (1, 0), (0, 2)])
    assert backend.calls == 2  # one batch, then one retry round of the unusable outputs
    assert [r.id for r in backend.batches[0]] == [
        "m0/ij",
        "m0/ji",
        "m1/ij",
        "m1/ji",
        "m2/ij",
        "m2/ji",
    ]
    assert preferences[0] == pytest.approx(0.8) and preferences[1] == pytest.approx(0.2)
    assert preferences[2] is None
    prompt = backend.batches[0][0].messages[-1].content
    assert "the response meets the rubric" in prompt and "does not meet" in prompt
