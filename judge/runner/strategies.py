"""Judging strategies as per-sample flows of rounds, driven together so a call costs few batches.

- breadth: every rubric criterion judged on its own after one shared prefix (one round);
  optionally N sampled principle lists merged into the score (Mix-GRM's breadth CoT).
- depth: the judge solves the task itself (or takes the sample's reference), then checks the
  response against that solution on the 1-3 most critical criteria (two rounds, one with a
  reference).
- auto: a routing request per sample chooses depth for objective and breadth for subjective
  tasks; a rubric whose `task_type` is objective or subjective fixes the route without asking.

A flow is a generator that yields the tasks of its next round and receives their attempts; the
driver runs the pending tasks of every flow as one batch per round, so M samples under depth cost
two backend calls, not 2M, and under auto at most three.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from judge.backends.base import Backend
from judge.errors import VerdictParseError
from judge.runner.aggregate import aggregate, normalised_weights
from judge.runner.consistency import MergedVerdict, merge_principles, merge_verdicts
from judge.runner.gate import GATE_RULE, content_free, gate_reason
from judge.runner.likert import likert_error, read_likert
from judge.runner.parse import first_kind, verdict_check
from judge.runner.requests import RequestBuilder
from judge.runner.rounds import Attempt, BatchStats, Flow, Task, drive
from judge.runner.routing import RouteDecision, read_route, route_error
from judge.settings import JudgeSettings, Strategy
from judge.types import (
    Agreement,
    Criterion,
    CriterionVerdict,
    ErrorKind,
    Generation,
    Judgment,
    LikertRating,
    Rubric,
    Sample,
    Usage,
)

logger = logging.getLogger(__name__)


JudgmentFlow = Flow[Judgment]


@dataclass(frozen=True)
class ScoringPlan:
    """Everything a flow needs: the request builder, the rubric, and what to record."""

    builder: RequestBuilder
    rubric: Rubric
    record: dict[str, Any] = field(default_factory=dict)
    """Fields every Judgment carries (model, rubric name, fingerprints)."""
    anchor: Criterion | None = None
    """Judged too on every sample with a reference; it anchors the score (`aggregate.anchored`)."""

    @property
    def settings(self) -> JudgeSettings:
        """The judge's settings (the builder's: one object, never copied into the plan)."""
        return self.builder.settings

    @property
    def hard_rule_cap(self) -> bool:
        """Whether a failed hard rule caps the score (score rule ``cap``)."""
        return self.builder.settings.score_rule == "cap"

    def criteria_for(self, sample: Sample, criteria: Sequence[Criterion]) -> list[Criterion]:
        """`criteria`, and the anchor criterion last when the sample has a reference."""
        if self.anchor is None or sample.reference is None:
            return list(criteria)
        return [*criteria, self.anchor]

    @cached_property
    def leaves(self) -> tuple[Criterion, ...]:
        """The rubric's judged criteria, walked once per call rather than once per sample."""
        return self.rubric.leaves()


def critical_criteria(rubric: Rubric, limit: int) -> list[Criterion]:
    """The `limit` most critical leaves: hard rules first, then by weight, then rubric order."""
    leaves = list(rubric.leaves())
    ranked = sorted(
        range(len(leaves)), key=lambda i: (leaves[i].kind != "hard_rule", -leaves[i].weight, i)
    )
    return [leaves[i] for i in ranked[: max(1, limit)]]


def _unusable_kind(generations: Sequence[Generation]) -> ErrorKind:
    """The kind of a failed step: the backend's failure if it had one, else an unreadable output."""
    failed = [generation.error_kind for generation in generations if generation.error is not None]
    return (failed[0] or ErrorKind.GENERATION) if failed else ErrorKind.UNPARSEABLE


def _solve_error(generation: Generation) -> str | None:
    if generation.error is not None:
        return generation.error
    return None if generation.text.strip() else "the solution is empty"


def _principles_error(plan: ScoringPlan) -> Any:
    output = plan.builder.principles_format()

    def check(generation: Generation) -> str | None:
        if generation.error is not None:
            return generation.error
        try:
            output.parse(generation.text)
        except VerdictParseError as exc:
            return exc.message
        return None

    return check


def _likert_check(plan: ScoringPlan, scale: int) -> Any:
    chars = plan.builder.settings.max_rationale_chars
    return lambda generation: likert_error(generation, scale, chars)


