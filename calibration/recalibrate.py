"""Recalibrators for verdict probabilities: temperature scaling, Platt scaling, isotonic regression.

A calibrator maps the judge's P(positive) (P(yes), or P(a better) for a pair) to a calibrated
probability. It is fitted on labelled data, checked on data not used to fit (a held-out split or
cross-validation), and saved as a small JSON file that records the judge configuration it was
fitted for; applying it to judgments from another configuration raises `ConfigError` unless
forced. Temperature scaling (Guo et al. 2017) divides the verdict log-odds by T, so it never
changes a verdict, only its confidence; Platt scaling (Platt 1999) fits ``sigmoid(a*z + b)``
with Platt's smoothed targets; isotonic regression (Zadrozny & Elkan 2002) fits a monotone map.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from judge.calibration import _fitting, metrics
from judge.calibration._checks import FloatArray, binary, finite_scores, probabilities
from judge.calibration.records import JudgeFingerprint
from judge.errors import ConfigError, InputError
from judge.storage import write_atomic
from judge.types import Judgment, PairJudgment

Method = Literal["temperature", "platt", "isotonic"]
InputKind = Literal["probability", "score"]
"""`probability`: the judge's P(positive), recalibrated on its log-odds; `score`: a raw score on
any scale (e.g. a reward model's), mapped to a probability as is (Platt or isotonic)."""
METHODS: tuple[Method, ...] = ("temperature", "platt", "isotonic")
FORMAT: Literal["judge-calibrator/1"] = "judge-calibrator/1"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ScoreCard(_Frozen):
    """Point metrics of probabilities against labels (no intervals): one side of a before/after.

    `auroc` is the AUROC of confidence for correctness (selective prediction); `auroc_label` is
    the AUROC of P(positive) for the label (discrimination). Undefined ones are None.
    """

    n: int
    accuracy: float
    mean_confidence: float
    ece: float
    ece_mass: float
    mce: float
    brier: float
    nll: float
    auroc: float | None
    auroc_label: float | None
    aurc: float


def score_card(p_positive: Any, label: Any) -> ScoreCard:
    """Compute a `ScoreCard` for probabilities of the positive class against binary labels."""
    p = probabilities(p_positive, "p")
    y = binary(label, "label")
    conf, hits = metrics.confidence_and_correct(p, y)

    def defined(statistic: Any, *args: Any) -> float | None:
        try:
            return float(statistic(*args))
        except InputError:
            return None

    return ScoreCard(
        n=int(p.size),
        accuracy=float(hits.mean()),
        mean_confidence=float(conf.mean()),
        ece=metrics.ece(conf, hits),
        ece_mass=metrics.ece(conf, hits, binning="mass"),
        mce=metrics.mce(conf, hits),
        brier=metrics.brier(conf, hits),
        nll=metrics.nll(conf, hits),
        auroc=defined(metrics.auroc, conf, hits),
        auroc_label=defined(metrics.auroc, p, y),
        aurc=metrics.aurc(conf, hits),
    )


class HeldOutCheck(_Frozen):
    """Metrics before and after calibration on data the calibrator was not fitted on.

    `before` is None for raw-score input, which has no probabilities to score.
    """

    protocol: str
    n_eval: int
    before: ScoreCard | None
    after: ScoreCard


class Calibrator(_Frozen):
    """A fitted map from the judge's P(positive) to a calibrated probability, with provenance."""

    format: Literal["judge-calibrator/1"] = FORMAT
    method: Method
    input: InputKind = "probability"
    fingerprint: JudgeFingerprint
    temperature: float | None = None
    slope: float | None = None
    intercept: float | None = None
    knots_x: tuple[float, ...] = ()
    knots_y: tuple[float, ...] = ()
    n_fit: int
    check: HeldOutCheck | None = None

    @model_validator(mode="after")
    def _parameters_match_method(self) -> Calibrator:
        if self.method == "temperature" and (self.temperature is None or self.temperature <= 0):
            raise ValueError("a temperature calibrator needs temperature > 0")
        if self.method == "platt" and (self.slope is None or self.intercept is None):
            raise ValueError("a platt calibrator needs slope and intercept")
        if self.method == "isotonic":
            if not self.knots_x or len(self.knots_x) != len(self.knots_y):
                raise ValueError("an isotonic calibrator needs knots_x and knots_y of equal length")
            if any(b < a for a, b in zip(self.knots_x, self.knots_x[1:], strict=False)):
                raise ValueError("knots_x must be non-decreasing")
        return self

    def transform(self, p_positive: Any) -> FloatArray:
        """Map probabilities (or raw scores) without checking the configuration."""
        x = _inputs(p_positive, self.input)
        if self.method == "temperature":
            assert self.temperature is not None
            return _fitting.sigmoid(_log_odds(x, self.input) / self.temperature)
        if self.method == "platt":
            assert self.slope is not None and self.intercept is not None
            return _fitting.sigmoid(self.slope * _log_odds(x, self.input) + self.intercept)
        calibrated = np.interp(x, np.asarray(self.knots_x), np.asarray(self.knots_y))
        return np.asarray(np.clip(calibrated, 0.0, 1.0), dtype=np.float64)

    def ensure_fits(self, fingerprint: JudgeFingerprint, *, force: bool = False) -> None:
        """Raise `ConfigError` unless `fingerprint` is the configuration this was fitted for."""
        differences = self.fingerprint.differences(fingerprint)
        if differences and not force:
            raise ConfigError(
                "calibrator was fitted for another judge configuration: " + "; ".join(differences),
                hint="fit a calibrator for this model/rubric/template (judge calibrate fit), "
                "or pass force=True / --force-calibrator to apply it anyway",
            )

    def apply(
        self, p_positive: Any, *, fingerprint: JudgeFingerprint, force: bool = False
    ) -> FloatArray:
        """Calibrate probabilities produced by the judge configuration `fingerprint`."""
        self.ensure_fits(fingerprint, force=force)
        return self.transform(p_positive)

    def calibrate_judgment(self, judgment: Judgment, *, force: bool = False) -> Judgment:
        """Return `judgment` with a calibrated score, its confidence, and the raw score in details.

        The score is read as P(positive); the confidence becomes ``max(s, 1 - s)``. A failed
        judgment (no score) is returned unchanged.
        """
        self.ensure_fits(JudgeFingerprint.of(judgment), force=force)
        if judgment.score is None:
            return judgment
        score = float(self.transform([judgment.score])[0])
        details = {
            **judgment.details,
            "uncalibrated_score": judgment.score,
            "calibrator": self.method,
        }
        return judgment.model_copy(
            update={"score": score, "confidence": max(score, 1.0 - score), "details": details}
        )

    def calibrate_pair(self, judgment: PairJudgment, *, force: bool = False) -> PairJudgment:
        """Return a pair judgment with calibrated P(a better), confidence and winner.

        The per-order probabilities are calibrated one by one (that is what `fit_calibrator`
        is fitted on for pairs, see `calibration.apply.calibration_rows`) and P(a) becomes
        their mean; without them the combined P(a) is calibrated.
        """
        self.ensure_fits(JudgeFingerprint.of(judgment), force=force)
        if judgment.p_a is None:
            return judgment
        per_order = {
            name: None if value is None else float(self.transform([value])[0])
            for name, value in (("p_a_ab", judgment.p_a_ab), ("p_a_ba", judgment.p_a_ba))
        }
        present = [value for value in per_order.values() if value is not None]
        p_a = sum(present) / len(present) if present else float(self.transform([judgment.p_a])[0])
        winner = "a" if p_a > 0.5 else "b" if p_a < 0.5 else "tie"
        details = {**judgment.details, "uncalibrated_p_a": judgment.p_a, "calibrator": self.method}
        return judgment.model_copy(
            update={
                **per_order,
                "p_a": p_a,
                "winner": winner,
                "confidence": max(p_a, 1.0 - p_a),
                "details": details,
            }
        )

    def save(self, path: str | Path) -> Path:
        """Write the calibrator as JSON; returns the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        return write_atomic(target, self.model_dump_json(indent=2) + "\n")


def load_calibrator(path: str | Path) -> Calibrator:
    """Read a calibrator JSON file; a missing or malformed file is a `ConfigError` naming it."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"calibrator {source}: cannot read ({exc.strerror})") from exc
    try:
        return Calibrator.model_validate_json(text)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '(top level)'}: {error['msg']}"
            for error in exc.errors()
        )
        raise ConfigError(
            f"calibrator {source}: not a valid calibrator file: {problems}",
            hint=f"write it with `judge calibrate fit` (format {FORMAT})",
        ) from exc


