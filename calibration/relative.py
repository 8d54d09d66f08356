"""Relative confidence as a calibration method: pairwise confidence preferences -> a ranking.

Each judgment is matched with `n_partners` random other judgments; the judge says which of each
two verdicts it is more sure of (`judge.runner.relative`, one batch, both orders). The soft
outcomes are aggregated into one score per judgment by Elo and by Bradley-Terry (Shrivastava et
al. 2025). Selective AUC (the area under accuracy vs coverage, 1 - AURC) then says whether
keeping the top-ranked judgments keeps the right ones, compared with the judge's direct
confidence on the same judgments.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from judge.calibration import metrics
from judge.calibration.bootstrap import Interval, bootstrap_ci
from judge.errors import InputError

ELO_SCALE = 400.0
"""Elo's logistic scale: a 400-point lead means 10:1 expected odds."""


def partner_matches(count: int, n_partners: int, seed: int = 0) -> list[tuple[int, int]]:
    """Each of `count` items against `n_partners` distinct random others (seeded), no self-match.

    An unordered pair drawn from both ends appears twice; that is fine for Elo and BT (two
    observations of the same comparison).
    """
    if n_partners < 1:
        raise InputError(f"n_partners = {n_partners} must be at least 1")
    if count < 2:
        raise InputError(f"relative confidence needs 2 or more judgments, got {count}")
    rng = np.random.default_rng(seed)
    matches: list[tuple[int, int]] = []
    for item in range(count):
        others = np.delete(np.arange(count), item)
        chosen = rng.choice(others, size=min(n_partners, count - 1), replace=False)
        matches.extend((item, int(other)) for other in chosen)
    return matches


def elo_ratings(
    count: int,
    matches: Sequence[tuple[int, int]],
    outcomes: Sequence[float],
    *,
    k: float = 16.0,
    passes: int = 20,
    seed: int = 0,
) -> np.ndarray:
    """Elo ratings (start 0) from soft outcomes (1: the first item won), `passes` shuffled passes.

    One pass of Elo depends on the order of the matches; averaging the ratings after each of
    several seeded shuffled passes makes the result (nearly) order-free.
    """
    ratings = np.zeros(count)
    history = np.zeros(count)
    rng = np.random.default_rng(seed)
    order = np.arange(len(matches))
    for _ in range(passes):
        rng.shuffle(order)
        for position in order:
            m = int(position)
            i, j = matches[m]
            expected = 1.0 / (1.0 + 10.0 ** ((ratings[j] - ratings[i]) / ELO_SCALE))
            delta = k * (outcomes[m] - expected)
            ratings[i] += delta
            ratings[j] -= delta
        history += ratings
    return np.asarray(history / max(1, passes))


def bradley_terry(
    count: int,
    matches: Sequence[tuple[int, int]],
    outcomes: Sequence[float],
    *,
    ridge: float = 1e-3,
    iterations: int = 100,
) -> np.ndarray:
    """Bradley-Terry strengths: maximise sum s log sig(t_i - t_j) + (1 - s) log sig(t_j - t_i).

    Newton's method with a small ridge penalty, which keeps the strengths finite when an item
    wins every match and fixes the free shift (they sum to about 0).
    """
    theta = np.zeros(count)
    first = np.asarray([i for i, _ in matches])
    second = np.asarray([j for _, j in matches])
    won = np.asarray(outcomes, dtype=float)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(theta[first] - theta[second])))
        residual = won - p
        gradient = -ridge * theta
        np.add.at(gradient, first, residual)
        np.add.at(gradient, second, -residual)
        weight = p * (1.0 - p)
        hessian = -ridge * np.eye(count)
        np.add.at(hessian, (first, first), -weight)
        np.add.at(hessian, (second, second), -weight)
        np.add.at(hessian, (first, second), weight)
        np.add.at(hessian, (second, first), weight)
        step = np.linalg.solve(hessian, gradient)
        theta = theta - step
        if np.max(np.abs(step)) < 1e-9:
            break
    return theta


def selective_auc(scores: Any, correct: Any) -> float:
    """Area under accuracy vs coverage when keeping the highest scores first (1 - AURC).

    Only the order of the scores matters (ties are one threshold), so unbounded ratings (Elo,
    BT) and probabilities are compared on the same footing: scores become rank fractions.
    """
    ranks = metrics.average_ranks(np.asarray(scores, dtype=float))
    fraction = (ranks - ranks.min()) / max(1.0, float(ranks.max() - ranks.min()))
    return 1.0 - metrics.aurc(fraction, np.asarray(correct, dtype=bool))


class RelativeConfidence(BaseModel):
    """Selective AUC of direct confidence vs the Elo and BT rankings, on the same judgments."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n: int
    n_partners: int
    matches: int
    failed_matches: int
    direct: Interval
    elo: Interval
    bradley_terry: Interval
    elo_minus_direct: Interval
    """Paired by judgment: positive means the Elo ranking keeps right verdicts better."""
    bt_minus_direct: Interval
    elo_scores: tuple[float, ...]
    bt_scores: tuple[float, ...]


def aggregate_preferences(
    direct: Sequence[float],
    correct: Sequence[bool],
    matches: Sequence[tuple[int, int]],
    preferences: Sequence[float | None],
    *,
    n_partners: int,
    n_boot: int = 1000,
    seed: int = 0,
) -> RelativeConfidence:
    """Elo and BT scores from the matches that did not fail, and each one's selective AUC."""
    count = len(direct)
    kept = [(m, p) for m, p in zip(matches, preferences, strict=True) if p is not None]
    if not kept:
        raise InputError("relative confidence: every match failed", hint="see the judge's errors")
    pairs, outcomes = [m for m, _ in kept], [p for _, p in kept]
    elo = elo_ratings(count, pairs, outcomes, seed=seed)
    bt = bradley_terry(count, pairs, outcomes)
    conf = np.asarray(direct, dtype=float)
    hits = np.asarray(correct, dtype=float)

    def gain(scores: np.ndarray) -> Interval:
        return bootstrap_ci(
            lambda s, c, y: selective_auc(s, y) - selective_auc(c, y),
            scores,
            conf,
            hits,
            n_boot=n_boot,
            seed=seed,
        )

    def auc(scores: np.ndarray) -> Interval:
        return bootstrap_ci(selective_auc, scores, hits, n_boot=n_boot, seed=seed)

    return RelativeConfidence(
        n=count,
        n_partners=n_partners,
        matches=len(matches),
        failed_matches=len(matches) - len(kept),
        direct=auc(conf),
        elo=auc(elo),
        bradley_terry=auc(bt),
        elo_minus_direct=gain(elo),
        bt_minus_direct=gain(bt),
        elo_scores=tuple(float(x) for x in elo),
        bt_scores=tuple(float(x) for x in bt),
    )
