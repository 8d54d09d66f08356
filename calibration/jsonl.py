"""Judgments produced elsewhere, and labelled sets to evaluate a judge on, as JSONL.

Two record files (one JSON object per line):

- pointwise: ``{"id", "p", "label", "category"?, "length"?, "model"?, "gold_score"?}``, where
  `p` is the judge's probability (or score in [0, 1]) that the label is positive and `label` is
  true/false or 1/0. Other field names can be mapped (e.g. ``p_field="confidence",
  label_field="correct"`` for files that record confidence and correctness);
- pairwise: the fields of `PairRecord` (``label``, ``winner_ab``, ``winner_ba``, ``p_a_ab``, ...).

`load_eval_set` reads a labelled set to run a judge on: any released format of `calibration.data`,
or a JSONL with ``{"prompt", "chosen", "rejected"}`` (pairwise) or ``{"prompt", "response",
"label" | "gold_score"}`` (pointwise); either may carry a ``"reference"`` answer, which the
judge and the naive baseline then see.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from judge.calibration import data
from judge.calibration.records import LabelledPair, LabelledSample, PairRecord, PointRecord
from judge.errors import InputError
from judge.storage import write_atomic
from judge.types import Pair, Sample


def _label(value: Any, where: str, field: str) -> bool:
    if value is None:
        raise InputError(
            f"{where}: {field} is missing",
            hint=f"every row needs a gold {field} (true/false or 1/0)",
        )
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    raise InputError(f"{where}: {field} = {value!r} is not true/false or 1/0")


def _probability(value: Any, where: str, field: str) -> float:
    if value is None:
        raise InputError(f"{where}: {field} is missing")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{where}: {field} = {value!r} is not a number")
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        raise InputError(
            f"{where}: {field} = {value!r} is not a probability in [0, 1]",
            hint="raw scores need a Platt calibrator first (judge calibrate fit --input score)",
        )
    return float(value)


def load_point_records(
    path: str | Path,
    *,
    p_field: str = "p",
    label_field: str = "label",
    id_field: str = "id",
    category_field: str = "category",
    length_field: str = "length",
    model_field: str = "model",
) -> list[PointRecord]:
    """Read pointwise judgments with probabilities and labels; bad rows name line and field."""
    records = []
    for line, row in data.read_jsonl(path):
        where = f"{path}: line {line}"
        length = row.get(length_field)
        records.append(
            PointRecord(
                id=str(row.get(id_field, f"line-{line}")),
                p=_probability(row.get(p_field), where, p_field),
                label=_label(row.get(label_field), where, label_field),
                gold_score=row.get("gold_score"),
                category=None if row.get(category_field) is None else str(row[category_field]),
                length=None if length is None else int(length),
                model=row.get(model_field),
            )
        )
    return records


def _describe(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in error['loc']) or 'row'}: "
        + ("unknown field" if error["type"] == "extra_forbidden" else error["msg"])
        for error in exc.errors()
    )


def load_pair_records(path: str | Path) -> list[PairRecord]:
    """Read pairwise judgments (the `PairRecord` fields, one object per line)."""
    records = []
    for line, row in data.read_jsonl(path):
        row.setdefault("id", f"line-{line}")
        try:
            records.append(PairRecord.model_validate(row))
        except ValidationError as exc:
            raise InputError(
                f"{path}: line {line}: {_describe(exc)}",
                hint="fields: id, label, orders, winner_ab, winner_ba, p_a_ab, p_a_ba, len_a, "
                "len_b, model_a, model_b, category",
            ) from None
    return records


def load_records(path: str | Path, **fields: str) -> list[PointRecord] | list[PairRecord]:
    """Read a record file, pairwise when its first row has pairwise fields, else pointwise."""
    first = data.read_jsonl(path)[0][1]
    pairwise = {"winner_ab", "winner_ba", "p_a_ab", "p_a_ba"} & set(first)
    return load_pair_records(path) if pairwise else load_point_records(path, **fields)


def write_records(records: Sequence[BaseModel], path: str | Path) -> Path:
    """Write records as JSONL (the format `load_records` reads)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(
        target, "".join(record.model_dump_json(exclude_none=True) + "\n" for record in records)
    )


