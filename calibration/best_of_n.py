"""Best-of-N: how often a selector's pick among N responses to one prompt is correct.

Pairwise accuracy says little about what a reward model does in training (Rezk et al. 2025:
RM accuracy vs policy-level discrimination, Kendall tau 0.08-0.31); picking the best of N
samples is the use that matters. Every selector is scored by its *expected* accuracy: ties
among the top scores are broken uniformly at random, so a pick is the mean label of the tied
responses, never one lucky draw. Selectors:

- judge: the highest judge score (a failed judgment is never picked);
- random: the mean label of the group (the expected value of a uniform pick);
- majority: the most frequent extracted answer (ties between answers broken at random);
- reward model: the highest released score (e.g. math_verification's ``pred_score``);
- oracle: 1 if any response is correct.

Kendall tau-b of the judge's scores against the labels is computed per group where it is
defined (mixed labels, scores not all equal) and averaged over those groups.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict

from judge.calibration.bootstrap import Interval, bootstrap_ci
from judge.calibration.records import LabelledSample
from judge.errors import InputError


class SelectorResult(BaseModel):
    """One selector's expected best-of-N accuracy over the groups, with a bootstrap interval."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    selector: str
    accuracy: Interval
    groups: int
    """Groups the selector could pick in (majority needs answers, the RM its scores)."""


class BestOfN(BaseModel):
    """Best-of-N accuracy of the judge's pick against the baselines, and its ranking quality."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    groups: int
    mixed_groups: int
    """Groups with both correct and wrong responses: the only ones where a pick can matter."""
    responses: int
    failed: int
    """Responses whose judgment failed (never picked)."""
    selectors: tuple[SelectorResult, ...]
    judge_minus_random: Interval
    """Expected accuracy of the judge's pick minus a random pick, paired by group."""
    kendall_tau: Interval
    """Mean per-group Kendall tau-b of judge scores vs labels (groups where it is defined)."""
    kendall_groups: int
    reward_model_tau: Interval | None = None
    """The same for the released reward-model scores, when the data carry them."""


@dataclass(frozen=True)
class _Group:
    labels: np.ndarray
    scores: np.ndarray
    """Judge scores; NaN where the judgment failed."""
    released: np.ndarray | None
    answers: tuple[str | None, ...]


def pick_accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    """Expected correctness of picking the highest score (uniform among ties; NaN never wins).

    With no finite score at all the pick is uniform over the group.
    """
    finite = ~np.isnan(scores)
    if not finite.any():
        return float(labels.mean())
    top = scores[finite].max()
    return float(labels[finite & (scores == top)].mean())


def majority_accuracy(answers: Sequence[str | None], labels: np.ndarray) -> float | None:
    """Expected correctness of the most frequent answer (ties broken uniformly); None: none."""
    counts = Counter(answer for answer in answers if answer is not None)
    if not counts:
        return None
    most = max(counts.values())
    winners = [answer for answer, count in counts.items() if count == most]
    per_answer = [
        float(np.mean([y for a, y in zip(answers, labels, strict=True) if a == answer]))
        for answer in winners
    ]
    return float(np.mean(per_answer))


def kendall_tau_b(x: np.ndarray, y: np.ndarray) -> float:
    """Kendall tau-b of two equally long arrays; NaN when either is constant (undefined)."""
    n = len(x)
    concordant = discordant = ties_x = ties_y = 0
    for i in range(n):
        for j in range(i + 1, n):
            dx, dy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                ties_x += 1
            elif dy == 0:
                ties_y += 1
            elif dx == dy:
                concordant += 1
            else:
                discordant += 1
    denominator = np.sqrt((concordant + discordant + ties_x) * (concordant + discordant + ties_y))
    return float("nan") if denominator == 0 else float((concordant - discordant) / denominator)


def _groups(samples: Sequence[LabelledSample], scores: Sequence[float | None]) -> list[_Group]:
    members: dict[str, list[int]] = {}
    for index, sample in enumerate(samples):
        if sample.group is None:
            raise InputError(
                f"sample {sample.id!r} has no group",
                hint="best-of-N needs every response's prompt group",
            )
        members.setdefault(sample.group, []).append(index)
    groups = []
    for rows in members.values():
        released = [samples[i].released_score for i in rows]
        groups.append(
            _Group(
                labels=np.asarray([samples[i].label for i in rows], dtype=float),
                scores=np.asarray(
                    [np.nan if scores[i] is None else scores[i] for i in rows], dtype=float
                ),
                released=None
                if any(r is None for r in released)
                else np.asarray(released, dtype=float),
                answers=tuple(samples[i].answer for i in rows),
            )
        )
    return groups


def _mean_tau(taus: list[float], n_boot: int, seed: int) -> Interval:
    if not taus:
        return Interval(value=None, note="no group with mixed labels and distinct scores")
    return bootstrap_ci(np.mean, np.asarray(taus), n_boot=n_boot, seed=seed)


def best_of_n(
    samples: Sequence[LabelledSample],
    scores: Sequence[float | None],
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> BestOfN:
    """Best-of-N accuracy of picking by `scores` (the judge's, None = failed) and baselines."""
    if len(samples) != len(scores):
        raise InputError(f"{len(samples)} samples but {len(scores)} scores")
    if not samples:
        raise InputError("best-of-N: no responses", hint="the input is empty")
    groups = _groups(samples, scores)
    judge = np.asarray([pick_accuracy(g.scores, g.labels) for g in groups])
    random = np.asarray([g.labels.mean() for g in groups])
    oracle = np.asarray([float(g.labels.max()) for g in groups])
    picks: list[tuple[str, np.ndarray]] = [("judge", judge), ("random", random)]
    majority = [majority_accuracy(g.answers, g.labels) for g in groups]
    if any(m is not None for m in majority):
        picks.append(("majority answer", np.asarray([m for m in majority if m is not None])))
    rm_groups = [g for g in groups if g.released is not None]
    if rm_groups:
        rm = [pick_accuracy(g.released, g.labels) for g in rm_groups if g.released is not None]
        picks.append(("reward model", np.asarray(rm)))
    picks.append(("oracle", oracle))
    selectors = tuple(
        SelectorResult(
            selector=name,
            accuracy=bootstrap_ci(np.mean, values, n_boot=n_boot, seed=seed),
            groups=len(values),
        )
        for name, values in picks
    )
    taus = [kendall_tau_b(g.scores, g.labels) for g in groups if not np.isnan(g.scores).any()]
    defined = [t for t in taus if not np.isnan(t)]
    rm_taus = [kendall_tau_b(g.released, g.labels) for g in rm_groups if g.released is not None]
    rm_defined = [t for t in rm_taus if not np.isnan(t)]
    return BestOfN(
        groups=len(groups),
        mixed_groups=sum(1 for g in groups if 0 < g.labels.sum() < len(g.labels)),
        responses=len(samples),
        failed=sum(1 for score in scores if score is None),
        selectors=selectors,
        judge_minus_random=bootstrap_ci(
            lambda a, b: float(np.mean(a - b)), judge, random, n_boot=n_boot, seed=seed
        ),
        kendall_tau=_mean_tau(defined, n_boot, seed),
        kendall_groups=len(defined),
        reward_model_tau=_mean_tau(rm_defined, n_boot, seed) if rm_groups else None,
    )
