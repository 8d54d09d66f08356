"""Rubric generation from a prompt: several proposals sampled in one batch, screened, ranked.

`generate_rubric` asks the model for atomic, binary, prompt-specific criteria tagged hard_rule
or principle, `settings.samples` times in one backend call. Every proposal is screened (no
answers, no copied responses, nothing that reads like the prompt template's own examples, no
near-duplicates); proposals of several samples that read alike count as agreement. The
criteria kept are the best by a measured rule: those that name something from the request
first (prompt specificity: the share of their key terms the prompt contains), then those that
separate the responses of an optional pool, then the most often proposed. A hard rule whose
key terms the request does not state becomes a principle. Fewer criteria than requested is
reported, never padded. Contrastive generation lives in `judge.rubric.contrastive`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from judge.backends.base import Backend
from judge.errors import GenerationError, InputError, RubricError
from judge.prompting import PromptContext, PromptLibrary, default_prompts
from judge.rubric.proposal import (
    ProposedCriterion,
    Screen,
    criteria_constraint,
    criteria_max_tokens,
    parse_criteria,
    prompt_specificity,
    proposal_check,
    screen,
    slug_id,
    stated_in_prompt,
    template_examples,
)
from judge.rubric.selection import (
    Candidate,
    GeneratedRubric,
    meaning_overlaps,
    pool_spread,
    select,
    shortfall_text,
)
from judge.rubric.settings import GenerateSettings
from judge.rubric.wording import Wording, similarity, words
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


def proposal_request(
    request_id: str,
    template: str,
    context: PromptContext,
    settings: GenerateSettings,
    backend: Backend,
    prompts: PromptLibrary,
    *,
    n: int = 1,
    temperature: float | None = None,
    min_items: int | None = None,
) -> GenerationRequest:
    """A proposal request: system + rendered template, `n` samples, the criteria grammar."""
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
            settings.min_criteria if min_items is None else min_items,
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


def screened_proposals(
    generation: Generation, rules: Screen, settings: GenerateSettings, model_id: str
) -> tuple[list[ProposedCriterion], list[tuple[ProposedCriterion, str]], str | None]:
    """One output's usable proposals, dropped ones with reasons, and why none came back."""
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


def dropped_criteria(
    items: Sequence[tuple[ProposedCriterion, str]], provenance: Provenance, taken: set[str]
) -> tuple[DroppedCriterion, ...]:
    """Dropped proposals as `DroppedCriterion` records (ids unique within ``taken``)."""
    result = []
    for item, reason in items:
        [criterion] = build_criteria([item], provenance, taken)
        result.append(DroppedCriterion(criterion=criterion, reason=reason))
    return tuple(result)


