"""Bias studies of pairwise judges: position, length and self-preference.

All three read `PairRecord`s (ours or loaded from released judgments). Position bias needs both
presentation orders; length bias needs response lengths; self-preference needs the model that
wrote each response. A judge's preference for `a` in a pair is its combined verdict: 1 when its
P(a better) over the orders run (`PairRecord.p_a()`) is above 1/2, 0 below, and 1/2 for a tie or
an order flip, so a judge that always picks the longer response prefers it 100% of the time
however unsure its probabilities are.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from judge.calibration import _fitting
from judge.calibration.bootstrap import Interval, bootstrap_ci
from judge.calibration.records import PairRecord
from judge.errors import InputError

SELF_PREFERENCE_FLAG = 0.05
"""DBG above 5 points is flagged (a self-preference gap a reader should see)."""


def preference_for_a(record: PairRecord) -> float | None:
    """The judge's verdict as a number: a = 1, b = 0, tie or flip = 1/2; None without a verdict."""
    p_a = record.p_a()
    if p_a is None:
        return None
    return 1.0 if p_a > 0.5 else 0.0 if p_a < 0.5 else 0.5


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PositionBias(_Frozen):
    """Per-order accuracy, agreement between orders, and the pull of the first position.

    Counts use the conventions of LLMBar's statistics: a missing verdict is wrong and disagrees
    with the other order. `accuracy_both` (right in both orders) is the accuracy that counts an
    inconsistent pair as wrong.
    """

    n: int
    correct_ab: int
    correct_ba: int
    correct_both: int
    consistent: int
    no_verdict: int
    accuracy_ab: float
    accuracy_ba: float
    accuracy_average: float
    accuracy_both: float
    consistency: Interval
    first_position_wins: Interval
    """P(the response shown first wins), over decisive verdicts in both orders; 0.5 is fair."""


def _labelled(records: Sequence[PairRecord], what: str) -> list[PairRecord]:
    if not records:
        raise InputError(f"{what}: no pairs", hint="the input is empty; check the file and filters")
    for index, record in enumerate(records):
        if record.label is None:
            raise InputError(
                f"{what}: pair {index} (id {record.id!r}) has no gold label",
                hint="every pair needs label 'a', 'b' or 'tie'",
            )
    return list(records)


def position_bias(
    records: Sequence[PairRecord], *, n_boot: int = 1000, seed: int = 0
) -> PositionBias:
    """Measure position bias from pairs judged in both orders."""
    pairs = _labelled(records, "position bias")
    for index, record in enumerate(pairs):
        if not record.both_orders:
            raise InputError(
                f"position bias: pair {index} (id {record.id!r}) was judged in one order only",
                hint="run the judge in both orders (pairwise mode does by default)",
            )
    ab = [record.verdict("ab") for record in pairs]
    ba = [record.verdict("ba") for record in pairs]
    gold = [record.label for record in pairs]
    hit_ab = np.array([v is not None and v == g for v, g in zip(ab, gold, strict=True)])
    hit_ba = np.array([v is not None and v == g for v, g in zip(ba, gold, strict=True)])
    same = np.array([x is not None and x == y for x, y in zip(ab, ba, strict=True)])
    # First position wins: `a` in the a-first order, `b` in the b-first order.
    first_wins = [1.0 if v == "a" else 0.0 for v in ab if v in ("a", "b")]
    first_wins += [1.0 if v == "b" else 0.0 for v in ba if v in ("a", "b")]
    n = len(pairs)

    def mean(values: np.ndarray) -> float:
        if values.size == 0:
            raise InputError("no decisive verdicts")
        return float(values.mean())

    return PositionBias(
        n=n,
        correct_ab=int(hit_ab.sum()),
        correct_ba=int(hit_ba.sum()),
        correct_both=int((hit_ab & hit_ba).sum()),
        consistent=int(same.sum()),
        no_verdict=sum(v is None for v in ab) + sum(v is None for v in ba),
        accuracy_ab=float(hit_ab.mean()),
        accuracy_ba=float(hit_ba.mean()),
        accuracy_average=float((hit_ab.mean() + hit_ba.mean()) / 2),
        accuracy_both=float((hit_ab & hit_ba).mean()),
        consistency=bootstrap_ci(mean, same.astype(float), n_boot=n_boot, seed=seed),
        first_position_wins=bootstrap_ci(
            mean, np.asarray(first_wins, dtype=float), n_boot=n_boot, seed=seed
        ),
    )


