"""Rubric generation: criteria proposed from a prompt, or contrastively from ranked responses.

`generate_rubric` asks the model for atomic, binary, prompt-specific criteria tagged hard_rule
or principle. `generate_contrastive_rubric` follows OpenRubrics' contrastive rubric generation
(CRG): it shows the model ranked responses, asks what separates the better from the worse, and
keeps a proposal only if judging the same responses with it reproduces the labels. Both screen
the proposals (no answers, no copied responses, no duplicates) and record what they dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from itertools import combinations

from judge.backends.base import Backend
from judge.errors import GenerationError, InputError, RubricError
from judge.prompting import PromptContext, PromptLibrary, default_prompts
from judge.rubric.evaluate import plan_evaluation
from judge.rubric.proposal import (
    ProposedCriterion,
    Screen,
    criteria_constraint,
    criteria_max_tokens,
    parse_criteria,
    proposal_check,
    screen,
    slug_id,
)
from judge.rubric.settings import GenerateSettings
from judge.runner.aggregate import rubric_margin
from judge.runner.parse import verdict_check
from judge.runner.rounds import Task, ask
from judge.types import (
    Criterion,
    DroppedCriterion,
    Generation,
    GenerationRequest,
    Message,
    Provenance,
    Rubric,
    SamplingParams,
    stable_hash,
)

logger = logging.getLogger(__name__)

SYSTEM_TEMPLATE = "rubric_system"
PROPOSE_TEMPLATE = "rubric_propose"
CONTRASTIVE_TEMPLATE = "rubric_contrastive"


def as_conversation(prompt: str | Sequence[Message]) -> tuple[Message, ...]:
    """The prompt as chat messages (a plain prompt is one user message); never empty."""
    if isinstance(prompt, str):
        if not prompt.strip():
            raise InputError("prompt is empty", hint="give the request the rubric is for")
        return (Message(role="user", content=prompt),)
    messages = tuple(prompt)
    if not messages or not any(m.content.strip() for m in messages):
        raise InputError("prompt has no messages", hint="give the request the rubric is for")
    return messages


def prompt_text(conversation: Sequence[Message]) -> str:
    """The conversation's text, for screening criteria against what the request itself says."""
    return "\n".join(message.content for message in conversation)


def _proposal_request(
    request_id: str,
    template: str,
    context: PromptContext,
    settings: GenerateSettings,
    backend: Backend,
    prompts: PromptLibrary,
    *,
    n: int = 1,
    temperature: float | None = None,
) -> GenerationRequest:
    system = Message(role="system", content=prompts.render(SYSTEM_TEMPLATE, PromptContext()))
    user = Message(role="user", content=prompts.render(template, context))
    return GenerationRequest(
        id=request_id,
        messages=(system, user),
        sampling=SamplingParams(
            max_new_tokens=criteria_max_tokens(settings.max_criteria, settings.max_criterion_chars),
            temperature=settings.temperature if temperature is None else temperature,
            seed=settings.seed,
            n=n,
        ),
        constraint=criteria_constraint(
            backend.capabilities,
            settings.min_criteria,
            settings.max_criteria,
            settings.min_criterion_chars,
            settings.max_criterion_chars,
        ),
    )


def build_criteria(
    proposed: Sequence[ProposedCriterion], provenance: Provenance, taken: set[str] | None = None
) -> tuple[Criterion, ...]:
    """Criteria with readable unique ids (``taken`` is updated with the new ids)."""
    taken = set() if taken is None else taken
    return tuple(
        Criterion(
            id=slug_id(item.text, taken), text=item.text, kind=item.kind, provenance=provenance
        )
        for item in proposed
    )


def _screened_proposals(
    generation: Generation, rules: Screen, settings: GenerateSettings, model_id: str
) -> tuple[list[ProposedCriterion], list[tuple[ProposedCriterion, str]], str | None]:
    """Usable proposals, dropped ones with reasons, and why none came back (or None)."""
    if generation.error is not None:
        return [], [], f"the proposal failed: {generation.error}"
    proposed = parse_criteria(generation.text)
    if not proposed:
        return [], [], f"model {model_id!r} returned no criteria in {generation.text[:160]!r}"
    kept, dropped = screen(proposed, rules)
    extra = kept[settings.max_criteria :]
    kept = kept[: settings.max_criteria]
    dropped += [(item, f"screened: beyond max_criteria={settings.max_criteria}") for item in extra]
    if not kept:
        reasons = "; ".join(f"{item.text[:50]!r}: {reason}" for item, reason in dropped)
        return [], dropped, f"every proposed criterion was dropped ({reasons})"
    return kept, dropped, None


def _dropped(
    items: Sequence[tuple[ProposedCriterion, str]], provenance: Provenance, taken: set[str]
) -> tuple[DroppedCriterion, ...]:
    result = []
    for item, reason in items:
        [criterion] = build_criteria([item], provenance, taken)
        result.append(DroppedCriterion(criterion=criterion, reason=reason))
    return tuple(result)


