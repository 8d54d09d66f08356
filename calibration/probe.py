"""Can this judge be fooled? Every attacked variant judged in one call, acceptance measured.

Each attack's acceptance is compared with the clean baseline, with bootstrap intervals, and
with the naive baseline (`judge.runner.naive`: the same model asked the plainest question, in the
same batches): does the rubric machinery resist an attack better than just asking the model?

Pointwise, an answer is accepted when its score is above the acceptance threshold. Pairwise,
each attacked variant is compared with the row's clean response in both orders (one
`Judge.compare` call, direct by default): the variant is accepted when it wins the swap-averaged
verdict (a tie, often an order flip, is not a win); the single-order win rate (each order's
verdict alone, what a judge without swapping would report) shows what swap-averaging removes. A
failed judgment is never accepted and is counted apart; an answer the input rules refuse is
counted as refused. A whitespace answer is a valid `Sample`: the runner judges it, failing, by
rule (`strategies.empty_judgment`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from judge.calibration.attacks import ATTACK_SET_VERSION, Attack, Role, Seed, seeds
from judge.calibration.bootstrap import Interval, bootstrap_ci
from judge.errors import ConfigError, InputError
from judge.runner.judge import Judge
from judge.types import Judgment, Pair, PairJudgment, Sample, stable_hash

Mode = Literal["pointwise", "pairwise"]
MODES: tuple[Mode, ...] = ("pointwise", "pairwise")
WON = {"a": 1.0, "tie": 0.0, "b": 0.0}
"""Pairwise acceptance of the variant (shown as `a`): only a win accepts it."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AttackResult(_Frozen):
    """One attack's outcome over the rows: acceptance with its interval, and the counts."""

    name: str
    doc: str
    role: Role
    n: int
    failed: int
    """Judgments that failed (never accepted)."""
    refused: int
    """Variants the input rules refuse (never judged, never accepted)."""
    gated: int
    """Variants the content-free gate scored 0 by rule."""
    acceptance: Interval
    """Pointwise: share with a score above the threshold. Pairwise: share of swap-averaged wins
    against the clean response (a tie is not a win)."""
    mean_score: Interval | None = None
    """Pointwise: mean score (P(yes) aggregated); pairwise: mean swap-averaged P(variant better)."""
    single_order_win: Interval | None = None
    """Pairwise: win rate of each order's verdict alone (what a judge without swapping sees)."""
    vs_clean: Interval | None = None
    """Pointwise: acceptance minus the clean response's, paired by row."""
    vs_wrong: Interval | None = None
    """Acceptance minus the plain wrong answer's, paired by row: what the attack itself adds."""
    accepted: tuple[float, ...] = ()
    """Per row: 1 accepted, 0 not (kept so that a later report can be compared with this one)."""
    naive_acceptance: Interval | None = None
    """The naive baseline's acceptance of the same variants, by the same rule (None: not run)."""
    vs_naive: Interval | None = None
    """Judge acceptance minus the naive baseline's, paired by row: below 0 for an attack means
    the judge resists it better than the plain question; above 0 for `clean`, that it accepts
    more good answers."""
    naive_accepted: tuple[float, ...] = ()
    """Per row: the naive baseline's 1 accepted, 0 not."""


class ProbeReport(_Frozen):
    """A probe run: the attack set and its version, the judge, the data, and each attack."""

    attack_set_version: str
    mode: Mode
    threshold: float
    judge: dict[str, Any]
    data: dict[str, Any]
    attacks: tuple[AttackResult, ...]
    n_boot: int

    def result(self, name: str) -> AttackResult | None:
        """The result of the attack called `name`, if it was run."""
        return next((attack for attack in self.attacks if attack.name == name), None)

    def above(self, rate: float) -> list[AttackResult]:
        """The attacks (role ``attack``) accepted more often than `rate`."""
        return [
            a
            for a in self.attacks
            if a.role == "attack" and a.acceptance.value is not None and a.acceptance.value > rate
        ]


def _variant(item: Sample, text: str, variant_id: str, mode: Mode, clean: str) -> Any:
    """The attacked Sample (or Pair variant vs clean), or None when the input rules refuse it.

    A refused variant cannot be accepted, so it is counted as refused, never as a win.
    """
    base = item.model_dump(exclude={"response", "id"})
    try:
        if mode == "pairwise":
            return Pair.model_validate(
                {**base, "id": variant_id, "response_a": text, "response_b": clean}
            )
        return Sample.model_validate({**base, "id": variant_id, "response": text})
    except ValidationError:
        return None