def _inputs(values: Any, kind: InputKind) -> FloatArray:
    return probabilities(values, "p") if kind == "probability" else finite_scores(values, "score")


def _log_odds(x: FloatArray, kind: InputKind) -> FloatArray:
    """The verdict log-odds: logit of a probability; a raw score is taken as log-odds as is."""
    return _fitting.logit(x) if kind == "probability" else x


def _fit_parameters(
    method: Method, kind: InputKind, x: FloatArray, y: FloatArray
) -> dict[str, Any]:
    if x.size == 0:
        raise InputError("cannot fit a calibrator on no rows")
    if method == "temperature":
        inverse = _fitting.fit_inverse_temperature(_log_odds(x, kind), y)
        # A judge no better than chance gets a huge temperature: everything near 0.5.
        return {"temperature": 1.0 / inverse if inverse > 0 else 1e6}
    if method == "platt":
        positives = float(y.sum())
        negatives = float(y.size - positives)
        targets = np.where(y > 0.5, (positives + 1) / (positives + 2), 1.0 / (negatives + 2))
        intercept, slope = _fitting.fit_logistic(_log_odds(x, kind)[:, None], targets)
        return {"slope": float(slope), "intercept": float(intercept)}
    if method == "isotonic":
        knots_x, knots_y = _fitting.fit_isotonic(x, y)
        return {"knots_x": tuple(knots_x.tolist()), "knots_y": tuple(knots_y.tolist())}
    raise ConfigError(f"unknown calibration method {method!r}", hint=f"use one of {METHODS}")


