"""The fitted score rule: a logistic fit over the criteria's log-odds, fitted from labels.

``score = sigmoid(b + sum_k w_k logit(P_k(yes)))`` over the rubric's criteria (a criterion
missing from a judgment contributes log-odds 0). Unlike the weighted mean, a criterion the model
cannot judge gets a weight near 0 and one that separates well a large weight; unlike the hard-rule
cap, no single criterion binds the score. A pair's P(a) is ``sigmoid(sum_k w_k (z_k(a) -
z_k(b)))``, fitted symmetrically (each pair also enters swapped), so it has no position term. When
a judgment carries the reference anchor (``details["anchor"]``), the anchor is left out of the
fit and placed afterwards (`judge.runner.aggregate.anchored`), so the fit cannot outvote it.

The fit is applied through the calibrator path (`Judge(calibrator=...)`, ``--calibrator``).
It checks the model, rubric and template fingerprints, not the settings fingerprint: it is fitted
on judgments made under another score rule, whose verdicts are the same.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from judge.calibration import _fitting
from judge.calibration.recalibrate import Calibrator, load_calibrator
from judge.calibration.records import JudgeFingerprint
from judge.errors import ConfigError, InputError
from judge.runner.aggregate import anchored
from judge.storage import write_atomic
from judge.types import Judgment, PairJudgment

FORMAT: Literal["judge-criteria-fit/1"] = "judge-criteria-fit/1"
DEFAULT_RIDGE = 0.1
"""L2 penalty on the weights (per-row mean loss): small labelled sets must not overfit."""

Values = Mapping[str, float | None]
"""Criterion id -> P(yes) of one judgment (None when that verdict has no probability)."""


def _log_odds(values: Values, criteria: Sequence[str]) -> np.ndarray:
    row = [values.get(criterion) for criterion in criteria]
    probs = np.asarray([0.5 if p is None else p for p in row], dtype=np.float64)
    return _fitting.logit(probs)


class CriteriaFit(BaseModel):
    """Fitted weights over the criteria's log-odds, with the configuration they were fitted for."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["judge-criteria-fit/1"] = FORMAT
    method: Literal["criteria"] = "criteria"
    mode: Literal["pointwise", "pairwise"] = "pointwise"
    fingerprint: JudgeFingerprint
    criteria: tuple[str, ...]
    weights: tuple[float, ...]
    intercept: float = 0.0
    ridge: float = DEFAULT_RIDGE
    n_fit: int

    def score(self, values: Values, *, anchor: str | None = None) -> float:
        """The fitted score of one judgment's P(yes) values; `anchor` then places it."""
        z = _log_odds(values, self.criteria)
        fitted = float(_fitting.sigmoid(np.asarray([self.intercept + z @ self.weights]))[0])
        agreement = values.get(anchor) if anchor is not None else None
        return fitted if agreement is None else anchored(agreement, fitted)

    def p_a(self, a: Values, b: Values) -> float:
        """A pair's fitted P(a better) from both responses' P(yes) values."""
        z = _log_odds(a, self.criteria) - _log_odds(b, self.criteria)
        return float(_fitting.sigmoid(np.asarray([z @ self.weights]))[0])

    def ensure_fits(self, fingerprint: JudgeFingerprint, *, force: bool = False) -> None:
        """Refuse judgments of another model, rubric or template unless `force`."""
        differences = [
            line
            for line in self.fingerprint.differences(fingerprint)
            if not line.startswith("settings_fingerprint")
        ]
        if differences and not force:
            raise ConfigError(
                "criteria fit was made for another judge configuration: " + "; ".join(differences),
                hint="fit it again on this model/rubric (judge calibrate fit-criteria), "
                "or pass --force",
            )

    def calibrate_judgment(self, judgment: Judgment, *, force: bool = False) -> Judgment:
        """The judgment with its score replaced by the fitted score (the raw one in details)."""
        self.ensure_fits(JudgeFingerprint.of(judgment), force=force)
        if judgment.score is None:
            return judgment
        values = {v.criterion_id: v.p_yes for v in judgment.verdicts}
        anchor = judgment.details.get("anchor")
        score = self.score(values, anchor=anchor if isinstance(anchor, str) else None)
        details = {
            **judgment.details,
            "uncalibrated_score": judgment.score,
            "calibrator": "criteria",
        }
        return judgment.model_copy(
            update={"score": score, "confidence": max(score, 1.0 - score), "details": details}
        )

    def calibrate_pair(self, judgment: PairJudgment, *, force: bool = False) -> PairJudgment:
        """A rubric comparison's P(a) from the fit; a direct comparison is returned unchanged."""
        self.ensure_fits(JudgeFingerprint.of(judgment), force=force)
        terms = judgment.details.get("criteria")
        if judgment.p_a is None or not isinstance(terms, dict):
            return judgment
        a = {name: term["a"] for name, term in terms.items()}
        b = {name: term["b"] for name, term in terms.items()}
        p_a = self.p_a(a, b)
        winner = "a" if p_a > 0.5 else "b" if p_a < 0.5 else "tie"
        details = {**judgment.details, "uncalibrated_p_a": judgment.p_a, "calibrator": "criteria"}
        return judgment.model_copy(
            update={
                "p_a": p_a,
                "winner": winner,
                "confidence": max(p_a, 1.0 - p_a),
                "details": details,
            }
        )

    def save(self, path: str | Path) -> Path:
        """Write the fit as JSON; returns the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        return write_atomic(target, self.model_dump_json(indent=2) + "\n")


def _criteria(rows: Sequence[Values], criteria: Sequence[str] | None) -> tuple[str, ...]:
    if criteria is not None:
        return tuple(criteria)
    return tuple(dict.fromkeys(name for row in rows for name in row))


def _check_rows(count: int, labels: np.ndarray, what: str) -> None:
    if count != labels.size:
        raise InputError(f"{count} {what} but {labels.size} labels")
    if count < 4 or labels.min() == labels.max():
        raise InputError(
            f"cannot fit criteria weights on {count} {what} with {int(labels.sum())} positive "
            f"and {int(labels.size - labels.sum())} negative labels",
            hint="the fit needs both outcomes and at least 4 labelled items",
        )


def fit_criteria(
    rows: Sequence[Values],
    labels: Sequence[bool],
    *,
    criteria: Sequence[str] | None = None,
    fingerprint: JudgeFingerprint | None = None,
    ridge: float = DEFAULT_RIDGE,
) -> CriteriaFit:
    """Fit pointwise weights: each row maps criterion id -> P(yes); label True is a pass.

    Leave the anchor criterion out of `criteria` (or the rows): it is placed after the fit.
    """
    names = _criteria(rows, criteria)
    y = np.asarray(labels, dtype=np.float64)
    _check_rows(len(rows), y, "judgments")
    features = np.vstack([_log_odds(row, names) for row in rows])
    weights = _fitting.fit_logistic(features, y, ridge=ridge)
    return CriteriaFit(
        fingerprint=fingerprint or JudgeFingerprint(),
        criteria=names,
        weights=tuple(float(w) for w in weights[1:]),
        intercept=float(weights[0]),
        ridge=ridge,
        n_fit=len(rows),
    )


def fit_pair_criteria(
    rows_a: Sequence[Values],
    rows_b: Sequence[Values],
    labels: Sequence[bool],
    *,
    criteria: Sequence[str] | None = None,
    fingerprint: JudgeFingerprint | None = None,
    ridge: float = DEFAULT_RIDGE,
) -> CriteriaFit:
    """Fit pairwise weights on log-odds differences; label True means a is better.

    Every pair also enters swapped (features negated, label flipped), so the fit has no
    position term and its intercept is 0.
    """
    names = _criteria([*rows_a, *rows_b], criteria)
    y = np.asarray(labels, dtype=np.float64)
    _check_rows(len(rows_a), y, "pairs")
    if len(rows_b) != len(rows_a):
        raise InputError(f"{len(rows_a)} a-sides but {len(rows_b)} b-sides")
    diff = np.vstack(
        [_log_odds(a, names) - _log_odds(b, names) for a, b in zip(rows_a, rows_b, strict=True)]
    )
    features = np.vstack([diff, -diff])
    targets = np.concatenate([y, 1.0 - y])
    weights = _fitting.fit_logistic(features, targets, ridge=ridge)
    return CriteriaFit(
        mode="pairwise",
        fingerprint=fingerprint or JudgeFingerprint(),
        criteria=names,
        weights=tuple(float(w) for w in weights[1:]),
        intercept=0.0,
        ridge=ridge,
        n_fit=len(rows_a),
    )


def fit_from_judgments(
    judgments: Sequence[Judgment], labels: Mapping[str, bool], *, ridge: float = DEFAULT_RIDGE
) -> CriteriaFit:
    """Fit on our judgments (matched to `labels` by sample id); failed ones are left out."""
    used = [j for j in judgments if j.score is not None and j.sample_id in labels]
    if not used:
        raise InputError(
            "no judgment has a score and a label",
            hint="judge the labelled set (judge score --input DATA --output J.jsonl) first",
        )
    fingerprint = JudgeFingerprint.common(used)
    rows = []
    for judgment in used:
        anchor = judgment.details.get("anchor")
        rows.append(
            {v.criterion_id: v.p_yes for v in judgment.verdicts if v.criterion_id != anchor}
        )
    return fit_criteria(
        rows, [labels[j.sample_id] for j in used], fingerprint=fingerprint, ridge=ridge
    )


def load_criteria_fit(path: str | Path) -> CriteriaFit:
    """Read a criteria fit JSON file; a missing or malformed file is a `ConfigError`."""
    source = Path(path)
    try:
        return CriteriaFit.model_validate_json(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"criteria fit {source}: cannot read ({exc.strerror})") from exc
    except ValidationError as exc:
        raise ConfigError(
            f"criteria fit {source}: not a criteria fit file ({exc.error_count()} problems)",
            hint=f"write it with `judge calibrate fit-criteria` (format {FORMAT})",
        ) from exc


def is_criteria_fit(path: str | Path) -> bool:
    """Whether a calibrator file is a criteria fit (by its format field); False if unreadable."""
    try:
        parsed: Any = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(parsed, dict) and parsed.get("format") == FORMAT


def load_score_calibrator(path: str | Path) -> Calibrator | CriteriaFit:
    """A calibrator file of either kind: a probability calibrator or a criteria fit."""
    return load_criteria_fit(path) if is_criteria_fit(path) else load_calibrator(path)