def _prompt_text(item: Sample) -> str:
    users = [message.content for message in item.conversation if message.role == "user"]
    return users[-1] if users else item.conversation[-1].content


def _accepted_point(judgment: Judgment, threshold: float) -> tuple[float, float | None]:
    if judgment.score is None:
        return 0.0, None
    return (1.0 if judgment.score > threshold else 0.0), judgment.score


def _accepted_pair(judgment: PairJudgment) -> tuple[float, float | None, float | None]:
    if judgment.error is not None or judgment.winner is None:
        return 0.0, None, None
    orders = [w for w in (judgment.winner_ab, judgment.winner_ba) if w is not None]
    single = float(np.mean([WON[w] for w in orders])) if orders else None
    return WON[judgment.winner], judgment.p_a, single


def _mean_ci(values: Sequence[float | None], n_boot: int, seed: int) -> Interval | None:
    kept = [v for v in values if v is not None]
    if not kept:
        return None
    return bootstrap_ci(np.mean, np.asarray(kept, dtype=float), n_boot=n_boot, seed=seed)


def _difference(attack: Sequence[float], base: Sequence[float], n_boot: int, seed: int) -> Interval:
    return bootstrap_ci(
        lambda x, y: float(np.mean(x) - np.mean(y)),
        np.asarray(attack, dtype=float),
        np.asarray(base, dtype=float),
        n_boot=n_boot,
        seed=seed,
    )


def run_probe(
    judge: Judge,
    items: Sequence[Sample],
    attacks: Sequence[Attack],
    *,
    mode: Mode = "pointwise",
    threshold: float = 0.5,
    method: Literal["direct", "rubric"] = "direct",
    n_boot: int = 1000,
    seed: int = 0,
    data: dict[str, Any] | None = None,
    naive: bool = True,
) -> ProbeReport:
    """Judge every attacked variant of `items` in one judge call and measure each attack.

    With `naive`, the naive baseline judges the same variants in the same batches, and each
    attack reports its acceptance and the paired difference judge - naive.
    """
    if mode not in MODES:
        raise ConfigError(f"unknown probe mode {mode!r}", hint="pointwise or pairwise")
    if not items:
        raise InputError("the probe needs at least one row")
    chosen = [a for a in attacks if not (mode == "pairwise" and a.name == "clean")]
    row_seeds: list[Seed] = seeds([(_prompt_text(i), i.response, i.reference) for i in items])
    variants: list[tuple[int, int, Any]] = []  # (attack position, row, Sample/Pair or None)
    for row, (item, row_seed) in enumerate(zip(items, row_seeds, strict=True)):
        for position, attack in enumerate(chosen):
            text = attack.transform(row_seed)
            variant_id = f"{item.id}.{attack.name}"
            variants.append((position, row, _variant(item, text, variant_id, mode, item.response)))
    judged = [v for _, _, v in variants if v is not None]
    outcomes, naive_outcomes = _judge_variants(judge, judged, mode, method, naive)
    by_id = {_outcome_id(o): o for o in outcomes}
    naive_by_id = {_outcome_id(o): o for o in naive_outcomes}
    results = []
    accepted_of: dict[str, list[float]] = {}
    for position, attack in enumerate(chosen):
        rows = [v for p, _, v in variants if p == position]
        accepted: list[float] = []
        scores: list[float | None] = []
        singles: list[float | None] = []
        naive_accepted: list[float] = []
        failed = gated = 0
        for variant in rows:
            if variant is None:
                accepted.append(0.0)
                naive_accepted.append(0.0)
                continue
            if naive:
                naive_accepted.append(_accepted(naive_by_id[variant.id], mode, threshold))
            outcome = by_id[variant.id]
            failed += outcome.error is not None
            if mode == "pairwise":
                win, p_a, single = _accepted_pair(outcome)
                accepted.append(win)
                scores.append(p_a)
                singles.append(single)
            else:
                gated += "gate" in outcome.details
                value, score = _accepted_point(outcome, threshold)
                accepted.append(value)
                scores.append(score)
        accepted_of[attack.name] = accepted
        naive_fields: dict[str, Any] = {}
        if naive:
            naive_fields = {
                "naive_acceptance": bootstrap_ci(
                    np.mean, np.asarray(naive_accepted), n_boot=n_boot, seed=seed
                ),
                "vs_naive": _difference(accepted, naive_accepted, n_boot, seed),
                "naive_accepted": tuple(naive_accepted),
            }
        results.append(
            AttackResult(
                name=attack.name,
                doc=attack.doc,
                role=attack.role,
                n=len(rows),
                failed=failed,
                refused=sum(v is None for v in rows),
                gated=gated,
                acceptance=bootstrap_ci(np.mean, np.asarray(accepted), n_boot=n_boot, seed=seed),
                mean_score=_mean_ci(scores, n_boot, seed),
                single_order_win=_mean_ci(singles, n_boot, seed) if mode == "pairwise" else None,
                accepted=tuple(accepted),
                **naive_fields,
            )
        )
    final = []
    for result in results:
        deltas: dict[str, Any] = {}
        for field, base in (("vs_clean", "clean"), ("vs_wrong", "wrong_answer")):
            if base in accepted_of and result.name != base:
                deltas[field] = _difference(
                    accepted_of[result.name], accepted_of[base], n_boot, seed
                )
        final.append(result.model_copy(update=deltas))
    return ProbeReport(
        attack_set_version=ATTACK_SET_VERSION,
        mode=mode,
        threshold=threshold,
        judge={
            "model": judge.backend.model_id,
            "rubric": judge.rubric.name,
            "method": method if mode == "pairwise" else None,
            "settings": judge.settings.model_dump(mode="json"),
            "settings_fingerprint": judge.settings.fingerprint,
            "naive": naive,
        },
        data={**(data or {}), "rows": len(items), "rows_fingerprint": _rows_fingerprint(items)},
        attacks=tuple(final),
        n_boot=n_boot,
    )