def _usage(attempts: dict[str, Attempt], tasks: Sequence[Task]) -> Usage:
    return Usage.total(attempts[task.request.id].usage for task in tasks)


def _extras(plan: ScoringPlan, index: int, sample: Sample, *, principles: bool) -> list[Task]:
    """The optional requests that join a sample's verdict round (same prefix group)."""
    tasks = []
    if principles and plan.settings.principles > 0:
        request = plan.builder.principles(index, sample, plan.rubric, plan.settings.principles)
        tasks.append(Task(request, _principles_error(plan), role="principles"))
    if plan.settings.likert is not None:
        request = plan.builder.likert(index, sample, plan.rubric, plan.settings.likert)
        tasks.append(Task(request, _likert_check(plan, plan.settings.likert), role="likert"))
    return tasks


def _principle_verdicts(
    plan: ScoringPlan, attempt: Attempt, criteria: Sequence[Criterion]
) -> tuple[list[Criterion], list[CriterionVerdict], list[dict[str, Any]]] | str:
    """Merged breadth principles as extra weighted criteria, or why there are none."""
    output = plan.builder.principles_format()
    lists = []
    for generation in attempt.generations:
        if _principles_error(plan)(generation) is None:
            lists.append(output.parse(generation.text))
    if not lists:
        return "principles: no sampled rationale could be read"
    merged = merge_principles(lists)
    # A principle named in every rationale weighs as much as an average rubric criterion.
    mean_weight = sum(c.weight for c in criteria) / len(criteria) or 1.0
    extra_criteria, extra_verdicts, details = [], [], []
    drawn = plan.settings.principles
    for number, principle in enumerate(merged, start=1):
        criterion_id = f"principle.{number}"
        weight = mean_weight * principle.count / drawn
        extra_criteria.append(Criterion(id=criterion_id, text=principle.text, weight=weight))
        extra_verdicts.append(
            CriterionVerdict(
                criterion_id=criterion_id,
                verdict=principle.verdict,
                p_yes=principle.p_yes,
                rationale=f"{principle.text} ({principle.count}/{drawn} rationales)",
            )
        )
        details.append(
            {
                "id": criterion_id,
                "principle": principle.text,
                "count": principle.count,
                "verdict": principle.verdict,
                "p_yes": principle.p_yes,
                "weight": weight,
            }
        )
    return extra_criteria, extra_verdicts, details


def _finish(
    plan: ScoringPlan,
    sample: Sample,
    strategy: str,
    criteria: Sequence[Criterion],
    verdict_tasks: Sequence[Task],
    extra_tasks: Sequence[Task],
    attempts: dict[str, Attempt],
    usage: Usage,
    details: dict[str, Any],
) -> Judgment:
    """Merge a sample's verdict round into a Judgment (an error value if anything failed)."""
    usage = usage + _usage(attempts, [*verdict_tasks, *extra_tasks])
    merged: list[MergedVerdict] = [
        merge_verdicts(criterion.id, attempts[task.request.id].generations, task.check)
        for criterion, task in zip(criteria, verdict_tasks, strict=True)
    ]
    verdicts = [item.verdict for item in merged]
    record = {**plan.record, "sample_id": sample.id, "strategy": strategy, "usage": usage}
    details = {**details, "samples": plan.builder.settings.samples}
    errors = [f"{v.criterion_id}: {v.error}" for v in verdicts if v.error is not None]
    kinds = [v.error_kind for v in verdicts if v.error is not None]
    likert: LikertRating | None = None
    all_criteria, all_verdicts = list(criteria), list(verdicts)
    for task in extra_tasks:
        attempt = attempts[task.request.id]
        if task.role == "principles":
            principles = _principle_verdicts(plan, attempt, criteria)
            if isinstance(principles, str):
                errors.append(principles)
                kinds.append(_unusable_kind(attempt.generations))
            else:
                all_criteria += principles[0]
                all_verdicts += principles[1]
                details["principles"] = principles[2]
        elif task.role == "likert" and plan.settings.likert is not None:
            reading = read_likert(
                attempt.generations, plan.settings.likert, plan.builder.settings.max_rationale_chars
            )
            likert = reading.as_rating()
            if reading.error is not None:
                errors.append(f"likert: {reading.error}")
                kinds.append(reading.error_kind)
    if errors:
        return Judgment(
            error="; ".join(errors),
            error_kind=first_kind(kinds),
            verdicts=tuple(all_verdicts),
            likert=likert,
            details=details,
            **record,
        )
    anchor = plan.anchor.id if plan.anchor is not None else None
    if anchor is not None and any(c.id == anchor for c in criteria):
        details["anchor"] = anchor
    result = aggregate(all_criteria, all_verdicts, hard_rule_cap=plan.hard_rule_cap, anchor=anchor)
    confidence = result.confidence
    consistency = None
    if plan.builder.settings.samples > 1:
        consistency = _consistency(
            criteria, merged, plan.hard_rule_cap, plan.builder.settings.samples, anchor
        )
        confidence = consistency.agreement
    elif confidence is None:
        details["confidence"] = "unavailable: the backend gives no token probabilities"
    return Judgment(
        score=result.score,
        confidence=confidence,
        capped_by=result.capped_by,
        verdicts=tuple(all_verdicts),
        consistency=consistency,
        likert=likert,
        details=details,
        **record,
    )


