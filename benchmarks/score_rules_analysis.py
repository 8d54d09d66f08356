"""Analysis of `benchmarks/score_rules.py run`: every score rule against the naive baseline.

Reads ``<out>/<set>.jsonl`` and prints one Markdown table per set: accuracy, AUROC and ECE of
each rule, and its paired difference from the naive baseline with a 95% bootstrap interval
(the items resampled together). The fitted rule is cross-fitted: a stratified half fits the
weights (`calibration.criteria_fit`), the other half is scored, then the halves swap, so no item
is scored by weights fitted on it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from judge.calibration import metrics
from judge.calibration.bootstrap import bootstrap_ci
from judge.calibration.criteria_fit import fit_criteria, fit_pair_criteria
from judge.library import load_rubric
from judge.runner.aggregate import aggregate, anchored, rubric_margin
from judge.types import Criterion, CriterionVerdict

ANCHOR = "agrees_with_reference"
RUBRICS = {
    "halueval": "honesty",
    "math_ref": "honesty",
    "math_full": "math_reasoning",
    "bigbench": "math_reasoning",
    "llmbar": "helpfulness",
    "pandalm": "helpfulness",
}
# "judge + plain question": the product's default score (mean, anchored where the set has
# references) averaged with the plain question's P(yes) / P(a). Fixed before the math_full and
# bigbench runs (from halueval and pandalm, where it sat between the two), so on those two sets
# it is a held-out test of the blend, not a fit.
BLEND = "judge + plain question (average)"


def _halves(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """A stratified split: 0 or 1 per item, each label spread evenly over both halves."""
    rng = np.random.default_rng(seed)
    half = np.zeros(labels.size, dtype=int)
    for value in (False, True):
        rows = np.flatnonzero(labels == value)
        rng.shuffle(rows)
        half[rows[1::2]] = 1
    return half


def _verdicts(criteria: Sequence[Criterion], values: dict[str, float]) -> list[CriterionVerdict]:
    return [
        CriterionVerdict(
            criterion_id=c.id,
            verdict="yes" if values[c.id] >= 0.5 else "no",
            p_yes=values[c.id],
        )
        for c in criteria
    ]


def _accuracy(p: np.ndarray, y: np.ndarray) -> float:
    """Share right by the side of 1/2; an exact 1/2 (a tie, no verdict) counts as wrong."""
    return float(np.mean(np.where(p == 0.5, False, (p > 0.5) == y)))


def _auroc(p: np.ndarray, y: np.ndarray) -> float:
    return metrics.auroc(p, y)


def _ece(p: np.ndarray, y: np.ndarray) -> float:
    confidence, correct = metrics.confidence_and_correct(p, y)
    return metrics.ece(confidence, correct)


METRICS: list[tuple[str, Callable[[np.ndarray, np.ndarray], float]]] = [
    ("accuracy", _accuracy),
    ("AUROC", _auroc),
    ("ECE", _ece),
]


def _compare(arms: dict[str, np.ndarray], y: np.ndarray, n_boot: int) -> list[dict[str, Any]]:
    rows = []
    naive = arms["naive"]
    for arm, p in arms.items():
        row: dict[str, Any] = {"arm": arm}
        for name, statistic in METRICS:
            row[name] = statistic(p, y)
            if arm != "naive":

                def difference(a: Any, b: Any, labels: Any, stat: Any = statistic) -> float:
                    return float(stat(a, labels) - stat(b, labels))

                row[f"{name}_diff"] = bootstrap_ci(difference, p, naive, y, n_boot=n_boot)
        rows.append(row)
    return rows


def _pointwise(rows: list[dict[str, Any]], rubric: str) -> tuple[dict[str, np.ndarray], np.ndarray]:
    criteria = list(load_rubric(rubric).leaves())
    ids = [c.id for c in criteria]
    y = np.asarray([bool(r["label"]) for r in rows])
    values = [{v["id"]: v["p_yes"] for v in r["verdicts"]} for r in rows]
    has_anchor = all(ANCHOR in v for v in values)
    arms: dict[str, list[float]] = {"cap": [], "mean": []}
    for v in values:
        arms["cap"].append(aggregate(criteria, _verdicts(criteria, v), hard_rule_cap=True).score)
        arms["mean"].append(aggregate(criteria, _verdicts(criteria, v), hard_rule_cap=False).score)
    fitted = np.zeros(len(rows))
    half = _halves(y)
    for side in (0, 1):
        train, test = half != side, half == side
        fit = fit_criteria([values[i] for i in np.flatnonzero(train)], list(y[train]), criteria=ids)
        for i in np.flatnonzero(test):
            fitted[i] = fit.score({k: values[i][k] for k in ids})
    result = {name: np.asarray(scores) for name, scores in arms.items()}
    result["fitted"] = fitted
    if has_anchor:
        r = np.asarray([v[ANCHOR] for v in values])
        result["anchor alone"] = r
        for name in ("cap", "mean", "fitted"):
            result[f"{name} + anchor"] = np.asarray(
                [anchored(a, s) for a, s in zip(r, result[name], strict=True)]
            )
    result["naive"] = np.asarray([r["naive"] for r in rows])
    default = result["mean + anchor"] if has_anchor else result["mean"]
    result[BLEND] = (default + result["naive"]) / 2.0
    return result, y


def _pairwise(
    rows: list[dict[str, Any]], rubric: str
) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, float]]:
    criteria = list(load_rubric(rubric).leaves())
    ids = [c.id for c in criteria]
    y = np.asarray([r["label"] == "a" for r in rows])
    a = [{v["id"]: v["p_yes"] for v in r["verdicts_a"]} for r in rows]
    b = [{v["id"]: v["p_yes"] for v in r["verdicts_b"]} for r in rows]
    mean, cap = [], []
    # A pair decided by rule (an empty response: no verdicts) keeps the judge's P(a) in every arm.
    by_rule = [not va or not vb for va, vb in zip(a, b, strict=True)]
    for row, va, vb, ruled in zip(rows, a, b, by_rule, strict=True):
        if ruled:
            mean.append(row["judge_p_a"])
            cap.append(row["judge_p_a"])
            continue
        margin = rubric_margin(criteria, va, vb)
        assert margin is not None
        mean.append((1.0 + margin.value) / 2.0)
        sa = aggregate(criteria, _verdicts(criteria, va), hard_rule_cap=True).score
        sb = aggregate(criteria, _verdicts(criteria, vb), hard_rule_cap=True).score
        cap.append(0.5 + (sa - sb) / 2.0)
    fitted = np.zeros(len(rows))
    half = _halves(y)
    for side in (0, 1):
        train, test = half != side, half == side
        rows_train = [i for i in np.flatnonzero(train) if not by_rule[i]]
        fit = fit_pair_criteria(
            [a[i] for i in rows_train],
            [b[i] for i in rows_train],
            [bool(y[i]) for i in rows_train],
            criteria=ids,
        )
        for i in np.flatnonzero(test):
            fitted[i] = rows[i]["judge_p_a"] if by_rule[i] else fit.p_a(a[i], b[i])
    naive_ab = np.asarray([r["naive_p_a_ab"] for r in rows])
    naive_ba = np.asarray([r["naive_p_a_ba"] for r in rows])
    mean_arr = np.asarray(mean)
    # A fixed tie band of 0.05: a pair within it has no verdict (scored as P(a) = 1/2, wrong).
    banded = np.where(np.abs(mean_arr - 0.5) < 0.05, 0.5, mean_arr)
    arms = {
        "cap (difference of capped scores)": np.asarray(cap),
        "mean (rubric margin, no tie band)": mean_arr,
        "mean, tie band 0.05 (ties unresolved)": banded,
        "fitted": fitted,
        "naive": (naive_ab + naive_ba) / 2.0,
    }
    arms[BLEND] = (mean_arr + arms["naive"]) / 2.0
    if all(r.get("direct_p_a_ab") is not None for r in rows):
        direct = (
            np.asarray([r["direct_p_a_ab"] for r in rows])
            + np.asarray([r["direct_p_a_ba"] for r in rows])
        ) / 2.0
        arms["mean, tie band 0.05, direct fallback"] = np.where(
            np.abs(mean_arr - 0.5) < 0.05, direct, mean_arr
        )
        arms["direct (both orders)"] = direct
    extra = {
        "tie band 0.05: share of pairs tied": float(np.mean(np.abs(mean_arr - 0.5) < 0.05)),
        "naive position consistency": float(np.mean((naive_ab > 0.5) == (naive_ba > 0.5))),
    }
    return arms, y, extra


def _cell(value: Any) -> str:
    if value is None:
        return "n/a"
    if hasattr(value, "format"):
        return value.format(digits=3) if not isinstance(value, str) else value
    return f"{value:.3f}"


def analyse(out: Path, *, n_boot: int = 2000) -> None:
    """Print the tables for every set found in `out` and write ``analysis.json`` beside them."""
    summary: dict[str, Any] = {}
    for name, rubric in RUBRICS.items():
        source = out / f"{name}.jsonl"
        if not source.exists():
            continue
        rows = [json.loads(line) for line in source.read_text().splitlines() if line]
        failed = [r for r in rows if r["error"]]
        rows = [r for r in rows if not r["error"]]
        extra: dict[str, float] = {}
        if name in ("llmbar", "pandalm"):
            arms, y, extra = _pairwise(rows, rubric)
        else:
            arms, y = _pointwise(rows, rubric)
        table = _compare(arms, y, n_boot)
        judge_tokens = float(np.mean([r["judge_tokens"] for r in rows]))
        naive_tokens = float(np.mean([r["naive_tokens"] for r in rows]))
        seconds = float(np.mean([r["chunk_seconds"] for r in rows]))
        print(f"\n### {name} (n={len(rows)}, {len(failed)} failed, {int(y.sum())} positive)\n")
        print("| rule | accuracy | AUROC | ECE | accuracy - naive | AUROC - naive | ECE - naive |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for row in table:
            diffs = [row.get(f"{m}_diff") for m, _ in METRICS]
            print(
                f"| {row['arm']} | {row['accuracy']:.3f} | {row['AUROC']:.3f} | "
                f"{row['ECE']:.3f} | " + " | ".join(_cell(d) for d in diffs) + " |"
            )
        print(
            f"\ncost per item: judge {judge_tokens:.0f} tokens, naive {naive_tokens:.0f} tokens "
            f"(x{judge_tokens / naive_tokens:.1f}); both arms together {seconds:.1f} s per item"
        )
        for key, value in extra.items():
            print(f"- {key}: {value:.3f}")
        pairs = (("mean + anchor", "mean"), ("mean", "cap"), ("fitted", "mean"))
        for better, worse in (*pairs, (BLEND, "mean + anchor"), (BLEND, "mean")):
            if better in arms and worse in arms:
                for metric, statistic in METRICS:

                    def gain(a: Any, b: Any, labels: Any, stat: Any = statistic) -> float:
                        return float(stat(a, labels) - stat(b, labels))

                    interval = bootstrap_ci(gain, arms[better], arms[worse], y, n_boot=n_boot)
                    extra[f"{metric}: {better} - {worse}"] = interval.value or 0.0
                    print(f"- {metric}: {better} - {worse} = {interval.format()}")
        summary[name] = {
            "n": len(rows),
            "failed": len(failed),
            "positive": int(y.sum()),
            "rows": [
                {k: (v.model_dump() if hasattr(v, "model_dump") else v) for k, v in row.items()}
                for row in table
            ],
            "judge_tokens": judge_tokens,
            "naive_tokens": naive_tokens,
            "seconds_per_item": seconds,
            **extra,
        }
    (out / "analysis.json").write_text(json.dumps(summary, indent=1))
