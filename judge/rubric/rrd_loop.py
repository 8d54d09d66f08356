"""The RRD decompose-filter loop: one batched backend call per round, until nothing is pending.

Round k judges the candidates of round k-1's decompositions on every pool response (with the
LLM overlap checks the lexical prefilter asks for, in the same batch), filters them, and
queues the coarse survivors; the next round decomposes them. Every round goes through the
runner's model loop (`judge.runner.rounds.run_round`), so unusable outputs are retried in one
further batch like any judgment. `refine.py` is the entry point.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from judge.backends.base import Backend
from judge.errors import GenerationError, RubricError
from judge.prompting import PromptLibrary
from judge.rubric.decompose import Decomposer
from judge.rubric.evaluate import VerdictTable, plan_evaluation
from judge.rubric.filters import Wording, jaccard, misalignment, similarity
from judge.rubric.overlap import OverlapCheck, overlap_check, overlap_request, read_overlap
from judge.rubric.pool import PoolResponse
from judge.rubric.proposal import proposal_check
from judge.rubric.settings import RefineSettings
from judge.rubric.tree import Node, keep_hard_rules, unrefined_notes, walk
from judge.rubric.weights import Weights, uniform_weights, whitened_uniform_weights
from judge.runner.parse import verdict_check
from judge.runner.rounds import BatchStats, Task, run_round
from judge.types import (
    Criterion,
    DroppedCriterion,
    Generation,
    GenerationRequest,
    Message,
    Rubric,
)

logger = logging.getLogger(__name__)


@dataclass
class RefineStats(BatchStats):
    """The runner's ledger of a refinement, plus what it judged and why it stopped.

    `rounds` has one entry per round; `backend_calls` is the rounds plus retry batches.
    """

    evaluations: int = 0
    overlap_checks: int = 0
    decompositions: int = 0
    rejections: int = 0
    pool_responses: int = 0
    pool_sampled: bool = False
    cached: bool = False
    stop_reason: str = ""
    unrefined: list[str] = field(default_factory=list)


def refined_name(name: str) -> str:
    """The name a refined rubric gets (refining twice does not stack suffixes)."""
    return name if name.endswith("-refined") else f"{name}-refined"


class Refinement:
    """The state of one refinement: pool, accepted tree, drops, rejection count, stats."""

    def __init__(
        self,
        backend: Backend,
        rubric: Rubric,
        conversation: tuple[Message, ...],
        pool: tuple[PoolResponse, ...],
        *,
        reference: str | None,
        settings: RefineSettings,
        prompts: PromptLibrary,
        stats: RefineStats,
    ) -> None:
        self.backend, self.rubric, self.conversation = backend, rubric, conversation
        self.pool, self.reference, self.settings, self.prompts = pool, reference, settings, prompts
        self.stats = stats
        self.name = refined_name(rubric.name)
        self.accepted: dict[str, Node] = {}
        self.dropped: list[DroppedCriterion] = []
        # Decomposed criteria and how many children their decomposition passed to judging.
        self.decomposed: dict[str, int] = {}
        self.decomposer = Decomposer(
            backend=backend,
            conversation=conversation,
            pool=tuple(item.text for item in pool),
            reference=reference,
            settings=settings,
            prompts=prompts,
        )
        self.decomposer.taken.update(c.id for c in rubric.all_criteria())
        self.decomposer.taken.update(d.criterion.id for d in rubric.dropped)

    def reject(self, node: Node, reason: str) -> None:
        """Record a rejected criterion and count it against the budget."""
        self.stats.rejections += 1
        self.dropped.append(DroppedCriterion(criterion=node.criterion, reason=reason))
        logger.debug("rejected %s: %s", node.id, reason)

    def run(self) -> Rubric:
        """Run rounds until nothing is pending or the rejection budget is spent."""
        candidates = [Node(criterion=leaf, depth=0) for leaf in self.rubric.leaves()]
        pending: list[Node] = []
        while candidates or pending:
            candidates, pending = self._round(candidates, pending)
            if self.stats.rejections >= self.settings.max_rejections:
                self.stats.stop_reason = (
                    f"rejection budget spent ({self.stats.rejections} >= "
                    f"{self.settings.max_rejections})"
                )
                for node in candidates:
                    self.dropped.append(
                        DroppedCriterion(
                            criterion=node.criterion,
                            reason="unevaluated: the rejection budget was spent before its round",
                        )
                    )
                for node in pending:
                    logger.info("%s stays undecomposed: the rejection budget is spent", node.id)
                break
        else:
            self.stats.stop_reason = "queue empty"
        return self._rubric()

    def _round(self, candidates: list[Node], pending: list[Node]) -> tuple[list[Node], list[Node]]:
        """One batched round: judge and check `candidates`, decompose `pending`."""
        evaluation = plan_evaluation(
            [node.criterion for node in candidates],
            self.conversation,
            [item.text for item in self.pool],
            prompts=self.prompts,
            capabilities=self.backend.capabilities,
            rubric_name=self.name,
            rubric_description=self.rubric.description,
            reference=self.reference,
            max_rationale_chars=self.settings.max_rationale_chars,
            seed=self.settings.seed,
            id_prefix="eval:",
        )
        overlaps = self._plan_overlaps(candidates)
        decompositions = {
            node.id: self.decomposer.request(
                node.criterion, self._examples(node), self._accepted_texts(node)
            )
            for node in pending
        }
        tasks = [
            *(Task(item.request, verdict_check(item.criterion.id)) for item in evaluation.planned),
            *(Task(request, overlap_check, role="overlap") for _, _, request in overlaps),
            *(
                Task(request, proposal_check, role="decompose")
                for request in decompositions.values()
            ),
        ]
        self.stats.evaluations += len(evaluation.requests)
        self.stats.overlap_checks += len(overlaps)
        self.stats.decompositions += len(decompositions)
        logger.info(
            "RRD round %d: %d verdicts, %d overlap checks, %d decompositions in one backend call",
            len(self.stats.rounds) + 1,
            len(evaluation.requests),
            len(overlaps),
            len(decompositions),
        )
        by_id = send(self.backend, tasks, self.stats, retries=self.settings.retries)
        table = evaluation.read(by_id)
        if candidates and all(verdict.error for verdict in table.verdicts.values()):
            first = next(iter(table.verdicts.values())).error
            raise GenerationError(
                f"every verdict of refinement round {len(self.stats.rounds)} failed: {first}"
            )
        checks = {(cid, oid): read_overlap(by_id[request.id][0]) for cid, oid, request in overlaps}
        children: list[Node] = []
        for node in pending:
            request = decompositions[node.id]
            children.extend(
                self._children(node, by_id[request.id][0], request.messages[-1].content)
            )
        next_pending = [node for node in candidates if self._resolve(node, table, checks)]
        return children, next_pending

    def _examples(self, node: Node) -> list[str]:
        ranked = sorted(
            (i for i, passed in enumerate(node.passes) if passed),
            key=lambda i: -(node.values[i] or 0.0),
        )
        return [self.pool[i].text for i in ranked]

    def _accepted_texts(self, node: Node) -> list[str]:
        return [other.criterion.text for other in self.accepted.values() if other.id != node.id]

    def _children(self, parent: Node, generation: Generation, rendered: str) -> list[Node]:
        seen = [n.criterion.text for n in self.accepted.values()]
        seen += [d.criterion.text for d in self.dropped]
        outcome = self.decomposer.read(
            parent.criterion,
            generation,
            parent.pass_count,
            seen=seen,
            ancestors=[self.accepted[a].criterion.text for a in parent.ancestors],
            rendered=rendered,
        )
        self.decomposed[parent.id] = len(outcome.children)
        if outcome.failure is not None:
            logger.info("%s stays a leaf: %s", parent.id, outcome.failure)
            self.stats.unrefined.append(f"{parent.id} kept as a leaf: {outcome.failure}")
        ancestors = (*parent.ancestors, parent.id)
        for criterion, reason in outcome.dropped:
            self.reject(
                Node(criterion=criterion, depth=parent.depth + 1, ancestors=ancestors), reason
            )
        return [
            Node(criterion=c, depth=parent.depth + 1, ancestors=ancestors) for c in outcome.children
        ]

    def _plan_overlaps(
        self, candidates: Sequence[Node]
    ) -> list[tuple[str, str, GenerationRequest]]:
        """Plan LLM checks for the most similar pairs the lexical rules leave undecided.

        A candidate is paired with accepted criteria (its ancestors included: a child that means
        what its parent means refines nothing) and with earlier candidates of the round (its
        siblings); a check against an earlier candidate counts only if that one is accepted.
        """
        settings = self.settings
        planned = []
        earlier: list[Node] = list(self.accepted.values())
        for node in candidates:
            wording = node.wording
            scored: list[tuple[float, int, Node]] = []
            for other in earlier:
                score = similarity(wording, other.wording)
                if score >= settings.duplicate_similarity or self._lexical_conflict(
                    wording, other.wording
                ):
                    continue
                if score >= settings.overlap_prefilter:
                    scored.append((-score, len(scored), other))
            for _, _, other in sorted(scored, key=lambda item: item[:2])[
                : settings.max_overlap_checks
            ]:
                request = overlap_request(
                    f"overlap:{node.id}|{other.id}",
                    node.criterion.text,
                    other.criterion.text,
                    prompts=self.prompts,
                    capabilities=self.backend.capabilities,
                    seed=settings.seed,
                )
                planned.append((node.id, other.id, request))
            earlier.append(node)
        return planned

    def _lexical_conflict(self, a: Wording, b: Wording) -> bool:
        return a.negated != b.negated and jaccard(a, b) >= self.settings.polarity_similarity

    def _resolve(
        self, node: Node, table: VerdictTable, checks: dict[tuple[str, str], OverlapCheck | None]
    ) -> bool:
        """Filter a judged candidate; accept it or reject it. True if it should be decomposed."""
        settings = self.settings
        node.values = table.values(node.id)
        node.passes = table.passes(node.id, settings.pass_threshold)
        known = [p for p in node.passes if p is not None]
        size = len(self.pool)
        if not known:
            errors = table.errors(node.id)
            self.reject(
                node, f"evaluation failed on every pool response ({errors[0] if errors else '?'})"
            )
            return False
        exempt = node.criterion.kind == "hard_rule" and settings.keep_zero_pass_hard_rules
        if settings.drop_zero_pass and not any(known) and not exempt:
            self.reject(node, f"zero-pass: satisfied by none of the {size} pool responses")
            return False
        misaligned = misalignment(
            node.passes, [p.quality for p in self.pool], settings.misalignment_tolerance
        )
        if misaligned is not None:
            self.reject(node, misaligned)
            return False
        if node.parent is not None:
            parent = self.accepted[node.parent]
            if node.passes == parent.passes:
                self.reject(
                    node,
                    f"adds nothing to {parent.id!r}: satisfied by the same {node.pass_count} of "
                    f"{size} pool responses",
                )
                return False
        wording = node.wording
        for other in self.accepted.values():
            other_wording = other.wording
            score = similarity(wording, other_wording)
            if self._lexical_conflict(wording, other_wording):
                self.reject(
                    node,
                    f"polarity conflict with {other.id!r}: same wording (similarity "
                    f"{jaccard(wording, other_wording):.2f}) with the opposite negation",
                )
                return False
            relation = "restates its ancestor" if other.id in node.ancestors else "near-duplicate"
            if score >= settings.duplicate_similarity:
                self.reject(
                    node,
                    f"redundant: {relation} wording of {other.id!r} (similarity {score:.2f})",
                )
                return False
            check = checks.get((node.id, other.id))
            if check is None:
                continue
            if check.conflict and other.id not in node.ancestors:
                self.reject(node, f"polarity conflict with {other.id!r} (LLM check)")
                return False
            if check.overlap >= settings.overlap_reject:
                relation = "with its ancestor" if other.id in node.ancestors else "with"
                self.reject(
                    node,
                    f"redundant: {check.overlap:.0%} overlap {relation} {other.id!r} (LLM check, "
                    f"threshold {settings.overlap_reject:.0%})",
                )
                return False
        self.accepted[node.id] = node
        if node.parent is not None:
            self.accepted[node.parent].children.append(node.id)
        return node.pass_count > settings.coarse_threshold and node.depth < settings.max_depth

    def _note_unrefined(self) -> None:
        """Say which decomposed criteria stay leaves because their children added nothing."""
        for note in unrefined_notes(self.decomposed, self.accepted, self.dropped):
            if note.split(" ", 1)[0] not in {n.split(" ", 1)[0] for n in self.stats.unrefined}:
                self.stats.unrefined.append(note)
                logger.info(note)

    def _rubric(self) -> Rubric:
        self._note_unrefined()
        keep_hard_rules(self.accepted, self.decomposer.child_id)
        roots = [node for node in self.accepted.values() if node.parent is None]
        if not roots:
            reasons = "; ".join(f"{d.criterion.id}: {d.reason}" for d in self.dropped[:6])
            raise RubricError(
                f"refinement of rubric {self.rubric.name!r} dropped every criterion ({reasons})",
                hint="check the pool (is any response good?), loosen the filters in "
                "RefineSettings, "
                "or start from another rubric",
            )
        leaves = [node for node in walk(self.accepted, roots) if not node.children]
        weights = self._weights(leaves)
        by_id = dict(zip((node.id for node in leaves), weights.values, strict=True))

        def build(node: Node) -> Criterion:
            children = tuple(build(self.accepted[child]) for child in node.children)
            weight = sum(c.weight for c in children) if children else by_id[node.id]
            return Criterion(
                id=node.id,
                text=node.criterion.text,
                kind=node.criterion.kind,
                weight=round(weight, 6),
                children=children,
                provenance=node.criterion.provenance,
            )

        return Rubric(
            name=self.name,
            description=self.rubric.description,
            task_type=self.rubric.task_type,
            version=self.rubric.version,
            criteria=tuple(build(root) for root in roots),
            dropped=(*self.rubric.dropped, *self.dropped),
            weighting=weights.explanation,
        )

    def _weights(self, leaves: Sequence[Node]) -> Weights:
        settings = self.settings
        if settings.weighting == "uniform":
            return uniform_weights(len(leaves), "chosen in the settings")
        if settings.weighting == "keep":
            kept = [self._kept_weight(node) for node in leaves]
            total = sum(kept) or 1.0
            return Weights(tuple(round(w / total, 6) for w in kept), "kept from the input rubric")
        matrix = [[node.values[i] for node in leaves] for i in range(len(self.pool))]
        return whitened_uniform_weights(
            matrix,
            ids=[node.id for node in leaves],
            ridge=settings.ridge,
            eigenvalue_floor=settings.eigenvalue_floor,
            min_responses=settings.min_pool_for_weights,
            min_std=settings.min_criterion_std,
        )

    def _kept_weight(self, node: Node) -> float:
        """An input criterion's weight; a child shares its parent's weight with its siblings."""
        if node.parent is None:
            return node.criterion.weight
        parent = self.accepted[node.parent]
        return self._kept_weight(parent) / len(parent.children)


def send(
    backend: Backend, tasks: Sequence[Task], stats: RefineStats, *, retries: int
) -> dict[str, list[Generation]]:
    """One round through the runner's model loop: one batch, one more per retry; counted."""
    attempts = run_round(backend, tasks, stats, retries=retries, label="refine")
    return {request_id: list(attempt.generations) for request_id, attempt in attempts.items()}
