"""Decomposition requests of RRD: split a coarse criterion into finer, non-overlapping children.

The model sees the prompt, the coarse criterion, the pool responses that satisfied it and the
criteria already accepted; it answers in the same grammar as a rubric proposal, with exactly
`children` items. Children are screened like proposals (no answers, no copied responses, nothing
that reads like the template's own examples) and compared with their ancestors, their siblings
and the rest of the rubric by wording; they get ids ``<parent>.<k>`` and
`Provenance(source="decomposed", parent=...)`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from judge.backends.base import Backend
from judge.prompting import PromptContext, PromptLibrary
from judge.rubric.proposal import (
    Screen,
    criteria_constraint,
    criteria_max_tokens,
    parse_criteria,
    screen,
    template_examples,
)
from judge.rubric.settings import RefineSettings
from judge.types import (
    Criterion,
    CriterionKind,
    Generation,
    GenerationRequest,
    Message,
    Provenance,
    SamplingParams,
)

DECOMPOSE_TEMPLATE = "rubric_decompose"
RULES_TEMPLATE = "rubric_criterion_rules"
SYSTEM_TEMPLATE = "rubric_system"


@dataclass(frozen=True)
class Decomposition:
    """Children to judge next, children dropped by the screen (with reasons), and any failure."""

    children: tuple[Criterion, ...] = ()
    dropped: tuple[tuple[Criterion, str], ...] = ()
    failure: str | None = None


@dataclass
class Decomposer:
    """Builds decomposition requests and reads their answers for one refinement."""

    backend: Backend
    conversation: tuple[Message, ...]
    pool: tuple[str, ...]
    reference: str | None
    settings: RefineSettings
    prompts: PromptLibrary
    taken: set[str] = field(default_factory=set)

    def request(
        self, criterion: Criterion, examples: Sequence[str], accepted: Sequence[str]
    ) -> GenerationRequest:
        """Ask for `settings.children` finer criteria than `criterion`."""
        settings = self.settings
        shown = [text[: settings.max_example_chars] for text in examples[: settings.max_examples]]
        context = PromptContext.from_data(
            conversation=[(m.role, m.content) for m in self.conversation],
            reference=self.reference,
            criterion=criterion.text,
            criterion_kind=criterion.kind,
            responses=shown,
            criteria=tuple(accepted),
            min_items=settings.children,
            max_items=settings.children,
            max_criterion_chars=settings.max_criterion_chars,
        )
        system = self.prompts.render(SYSTEM_TEMPLATE, PromptContext())
        return GenerationRequest(
            id=f"decompose:{criterion.id}",
            messages=(
                Message(role="system", content=system),
                Message(role="user", content=self.prompts.render(DECOMPOSE_TEMPLATE, context)),
            ),
            sampling=SamplingParams(
                max_new_tokens=criteria_max_tokens(settings.children, settings.max_criterion_chars),
                temperature=0.0,
                seed=settings.seed,
            ),
            constraint=criteria_constraint(
                self.backend.capabilities,
                settings.children,
                settings.children,
                settings.min_criterion_chars,
                settings.max_criterion_chars,
            ),
        )

    def child_id(self, parent: str) -> str:
        """A new unique id ``<parent>.<k>`` for a child of `parent`."""
        index = 1
        while f"{parent}.{index}" in self.taken:
            index += 1
        self.taken.add(f"{parent}.{index}")
        return f"{parent}.{index}"

    def read(
        self,
        parent: Criterion,
        generation: Generation,
        satisfied: int,
        *,
        seen: Iterable[str],
        ancestors: Sequence[str] = (),
        rendered: str = "",
    ) -> Decomposition:
        """The children in `generation`, screened.

        `seen` are texts already in the rubric, `ancestors` the parent's own ancestors (the
        parent is added), `rendered` the decomposition prompt (its example texts are screened).
        A child that reads like an ancestor, a sibling or a criterion already seen is dropped.
        """
        if generation.error is not None:
            return Decomposition(failure=f"decomposition failed: {generation.error}")
        proposed = parse_criteria(generation.text)[: self.settings.children]
        if not proposed:
            return Decomposition(
                failure=f"decomposition returned no criteria: {generation.text[:120]!r}"
            )
        rules = Screen(
            prompt="\n".join(m.content for m in self.conversation),
            reference=self.reference,
            responses=self.pool,
            min_chars=self.settings.min_criterion_chars,
            max_chars=self.settings.max_criterion_chars,
            copy_words=self.settings.copy_words,
            templates=template_examples(rendered),
            duplicate_similarity=self.settings.duplicate_similarity,
        )
        kept, dropped = screen(proposed, rules, seen=seen, ancestors=[*ancestors, parent.text])
        provenance = Provenance(
            source="decomposed",
            parent=parent.id,
            detail=f"split from a criterion satisfied by {satisfied} of {len(self.pool)} pool "
            "responses",
        )

        def child(text: str, kind: CriterionKind) -> Criterion:
            return Criterion(
                id=self.child_id(parent.id),
                text=text,
                kind=kind,
                provenance=provenance,
            )

        return Decomposition(
            children=tuple(child(item.text, item.kind) for item in kept),
            dropped=tuple((child(item.text, item.kind), reason) for item, reason in dropped),
        )
