import numpy as np
import pytest

from judge.rubric.weights import whitened_uniform_weights
from judge.runner.aggregate import rubric_margin
from judge.types import Criterion, CriterionVerdict, Rubric


def _by_hand(matrix, ridge=1e-3, floor=0.05):
    x = np.asarray(matrix, dtype=float)
    centred = x - x.mean(axis=0)
    sigma = centred.T @ centred / (x.shape[0] - 1) + ridge * np.eye(x.shape[1])
    values, vectors = np.linalg.eigh(sigma)
    values = np.maximum(values, max(values.max() * floor, ridge))
    w = vectors @ np.diag(values**-0.5) @ vectors.T @ np.ones(x.shape[1])
    w = np.maximum(w, 0.0)
    return w / w.sum()


def test_whitened_weights_match_the_formula_computed_by_hand():
    matrix = [
        [0.9, 0.2, 0.7, 0.1],
        [0.8, 0.4, 0.9, 0.3],
        [0.1, 0.9, 0.2, 0.6],
        [0.4, 0.5, 0.3, 0.9],
        [0.7, 0.1, 0.8, 0.2],
        [0.2, 0.8, 0.1, 0.5],
    ]
    weights = whitened_uniform_weights(matrix, ids=["a", "b", "c", "d"])
    assert weights.values == pytest.approx(list(_by_hand(matrix)), abs=1e-6)
    assert sum(weights.values) == pytest.approx(1.0, abs=1e-5)
    assert "6 pool responses x 4 criteria" in weights.explanation


def test_correlated_twins_weigh_sqrt2_times_an_independent_criterion_not_twice():
    rng = np.random.default_rng(0)
    shared = rng.random(40)
    independent = rng.random(40)
    matrix = np.stack([shared, shared + 1e-3 * rng.random(40), independent], axis=1)
    a, b, c = whitened_uniform_weights(matrix.tolist()).values
    # Uniform weights would give the twins 2x the independent criterion's say; whitening gives
    # the shared direction sqrt(2) (its eigenvalue is twice the independent one's).
    assert (a + b) / c == pytest.approx(2**0.5, rel=0.1)
    assert a == pytest.approx(b, rel=0.05)


def test_negative_weights_are_clipped_and_named():
    # The third criterion is the sum of the first two: whitening drives its weight negative.
    first = np.array([1, 0, 1, 0, 1, 0, 0, 1.0])
    second = np.array([0, 1, 1, 0, 0, 1, 0, 1.0])
    matrix = np.stack([first, second, first + second], axis=1)
    weights = whitened_uniform_weights(
        matrix.tolist(), ids=["x", "y", "sum"], eigenvalue_floor=1e-3
    )
    assert weights.values[2] == 0.0
    assert "clipped to 0: sum" in weights.explanation
    assert weights.values == pytest.approx(list(_by_hand(matrix, floor=1e-3)), abs=1e-6)


def test_small_pool_gives_uniform_weights_and_says_why():
    weights = whitened_uniform_weights([[1, 0], [0, 1], [1, 1]])
    assert weights.values == (0.5, 0.5)
    assert (
        weights.explanation
        == "uniform: a pool of 3 responses is below the 4 needed for a covariance"
    )


def test_missing_values_take_the_criterion_mean():
    matrix = [[0.9, None], [0.1, 0.2], [0.5, 0.8], [0.3, 0.5]]
    filled = [[0.9, 0.5], [0.1, 0.2], [0.5, 0.8], [0.3, 0.5]]
    assert whitened_uniform_weights(matrix).values == pytest.approx(
        list(_by_hand(filled)), abs=1e-6
    )


def test_a_criterion_that_varies_little_cannot_take_all_the_weight():
    matrix = [
        [0.9, 0.2, 0.8],
        [0.1, 0.8, 0.95],
        [0.6, 0.4, 0.85],
        [0.3, 0.7, 0.97],
        [0.8, 0.1, 0.82],
    ]
    weights = whitened_uniform_weights(matrix).values
    assert weights[2] < 0.4
    unfloored = whitened_uniform_weights(matrix, eigenvalue_floor=1e-9).values
    assert unfloored[2] > 0.4, "what the eigenvalue floor prevents: 1/sqrt(eigenvalue)"


