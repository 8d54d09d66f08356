"""Loaders for released judge benchmarks (LLMBar, PandaLM, Prometheus HHH, HaluEval, MATH).

Each loader reads one upstream format and returns our records: `LabelledPair` / `LabelledSample`
for items to judge, `PairRecord` for released judgments. Problems are `InputError`s naming the
file, the item and the field. Every loader takes the path of the file it reads; nothing here
has a default location, downloads anything or looks for a data folder.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from judge.calibration.records import LabelledPair, LabelledSample, PairRecord, Side
from judge.errors import InputError


def read_json(path: str | Path) -> Any:
    """Parse a JSON file; a missing, empty or malformed file is an `InputError` naming it."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{source}: cannot read ({exc.strerror})") from exc
    if not text.strip():
        raise InputError(f"{source}: the file is empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{source}: not valid JSON at line {exc.lineno}: {exc.msg}") from exc


def _json_list(path: str | Path, required: tuple[str, ...]) -> list[dict[str, Any]]:
    data = read_json(path)
    if not isinstance(data, list) or not data:
        raise InputError(f"{path}: expected a non-empty JSON list of items")
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            raise InputError(f"{path}: item {index} is not an object")
        missing = [name for name in required if item.get(name) is None]
        if missing:
            raise InputError(f"{path}: item {index} lacks field(s) {', '.join(missing)}")
    return data


def _text(value: Any, path: str | Path, index: int, field: str) -> str:
    """A text field; a bare JSON scalar (PandaLM has responses that are just ``true``) as text."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    raise InputError(f"{path}: item {index}: {field} is a {type(value).__name__}, not text")


def _side(value: Any, path: str | Path, index: int, field: str) -> Side:
    """Map an upstream 1/2 (or "1"/"2") to our a/b naming."""
    if str(value) == "1":
        return "a"
    if str(value) == "2":
        return "b"
    raise InputError(f"{path}: item {index}: {field} = {value!r} is not 1 or 2")


def _subset_name(path: Path) -> str:
    """LLMBar subset from `<subset>/dataset.json`, `<subset>/evaluators/...` or Processed_X.json."""
    if path.name.startswith("Processed_"):
        return path.stem.removeprefix("Processed_")
    for parent in path.parents:
        if (parent / "dataset.json").exists() or parent.name.startswith(("Natural", "Adversarial")):
            return parent.name
    return path.parent.name


def load_llmbar_dataset(path: str | Path) -> list[LabelledPair]:
    """Read an LLMBar ``dataset.json`` or ``Processed_*.json``: instruction, two outputs, label."""
    source = Path(path)
    subset = _subset_name(source)
    items = _json_list(source, ("input", "output_1", "output_2", "label"))
    return [
        LabelledPair(
            id=f"{subset}/{index}",
            prompt=item["input"],
            response_a=item["output_1"],
            response_b=item["output_2"],
            label=_side(item["label"], source, index, "label"),
            category=subset,
        )
        for index, item in enumerate(items)
    ]


def load_llmbar_judgments(path: str | Path, *, run: int = -1) -> list[PairRecord]:
    """Read an LLMBar ``evaluators/<judge>/Swap/result.json`` into pair records.

    `run` picks one of an item's runs (the last one is the one the paper's figures come from).
    ``swap = False`` is the a-first order and ``swap = True`` the b-first order; winners are
    already in the item's own numbering. A missing winner (the judge's output was unreadable)
    stays None. Lengths are in characters.
    """
    source = Path(path)
    subset = _subset_name(source)
    records = []
    for index, item in enumerate(_json_list(source, ("output_1", "output_2", "label", "results"))):
        runs = item["results"]
        if not isinstance(runs, list) or not runs:
            raise InputError(f"{source}: item {index}: results is not a non-empty list")
        chosen = runs[run]
        winners: dict[str, Side | None] = {}
        for key, order in (("swap = False", "ab"), ("swap = True", "ba")):
            if not isinstance(chosen, dict) or key not in chosen:
                raise InputError(f"{source}: item {index}: run lacks {key!r}")
            winner = chosen[key].get("winner")
            winners[order] = None if winner is None else _side(winner, source, index, key)
        records.append(
            PairRecord(
                id=f"{subset}/{index}",
                label=_side(item["label"], source, index, "label"),
                winner_ab=winners["ab"],
                winner_ba=winners["ba"],
                len_a=len(item["output_1"]),
                len_b=len(item["output_2"]),
                category=subset,
            )
        )
    return records


class Count(BaseModel):
    """A ``k / n`` figure from a statistics file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    k: int
    n: int