class EvalSet(BaseModel):
    """A labelled set to run a judge on: pairs or samples (one kind per set)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    kind: Literal["pairwise", "pointwise"]
    pairs: tuple[LabelledPair, ...] = ()
    samples: tuple[LabelledSample, ...] = ()

    def __len__(self) -> int:
        return len(self.pairs) if self.kind == "pairwise" else len(self.samples)

    def judged_items(self) -> list[Sample] | list[Pair]:
        """What a judge is given for the items: Samples (pointwise) or Pairs, labels left out."""
        if self.kind == "pointwise":
            return [
                Sample(id=s.id, prompt=s.prompt, response=s.response, reference=s.reference)
                for s in self.samples
            ]
        return [
            Pair(
                id=p.id,
                prompt=p.prompt,
                response_a=p.response_a,
                response_b=p.response_b,
                reference=p.reference,
            )
            for p in self.pairs
        ]

    def mixed_groups(self) -> EvalSet:
        """Only the best-of-N groups with both right and wrong responses (where a pick matters)."""
        labels: dict[str | None, set[bool]] = {}
        for sample in self.samples:
            labels.setdefault(sample.group, set()).add(sample.label)
        kept = tuple(s for s in self.samples if s.group is not None and len(labels[s.group]) == 2)
        return self.model_copy(update={"name": f"{self.name} (mixed groups)", "samples": kept})

    def head(self, limit: int | None) -> EvalSet:
        """The first `limit` items (all when None)."""
        if limit is None:
            return self
        return self.model_copy(
            update={"pairs": self.pairs[:limit], "samples": self.samples[:limit]}
        )


def _reference(row: dict[str, Any], where: str) -> str | None:
    value = row.get("reference")
    if value is None or isinstance(value, str):
        return value
    raise InputError(f"{where}: reference {value!r} is not text", hint="give it as a string")


def _generic_pairs(rows: list[tuple[int, dict[str, Any]]], path: Path, seed: int) -> EvalSet:
    rng = np.random.default_rng(seed)
    pairs = []
    for line, row in rows:
        missing = [f for f in ("prompt", "chosen", "rejected") if not isinstance(row.get(f), str)]
        if missing:
            raise InputError(f"{path}: line {line}: {', '.join(missing)} missing or not text")
        # Put the better response first or second at random, so position bias cannot pass
        # for accuracy.
        chosen_first = bool(rng.random() < 0.5)
        chosen = (row["chosen"], row.get("model_chosen"))
        rejected = (row["rejected"], row.get("model_rejected"))
        first, second = (chosen, rejected) if chosen_first else (rejected, chosen)
        pairs.append(
            LabelledPair(
                id=str(row.get("id", f"line-{line}")),
                prompt=row["prompt"],
                response_a=first[0],
                response_b=second[0],
                label="a" if chosen_first else "b",
                category=row.get("category"),
                model_a=first[1],
                model_b=second[1],
                reference=_reference(row, f"{path}: line {line}"),
            )
        )
    return EvalSet(name=path.stem, kind="pairwise", pairs=tuple(pairs))


def _generic_samples(
    rows: list[tuple[int, dict[str, Any]]], path: Path, gold_threshold: float | None
) -> EvalSet:
    samples = []
    for line, row in rows:
        where = f"{path}: line {line}"
        missing = [f for f in ("prompt", "response") if not isinstance(row.get(f), str)]
        if missing:
            raise InputError(f"{where}: {', '.join(missing)} missing or not text")
        gold_score = row.get("gold_score")
        if row.get("label") is not None:
            label = _label(row["label"], where, "label")
        elif gold_score is not None and gold_threshold is not None:
            label = float(gold_score) >= gold_threshold
        else:
            raise InputError(
                f"{where}: label is missing",
                hint="give label (true/false), or gold_score with --gold-threshold",
            )
        samples.append(
            LabelledSample(
                id=str(row.get("id", f"line-{line}")),
                prompt=row["prompt"],
                response=row["response"],
                label=label,
                gold_score=None if gold_score is None else float(gold_score),
                category=row.get("category"),
                model=row.get("model"),
                group=None if row.get("group") is None else str(row["group"]),
                answer=None if row.get("answer") is None else str(row["answer"]),
                reference=_reference(row, where),
            )
        )
    return EvalSet(name=path.stem, kind="pointwise", samples=tuple(samples))


def load_eval_set(
    path: str | Path, *, seed: int = 0, gold_threshold: float | None = None
) -> EvalSet:
    """Read a labelled set, recognising the released benchmark formats (`data`) by content."""
    source = Path(path)
    if source.is_dir():
        if not (source / "dataset.json").exists():
            raise InputError(f"{source}: a folder must hold an LLMBar dataset.json")
        source = source / "dataset.json"
    if source.suffix == ".json":
        items = data.read_json(source)
        first = items[0] if isinstance(items, list) and items else {}
        name = source.parent.name if source.name == "dataset.json" else source.stem
        if {"output_1", "output_2", "label"} <= set(first):
            pairs = tuple(data.load_llmbar_dataset(source))
            return EvalSet(name=name, kind="pairwise", pairs=pairs)
        if "annotator1" in first:
            return EvalSet(name=name, kind="pairwise", pairs=tuple(data.load_pandalm(source)))
        if "chosen_instruction" in first:
            pairs = tuple(data.load_prometheus_hhh(source, seed=seed))
            return EvalSet(name=name, kind="pairwise", pairs=pairs)
        raise InputError(f"{source}: not a known labelled JSON format (LLMBar, PandaLM, HHH)")
    rows = data.read_jsonl(source)
    first_row = rows[0][1]
    if {"chatgpt_response", "hallucination"} <= set(first_row):
        return EvalSet(
            name=source.stem, kind="pointwise", samples=tuple(data.load_halueval(source))
        )
    if "pred_score" in first_row:
        samples = tuple(data.load_math_verification(source))
        return EvalSet(name=source.stem, kind="pointwise", samples=samples)
    if {"chosen", "rejected"} <= set(first_row):
        return _generic_pairs(rows, source, seed)
    if "response" in first_row:
        return _generic_samples(rows, source, gold_threshold)
    raise InputError(
        f"{source}: line {rows[0][0]}: not a labelled set",
        hint="pairwise rows need prompt, chosen, rejected; pointwise rows need prompt, response "
        "and label (or gold_score)",
    )
