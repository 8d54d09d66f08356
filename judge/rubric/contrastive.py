"""Contrastive rubric generation (OpenRubrics' CRG): criteria from ranked responses, validated.

The model sees responses ranked best first and proposes what separates the better from the
worse; a proposal is kept only if judging the same responses with it reproduces the labels by
a margin that is not noise. Hard rules the request does not state become principles.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

from judge.backends.base import Backend
from judge.errors import InputError, RubricError
from judge.prompting import PromptContext, PromptLibrary, default_prompts
from judge.rubric.evaluate import plan_evaluation
from judge.rubric.generate import (
    as_conversation,
    build_criteria,
    demote_unstated,
    dropped_criteria,
    excerpt,
    prompt_text,
    proposal_request,
    proposal_screen,
    screened_proposals,
)
from judge.rubric.proposal import ProposedCriterion, proposal_check, slug_id
from judge.rubric.settings import GenerateSettings
from judge.runner.aggregate import rubric_margin
from judge.runner.parse import verdict_check
from judge.runner.rounds import BatchStats, Flow, Task, drive
from judge.types import Criterion, Generation, Message, Provenance, Rubric, stable_hash

logger = logging.getLogger(__name__)

CONTRASTIVE_TEMPLATE = "rubric_contrastive"


def _label_consistency(
    rubric: Rubric, values: Sequence[dict[str, float | None]], min_margin: float
) -> tuple[float, float | None]:
    """Pairwise accuracy over the induced pairs (best first) and the source pair's margin.

    A pair counts as ordered only when the better response leads by at least `min_margin`.
    """
    pairs = list(combinations(range(len(values)), 2))
    correct = 0
    leaves = rubric.leaves()
    for better, worse in pairs:
        margin = rubric_margin(leaves, values[better], values[worse])
        correct += margin is not None and margin.value >= min_margin
    source = rubric_margin(leaves, values[0], values[-1])
    return correct / len(pairs), None if source is None else source.value


def _contrastive_criteria(
    rubric: Rubric, values: Sequence[dict[str, float | None]], min_margin: float
) -> tuple[tuple[Criterion, ...], list[tuple[ProposedCriterion, str]]]:
    """Criteria whose P(yes) on the best response leads the worst by at least `min_margin`.

    The others do not tell the labelled responses apart (or order them the wrong way), so they
    are dropped with their margin as the reason.
    """
    kept, weak = [], []
    for criterion in rubric.criteria:
        best, worst = values[0].get(criterion.id), values[-1].get(criterion.id)
        if best is None or worst is None:
            reason = "not contrastive: its verdict on the best or the worst response failed"
        elif best - worst < min_margin:
            reason = (
                f"not contrastive: best-minus-worst P(yes) margin {best - worst:+.3f} is below "
                f"min_margin {min_margin:g}"
            )
        else:
            kept.append(criterion)
            continue
        weak.append((ProposedCriterion(text=criterion.text, kind=criterion.kind), reason))
    return tuple(kept), weak


@dataclass(frozen=True)
class RankedResponses:
    """One contrastive input: a request and its responses ranked best first."""

    prompt: str | Sequence[Message]
    ranked: Sequence[str]
    reference: str | None = None
    name: str | None = None


def generate_contrastive_rubric(
    backend: Backend,
    prompt: str | Sequence[Message],
    ranked: Sequence[str],
    *,
    reference: str | None = None,
    settings: GenerateSettings | None = None,
    prompts: PromptLibrary | None = None,
    name: str | None = None,
) -> Rubric:
    """Propose criteria from responses ranked best first (chosen, rejected), keep a consistent one.

    Two backend calls: the proposals (`settings.candidates` of them, sampled together), then
    every proposal's criteria judged on every ranked response. A proposal is consistent when its
    uniform-weight P(yes) margin orders at least `min_pairwise_accuracy` of the induced pairs
    correctly and orders the source pair (best vs worst) correctly, each by at least
    `min_margin`; criteria whose own best-minus-worst margin is under `min_margin` are dropped
    first. The most accurate proposal wins.

    Raises:
        InputError: fewer than two distinct responses.
        RubricError: no proposal had usable criteria, or none was consistent with the labels.
    """
    [outcome] = generate_contrastive_rubrics(
        backend,
        [RankedResponses(prompt, ranked, reference, name)],
        settings=settings,
        prompts=prompts,
    )
    if isinstance(outcome, RubricError):
        raise outcome
    return outcome


def generate_contrastive_rubrics(
    backend: Backend,
    items: Sequence[RankedResponses],
    *,
    settings: GenerateSettings | None = None,
    prompts: PromptLibrary | None = None,
) -> list[Rubric | RubricError]:
    """One contrastive rubric per item (see `generate_contrastive_rubric`), in two backend calls.

    Every item's proposals go in one batch and every candidate's validation in the next, so a
    file of preference pairs costs two calls, not two per row. An item that yields no
    consistent rubric gives its `RubricError` in its place; the others are unaffected.

    Raises:
        InputError: an item with fewer than two distinct responses (checked before any call).
    """
    settings = settings or GenerateSettings()
    prompts = prompts or default_prompts()
    for number, item in enumerate(items, start=1):
        try:
            _check_ranked(item.ranked)
        except InputError as exc:
            if len(items) == 1:
                raise
            raise InputError(f"item {number}: {exc.message}", hint=exc.hint) from exc
    prefix = len(items) > 1
    flows = [
        _settled(
            _contrastive_flow(backend, item, settings, prompts, key=f"r{number}:" if prefix else "")
        )
        for number, item in enumerate(items, start=1)
    ]
    return drive(backend, flows, BatchStats(), retries=settings.retries)


def _check_ranked(ranked: Sequence[str]) -> None:
    if len(ranked) < 2 or any(not text.strip() for text in ranked):
        raise InputError("contrastive generation needs at least two non-empty ranked responses")
    if len({" ".join(text.split()) for text in ranked}) < len(ranked):
        raise InputError(
            "the ranked responses contain duplicates",
            hint="identical responses cannot be ranked against each other",
        )


def _settled(flow: Flow[Rubric]) -> Flow[Rubric | RubricError]:
    """The flow's rubric, or the `RubricError` it raised (one item never stops the others)."""
    try:
        return (yield from flow)
    except RubricError as exc:
        return exc