class LLMBarStatistics(BaseModel):
    """The published figures in an LLMBar ``statistics.json`` that are counts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    correct_false: Count
    correct_true: Count
    correct_both: Count
    equal: Count
    kappa_agreement: float


_COUNT = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*=")


def load_llmbar_statistics(path: str | Path) -> LLMBarStatistics:
    """Read the counts of an LLMBar ``statistics.json`` (e.g. ``"94 / 100 = 94.0%"``)."""
    data = read_json(path)

    def count(field: str) -> Count:
        match = _COUNT.match(str(data.get(field, "")))
        if match is None:
            raise InputError(f"{path}: {field} = {data.get(field)!r} is not 'k / n = ...%'")
        return Count(k=int(match.group(1)), n=int(match.group(2)))

    return LLMBarStatistics(
        correct_false=count("correct_False"),
        correct_true=count("correct_True"),
        correct_both=count("correct_both"),
        equal=count("equal"),
        kappa_agreement=float(data["kappa_agreement"]),
    )


_PANDALM_SIDES: dict[str, Side] = {"0": "tie", "1": "a", "2": "b", "tie": "tie"}


def _pandalm_label(item: dict[str, Any], path: str | Path, index: int) -> Side:
    votes = [str(item[f"annotator{k}"]) for k in (1, 2, 3)]
    counts = Counter(votes)
    # The majority vote; with three different votes (none in testset-v1) annotator 1's, as
    # upstream's own metric script does.
    winner = max(votes, key=lambda vote: counts[vote])
    if winner not in _PANDALM_SIDES:
        raise InputError(f"{path}: item {index}: annotator vote {winner!r} is not 0, 1 or 2")
    return _PANDALM_SIDES[winner]


def load_pandalm(path: str | Path) -> list[LabelledPair]:
    """Read PandaLM's ``testset-v1.json``: gold is the majority of three annotators (0 = tie).

    Prompts are the instruction followed by its input; source models come from ``cmp_key``
    (``"<model of response1>_<model of response2>"``).
    """
    source = Path(path)
    items = _json_list(
        source, ("idx", "cmp_key", "instruction", "response1", "response2", "annotator1")
    )
    pairs = []
    for index, item in enumerate(items):
        model_a, _, model_b = str(item["cmp_key"]).partition("_")
        prompt = _text(item["instruction"], source, index, "instruction")
        if item.get("input"):
            prompt += "\n\n" + _text(item["input"], source, index, "input")
        pairs.append(
            LabelledPair(
                id=f"pandalm/{item['idx']}",
                prompt=prompt,
                response_a=_text(item["response1"], source, index, "response1"),
                response_b=_text(item["response2"], source, index, "response2"),
                label=_pandalm_label(item, source, index),
                category=item.get("motivation_app"),
                model_a=model_a or None,
                model_b=model_b or None,
            )
        )
    return pairs


def load_pandalm_judgments(testset: str | Path, judgments: str | Path) -> list[PairRecord]:
    """Read a released PandaLM judgment file (GPT-3.5 or PandaLM-7B) against the test set.

    The judges ran in one order only. Their verdict "1"/"2"/"Tie" maps to a/b/tie; an
    unparseable output ("garbage") is None: map it to a tie yourself where upstream did.
    """
    pairs = {pair.id: pair for pair in load_pandalm(testset)}
    rows = _json_list(judgments, ("idx",))
    records = []
    for index, row in enumerate(rows):
        result_key = next((key for key in row if key.endswith("_result")), None)
        if result_key is None:
            raise InputError(f"{judgments}: item {index} has no '*_result' field")
        pair = pairs.get(f"pandalm/{row['idx']}")
        if pair is None:
            raise InputError(f"{judgments}: item {index}: idx {row['idx']!r} is not in {testset}")
        raw = str(row[result_key]).strip().lower()
        verdict = _PANDALM_SIDES.get(raw)
        records.append(
            PairRecord(
                id=pair.id,
                label=pair.label,
                orders="ab",
                winner_ab=verdict,
                len_a=len(pair.response_a),
                len_b=len(pair.response_b),
                model_a=pair.model_a,
                model_b=pair.model_b,
                category=pair.category,
            )
        )
    return records


_PROMETHEUS = re.compile(
    r"###The instruction to evaluate:\s*(?P<instruction>.*?)\s*"
    r"###Response to evaluate:\s*(?P<response>.*?)\s*"
    r"###(?:Reference Answer|Score Rubrics)",
    re.DOTALL,
)


def _prometheus_parts(prompt: str, path: str | Path, index: int, field: str) -> tuple[str, str]:
    match = _PROMETHEUS.search(prompt)
    if match is None:
        raise InputError(f"{path}: item {index}: {field} is not a Prometheus grading prompt")
    return match.group("instruction"), match.group("response")


def load_prometheus_hhh(path: str | Path, *, seed: int = 0) -> list[LabelledPair]:
    """Read Prometheus's HHH-alignment pairs; the better response goes to a or b at random.

    The instruction and the two responses are cut out of the full grading prompts. The random
    placement (seeded) keeps a position-biased judge from looking accurate.
    """
    source = Path(path)
    items = _json_list(source, ("source", "chosen_instruction", "rejected_instruction"))
    chosen_first = np.random.default_rng(seed).random(len(items)) < 0.5
    pairs = []
    for index, item in enumerate(items):
        prompt, chosen = _prometheus_parts(item["chosen_instruction"], source, index, "chosen")
        _, rejected = _prometheus_parts(item["rejected_instruction"], source, index, "rejected")
        first, second = (chosen, rejected) if chosen_first[index] else (rejected, chosen)
        pairs.append(
            LabelledPair(
                id=f"hhh/{index}",
                prompt=prompt,
                response_a=first,
                response_b=second,
                label="a" if chosen_first[index] else "b",
                category=item["source"],
            )
        )
    return pairs


def load_halueval(path: str | Path) -> list[LabelledSample]:
    """Read HaluEval's general data: `label` is True when the answer is NOT hallucinated."""
    samples = []
    for line, row in read_jsonl(path):
        for field in ("ID", "user_query", "chatgpt_response", "hallucination"):
            if row.get(field) is None:
                raise InputError(f"{path}: line {line}: {field} is missing")
        verdict = str(row["hallucination"]).strip().lower()
        if verdict not in ("yes", "no"):
            raise InputError(f"{path}: line {line}: hallucination = {verdict!r} is not yes/no")
        samples.append(
            LabelledSample(
                id=f"halueval/{row['ID']}",
                prompt=row["user_query"],
                response=row["chatgpt_response"],
                label=verdict == "no",
                model="chatgpt",
            )
        )
    return samples