def _consistency(
    criteria: Sequence[Criterion],
    merged: Sequence[MergedVerdict],
    hard_rule_cap: bool,
    samples: int,
    anchor: str | None = None,
) -> Agreement:
    """Self-consistency: per-criterion agreement, its weighted mean, each draw's score."""
    weights = normalised_weights(criteria)
    agreements = [item.agreement or 0.0 for item in merged]
    overall = sum(w * a for w, a in zip(weights, agreements, strict=True))
    draws = len(merged[0].readings)
    scores: list[float | None] = []
    for draw in range(draws):
        readings = [item.readings[draw] for item in merged]
        if any(reading.error is not None for reading in readings):
            scores.append(None)
            continue
        scores.append(
            aggregate(criteria, readings, hard_rule_cap=hard_rule_cap, anchor=anchor).score
        )
    return Agreement(
        samples=samples,
        agreement=overall,
        by_criterion={c.id: a for c, a in zip(criteria, agreements, strict=True)},
        sample_scores=tuple(scores),
    )


def breadth_flow(plan: ScoringPlan, index: int, sample: Sample) -> JudgmentFlow:
    """One round: every leaf criterion (plus principles and Likert when asked) on one prefix."""
    criteria = plan.criteria_for(sample, plan.leaves)
    requests = plan.builder.verdicts(index, sample, plan.rubric, criteria)
    verdict_tasks = [
        Task(request, verdict_check(c.id)) for c, request in zip(criteria, requests, strict=True)
    ]
    extra_tasks = _extras(plan, index, sample, principles=True)
    attempts = yield [*verdict_tasks, *extra_tasks]
    return _finish(
        plan, sample, "breadth", criteria, verdict_tasks, extra_tasks, attempts, Usage(), {}
    )


def depth_flow(plan: ScoringPlan, index: int, sample: Sample) -> JudgmentFlow:
    """Solve (unless a reference is given), then verify the critical criteria against it."""
    usage = Usage()
    details: dict[str, Any] = {}
    if sample.reference is not None:
        solution, source = sample.reference, "reference"
    else:
        solve = Task(plan.builder.solve(index, sample), _solve_error, role="solve")
        attempts = yield [solve]
        attempt = attempts[solve.request.id]
        usage = usage + attempt.usage
        generation = attempt.generations[0]
        error = _solve_error(generation)
        if error is not None:
            return Judgment(
                error=f"depth: the solve step failed: {error}",
                error_kind=_unusable_kind([generation]),
                strategy="depth",
                sample_id=sample.id,
                usage=usage,
                details={"samples": plan.builder.settings.samples},
                **plan.record,
            )
        solution, source = generation.text.strip(), "model"
        details["solution_truncated"] = generation.finish_reason == "length"
    criteria = plan.criteria_for(
        sample, critical_criteria(plan.rubric, plan.settings.depth_criteria)
    )
    chosen = {criterion.id for criterion in criteria}
    details.update(
        {
            "solution": solution,
            "solution_source": source,
            "critical_criteria": [criterion.id for criterion in criteria],
            "skipped_criteria": [c.id for c in plan.rubric.leaves() if c.id not in chosen],
        }
    )
    requests = plan.builder.depth_verdicts(index, sample, plan.rubric, criteria, solution, source)
    verdict_tasks = [
        Task(request, verdict_check(c.id)) for c, request in zip(criteria, requests, strict=True)
    ]
    extra_tasks = _extras(plan, index, sample, principles=False)
    attempts = yield [*verdict_tasks, *extra_tasks]
    return _finish(
        plan, sample, "depth", criteria, verdict_tasks, extra_tasks, attempts, usage, details
    )


