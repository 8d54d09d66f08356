"""The naive baseline: the same model asked the plainest question, in the judge's own batches.

"Is the judge better than just asking the model?" can only be answered on the same model, the
same items and the same decoding. The baseline's flows join the judge's flows in one `drive`, so
its requests go in the same backend batch as the judge's first round and cost no extra call:

- pointwise: one yes/no question on the response (with the sample's reference when it has one);
  the baseline's score is its P(yes), read from token probabilities like a criterion's verdict;
- pairwise: one A/B question in both orders, combined exactly as a direct comparison
  (`combine_orders`): the swap-averaged P(a) and the per-order winners, so its position
  consistency is measured too.

The baseline is never calibrated, gated, capped or judged by rule (blank responses are asked
like any other): it is the model as a user would query it without this project.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from judge.runner.consistency import merge_verdicts
from judge.runner.pairwise import combine_orders, order_check, read_order
from judge.runner.parse import first_kind, verdict_check
from judge.runner.requests import RequestBuilder
from judge.runner.rounds import Flow, Task
from judge.types import Judgment, Pair, PairJudgment, Sample

NAIVE_STRATEGY = "naive"
"""The `strategy` of every baseline judgment."""

NAIVE_CRITERION = "naive"
"""The criterion id of the baseline's one verdict."""


def naive_sample_flow(
    builder: RequestBuilder,
    record: dict[str, Any],
    index: int,
    sample: Sample,
    *,
    stem: str = "#naive",
) -> Flow[Judgment]:
    """One round: the yes/no question; the judgment's score is the verdict's P(yes) (or 1/0).

    `stem` marks the request ids (the holistic question asks under its own, so that it and the
    baseline can share a batch).
    """
    check = verdict_check(NAIVE_CRITERION)
    task = Task(builder.naive_verdict(index, sample, stem=stem), check, role=stem.lstrip("#"))
    attempts = yield [task]
    attempt = attempts[task.request.id]
    merged = merge_verdicts(NAIVE_CRITERION, attempt.generations, check)
    verdict = merged.verdict
    common = {**record, "sample_id": sample.id, "strategy": NAIVE_STRATEGY, "usage": attempt.usage}
    if verdict.error is not None or verdict.verdict is None:
        return Judgment(
            error=f"naive: {verdict.error}",
            error_kind=first_kind([verdict.error_kind]),
            verdicts=(verdict,),
            **common,
        )
    score = verdict.p_yes if verdict.p_yes is not None else float(verdict.verdict == "yes")
    confidence = None if verdict.p_yes is None else max(score, 1.0 - score)
    return Judgment(score=score, confidence=confidence, verdicts=(verdict,), **common)


def naive_pair_flow(
    builder: RequestBuilder,
    record: dict[str, Any],
    index: int,
    pair: Pair,
    tie_margin: float,
    *,
    stem: str = "#naive",
) -> Flow[PairJudgment]:
    """One round: the A/B question in both orders, combined as a direct comparison."""
    chars = builder.settings.max_rationale_chars
    check = order_check(chars)
    role = stem.lstrip("#")
    tasks = [
        Task(builder.pairwise(index, pair, order, None, naive=True, stem=stem), check, role=role)
        for order in ("ab", "ba")
    ]
    attempts = yield tasks
    usage = attempts[tasks[0].request.id].usage + attempts[tasks[1].request.id].usage
    ab, ba = (read_order(attempts[task.request.id].generations, chars) for task in tasks)
    common = {**record, "pair_id": pair.id, "strategy": NAIVE_STRATEGY, "usage": usage}
    errors = [f"order {name}: {r.error}" for name, r in (("ab", ab), ("ba", ba)) if r.error]
    if errors:
        return PairJudgment(
            error="naive: " + "; ".join(errors),
            error_kind=first_kind((ab.error_kind, ba.error_kind)),
            **common,
        )
    return PairJudgment(**combine_orders(ab, ba, tie_margin), **common)


def naive_sample_flows(
    builder: RequestBuilder, record: dict[str, Any], samples: Sequence[Sample]
) -> list[Flow[Judgment]]:
    """The baseline's flow of every sample, in order."""
    return [naive_sample_flow(builder, record, i, s) for i, s in enumerate(samples)]


def naive_pair_flows(
    builder: RequestBuilder, record: dict[str, Any], pairs: Sequence[Pair], tie_margin: float
) -> list[Flow[PairJudgment]]:
    """The baseline's flow of every pair, in order."""
    return [naive_pair_flow(builder, record, i, p, tie_margin) for i, p in enumerate(pairs)]