# A yes-biased judge: P(yes) ~1.0 on four criteria for every pool response; only the second
# (5-7-5 syllables) separates responses.
YES_BIASED = [
    [0.998, 0.91, 0.997, 0.999, 0.996],
    [0.999, 0.12, 0.998, 0.997, 0.999],
    [0.997, 0.85, 0.999, 0.998, 0.997],
    [0.999, 0.08, 0.996, 0.999, 0.998],
    [0.998, 0.77, 0.998, 0.996, 0.999],
    [0.996, 0.22, 0.999, 0.998, 0.997],
    [0.999, 0.64, 0.997, 0.999, 0.998],
    [0.998, 0.30, 0.998, 0.997, 0.996],
]


def test_near_constant_criteria_get_no_whitening_weight_the_informative_one_carries_it():
    ids = ["topic", "syllables", "three_lines", "english", "nature"]
    weights = whitened_uniform_weights(YES_BIASED, ids=ids)
    assert weights.values == (0.0, 1.0, 0.0, 0.0, 0.0)
    assert "standard deviation < 0.05): topic, three_lines, english, nature" in weights.explanation
    # Without the variance rule whitening inverts the signal: each constant criterion ~0.24.
    inverted = whitened_uniform_weights(YES_BIASED, min_std=0.0).values
    assert inverted[1] < 0.06 and min(inverted[0], inverted[2], inverted[3], inverted[4]) > 0.23


def test_varying_criteria_are_whitened_among_themselves_when_others_are_constant():
    rng = np.random.default_rng(1)
    informative = rng.random((12, 3))
    matrix = np.column_stack([informative, np.full(12, 0.99)])
    weights = whitened_uniform_weights(matrix.tolist()).values
    assert weights[3] == 0.0
    assert weights[:3] == pytest.approx(list(_by_hand(informative)), abs=1e-6)


def test_no_varying_criterion_gives_uniform_weights_and_says_why():
    weights = whitened_uniform_weights([[0.99, 1.0]] * 5)
    assert weights.values == (0.5, 0.5)
    assert "no criterion varies over the 5 pool responses" in weights.explanation


RUBRIC = Rubric(
    name="r",
    criteria=(
        Criterion(id="a", text="The response is correct.", weight=3),
        Criterion(id="b", text="The response is brief.", weight=1),
    ),
)


def test_margin_is_the_weighted_p_yes_difference():
    a = {"a": 0.9, "b": 0.2}
    b = {"a": 0.4, "b": 0.8}
    expected = (3 * (0.9 - 0.4) + 1 * (0.2 - 0.8)) / 4
    leaves = RUBRIC.leaves()
    assert rubric_margin(leaves, a, b).value == pytest.approx(expected)
    assert rubric_margin(leaves, b, a).value == pytest.approx(-expected)
    assert rubric_margin(leaves, a, b).terms["a"] == {"a": 0.9, "b": 0.4, "weight": 0.75}
    verdicts = {
        "a": CriterionVerdict(criterion_id="a", verdict="yes"),
        "b": CriterionVerdict(criterion_id="b", error="x"),
    }
    assert rubric_margin(leaves, verdicts, {"a": 0.25, "b": 0.5}).value == pytest.approx(0.75), (
        "failed ones are skipped"
    )
    assert rubric_margin(leaves, {"a": None}, {"a": 0.3}) is None


def test_margin_reads_verdicts_by_the_one_value_rule():
    with_probs = CriterionVerdict(criterion_id="a", verdict="yes", p_yes=0.6)
    without = CriterionVerdict(criterion_id="b", verdict="no")
    other_a = CriterionVerdict(criterion_id="a", verdict="no", p_yes=0.4)
    other_b = CriterionVerdict(criterion_id="b", verdict="yes", p_yes=0.9)
    margin = rubric_margin(
        RUBRIC.leaves(), {"a": with_probs, "b": without}, {"a": other_a, "b": other_b}
    )
    # one verdict lacks P(yes), so every verdict counts as 0/1 (never a mix): (3 * 1 - 1 * 1) / 4
    assert margin.value == pytest.approx(0.5)
    complete = rubric_margin(RUBRIC.leaves(), {"a": with_probs}, {"a": other_a})
    assert complete.value == pytest.approx(0.2), "only criterion a is comparable: its weight is 1"