class LengthQuartile(_Frozen):
    """Responses whose length falls in one quartile: how often the judge and the gold pick them."""

    lower: int
    upper: int
    n: int
    judge_win_rate: float
    gold_win_rate: float


class LengthBias(_Frozen):
    """The judge's preference for longer responses, controlling for which one is truly better.

    `accuracy_longer_better` and `accuracy_shorter_better` are the judge's accuracy on pairs
    where the gold-better response is the longer / the shorter one; their difference
    `accuracy_gap` is about 0 for a length-blind judge and 1 for one that always picks the longer.
    `length_coefficient` is the slope of log(len_a / len_b) in a logistic regression of the
    judge's preference for `a` on the gold label and the log length ratio: > 0 favours longer.
    """

    n: int
    unit: str
    gold_prefers_longer: float
    judge_prefers_longer: float
    accuracy_longer_better: float | None
    accuracy_shorter_better: float | None
    accuracy_gap: Interval
    length_coefficient: Interval
    quartiles: tuple[LengthQuartile, ...]


def _preference_rows(
    records: Sequence[PairRecord],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Arrays (judge P(a), gold P(a), len_a, len_b) over pairs with lengths and a verdict."""
    rows = []
    for index, record in enumerate(_labelled(records, "length bias")):
        if record.len_a is None or record.len_b is None:
            raise InputError(
                f"length bias: pair {index} (id {record.id!r}) has no response lengths",
                hint="give len_a and len_b (loaders fill them from the texts)",
            )
        judged = preference_for_a(record)
        if judged is None:
            continue
        gold = 1.0 if record.label == "a" else 0.0 if record.label == "b" else 0.5
        rows.append((judged, gold, record.len_a, record.len_b))
    if not rows:
        raise InputError("length bias: no pair has a judge verdict")
    table = np.asarray(rows, dtype=np.float64)
    return table[:, 0], table[:, 1], table[:, 2], table[:, 3]


def _accuracy_by_stratum(
    judge_a: np.ndarray, gold_a: np.ndarray, ratio: np.ndarray
) -> tuple[float | None, float | None]:
    """Judge accuracy on pairs where the longer / the shorter response is the gold-better one."""
    judge_longer = np.where(ratio > 0, judge_a, 1.0 - judge_a)
    gold_longer = np.where(ratio > 0, gold_a, 1.0 - gold_a)
    longer_better = (ratio != 0) & (gold_longer == 1.0)
    shorter_better = (ratio != 0) & (gold_longer == 0.0)
    longer = float(judge_longer[longer_better].mean()) if longer_better.any() else None
    shorter = float(1.0 - judge_longer[shorter_better].mean()) if shorter_better.any() else None
    return longer, shorter


def _accuracy_gap(judge_a: np.ndarray, gold_a: np.ndarray, ratio: np.ndarray) -> float:
    longer, shorter = _accuracy_by_stratum(judge_a, gold_a, ratio)
    if longer is None or shorter is None:
        raise InputError("need pairs where the longer and pairs where the shorter is better")
    return longer - shorter


def _length_slope(judge_a: np.ndarray, gold_a: np.ndarray, ratio: np.ndarray) -> float:
    features = np.column_stack([2.0 * gold_a - 1.0, ratio])
    return float(_fitting.fit_logistic(features, judge_a, ridge=1e-3)[2])


def length_bias(
    records: Sequence[PairRecord],
    *,
    unit: str = "characters",
    n_boot: int = 1000,
    seed: int = 0,
) -> LengthBias:
    """Measure the judge's preference for length, stratified by the gold label."""
    judge_a, gold_a, len_a, len_b = _preference_rows(records)
    ratio = np.log1p(len_a) - np.log1p(len_b)
    differ = ratio != 0
    judge_longer = np.where(ratio > 0, judge_a, 1.0 - judge_a)
    gold_longer = np.where(ratio > 0, gold_a, 1.0 - gold_a)
    longer_accuracy, shorter_accuracy = _accuracy_by_stratum(judge_a, gold_a, ratio)
    lengths = np.concatenate([len_a, len_b])
    judge_wins = np.concatenate([judge_a, 1.0 - judge_a])
    gold_wins = np.concatenate([gold_a, 1.0 - gold_a])
    edges = np.quantile(lengths, [0.25, 0.5, 0.75])
    which = np.searchsorted(edges, lengths, side="left")
    quartiles = []
    for q in range(4):
        members = which == q
        if members.any():
            quartiles.append(
                LengthQuartile(
                    lower=int(lengths[members].min()),
                    upper=int(lengths[members].max()),
                    n=int(members.sum()),
                    judge_win_rate=float(judge_wins[members].mean()),
                    gold_win_rate=float(gold_wins[members].mean()),
                )
            )
    return LengthBias(
        n=int(judge_a.size),
        unit=unit,
        gold_prefers_longer=float(gold_longer[differ].mean()) if differ.any() else 0.5,
        judge_prefers_longer=float(judge_longer[differ].mean()) if differ.any() else 0.5,
        accuracy_longer_better=longer_accuracy,
        accuracy_shorter_better=shorter_accuracy,
        accuracy_gap=bootstrap_ci(_accuracy_gap, judge_a, gold_a, ratio, n_boot=n_boot, seed=seed),
        length_coefficient=bootstrap_ci(
            _length_slope, judge_a, gold_a, ratio, n_boot=min(n_boot, 200), seed=seed
        ),
        quartiles=tuple(quartiles),
    )


class SelfPreference(_Frozen):
    """Self-preference as DBG: the judge's win rate for its own responses minus their gold rate.

    Computed over pairs where exactly one response was written by one of `own_models`. Ties
    (and order flips) count 1/2 for both the judge and the gold. `flagged` when DBG > 5 points.
    """

    own_models: tuple[str, ...]
    n: int
    gold_source: Literal["labels", "panel"]
    judge_win_rate: float
    gold_win_rate: float
    dbg: Interval
    flagged: bool


def panel_gold(panel: Sequence[Sequence[PairRecord]]) -> dict[str, float]:
    """Gold P(a better) per pair id from a panel of other judges (each judge's mean preference).

    Each judge's preference is its verdict (`preference_for_a`), so a flip between orders gives
    1/2.
    Pairs a judge gave no verdict on are averaged over the judges that did.
    """
    if not panel:
        raise InputError("panel gold: no judges given")
    votes: dict[str, list[float]] = {}
    for judge_records in panel:
        for record in judge_records:
            preference = preference_for_a(record)
            if preference is not None:
                votes.setdefault(record.id, []).append(preference)
    return {pair_id: sum(values) / len(values) for pair_id, values in votes.items()}


def self_preference(
    records: Sequence[PairRecord],
    own_models: str | Collection[str],
    *,
    gold: Mapping[str, float] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> SelfPreference:
    """Measure the judge's self-preference bias (DBG) with a paired bootstrap interval.

    `gold` maps pair ids to the gold P(a better) (e.g. from `panel_gold`); without it the
    records' labels are the gold (a = 1, b = 0, tie = 1/2).
    """
    own = {own_models} if isinstance(own_models, str) else set(own_models)
    judge_own: list[float] = []
    gold_own: list[float] = []
    for index, record in enumerate(records):
        a_own = record.model_a in own
        b_own = record.model_b in own
        if a_own == b_own:
            continue
        preference = preference_for_a(record)
        if preference is None:
            continue
        if gold is not None:
            if record.id not in gold:
                raise InputError(f"self-preference: pair {index} (id {record.id!r}) has no gold")
            gold_a = gold[record.id]
        elif record.label is None:
            raise InputError(
                f"self-preference: pair {index} (id {record.id!r}) has no gold label",
                hint="give labels, or a panel of other judges as gold",
            )
        else:
            gold_a = 1.0 if record.label == "a" else 0.0 if record.label == "b" else 0.5
        judge_own.append(preference if a_own else 1.0 - preference)
        gold_own.append(gold_a if a_own else 1.0 - gold_a)
    if not judge_own:
        raise InputError(
            f"self-preference: no judged pair has exactly one response by {sorted(own)}",
            hint="set model_a/model_b on the pairs and name the judge's own model(s)",
        )
    judge_array = np.asarray(judge_own)
    gold_array = np.asarray(gold_own)

    def gap(judged: np.ndarray, golden: np.ndarray) -> float:
        return float(judged.mean() - golden.mean())

    dbg = bootstrap_ci(gap, judge_array, gold_array, n_boot=n_boot, seed=seed)
    return SelfPreference(
        own_models=tuple(sorted(own)),
        n=int(judge_array.size),
        gold_source="panel" if gold is not None else "labels",
        judge_win_rate=float(judge_array.mean()),
        gold_win_rate=float(gold_array.mean()),
        dbg=dbg,
        flagged=dbg.value is not None and dbg.value > SELF_PREFERENCE_FLAG,
    )
