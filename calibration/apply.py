"""Fit and apply calibrators on records: which probabilities a calibrator sees, and where.

Pointwise records give one (p, label) row each. Pairwise records give one row per order run,
(P(a better) in that order, label == "a"), because a both-order judgment's P(a) is the mean of
its per-order probabilities and calibration is applied before that mean (see
`Calibrator.calibrate_pair`). Pairs with a gold tie or without probabilities give no row.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from judge.calibration import data
from judge.calibration._checks import BoolArray, FloatArray
from judge.calibration.jsonl import load_records
from judge.calibration.recalibrate import Calibrator, InputKind, Method, fit_calibrator
from judge.calibration.records import JudgeFingerprint, PairRecord, PointRecord
from judge.errors import InputError
from judge.storage import write_atomic
from judge.types import Judgment, PairJudgment

Records = Sequence[PointRecord] | Sequence[PairRecord]


def calibration_rows(records: Records) -> tuple[FloatArray, BoolArray]:
    """The (P(positive), label) rows a calibrator is fitted on, from either kind of record."""
    p: list[float] = []
    y: list[bool] = []
    for record in records:
        if isinstance(record, PointRecord):
            p.append(record.p)
            y.append(record.label)
        elif record.label in ("a", "b"):
            for value in (record.p_a_ab, record.p_a_ba):
                if value is not None:
                    p.append(value)
                    y.append(record.label == "a")
    if not p:
        raise InputError(
            "no record has a probability and a binary label to calibrate",
            hint="pairwise records need p_a_ab/p_a_ba (verdicts alone cannot be recalibrated) "
            "and a gold label a or b",
        )
    return np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.bool_)


def fit_on_records(
    records: Records,
    *,
    method: Method = "temperature",
    fingerprint: JudgeFingerprint | None = None,
    holdout: float = 0.3,
    folds: int | None = None,
    seed: int = 0,
    input: InputKind = "probability",
) -> Calibrator:
    """Fit a calibrator on records (see `calibration_rows`) and check it on held-out rows."""
    p, y = calibration_rows(records)
    return fit_calibrator(
        p,
        y,
        method=method,
        fingerprint=fingerprint,
        holdout=holdout,
        folds=folds,
        seed=seed,
        input=input,
    )


def calibrate_records(
    calibrator: Calibrator,
    records: Records,
    *,
    fingerprint: JudgeFingerprint,
    force: bool = False,
) -> list[Any]:
    """Return the records with calibrated probabilities (refusing another configuration)."""
    calibrator.ensure_fits(fingerprint, force=force)
    calibrated: list[Any] = []
    for record in records:
        if isinstance(record, PointRecord):
            calibrated.append(
                record.model_copy(update={"p": float(calibrator.transform([record.p])[0])})
            )
            continue
        update: dict[str, Any] = {}
        for order in ("ab", "ba"):
            value = getattr(record, f"p_a_{order}")
            if value is not None:
                update[f"p_a_{order}"] = float(calibrator.transform([value])[0])
                # The verdict is re-read from the calibrated probability (Platt may flip it).
                update[f"winner_{order}"] = None
        calibrated.append(record.model_copy(update=update))
    return calibrated


def read_fingerprint(path: str | Path) -> JudgeFingerprint:
    """Read a judge configuration from JSON: a fingerprint, or a file holding one.

    The fingerprint may sit under ``"fingerprint"``, as in the ``evaluation.json`` that
    `write_report` writes.
    """
    content = data.read_json(path)
    if isinstance(content, dict) and isinstance(content.get("fingerprint"), dict):
        content = content["fingerprint"]
    try:
        return JudgeFingerprint.model_validate(content)
    except ValidationError as exc:
        raise InputError(
            f"{path}: not a judge fingerprint ({exc.error_count()} problems)"
        ) from None


def fingerprint_beside(records_path: str | Path) -> JudgeFingerprint | None:
    """The fingerprint in the ``evaluation.json`` next to a records file, if there is one."""
    candidate = Path(records_path).parent / "evaluation.json"
    if not candidate.exists():
        return None
    content = data.read_json(candidate)
    if isinstance(content, dict) and isinstance(content.get("fingerprint"), dict):
        return read_fingerprint(candidate)
    return None


def calibrate_file(
    calibrator: Calibrator,
    source: str | Path,
    target: str | Path,
    *,
    fingerprint: JudgeFingerprint | None = None,
    force: bool = False,
) -> int:
    """Calibrate a JSONL of our judgments (`Judgment`/`PairJudgment` lines) or of records.

    Judgments carry their own configuration; records use `fingerprint` (or the one beside the
    file, or "unknown"). Writes `target` and returns the number of lines written.
    """
    rows = data.read_jsonl(source)
    first = rows[0][1]
    lines: list[str] = []
    if "sample_id" in first or "pair_id" in first:
        for line, row in rows:
            try:
                if "pair_id" in row:
                    pair = PairJudgment.model_validate(row)
                    lines.append(calibrator.calibrate_pair(pair, force=force).model_dump_json())
                else:
                    judgment = Judgment.model_validate(row)
                    lines.append(
                        calibrator.calibrate_judgment(judgment, force=force).model_dump_json()
                    )
            except ValidationError as exc:
                problem = exc.errors()[0]["msg"]
                raise InputError(f"{source}: line {line}: not a judgment: {problem}") from None
    else:
        records = load_records(source)
        config = fingerprint or fingerprint_beside(source) or JudgeFingerprint()
        calibrated = calibrate_records(calibrator, records, fingerprint=config, force=force)
        lines = [record.model_dump_json(exclude_none=True) for record in calibrated]
    output = Path(target)
    output.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(output, "".join(line + "\n" for line in lines))
    return len(lines)
