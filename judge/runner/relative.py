"""Relative confidence: ask the judge which of two of its own verdicts it is more sure of.

Shrivastava et al. 2025 ("Language Models Prefer What They Know: Relative Confidence Estimation
via Confidence Preferences"): pairwise confidence preferences, aggregated into a ranking (Elo,
Bradley-Terry; `calibration.relative`), separate right from wrong answers better than the
confidence a model states (+3.5% selective AUC). Each match runs in both orders, in one batch
with every other match, and is swap-averaged like a direct comparison, so the position shown
first cannot decide it.
"""

from __future__ import annotations

from collections.abc import Sequence

from judge.backends.base import Backend
from judge.runner.pairwise import order_check, read_order
from judge.runner.requests import RequestBuilder
from judge.runner.rounds import BatchStats, Task, run_round
from judge.types import Rubric, Sample

JudgedItem = tuple[Sample, bool]
"""A judged response and the judge's verdict on it (True: it passed)."""


def confidence_preferences(
    backend: Backend,
    builder: RequestBuilder,
    items: Sequence[JudgedItem],
    matches: Sequence[tuple[int, int]],
    *,
    rubric: Rubric | None = None,
    retries: int = 1,
    stats: BatchStats | None = None,
) -> list[float | None]:
    """P(the judge is more sure of verdict i than of verdict j) per match (i, j), in order.

    Both orders of every match go in one `Backend.generate` batch (through `run_round`). The
    result is ``(P_first(i, j) + 1 - P_first(j, i)) / 2`` from the token probabilities, or from
    the votes when the backend gives none; None when either order failed (a failure is a value).
    """
    chars = builder.settings.max_rationale_chars
    check = order_check(chars)
    tasks = []
    for number, (i, j) in enumerate(matches):
        if i == j:
            raise ValueError(f"match {number} pairs item {i} with itself")
        for order, (first, second) in (("ij", (i, j)), ("ji", (j, i))):
            request = builder.relative_confidence(
                f"m{number}/{order}", items[first], items[second], rubric
            )
            tasks.append(Task(request, check, role="relative"))
    attempts = run_round(
        backend, tasks, stats or BatchStats(), retries=retries, label="relative-confidence"
    )
    preferences: list[float | None] = []
    for number in range(len(matches)):
        ij = read_order(attempts[f"m{number}/ij"].generations, chars)
        ji = read_order(attempts[f"m{number}/ji"].generations, chars)
        p_ij = ij.p_first if ij.p_first is not None else ij.votes_first
        p_ji = ji.p_first if ji.p_first is not None else ji.votes_first
        if p_ij is None or p_ji is None:
            preferences.append(None)
        else:
            preferences.append((p_ij + 1.0 - p_ji) / 2.0)
    return preferences