def _stratified_folds(y: FloatArray, folds: int, seed: int) -> npt.NDArray[np.int64]:
    """Assign each row a fold 0..folds-1, spreading each class evenly (seeded)."""
    rng = np.random.default_rng(seed)
    assignment = np.empty(y.size, dtype=np.int64)
    offset = 0
    for value in (0.0, 1.0):
        rows = np.flatnonzero(y == value)
        rng.shuffle(rows)
        assignment[rows] = (np.arange(rows.size) + offset) % folds
        offset += rows.size
    return assignment


def _stratified_holdout(y: FloatArray, share: float, seed: int) -> npt.NDArray[np.bool_]:
    """Mark about `share` of each class as held out (at least one row each side when possible)."""
    rng = np.random.default_rng(seed)
    held_out = np.zeros(y.size, dtype=np.bool_)
    for value in (0.0, 1.0):
        rows = np.flatnonzero(y == value)
        rng.shuffle(rows)
        take = min(max(1, round(share * rows.size)), rows.size - 1) if rows.size > 1 else 0
        held_out[rows[:take]] = True
    return held_out


def fit_calibrator(
    p_positive: Any,
    label: Any,
    *,
    method: Method = "temperature",
    fingerprint: JudgeFingerprint | None = None,
    holdout: float = 0.3,
    folds: int | None = None,
    seed: int = 0,
    input: InputKind = "probability",
) -> Calibrator:
    """Fit a calibrator and check it on data it was not fitted on.

    With `folds` (k >= 2), the check uses cross-validated predictions on all rows and the final
    calibrator is fitted on all rows. Otherwise a stratified `holdout` share is kept aside for
    the check and the calibrator is fitted on the rest. The before/after metrics travel in the
    calibrator's `check` field. With ``input="score"`` the values are raw scores of any scale
    (a reward model's, say): Platt or isotonic turn them into probabilities.
    """
    if method not in METHODS:
        raise ConfigError(f"unknown calibration method {method!r}", hint=f"use one of {METHODS}")
    p = _inputs(p_positive, input)
    y = binary(label, "label").astype(np.float64)
    if p.shape != y.shape:
        raise InputError(f"p has {p.size} values but label has {y.size}")
    if p.size < 4 or y.min() == y.max():
        raise InputError(
            f"cannot fit a calibrator on {p.size} rows with "
            f"{int(y.sum())} positive and {int(y.size - y.sum())} negative labels",
            hint="calibration needs both outcomes (correct and wrong verdicts), and more rows",
        )
    config = fingerprint or JudgeFingerprint()
    if folds is not None:
        if folds < 2:
            raise ConfigError(f"folds = {folds} must be at least 2")
        assignment = _stratified_folds(y, folds, seed)
        out_of_fold = np.empty_like(p)
        for fold in range(folds):
            test = assignment == fold
            fitted = Calibrator(
                method=method,
                input=input,
                fingerprint=config,
                n_fit=int((~test).sum()),
                **_fit_parameters(method, input, p[~test], y[~test]),
            )
            out_of_fold[test] = fitted.transform(p[test])
        check = HeldOutCheck(
            protocol=f"{folds}-fold cross-validation (seed {seed})",
            n_eval=int(p.size),
            before=score_card(p, y) if input == "probability" else None,
            after=score_card(out_of_fold, y),
        )
        return Calibrator(
            method=method,
            input=input,
            fingerprint=config,
            n_fit=int(p.size),
            check=check,
            **_fit_parameters(method, input, p, y),
        )
    if not 0.0 < holdout < 1.0:
        raise ConfigError(f"holdout = {holdout} must be between 0 and 1 (or give folds)")
    is_eval = _stratified_holdout(y, holdout, seed)
    calibrator = Calibrator(
        method=method,
        input=input,
        fingerprint=config,
        n_fit=int((~is_eval).sum()),
        **_fit_parameters(method, input, p[~is_eval], y[~is_eval]),
    )
    check = HeldOutCheck(
        protocol=f"held-out {is_eval.mean():.0%} split (stratified, seed {seed})",
        n_eval=int(is_eval.sum()),
        before=score_card(p[is_eval], y[is_eval]) if input == "probability" else None,
        after=score_card(calibrator.transform(p[is_eval]), y[is_eval]),
    )
    return calibrator.model_copy(update={"check": check})
