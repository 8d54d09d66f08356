"""Which proposed criteria a generated rubric keeps, and the report of what was kept.

Proposals of several samples that read alike are one candidate with more support. The rule:
candidates that name something from the request come first (prompt specificity > 0), then
those that separate the responses of a pool (when one is given), then the most often
proposed, then the most specific; ties keep the order of proposal. Fewer than requested is a
shortfall, reported with the reasons, never padded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import combinations

from judge.backends.base import Backend
from judge.prompting import PromptLibrary
from judge.rubric.evaluate import plan_evaluation
from judge.rubric.overlap import overlap_check, overlap_request, read_overlap
from judge.rubric.proposal import ProposedCriterion, slug_id
from judge.rubric.settings import GenerateSettings
from judge.rubric.wording import Wording, similarity
from judge.runner.parse import verdict_check
from judge.runner.rounds import Task, ask
from judge.types import Criterion, GenerationRequest, Message, Rubric


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
    candidates: Sequence[Candidate],
    requested: int,
    min_pool_spread: float,
    *,
    samples: int,
    same_check: Callable[[Candidate, Candidate], float | None] | None = None,
    meaning_overlap: float = 1.0,
) -> tuple[list[Candidate], list[tuple[ProposedCriterion, str]]]:
    """The best `requested` candidates (in proposal order) and the rest with a reason.

    With `same_check` (the model's overlap of two candidates, None where it was not asked),
    a candidate rated at least `meaning_overlap` against one ranked above it and kept is
    dropped as the same check, and the next candidate takes its place.
    """

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
    same: list[tuple[ProposedCriterion, str]] = []
    if same_check is not None:
        kept: list[Candidate] = []
        for candidate in ranked:
            match = next(
                (
                    (other, rated)
                    for other in kept
                    if (rated := same_check(other, candidate)) is not None
                    and rated >= meaning_overlap
                ),
                None,
            )
            if match is None:
                kept.append(candidate)
                continue
            other, rated = match
            same.append(
                (
                    candidate.item,
                    f"screened: the same check as {other.item.text!r} (model-rated overlap "
                    f"{rated:.2f} >= {meaning_overlap:g})",
                )
            )
        ranked = kept
    chosen = sorted(ranked[:requested], key=lambda c: c.order)
    rest = same + [
        (
            candidate.item,
            f"not selected: ranked below the {requested} kept (prompt specificity "
            f"{candidate.specificity:.2f}, proposed by {candidate.support} of {samples} "
            "sample(s))",
        )
        for candidate in ranked[requested:]
    ]
    return chosen, rest


def meaning_overlaps(
    backend: Backend,
    candidates: Sequence[Candidate],
    settings: GenerateSettings,
    *,
    prompts: PromptLibrary,
) -> dict[tuple[int, int], float]:
    """The model-rated overlap of candidate pairs that read alike, asked in one batch.

    Pairs whose wording similarity is at least `settings.meaning_prefilter` are asked in both
    directions (how much of each the other already checks) and keyed by their (earlier, later)
    proposal order; the pair's overlap is the smaller of the two, so a criterion and a
    stricter or compound one that contains it are not one check unless the model also finds
    the reverse. An output with no overlap judgment counts as no overlap (0).
    """
    wordings = [Wording.of(c.item.text) for c in candidates]
    requests: dict[tuple[int, int], list[GenerationRequest]] = {}
    for i, j in combinations(range(len(candidates)), 2):
        if similarity(wordings[i], wordings[j]) < settings.meaning_prefilter:
            continue
        first, second = sorted((candidates[i], candidates[j]), key=lambda c: c.order)
        key = (first.order, second.order)
        requests[key] = [
            overlap_request(
                f"meaning:{key[0]}|{key[1]}:{direction}",
                candidate.item.text,
                accepted.item.text,
                prompts=prompts,
                capabilities=backend.capabilities,
                seed=settings.seed,
            )
            for direction, candidate, accepted in (("1", second, first), ("2", first, second))
        ]
    if not requests:
        return {}
    tasks = [
        Task(request, overlap_check, role="meaning")
        for pair in requests.values()
        for request in pair
    ]
    answers = ask(backend, tasks, retries=settings.retries, label="meaning")
    overlaps = {}
    for key, pair in requests.items():
        readings = [read_overlap(answers[request.id][0]) for request in pair]
        overlaps[key] = min(0.0 if r is None else r.overlap for r in readings)
    return overlaps


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
