"""Recalibration fixes overconfidence on held-out data, keeps ranking, refuses other judges."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from judge.calibration import _fitting
from judge.calibration.recalibrate import Calibrator, fit_calibrator, load_calibrator
from judge.calibration.records import JudgeFingerprint
from judge.errors import ConfigError, InputError
from judge.types import Judgment, PairJudgment

FITTED_FOR = JudgeFingerprint(
    model="smollm2-135m",
    rubric_fingerprint="r1",
    template_fingerprint="t1",
    settings_fingerprint="s1",
)


def overconfident(n: int = 3000, sharpen: float = 3.0, seed: int = 0):
    """Labels drawn from a true probability q; the judge reports q with log-odds times `sharpen`."""
    rng = np.random.default_rng(seed)
    q = rng.uniform(0.02, 0.98, n)
    labels = rng.uniform(size=n) < q
    p = _fitting.sigmoid(sharpen * _fitting.logit(q))
    return p, labels


@pytest.mark.parametrize("method", ["temperature", "platt", "isotonic"])
def test_recalibration_reduces_ece_on_held_out_data_and_keeps_auroc(method):
    p, labels = overconfident()
    calibrator = fit_calibrator(p, labels, method=method, fingerprint=FITTED_FOR, holdout=0.3)
    check = calibrator.check
    assert check is not None and check.before is not None
    assert check.n_eval == pytest.approx(900, abs=2)
    assert calibrator.n_fit + check.n_eval == 3000
    assert check.before.ece > 0.08  # the synthetic judge is clearly overconfident ...
    assert check.after.ece < check.before.ece / 2  # ... and recalibration halves the error at least
    assert check.after.ece < 0.05
    assert check.after.nll < check.before.nll
    assert check.after.auroc_label >= check.before.auroc_label - 0.005
    assert check.after.auroc >= check.before.auroc - 0.01


def test_temperature_recovers_the_sharpening_and_never_changes_a_verdict():
    p, labels = overconfident(sharpen=3.0)
    calibrator = fit_calibrator(p, labels, method="temperature", folds=5)
    assert calibrator.temperature == pytest.approx(3.0, rel=0.12)
    assert calibrator.check is not None and "5-fold" in calibrator.check.protocol
    # Out-of-fold predictions come from five temperatures, so pooled ranking moves a hair.
    assert calibrator.check.after.auroc_label == pytest.approx(
        calibrator.check.before.auroc_label, abs=2e-3
    )
    assert calibrator.check.after.accuracy == calibrator.check.before.accuracy
    assert np.array_equal(calibrator.transform(p) >= 0.5, p >= 0.5)
    held_out = fit_calibrator(p, labels, method="temperature", holdout=0.3).check
    assert held_out.after.auroc_label == held_out.before.auroc_label  # one temperature: same order


def test_an_already_calibrated_judge_is_left_nearly_alone():
    p, labels = overconfident(sharpen=1.0, seed=3)
    temperature = fit_calibrator(p, labels, method="temperature", holdout=0.3)
    assert temperature.temperature == pytest.approx(1.0, abs=0.12)
    platt = fit_calibrator(p, labels, method="platt", holdout=0.3)
    assert platt.slope == pytest.approx(1.0, abs=0.15) and platt.intercept == pytest.approx(
        0, abs=0.15
    )
    for fitted in (temperature, platt):
        assert fitted.check is not None and fitted.check.before is not None
        assert fitted.check.after.ece <= fitted.check.before.ece + 0.01


def test_worst_case_judge_confidently_wrong():
    rng = np.random.default_rng(1)
    labels = rng.uniform(size=400) < 0.5
    p = np.where(labels, 0.01, 0.99)  # always sure, always wrong
    temperature = fit_calibrator(p, labels, method="temperature", holdout=0.5)
    platt = fit_calibrator(p, labels, method="platt", holdout=0.5)
    isotonic = fit_calibrator(p, labels, method="isotonic", holdout=0.5)
    assert temperature.check.before.ece == pytest.approx(0.99)
    # Temperature cannot flip verdicts: the best it can do is say "50/50".
    assert temperature.temperature > 100
    assert temperature.check.after.ece == pytest.approx(0.5, abs=0.01)
    # Platt may flip the sign of the log-odds and so turns the judge into a good one.
    assert platt.slope < 0
    assert platt.check.after.accuracy == 1.0 and platt.check.after.ece < 0.05
    # Isotonic is monotone increasing: it can only flatten to the base rate.
    assert isotonic.check.after.mean_confidence == pytest.approx(0.5, abs=0.1)


def test_isotonic_matches_scikit_learn_and_logistic_matches_sklearn():
    rng = np.random.default_rng(5)
    x = np.round(rng.uniform(size=300), 2)
    y = (rng.uniform(size=300) < x).astype(float)
    knots_x, knots_y = _fitting.fit_isotonic(x, y)
    reference = IsotonicRegression(out_of_bounds="clip").fit(x, y)
    grid = np.linspace(-0.1, 1.1, 241)
    assert np.interp(grid, knots_x, knots_y) == pytest.approx(reference.predict(grid), abs=1e-12)

    features = rng.normal(size=(400, 2))
    labels = (rng.uniform(size=400) < _fitting.sigmoid(features @ [1.5, -0.7] + 0.3)).astype(float)
    ours = _fitting.fit_logistic(features, labels, ridge=0.0)
    theirs = LogisticRegression(C=np.inf, tol=1e-12, max_iter=1000).fit(features, labels)
    assert ours == pytest.approx([theirs.intercept_[0], *theirs.coef_[0]], abs=1e-5)


def test_inverse_temperature_is_the_nll_minimum():
    from scipy.optimize import minimize_scalar

    p, labels = overconfident(n=500, sharpen=2.0, seed=9)
    z, y = _fitting.logit(p), labels.astype(float)
    ours = _fitting.fit_inverse_temperature(z, y)

    def nll(a: float) -> float:
        return float(np.mean(np.logaddexp(0, a * z) - y * a * z))

    assert ours == pytest.approx(minimize_scalar(nll, bounds=(0, 10), method="bounded").x, abs=1e-4)


def test_raw_scores_are_mapped_to_probabilities():
    rng = np.random.default_rng(2)
    labels = rng.uniform(size=600) < 0.6
    scores = rng.normal(np.where(labels, 2.0, -1.0), 1.5)  # a reward model's raw scores
    calibrator = fit_calibrator(scores, labels, method="platt", input="score", holdout=0.3)
    assert calibrator.input == "score" and calibrator.check.before is None
    assert calibrator.check.after.ece < 0.08
    with pytest.raises(InputError, match="not a probability"):
        fit_calibrator(scores, labels, method="platt")


def test_fingerprint_refusal_and_force():
    p, labels = overconfident(n=400)
    calibrator = fit_calibrator(p, labels, method="temperature", fingerprint=FITTED_FOR)
    assert calibrator.apply([0.9], fingerprint=FITTED_FOR)[0] < 0.9
    other = FITTED_FOR.model_copy(update={"rubric_fingerprint": "r2"})
    with pytest.raises(ConfigError, match="rubric_fingerprint: 'r1' != 'r2'") as caught:
        calibrator.apply([0.9], fingerprint=other)
    assert "force" in (caught.value.hint or "")
    assert calibrator.apply([0.9], fingerprint=other, force=True)[0] < 0.9
    with pytest.raises(ConfigError, match="model"):
        calibrator.apply([0.9], fingerprint=JudgeFingerprint())


def test_calibrating_judgments_checks_their_configuration():
    p, labels = overconfident(n=400)
    calibrator = fit_calibrator(p, labels, method="temperature", fingerprint=FITTED_FOR)
    judgment = Judgment(
        sample_id="s1",
        score=0.95,
        confidence=0.95,
        model="smollm2-135m",
        rubric_fingerprint="r1",
        template_fingerprint="t1",
        settings_fingerprint="s1",
    )
    calibrated = calibrator.calibrate_judgment(judgment)
    assert calibrated.score < 0.95 and calibrated.confidence == pytest.approx(calibrated.score)
    assert calibrated.details["uncalibrated_score"] == 0.95
    foreign = judgment.model_copy(update={"model": "gpt-4"})
    with pytest.raises(ConfigError, match="model: 'smollm2-135m' != 'gpt-4'"):
        calibrator.calibrate_judgment(foreign)
    assert calibrator.calibrate_judgment(foreign, force=True).score == calibrated.score
    failed = judgment.model_copy(update={"score": None, "error": "timeout"})
    assert calibrator.calibrate_judgment(failed) == failed
    pair = PairJudgment(
        pair_id="p1",
        p_a=0.2,
        winner="b",
        model="smollm2-135m",
        rubric_fingerprint="r1",
        template_fingerprint="t1",
        settings_fingerprint="s1",
    )
    calibrated_pair = calibrator.calibrate_pair(pair)
    assert 0.2 < calibrated_pair.p_a < 0.5 and calibrated_pair.winner == "b"


def test_save_and_load_round_trip(tmp_path):
    p, labels = overconfident(n=400)
    for method in ("temperature", "platt", "isotonic"):
        calibrator = fit_calibrator(p, labels, method=method, fingerprint=FITTED_FOR)
        path = calibrator.save(tmp_path / f"{method}.json")
        loaded = load_calibrator(path)
        assert loaded == calibrator
        assert np.array_equal(loaded.transform(p), calibrator.transform(p))
        data = json.loads(path.read_text())
        assert (
            data["format"] == "judge-calibrator/1"
            and data["fingerprint"]["model"] == "smollm2-135m"
        )
        assert path.stat().st_size < 20_000  # small enough to ship next to a config


def test_bad_calibrator_files_and_fits(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_calibrator(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps({"method": "temperature", "fingerprint": {}, "n_fit": 3, "temprature": 2})
    )
    with pytest.raises(ConfigError, match="temprature"):
        load_calibrator(bad)
    with pytest.raises(InputError, match="both outcomes"):
        fit_calibrator([0.9, 0.8, 0.7, 0.6], [1, 1, 1, 1])
    with pytest.raises(ConfigError, match="unknown calibration method"):
        fit_calibrator([0.9, 0.1, 0.7, 0.3], [1, 0, 1, 0], method="histogram")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="row 1: label is missing"):
        fit_calibrator([0.9, 0.1], [1, None])
    with pytest.raises(ValueError, match="temperature > 0"):
        Calibrator(method="temperature", fingerprint=FITTED_FOR, n_fit=1)
