"""A pairwise verdict from a rubric: the weighted P(yes) margin between two responses.

margin = sum_k w_k (p_yes_k(A) - p_yes_k(B)) / sum_k w_k over the rubric's judged criteria that
were evaluated on both responses, so it lies in [-1, 1]; its sign decides. A tie (|margin| at
most `tie_tolerance`) or a rubric with nothing evaluable falls back to a direct pairwise
judgment supplied by the caller (the runner's `Judge.compare`), since a rubric that cannot
separate two responses says nothing about which is better.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from judge.backends.base import Backend
from judge.prompting import PromptLibrary, default_prompts
from judge.rubric.evaluate import plan_evaluation
from judge.runner.aggregate import rubric_margin, verdict_value
from judge.runner.parse import first_kind, verdict_check
from judge.runner.requests import POINTWISE_TEMPLATE, SYSTEM_TEMPLATE
from judge.runner.rounds import Task, ask
from judge.settings import DEFAULTS
from judge.types import Pair, PairJudgment, Rubric, Usage, stable_hash

Fallback = Callable[[Sequence[Pair]], list[PairJudgment]]
"""Judges pairs directly (e.g. ``judge.compare``); called once with every tied pair."""


def compare_with_rubric(
    backend: Backend,
    rubric: Rubric,
    pairs: Sequence[Pair],
    *,
    fallback: Fallback | None = None,
    prompts: PromptLibrary | None = None,
    max_rationale_chars: int = DEFAULTS.max_rationale_chars,
    tie_tolerance: float = 1e-9,
    seed: int | None = 0,
    retries: int = DEFAULTS.retries,
) -> list[PairJudgment]:
    """Compare each pair by its rubric margin; ties and unjudgeable pairs go to `fallback`.

    Both responses of every pair are judged on every criterion in ONE backend call, and
    `fallback` (when given) is called once with all tied pairs. Without a fallback a tie is
    reported as ``winner="tie"`` and an unjudgeable pair as an error.

    `p_a` is (1 + margin) / 2 and `confidence` is max(p_a, 1 - p_a); `consistent` is None
    because each response is judged on its own, so there is no order to swap.
    """
    prompts = prompts or default_prompts()
    evaluations = [
        plan_evaluation(
            rubric.leaves(),
            pair.conversation,
            [pair.response_a, pair.response_b],
            prompts=prompts,
            capabilities=backend.capabilities,
            rubric_name=rubric.name,
            rubric_description=rubric.description,
            reference=pair.reference,
            max_rationale_chars=max_rationale_chars,
            seed=seed,
            id_prefix=f"p{index}:",
        )
        for index, pair in enumerate(pairs)
    ]
    tasks = [
        Task(item.request, verdict_check(item.criterion.id))
        for evaluation in evaluations
        for item in evaluation.planned
    ]
    by_id = ask(backend, tasks, retries=retries, label="rubric-margin") if tasks else {}
    template_fingerprint = prompts.fingerprint(SYSTEM_TEMPLATE, POINTWISE_TEMPLATE)
    settings_fingerprint = stable_hash(
        {
            "model": backend.model_id,
            "rubric": rubric.fingerprint,
            "templates": template_fingerprint,
            "max_rationale_chars": max_rationale_chars,
            "seed": seed,
            "strategy": "rubric-margin",
        }
    )
    results: list[PairJudgment | None] = []
    tied: list[tuple[int, float | None]] = []
    for index, (pair, evaluation) in enumerate(zip(pairs, evaluations, strict=True)):
        table = evaluation.read(by_id)
        usage = Usage()
        for item in evaluation.planned:
            usage = usage + by_id[item.request.id][0].usage
        a = {cid: table.verdicts[(0, cid)] for cid in table.criteria}
        b = {cid: table.verdicts[(1, cid)] for cid in table.criteria}
        found = rubric_margin(rubric.leaves(), a, b)
        margin = None if found is None else found.value
        details: dict[str, Any] = {
            "p_yes_a": {cid: verdict_value(v) for cid, v in a.items()},
            "p_yes_b": {cid: verdict_value(v) for cid, v in b.items()},
        }
        common: dict[str, Any] = {
            "pair_id": pair.id,
            "model": backend.model_id,
            "rubric_fingerprint": rubric.fingerprint,
            "template_fingerprint": template_fingerprint,
            "settings_fingerprint": settings_fingerprint,
            "strategy": "rubric-margin",
            "usage": usage,
            "margin": margin,
            "details": details,
        }
        if margin is None or abs(margin) <= tie_tolerance:
            tied.append((index, margin))
            if margin is None:
                failed = [v for v in (*a.values(), *b.values()) if v.error]
                errors = sorted({v.error or "" for v in failed})
                results.append(
                    PairJudgment(
                        error="no criterion was evaluated on both responses: " + "; ".join(errors),
                        error_kind=first_kind(v.error_kind for v in failed),
                        **common,
                    )
                )
            else:
                results.append(PairJudgment(p_a=0.5, winner="tie", confidence=0.5, **common))
            continue
        p_a = (1.0 + margin) / 2.0
        results.append(
            PairJudgment(
                p_a=p_a,
                winner="a" if margin > 0 else "b",
                confidence=max(p_a, 1.0 - p_a),
                **common,
            )
        )
    if fallback is not None and tied:
        direct = fallback([pairs[index] for index, _ in tied])
        if len(direct) != len(tied):
            raise ValueError(f"fallback returned {len(direct)} judgments for {len(tied)} pairs")
        for (index, margin), judgment in zip(tied, direct, strict=True):
            reason = "empty rubric evaluation" if margin is None else "rubric margin tie"
            merged = {**judgment.details, "fallback": reason}
            results[index] = judgment.model_copy(update={"details": merged, "margin": margin})
    return [result for result in results if result is not None]
