"""What the plots and the two-run comparison draw: aggregates only, computed on the server."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from judge.view.labels import PASS_AT, Label
from judge.view.runs import Run

BINS = 10
MOST_MOVED = 20


def histogram(values: Iterable[float | None], bins: int = 2 * BINS) -> list[int]:
    """Counts of `values` in `bins` equal bins of [0, 1] (1.0 in the last); None is left out."""
    counts = [0] * bins
    for value in values:
        if value is not None:
            counts[min(bins - 1, max(0, int(value * bins)))] += 1
    return counts


def reliability(pairs: Iterable[tuple[float, bool]], bins: int = BINS) -> list[dict[str, Any]]:
    """Per bin of predicted P(pass): its mean prediction, the share that passed, and the count."""
    sums = [[0.0, 0, 0] for _ in range(bins)]
    for p, passed in pairs:
        cell = sums[min(bins - 1, max(0, int(p * bins)))]
        cell[0] += p
        cell[1] += int(passed)
        cell[2] += 1
    return [
        {"low": b / bins, "high": (b + 1) / bins, "mean_p": s / n, "rate": k / n, "n": n}
        for b, (s, k, n) in enumerate(sums)
        if n
    ]


def plots(run: Run, labels: Iterable[Label]) -> dict[str, Any]:
    """Score histogram, reliability diagram (gold: labels or an eval run's), probe acceptance."""
    scores = run.index.column("score").to_pylist()
    gold_pairs = [
        (label.judge_score, label.gold)
        for label in labels
        if label.judge_score is not None and label.gold is not None
    ]
    if not gold_pairs:  # an eval report's records carry p and the gold label
        kinds = run.index.column("kind").to_pylist()
        golds = run.index.column("label").to_pylist()
        gold_pairs = [
            (p, g == "true")
            for p, g, k in zip(scores, golds, kinds, strict=True)
            if k == "record" and p is not None and g in ("true", "false")
        ]
    found: dict[str, Any] = {
        "histogram": histogram(scores),
        "reliability": reliability(gold_pairs),
        "gold_source": "labels" if gold_pairs else None,
    }
    probe = run.reports.get("probe")
    if isinstance(probe, dict):
        found["probe"] = [
            {
                "name": str(attack.get("name")),
                "role": str(attack.get("role")),
                "value": (attack.get("acceptance") or {}).get("value"),
                "low": (attack.get("acceptance") or {}).get("low"),
                "high": (attack.get("acceptance") or {}).get("high"),
            }
            for attack in probe.get("attacks", [])
            if isinstance(attack, dict)
        ]
    return found


def compare(first: Run, second: Run) -> dict[str, Any]:
    """Two runs by id: score deltas, pass/fail flips, the agreement table, the most moved items."""
    ids_a = first.index.column("id").to_pylist()
    scores_a = first.index.column("score").to_pylist()
    positions_b = second.positions_of(ids_a)
    scores_b = second.index.column("score").to_pylist()
    table = {"pass/pass": 0, "pass/fail": 0, "fail/pass": 0, "fail/fail": 0}
    moved, deltas = [], []
    for position, (sample_id, score_a) in enumerate(zip(ids_a, scores_a, strict=True)):
        other = positions_b.get(sample_id)
        if other is None or score_a is None or scores_b[other] is None:
            continue
        score_b = scores_b[other]
        delta = score_b - score_a
        deltas.append(delta)
        pass_a, pass_b = score_a >= PASS_AT, score_b >= PASS_AT
        table[f"{'pass' if pass_a else 'fail'}/{'pass' if pass_b else 'fail'}"] += 1
        moved.append(
            {"id": sample_id, "i": position, "j": other, "a": score_a, "b": score_b, "delta": delta}
        )
    moved.sort(key=lambda item: (-abs(item["delta"]), item["i"]))
    both = len(deltas)
    agree = table["pass/pass"] + table["fail/fail"]
    return {
        "names": [first.name, second.name],
        "matched": both,
        "only_a": len(first) - len(positions_b),
        "agreement": table,
        "agreement_rate": agree / both if both else None,
        "flips": both - agree,
        "mean_delta": sum(deltas) / both if both else None,
        "delta_histogram": histogram(((d + 1) / 2 for d in deltas), bins=2 * BINS),
        "most_moved": moved[:MOST_MOVED],
    }
