"""Which proposed criteria a generated rubric keeps, and the report of what was kept.

Proposals of several samples that read alike are one candidate with more support. The rule:
candidates that name something from the request come first (prompt specificity > 0), then
those that separate the responses of a pool (when one is given), then the most often
proposed, then the most specific; ties keep the order of proposal. Fewer than requested is a
shortfall, reported with the reasons, never padded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from judge.backends.base import Backend
from judge.prompting import PromptLibrary
from judge.rubric.evaluate import plan_evaluation
from judge.rubric.proposal import ProposedCriterion, slug_id
from judge.rubric.settings import GenerateSettings
from judge.runner.parse import verdict_check
from judge.runner.rounds import Task, ask
from judge.types import Criterion, Message, Rubric


@dataclass
class Candidate:
    """A distinct proposed criterion: how many samples proposed it, how it scores."""

    item: ProposedCriterion
    order: int
    support: int = 1
    specificity: float = 0.0
    spread: float | None = None


@dataclass(frozen=True)
class GeneratedRubric:
    """A generated rubric and what the generation did: samples, selection, shortfall."""

    rubric: Rubric
    requested: int
    samples: int
    proposed: int
    distinct: int
    demoted: tuple[str, ...] = ()
    shortfall: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def summary(self) -> str:
        """One line for a user: what was kept out of what was asked for."""
        kept = len(self.rubric.criteria)
        line = (
            f"{kept} of {self.requested} requested criteria from {self.samples} sample(s) "
            f"({self.proposed} proposed, {self.distinct} distinct after screening)"
        )
        if self.demoted:
            line += f"; {len(self.demoted)} hard rule(s) the request does not state -> principle"
        return line + (f"; shortfall: {self.shortfall}" if self.shortfall else "")


def pool_spread(
    backend: Backend,
    candidates: Sequence[Candidate],
    conversation: tuple[Message, ...],
    pool: Sequence[str],
    settings: GenerateSettings,
    *,
    prompts: PromptLibrary,
    reference: str | None,
) -> None:
    """Judge every candidate on the pool in one batch; record its P(yes) standard deviation."""
    taken: set[str] = set()
    criteria = [
        Criterion(id=slug_id(c.item.text, taken), text=c.item.text, kind=c.item.kind)
        for c in candidates
    ]
    evaluation = plan_evaluation(
        criteria,
        conversation,
        list(pool),
        prompts=prompts,
        capabilities=backend.capabilities,
        rubric_name="candidates",
        reference=reference,
        max_rationale_chars=settings.max_rationale_chars,
        seed=settings.seed,
        id_prefix="pool:",
    )
    tasks = [Task(item.request, verdict_check(item.criterion.id)) for item in evaluation.planned]
    table = evaluation.read(ask(backend, tasks, retries=settings.retries, label="discriminate"))
    for candidate, criterion in zip(candidates, criteria, strict=True):
        values = [v for v in table.values(criterion.id) if v is not None]
        if len(values) >= 2:
            mean = sum(values) / len(values)
            candidate.spread = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5


def select(
    candidates: Sequence[Candidate], requested: int, min_pool_spread: float, *, samples: int
) -> tuple[list[Candidate], list[tuple[ProposedCriterion, str]]]:
    """The best `requested` candidates (in proposal order) and the rest with a reason."""

    def rank(candidate: Candidate) -> tuple[bool, bool, int, float, int]:
        separates = candidate.spread is None or candidate.spread >= min_pool_spread
        return (
            candidate.specificity > 0,
            separates,
            candidate.support,
            candidate.specificity,
            -candidate.order,
        )

    ranked = sorted(candidates, key=rank, reverse=True)
    chosen = sorted(ranked[:requested], key=lambda c: c.order)
    rest = [
        (
            candidate.item,
            f"not selected: ranked below the {requested} kept (prompt specificity "
            f"{candidate.specificity:.2f}, proposed by {candidate.support} of {samples} "
            "sample(s))",
        )
        for candidate in ranked[requested:]
    ]
    return chosen, rest


def shortfall_text(
    requested: int,
    kept: int,
    distinct: int,
    samples: int,
    dropped: Sequence[tuple[ProposedCriterion, str]],
) -> str:
    """Why fewer than `requested` criteria were kept: counts of the drop reasons."""
    reasons: dict[str, int] = {}
    for _, reason in dropped:
        key = reason.split("(")[0].split("'")[0].strip().rstrip(":")
        reasons[key] = reasons.get(key, 0) + 1
    why = ", ".join(f"{count} {reason}" for reason, count in reasons.items()) or "none"
    return (
        f"{requested - kept} short: the {samples} sample(s) gave {distinct} distinct usable "
        f"criteria; dropped: {why}"
    )
