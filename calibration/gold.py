"""The labels a person gave in `judge view` as gold: records to fit on, a labelled set to evaluate.

A pointwise label says whether the judge was right; the gold it implies is the judge's verdict
(score >= 0.5 passes) if right, else the opposite. Per-criterion labels give the gold of each
criterion's yes/no the same way. A pairwise label names the better response. Labels of several
judge configurations are refused together (a calibrator is fitted for one).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from judge.calibration.records import JudgeFingerprint, PairRecord, PointRecord
from judge.errors import ConfigError, InputError
from judge.storage import write_atomic
from judge.view.labels import Label, read_labels

Level = Literal["judgment", "criterion"]
GOLD_SET = "gold-from-labels.jsonl"
"""The labelled set `judge eval --labels` writes into its report folder and evaluates on."""
LEVELS: tuple[Level, ...] = ("judgment", "criterion")


def _labels(path: Path) -> list[Label]:
    if not path.is_file():
        raise InputError(
            f"--labels {path}: no such file", hint="judge view writes <run>.labels.jsonl"
        )
    labels = list(read_labels(path).values())
    if not labels:
        raise InputError(f"--labels {path}: no labels in it", hint="label judgments in judge view")
    kinds = {label.kind for label in labels}
    if len(kinds) > 1:
        raise InputError(f"--labels {path}: pointwise and pairwise labels mixed")
    return labels


def label_fingerprint(labels: Sequence[Label], path: Path) -> JudgeFingerprint:
    """The one judge configuration the labels were given on; several are refused."""
    found = {
        JudgeFingerprint(
            model=label.model,
            rubric_fingerprint=label.rubric_fingerprint,
            template_fingerprint=label.template_fingerprint,
            settings_fingerprint=label.settings_fingerprint,
        )
        for label in labels
    }
    if len(found) > 1:
        first, second = sorted(found, key=lambda f: f.model_dump_json())[:2]
        raise InputError(
            f"--labels {path}: labels of {len(found)} judge configurations ("
            + "; ".join(first.differences(second))
            + ")",
            hint="fit one configuration at a time: label one run per labels file",
        )
    return found.pop()


def label_records(
    path: Path, level: Level = "judgment"
) -> tuple[list[PointRecord] | list[PairRecord], JudgeFingerprint]:
    """Records to calibrate on (`judge calibrate fit --labels`), and the judge they are for."""
    if level not in LEVELS:
        raise ConfigError(f"--labels-level {level!r}", hint="judgment or criterion")
    labels = _labels(path)
    fingerprint = label_fingerprint(labels, path)
    if labels[0].kind == "pairwise":
        pairs = [
            PairRecord(
                id=label.sample_id,
                label=label.better,
                orders="both" if label.p_a_ba is not None or label.winner_ba else "ab",
                winner_ab=_side(label.winner_ab),
                winner_ba=_side(label.winner_ba),
                p_a_ab=label.p_a_ab if label.p_a_ab is not None else label.p_a,
                p_a_ba=label.p_a_ba,
            )
            for label in labels
            if label.better is not None
        ]
        if not pairs:
            raise InputError(f"--labels {path}: no pair has a better response picked")
        return pairs, fingerprint
    points: list[PointRecord] = []
    for label in labels:
        if level == "judgment":
            if label.gold is not None and label.judge_score is not None:
                points.append(
                    PointRecord(id=label.sample_id, p=label.judge_score, label=label.gold)
                )
            continue
        for criterion, p_yes in label.verdicts.items():
            gold = label.criterion_gold(criterion)
            if gold is not None and p_yes is not None:
                points.append(PointRecord(id=f"{label.sample_id}/{criterion}", p=p_yes, label=gold))
    if not points:
        what = "judgment (right/wrong)" if level == "judgment" else "criterion"
        raise InputError(
            f"--labels {path}: no {what} labels with a score to calibrate",
            hint="label judgments right or wrong in judge view"
            if level == "judgment"
            else "mark criteria right or wrong in judge view, or use --labels-level judgment",
        )
    return points, fingerprint


def _side(value: str | None) -> Any:
    return value if value in ("a", "b", "tie") else None


def gold_rows(path: Path) -> list[dict[str, Any]]:
    """The labelled items as a `judge eval` data file's rows (pointwise or pairwise)."""
    rows: list[dict[str, Any]] = []
    for label in _labels(path):
        if label.prompt is None:
            raise InputError(
                f"--labels {path}: {label.sample_id!r} has no prompt (a chat sample)",
                hint="judge eval reads prompt + response items; fit a calibrator instead",
            )
        extra = {} if label.reference is None else {"reference": label.reference}
        if label.kind == "pairwise":
            if (
                label.better not in ("a", "b")
                or label.response_a is None
                or label.response_b is None
            ):
                continue
            a, b = label.response_a, label.response_b
            chosen, rejected = (a, b) if label.better == "a" else (b, a)
            rows.append(
                {
                    "id": label.sample_id,
                    "prompt": label.prompt,
                    "chosen": chosen,
                    "rejected": rejected,
                    **extra,
                }
            )
        elif label.gold is not None and label.response is not None:
            rows.append(
                {
                    "id": label.sample_id,
                    "prompt": label.prompt,
                    "response": label.response,
                    "label": label.gold,
                    **extra,
                }
            )
    if not rows:
        raise InputError(f"--labels {path}: no labelled item to evaluate on")
    return rows


def write_gold_set(path: Path, target: Path) -> Path:
    """Write the labelled items as a JSONL `judge eval` reads; return its path."""
    rows = gold_rows(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(target, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def records_or_labels(given: Path | None, labels: Path | None, what: str) -> None:
    """Refuse both (or neither) of a records or data argument and `--labels`."""
    if given is not None and labels is not None:
        raise ConfigError(f"give {what} or --labels, not both")
    if given is None and labels is None:
        raise ConfigError(f"no {what} given", hint=f"give {what}, or --labels FILE from judge view")