def _excerpt(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def generate_rubric(
    backend: Backend,
    prompt: str | Sequence[Message],
    reference: str | None = None,
    *,
    settings: GenerateSettings | None = None,
    prompts: PromptLibrary | None = None,
    name: str | None = None,
) -> Rubric:
    """Ask the model for criteria specific to `prompt`; one backend call.

    Raises:
        RubricError: the model returned nothing usable (never an empty rubric).
        GenerationError: the backend failed the request.
    """
    settings = settings or GenerateSettings()
    prompts = prompts or default_prompts()
    conversation = as_conversation(prompt)
    context = PromptContext.from_data(
        conversation=[(m.role, m.content) for m in conversation],
        reference=reference,
        min_items=settings.min_criteria,
        max_items=settings.max_criteria,
        max_criterion_chars=settings.max_criterion_chars,
    )
    request = _proposal_request("propose", PROPOSE_TEMPLATE, context, settings, backend, prompts)
    task = Task(request, proposal_check, role="propose")
    [generation] = ask(backend, [task], retries=settings.retries, label="propose")["propose"]
    if generation.error is not None:
        raise GenerationError(f"rubric proposal failed: {generation.error}")
    rules = Screen(
        prompt=prompt_text(conversation),
        reference=reference,
        min_chars=settings.min_criterion_chars,
        max_chars=settings.max_criterion_chars,
        copy_words=settings.copy_words,
    )
    kept, dropped, failure = _screened_proposals(generation, rules, settings, backend.model_id)
    if failure is not None:
        raise RubricError(
            f"rubric generation: {failure}",
            hint="use a backend with structured output or a stronger model, or start from a "
            "library rubric (judge rubric list)",
        )
    provenance = Provenance(source="generated", detail=f"proposed by {backend.model_id}")
    taken: set[str] = set()
    criteria = build_criteria(kept, provenance, taken)
    logger.info("generated %d criteria (%d dropped) in 1 backend call", len(criteria), len(dropped))
    return Rubric(
        name=name or f"generated-{stable_hash(prompt_text(conversation))[:8]}",
        description=f"Generated for the request: {_excerpt(prompt_text(conversation))}",
        criteria=criteria,
        dropped=_dropped(dropped, provenance, taken),
    )


def _label_consistency(
    rubric: Rubric, values: Sequence[dict[str, float | None]]
) -> tuple[float, float | None]:
    """Pairwise accuracy over the induced pairs (best first) and the source pair's margin."""
    pairs = list(combinations(range(len(values)), 2))
    correct = 0
    leaves = rubric.leaves()
    for better, worse in pairs:
        margin = rubric_margin(leaves, values[better], values[worse])
        correct += margin is not None and margin.value > 0
    source = rubric_margin(leaves, values[0], values[-1])
    return correct / len(pairs), None if source is None else source.value


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
    correctly and orders the source pair (best vs worst) correctly; the most accurate one wins.

    Raises:
        InputError: fewer than two distinct responses.
        RubricError: no proposal had usable criteria, or none was consistent with the labels.
    """
    settings = settings or GenerateSettings()
    prompts = prompts or default_prompts()
    conversation = as_conversation(prompt)
    responses = [text for text in ranked]
    if len(responses) < 2 or any(not text.strip() for text in responses):
        raise InputError("contrastive generation needs at least two non-empty ranked responses")
    if len({" ".join(text.split()) for text in responses}) < len(responses):
        raise InputError(
            "the ranked responses contain duplicates",
            hint="identical responses cannot be ranked against each other",
        )
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
    request = _proposal_request(
        "contrastive",
        CONTRASTIVE_TEMPLATE,
        context,
        settings,
        backend,
        prompts,
        n=settings.candidates,
        temperature=settings.candidate_temperature if sampled else None,
    )
    task = Task(request, proposal_check, role="contrastive")
    generations = ask(backend, [task], retries=settings.retries, label="contrastive")[request.id]
    rules = Screen(
        prompt=prompt_text(conversation),
        reference=reference,
        responses=tuple(responses),
        min_chars=settings.min_criterion_chars,
        max_chars=settings.max_criterion_chars,
        copy_words=settings.copy_words,
    )
    provenance = Provenance(source="contrastive", detail=f"proposed by {backend.model_id}")
    candidates: list[tuple[Rubric, list[tuple[ProposedCriterion, str]]]] = []
    failures: list[str] = []
    for index, generation in enumerate(generations):
        kept, dropped, failure = _screened_proposals(generation, rules, settings, backend.model_id)
        if failure is not None:
            failures.append(f"candidate {index + 1}: {failure}")
            continue
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
            id_prefix=f"k{index}:",
        )
        for index, (candidate, _) in enumerate(candidates)
    ]
    tasks = [
        Task(item.request, verdict_check(item.criterion.id))
        for evaluation in evaluations
        for item in evaluation.planned
    ]
    by_id = ask(backend, tasks, retries=settings.retries, label="validate") if tasks else {}
    best: tuple[float, float, int] | None = None
    for index, ((candidate, _), evaluation) in enumerate(zip(candidates, evaluations, strict=True)):
        table = evaluation.read(by_id)
        values = [
            {cid: table.values(cid)[i] for cid in table.criteria} for i in range(len(responses))
        ]
        accuracy, source = _label_consistency(candidate, values)
        verdict = "consistent"
        if accuracy < settings.min_pairwise_accuracy or source is None or source <= 0:
            verdict = "inconsistent"
            source_text = "not judged" if source is None else f"{source:+.2f}"
            failures.append(
                f"candidate {index + 1}: pairwise accuracy {accuracy:.2f} (minimum "
                f"{settings.min_pairwise_accuracy:g}), source pair margin {source_text}"
            )
        elif best is None or (accuracy, source) > best[:2]:
            best = (accuracy, source, index)
        logger.info("contrastive candidate %d: %s, accuracy %.2f", index + 1, verdict, accuracy)
    if best is None:
        raise RubricError(
            "contrastive rubric is not consistent with the labels: " + "; ".join(failures),
            hint="sample more candidates (candidates > 1), use a stronger model, or use "
            "generate_rubric without labels",
        )
    accuracy, source, index = best
    chosen, dropped = candidates[index]
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
        name=name or f"contrastive-{stable_hash(prompt_text(conversation))[:8]}",
        description=f"Contrastive rubric for the request: {_excerpt(prompt_text(conversation))}",
        criteria=criteria,
        dropped=_dropped(dropped, provenance, taken),
    )