def excerpt(text: str, limit: int = 80) -> str:
    """`text` on one line, cut to `limit` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def proposal_screen(
    rendered: str,
    conversation: Sequence[Message],
    settings: GenerateSettings,
    *,
    reference: str | None = None,
    responses: Sequence[str] = (),
) -> Screen:
    """The screen for proposals answering the rendered prompt `rendered`."""
    return Screen(
        prompt=prompt_text(conversation),
        reference=reference,
        responses=tuple(responses),
        min_chars=settings.min_criterion_chars,
        max_chars=settings.max_criterion_chars,
        copy_words=settings.copy_words,
        templates=template_examples(rendered),
        template_similarity=settings.template_similarity,
        duplicate_similarity=settings.duplicate_similarity,
    )


def demote_unstated(
    items: Sequence[ProposedCriterion], prompt: str
) -> tuple[list[ProposedCriterion], list[str]]:
    """Hard rules whose key terms the request does not state become principles (and are named)."""
    kept, demoted = [], []
    for item in items:
        if item.kind == "hard_rule" and not stated_in_prompt(item.text, prompt):
            kept.append(ProposedCriterion(text=item.text, kind="principle"))
            demoted.append(item.text)
        else:
            kept.append(item)
    return kept, demoted


def generate_rubric_report(
    backend: Backend,
    prompt: str | Sequence[Message],
    reference: str | None = None,
    *,
    settings: GenerateSettings | None = None,
    prompts: PromptLibrary | None = None,
    name: str | None = None,
    pool: Sequence[str] | None = None,
) -> GeneratedRubric:
    """Propose criteria specific to `prompt` and keep the best `settings.max_criteria`.

    One backend call holds all `settings.samples` proposals; with a `pool` of responses, one
    more call judges the candidates on it, and candidates that separate pool responses
    (P(yes) standard deviation at least `settings.min_pool_spread`) rank first after
    specificity.

    Raises:
        RubricError: the model returned nothing usable (never an empty rubric).
        GenerationError: the backend failed every sample.
    """
    settings = settings or GenerateSettings()
    prompts = prompts or default_prompts()
    conversation = as_conversation(prompt)
    text = prompt_text(conversation)
    requested = settings.max_criteria
    context = PromptContext.from_data(
        conversation=[(m.role, m.content) for m in conversation],
        reference=reference,
        min_items=requested,
        max_items=requested,
        max_criterion_chars=settings.max_criterion_chars,
    )
    sampled = settings.samples > 1
    request = proposal_request(
        "propose",
        PROPOSE_TEMPLATE,
        context,
        settings,
        backend,
        prompts,
        n=settings.samples,
        temperature=settings.sample_temperature if sampled else None,
        min_items=requested,
    )
    task = Task(request, proposal_check, role="propose")
    generations = ask(backend, [task], retries=settings.retries, label="propose")["propose"]
    if all(g.error is not None for g in generations):
        raise GenerationError(f"rubric proposal failed: {generations[0].error}")
    rules = proposal_screen(
        request.messages[-1].content, conversation, settings, reference=reference
    )
    candidates: list[Candidate] = []
    dropped: list[tuple[ProposedCriterion, str]] = []
    failures: list[str] = []
    dropped_keys: set[str] = set()
    proposed = 0
    for index, generation in enumerate(generations):
        if generation.error is not None:
            failures.append(f"sample {index + 1}: the proposal failed: {generation.error}")
            continue
        items = parse_criteria(generation.text)
        if not items:
            failures.append(
                f"sample {index + 1}: model {backend.model_id!r} returned no criteria in "
                f"{generation.text[:160]!r}"
            )
            continue
        proposed += len(items)
        kept, rejected = screen(items, rules)
        for item, reason in rejected:
            key = " ".join(words(item.text))
            if not reason.startswith("screened: near-duplicate") and key not in dropped_keys:
                dropped_keys.add(key)
                dropped.append((item, reason))
        for item in kept:
            wording = Wording.of(item.text)
            match = next(
                (
                    c
                    for c in candidates
                    if similarity(wording, Wording.of(c.item.text)) >= settings.duplicate_similarity
                ),
                None,
            )
            if match is not None:
                match.support += 1
            else:
                candidates.append(Candidate(item=item, order=len(candidates)))
    if not candidates:
        if not dropped:
            raise RubricError(
                f"rubric generation: {'; '.join(failures)}",
                hint="use a backend with structured output or a stronger model, or start from "
                "a library rubric (judge rubric list)",
            )
        listed = "; ".join(f"{item.text[:50]!r}: {reason}" for item, reason in dropped[:8])
        raise RubricError(
            f"rubric generation: every proposed criterion was dropped ({listed})",
            hint=(
                "use a stronger model, sample more proposals (`--proposals`), "
                "or start from a library rubric"
            ),
        )
    for candidate in candidates:
        candidate.specificity = prompt_specificity(candidate.item.text, text)
    notes: list[str] = []
    if pool:
        pool_spread(
            backend,
            candidates,
            conversation,
            pool,
            settings,
            prompts=prompts,
            reference=reference,
        )
        notes.append(f"candidates judged on a pool of {len(pool)} responses")

    same_check = None
    if settings.meaning_check and len(candidates) > 1:
        overlaps = meaning_overlaps(backend, candidates, settings, prompts=prompts)
        notes.append(f"meaning check on {len(overlaps)} candidate pair(s)")

        def same_check(first: Candidate, second: Candidate) -> float | None:
            return overlaps.get((min(first.order, second.order), max(first.order, second.order)))

    chosen, not_selected = select(
        candidates,
        requested,
        settings.min_pool_spread,
        samples=settings.samples,
        same_check=same_check,
        meaning_overlap=settings.meaning_overlap,
    )
    dropped += not_selected
    items, demoted = demote_unstated([c.item for c in chosen], text)
    shortfall = None
    if len(items) < requested:
        shortfall = shortfall_text(
            requested, len(items), len(candidates), settings.samples, dropped
        )
        logger.warning(
            "rubric generation kept %d of %d criteria: %s", len(items), requested, shortfall
        )
    provenance = Provenance(source="generated", detail=f"proposed by {backend.model_id}")
    taken: set[str] = set()
    criteria = build_criteria(items, provenance, taken)
    logger.info(
        "generated %d criteria from %d sample(s) (%d dropped)",
        len(criteria),
        settings.samples,
        len(dropped),
    )
    rubric = Rubric(
        name=name or f"generated-{stable_hash(text)[:8]}",
        description=f"Generated for the request: {excerpt(text)}",
        criteria=criteria,
        dropped=dropped_criteria(dropped, provenance, taken),
    )
    return GeneratedRubric(
        rubric=rubric,
        requested=requested,
        samples=settings.samples,
        proposed=proposed,
        distinct=len(candidates),
        demoted=tuple(demoted),
        shortfall=shortfall,
        notes=tuple(notes),
    )


def generate_rubric(
    backend: Backend,
    prompt: str | Sequence[Message],
    reference: str | None = None,
    *,
    settings: GenerateSettings | None = None,
    prompts: PromptLibrary | None = None,
    name: str | None = None,
    pool: Sequence[str] | None = None,
) -> Rubric:
    """Ask the model for criteria specific to `prompt` (see `generate_rubric_report`).

    Raises:
        RubricError: the model returned nothing usable (never an empty rubric).
        GenerationError: the backend failed the request.
    """
    return generate_rubric_report(
        backend, prompt, reference, settings=settings, prompts=prompts, name=name, pool=pool
    ).rubric