def _judge_variants(
    judge: Judge,
    judged: Sequence[Any],
    mode: Mode,
    method: Literal["direct", "rubric"],
    naive: bool,
) -> tuple[list[Any], list[Any]]:
    """The judge's outcomes and, with `naive`, the baseline's, from the same batches."""
    if mode == "pairwise":
        if naive:
            pairs, naive_pairs = judge.compare_with_naive(judged, method=method)
            return list(pairs), list(naive_pairs)
        return list(judge.compare(judged, method=method)), []
    if naive:
        scored, naive_scored = judge.score_with_naive(judged)
        return list(scored), list(naive_scored)
    return list(judge.score(judged)), []


def _outcome_id(outcome: Judgment | PairJudgment) -> str:
    return outcome.pair_id if isinstance(outcome, PairJudgment) else outcome.sample_id or ""


def _accepted(outcome: Judgment | PairJudgment, mode: Mode, threshold: float) -> float:
    """1.0 when `outcome` accepts its variant, by the probe's rule for `mode`."""
    if mode == "pairwise":
        assert isinstance(outcome, PairJudgment)
        return _accepted_pair(outcome)[0]
    assert isinstance(outcome, Judgment)
    return _accepted_point(outcome, threshold)[0]


def _rows_fingerprint(items: Sequence[Sample]) -> str:
    return stable_hash([item.model_dump(mode="json") for item in items])


class Regression(_Frozen):
    """An attack accepted significantly more often than in the baseline report."""

    name: str
    before: float
    after: float
    increase: Interval


def check_baseline_compatible(old: ProbeReport, mode: Mode) -> None:
    """Refuse (before any model loads) a baseline of another attack set or mode."""
    if old.attack_set_version != ATTACK_SET_VERSION:
        raise ConfigError(
            f"baseline attack set {old.attack_set_version!r} is not {ATTACK_SET_VERSION!r}",
            hint="rerun the baseline with this version of `judge probe`",
        )
    if old.mode != mode:
        raise ConfigError(
            f"baseline mode {old.mode!r} differs from --mode {mode}", hint=f"pass --mode {old.mode}"
        )


def regressions(
    old: ProbeReport, new: ProbeReport, *, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> list[Regression]:
    """Attacks whose acceptance rose significantly: the bootstrap interval of (new - old) > 0.

    The rows of the two reports may differ, so each report is resampled on its own.
    """
    rng = np.random.default_rng(seed)
    found = []
    for result in new.attacks:
        before = old.result(result.name)
        if result.role != "attack" or before is None or not before.accepted or not result.accepted:
            continue
        a, b = np.asarray(result.accepted), np.asarray(before.accepted)
        draws = [rng.choice(a, a.size).mean() - rng.choice(b, b.size).mean() for _ in range(n_boot)]
        tail = (1 - level) / 2
        low, high = (float(q) for q in np.quantile(draws, [tail, 1 - tail]))
        increase = Interval(
            value=float(a.mean() - b.mean()), low=low, high=high, level=level, n_boot=n_boot,
            n_valid=n_boot,
        )  # fmt: skip
        if low > 0:
            found.append(Regression(
                name=result.name, before=float(b.mean()), after=float(a.mean()), increase=increase
            ))  # fmt: skip
    return found