def _contrastive_flow(
    backend: Backend,
    item: RankedResponses,
    settings: GenerateSettings,
    prompts: PromptLibrary,
    *,
    key: str,
) -> Flow[Rubric]:
    """One item's two rounds: the proposals, then every candidate judged on every response."""
    conversation = as_conversation(item.prompt)
    reference = item.reference
    responses = list(item.ranked)
    shown = [text[: settings.max_response_chars] for text in responses]
    context = PromptContext.from_data(
        conversation=[(m.role, m.content) for m in conversation],
        reference=reference,
        responses=shown,
        min_items=settings.min_criteria,
        max_items=settings.max_criteria,
        max_criterion_chars=settings.max_criterion_chars,
    )
    sampled = settings.candidates > 1
    request = proposal_request(
        f"{key}contrastive",
        CONTRASTIVE_TEMPLATE,
        context,
        settings,
        backend,
        prompts,
        n=settings.candidates,
        temperature=settings.candidate_temperature if sampled else None,
    )
    proposed = yield [Task(request, proposal_check, role="contrastive")]
    generations = proposed[request.id].generations
    rules = proposal_screen(
        request.messages[-1].content,
        conversation,
        settings,
        reference=reference,
        responses=responses,
    )
    provenance = Provenance(source="contrastive", detail=f"proposed by {backend.model_id}")
    candidates: list[tuple[Rubric, list[tuple[ProposedCriterion, str]]]] = []
    failures: list[str] = []
    for index, generation in enumerate(generations):
        kept, dropped, failure = screened_proposals(generation, rules, settings, backend.model_id)
        if failure is not None:
            failures.append(f"candidate {index + 1}: {failure}")
            continue
        kept, demoted = demote_unstated(kept, prompt_text(conversation))
        for text in demoted:
            logger.info("contrastive: %r is not stated by the request: principle", text)
        criteria = build_criteria(kept, provenance)
        candidates.append((Rubric(name="candidate", criteria=criteria), dropped))
    if not candidates:
        raise RubricError(
            f"contrastive generation: {'; '.join(failures)}",
            hint="use a backend with structured output or a stronger model",
        )
    evaluations = [
        plan_evaluation(
            candidate.criteria,
            conversation,
            responses,
            prompts=prompts,
            capabilities=backend.capabilities,
            rubric_name=candidate.name,
            reference=reference,
            max_rationale_chars=settings.max_rationale_chars,
            seed=settings.seed,
            id_prefix=f"{key}k{index}:",
        )
        for index, (candidate, _) in enumerate(candidates)
    ]
    tasks = [
        Task(planned.request, verdict_check(planned.criterion.id), role="validate")
        for evaluation in evaluations
        for planned in evaluation.planned
    ]
    by_id: dict[str, list[Generation]] = {}
    if tasks:
        attempts = yield tasks
        by_id = {request_id: list(attempt.generations) for request_id, attempt in attempts.items()}
    best: tuple[float, float, int] | None = None
    selected: dict[int, tuple[Rubric, list[tuple[ProposedCriterion, str]]]] = {}
    margin_floor = settings.min_margin
    for index, ((candidate, dropped), evaluation) in enumerate(
        zip(candidates, evaluations, strict=True)
    ):
        table = evaluation.read(by_id)
        values = [
            {cid: table.values(cid)[i] for cid in table.criteria} for i in range(len(responses))
        ]
        contrastive, weak = _contrastive_criteria(candidate, values, margin_floor)
        dropped = [*dropped, *weak]
        if not contrastive:
            failures.append(
                f"candidate {index + 1}: no criterion separates the best from the worst response "
                f"by the minimum margin {margin_floor:g}"
            )
            continue
        narrowed = Rubric(name=candidate.name, criteria=contrastive)
        accuracy, source = _label_consistency(narrowed, values, margin_floor)
        verdict = "consistent"
        if accuracy < settings.min_pairwise_accuracy or source is None or source < margin_floor:
            verdict = "inconsistent"
            source_text = "not judged" if source is None else f"{source:+.3f}"
            failures.append(
                f"candidate {index + 1}: pairwise accuracy {accuracy:.2f} (minimum "
                f"{settings.min_pairwise_accuracy:g}), source pair margin {source_text} "
                f"(minimum {margin_floor:g})"
            )
        elif best is None or (accuracy, source) > best[:2]:
            best = (accuracy, source, index)
            selected[index] = (narrowed, dropped)
        logger.info("contrastive candidate %d: %s, accuracy %.2f", index + 1, verdict, accuracy)
    if best is None:
        raise RubricError(
            "contrastive rubric is not consistent with the labels: " + "; ".join(failures),
            hint="sample more candidates (candidates > 1), use a stronger model, or use "
            "generate_rubric without labels",
        )
    accuracy, source, index = best
    chosen, dropped = selected[index]
    pairs = len(responses) * (len(responses) - 1) // 2
    detail = (
        f"proposed by {backend.model_id}; pairwise accuracy {accuracy:.2f} over {pairs} "
        f"pair(s); source pair margin {source:+.2f}"
    )
    final = Provenance(source="contrastive", detail=detail)
    taken: set[str] = set()
    criteria = tuple(
        Criterion(id=slug_id(c.text, taken), text=c.text, kind=c.kind, provenance=final)
        for c in chosen.criteria
    )
    return Rubric(
        name=item.name or f"contrastive-{stable_hash(prompt_text(conversation))[:8]}",
        description=f"Contrastive rubric for the request: {excerpt(prompt_text(conversation))}",
        criteria=criteria,
        dropped=dropped_criteria(dropped, provenance, taken),
    )