def auto_flow(plan: ScoringPlan, index: int, sample: Sample) -> JudgmentFlow:
    """Route the sample (or take the rubric's task type), then run breadth or depth."""
    usage = Usage()
    task_type = plan.rubric.task_type
    if task_type in ("objective", "subjective"):
        decision = RouteDecision(task_type, None, "rubric")
    else:
        route = Task(plan.builder.route(index, sample), route_error, role="route")
        attempts = yield [route]
        attempt = attempts[route.request.id]
        usage = attempt.usage
        decision = read_route(attempt.generations[0])
    flow = depth_flow if decision.strategy == "depth" else breadth_flow
    judgment = yield from flow(plan, index, sample)
    return judgment.model_copy(
        update={
            "usage": judgment.usage + usage,
            "route": decision.as_choice(),
        }
    )


FLOWS = {"breadth": breadth_flow, "depth": depth_flow, "auto": auto_flow}

EMPTY_NOTE = "the response is empty (blank): it fails every criterion by rule, without a model call"


def empty_judgment(plan: ScoringPlan, sample: Sample) -> Judgment:
    """The judgment of a blank response: every criterion ``no`` (P(yes) 0), score 0, no model call.

    A rubric lists what a good answer does; a blank answer does none of it. Judging it by rule
    also keeps a weak judge from accepting it (an empty answer is a known "master key").
    """
    verdicts = tuple(
        CriterionVerdict(criterion_id=c.id, verdict="no", p_yes=0.0, rationale=EMPTY_NOTE)
        for c in plan.rubric.leaves()
    )
    return Judgment(
        **{**plan.record, "sample_id": sample.id},
        score=0.0,
        confidence=1.0,
        verdicts=verdicts,
        strategy="empty",
        details={"note": EMPTY_NOTE, "samples": plan.builder.settings.samples},
    )


def decided(judgment: Judgment) -> JudgmentFlow:
    """A flow that finishes with `judgment` without a round (a judgment by rule)."""
    return judgment
    yield []  # unreachable: makes this function a flow


def gated_flow(plan: ScoringPlan, sample: Sample, strategy: str) -> JudgmentFlow:
    """A content-free response scores 0 by rule, without a round (`JudgeSettings.content_gate`)."""
    record = {**plan.record, "sample_id": sample.id, "strategy": strategy}
    details = {"gate": GATE_RULE, "gate_reason": gate_reason(sample.response)}
    return (yield from decided(Judgment(score=0.0, details=details, **record)))


def _flow(plan: ScoringPlan, index: int, sample: Sample, strategy: Strategy) -> JudgmentFlow:
    """The sample's flow under `strategy` and the defences the plan turns on.

    A blank response is judged by rule (`empty_judgment`) before any defence; it costs no request.
    """
    if not sample.response.strip():
        return decided(empty_judgment(plan, sample))
    if plan.settings.content_gate and content_free(sample.response):
        return gated_flow(plan, sample, strategy)
    if plan.settings.reference_depth and sample.reference is not None:
        return depth_flow(plan, index, sample)
    return FLOWS[strategy](plan, index, sample)


def scoring_flows(
    plan: ScoringPlan, samples: Sequence[Sample], strategy: Strategy
) -> list[JudgmentFlow]:
    """Every sample's flow, in order (`score_samples` drives them; a caller may add its own)."""
    return [_flow(plan, i, s, strategy) for i, s in enumerate(samples)]


def score_samples(
    backend: Backend,
    plan: ScoringPlan,
    samples: Sequence[Sample],
    strategy: Strategy,
    stats: BatchStats,
    *,
    retries: int,
) -> list[Judgment]:
    """Judge every sample under `strategy` in as few backend batches as the rounds allow.

    A blank response is judged by rule (`empty_judgment`) and costs no request.
    """
    judgments = drive(backend, scoring_flows(plan, samples, strategy), stats, retries=retries)
    logger.info(
        "scored %d samples with strategy %s: %d requests in %d backend batch calls (%s)",
        len(samples),
        strategy,
        stats.requests,
        stats.backend_calls,
        ", ".join(stats.rounds) or "no rounds",
    )
    return judgments