def load_math_verification(path: str | Path) -> list[LabelledSample]:
    """Read the RL-Verifier-Pitfalls MATH file: 8 solutions per problem, rule-checked labels.

    Each solution's reward-model score goes to `released_score`; `category` is the MATH level;
    `group` is the problem (8 solutions each: best-of-N data) and `answer` its extracted answer.
    """
    samples = []
    for line, row in read_jsonl(path):
        for field in ("idx", "question", "response", "score", "pred_score"):
            if row.get(field) is None:
                raise InputError(f"{path}: line {line}: {field} is missing")
        responses, labels, scores = row["response"], row["score"], row["pred_score"]
        answers = row.get("pred") or [None] * len(responses)
        if not len(responses) == len(labels) == len(scores) == len(answers):
            raise InputError(
                f"{path}: line {line}: response, score, pred_score and pred differ in length"
            )
        for k, (response, label, score) in enumerate(zip(responses, labels, scores, strict=True)):
            value = score[0] if isinstance(score, list) else score
            if not isinstance(label, bool):
                raise InputError(f"{path}: line {line}: score[{k}] = {label!r} is not a boolean")
            samples.append(
                LabelledSample(
                    id=f"math/{row['idx']}/{k}",
                    prompt=row["question"],
                    response=response,
                    label=label,
                    category=row.get("level"),
                    released_score=float(value),
                    group=f"math/{row['idx']}",
                    answer=None if answers[k] is None else str(answers[k]),
                )
            )
    return samples


def read_jsonl(path: str | Path) -> list[tuple[int, dict[str, Any]]]:
    """Parse a JSONL file into (line number, object) pairs; blank lines are skipped.

    An unreadable or empty file, a malformed line or a line that is not an object is an
    `InputError` naming the file and line.
    """
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{source}: cannot read ({exc.strerror})") from exc
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{source}: line {number}: not valid JSON ({exc.msg})") from exc
        if not isinstance(row, dict):
            raise InputError(f"{source}: line {number}: expected a JSON object")
        rows.append((number, row))
    if not rows:
        raise InputError(f"{source}: the file is empty", hint="expected one JSON object per line")
    return rows
