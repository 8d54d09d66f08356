"""The holistic question: the naive baseline's plain question, asked as part of the judgment.

With `JudgeSettings.holistic_weight` w > 0 every sample is also asked the plain question
(pointwise: is the response a correct answer, with the reference when the sample has one;
pairwise: which response is better, in both orders), with its requests in the same batch as the
judge's first round, so it costs no backend call. The judgment then blends the two:

- pointwise: score = (1 - w) * rubric score + w * P(yes); confidence likewise;
- pairwise: P(A) = (1 - w) * rubric P(A) + w * plain P(A), the winner decided from it with the
  judge's tie margin.

The rubric's verdicts stay in the judgment and the plain question's verdict joins them (as the
criterion ``holistic``); ``details["holistic"]`` holds its P(yes) (or P(A)), the weight and the
score before the blend. A judgment by rule (a blank or gated response, identical or blank pairs)
asks nothing and is left as it is. A failed plain question fails the judgment with its kind:
the blend is never silently the rubric alone.
"""

from __future__ import annotations

from typing import Any, TypeVar

from judge.runner.naive import naive_pair_flow, naive_sample_flow
from judge.runner.pairwise import decide
from judge.runner.requests import RequestBuilder
from judge.runner.rounds import Flow, Task, joint
from judge.types import Judgment, Pair, PairJudgment, Sample

HOLISTIC_STEM = "#holistic"
"""Marks the plain question's request ids, apart from the naive baseline's in the same batch."""

HOLISTIC_CRITERION = "holistic"
"""The criterion id of the plain question's verdict in a blended judgment."""

Result = TypeVar("Result")


def _started(flow: Flow[Result], tasks: list[Task]) -> Flow[Result]:
    """`flow`, whose first round (`tasks`) has already been taken from it."""
    while True:
        attempts = yield tasks
        try:
            tasks = flow.send(attempts)
        except StopIteration as stop:
            result: Result = stop.value
            return result


def _blend(rubric: float, plain: float, weight: float) -> float:
    return min(1.0, max(0.0, (1.0 - weight) * rubric + weight * plain))


def _blend_confidence(judged: float | None, asked: float | None, weight: float) -> float | None:
    """The blend of two confidences; None unless both parts have one."""
    return None if judged is None or asked is None else _blend(judged, asked, weight)


def _holistic_details(
    judged: dict[str, Any], plain: float, weight: float, before: float
) -> dict[str, Any]:
    return {**judged, "holistic": {"plain": plain, "weight": weight, "before": before}}


def blend_judgment(judged: Judgment, asked: Judgment, weight: float) -> Judgment:
    """The judge's judgment with the plain question's answer blended in (see the module)."""
    usage = judged.usage + asked.usage
    if judged.error is not None or judged.score is None:
        return judged.model_copy(update={"usage": usage})
    if asked.error is not None or asked.score is None:
        return judged.model_copy(
            update={
                "score": None,
                "confidence": None,
                "verdicts": judged.verdicts + asked.verdicts,
                "usage": usage,
                "error": f"holistic question: {asked.error}",
                "error_kind": asked.error_kind,
            }
        )
    [verdict] = asked.verdicts
    confidence = _blend_confidence(judged.confidence, asked.confidence, weight)
    holistic = verdict.model_copy(update={"criterion_id": HOLISTIC_CRITERION})
    return judged.model_copy(
        update={
            "score": _blend(judged.score, asked.score, weight),
            "confidence": confidence,
            "verdicts": (*judged.verdicts, holistic),
            "usage": usage,
            "details": _holistic_details(judged.details, asked.score, weight, judged.score),
        }
    )


def blend_pair(
    judged: PairJudgment, asked: PairJudgment, weight: float, tie_margin: float
) -> PairJudgment:
    """The judge's pair judgment with the plain A/B answer blended into P(A) (see the module)."""
    usage = judged.usage + asked.usage
    if judged.error is not None or judged.p_a is None:
        return judged.model_copy(update={"usage": usage})
    if asked.error is not None or asked.p_a is None:
        return judged.model_copy(
            update={
                "p_a": None,
                "winner": None,
                "consistent": None,
                "confidence": None,
                "usage": usage,
                "error": f"holistic question: {asked.error}",
                "error_kind": asked.error_kind,
            }
        )
    p_a = _blend(judged.p_a, asked.p_a, weight)
    confidence = _blend_confidence(judged.confidence, asked.confidence, weight)
    return judged.model_copy(
        update={
            "p_a": p_a,
            "winner": decide(p_a, tie_margin),
            "confidence": confidence,
            "usage": usage,
            "details": _holistic_details(judged.details, asked.p_a, weight, judged.p_a),
        }
    )


def holistic_sample_flow(
    flow: Flow[Judgment],
    builder: RequestBuilder,
    record: dict[str, Any],
    index: int,
    sample: Sample,
) -> Flow[Judgment]:
    """`flow` (the judge's, for sample `index`) with the plain question run beside it."""
    try:
        tasks = next(flow)
    except StopIteration as stop:
        decided: Judgment = stop.value  # judged by rule: nothing to ask
        return decided
    plain = naive_sample_flow(builder, record, index, sample, stem=HOLISTIC_STEM)
    judged, asked = yield from joint(_started(flow, tasks), plain)
    return blend_judgment(judged, asked, builder.settings.holistic_weight)


def holistic_pair_flow(
    flow: Flow[PairJudgment],
    builder: RequestBuilder,
    record: dict[str, Any],
    index: int,
    pair: Pair,
) -> Flow[PairJudgment]:
    """`flow` (the judge's, for pair `index`) with the plain A/B question run beside it."""
    try:
        tasks = next(flow)
    except StopIteration as stop:
        decided: PairJudgment = stop.value  # decided by rule (identical or blank responses)
        return decided
    settings = builder.settings
    plain = naive_pair_flow(builder, record, index, pair, settings.tie_margin, stem=HOLISTIC_STEM)
    judged, asked = yield from joint(_started(flow, tasks), plain)
    return blend_pair(judged, asked, settings.holistic_weight, settings.tie_margin)
