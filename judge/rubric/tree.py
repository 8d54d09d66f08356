"""The tree a refinement grows: criteria as nodes, and the rules that hold for the final tree.

A decomposition that added nothing keeps its parent as a leaf (and says so), and a decomposed
hard rule keeps a hard-rule leaf unless one of its descendants is a hard rule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from judge.rubric.filters import Wording
from judge.types import Criterion, DroppedCriterion, Provenance


@dataclass
class Node:
    """A criterion under refinement: its place in the tree and its verdicts on the pool."""

    criterion: Criterion
    depth: int
    ancestors: tuple[str, ...] = ()
    values: list[float | None] = field(default_factory=list)
    passes: list[bool | None] = field(default_factory=list)
    children: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        """The criterion's id."""
        return self.criterion.id

    @property
    def parent(self) -> str | None:
        """The id of the criterion this one was split from (None for an input criterion)."""
        return self.ancestors[-1] if self.ancestors else None

    @property
    def wording(self) -> Wording:
        """Content words and negation of the criterion text."""
        return Wording.of(self.criterion.text)

    @property
    def pass_count(self) -> int:
        """Pool responses that satisfy the criterion."""
        return sum(1 for passed in self.passes if passed)


def walk(accepted: Mapping[str, Node], nodes: Sequence[Node]) -> list[Node]:
    """`nodes` and their accepted descendants, depth first."""
    out = []
    for node in nodes:
        out.append(node)
        out.extend(walk(accepted, [accepted[c] for c in node.children]))
    return out


def unrefined_notes(
    decomposed: Mapping[str, int],
    accepted: Mapping[str, Node],
    dropped: Sequence[DroppedCriterion],
) -> list[str]:
    """One line per decomposed criterion that kept no child: it stays a leaf, and why."""
    notes = []
    for parent_id in decomposed:
        parent = accepted.get(parent_id)
        if parent is None or parent.children:
            continue
        rejected = sum(1 for d in dropped if d.criterion.provenance.parent == parent_id)
        notes.append(
            f"{parent_id} kept as a leaf: its decomposition added nothing new "
            f"({rejected} child(ren) screened or rejected)"
        )
    return notes


def keep_hard_rules(accepted: dict[str, Node], child_id: Callable[[str], str]) -> None:
    """A decomposed hard rule keeps a hard-rule leaf unless a descendant is a hard rule.

    The children refine what the rule asks for; if none of them is itself a hard rule, the
    request's explicit requirement would stop capping the score, so the rule stays as a leaf
    beside them (judged with the parent's own verdicts).
    """
    for node in list(accepted.values()):
        if node.criterion.kind != "hard_rule" or not node.children:
            continue
        descendants = walk(accepted, [accepted[c] for c in node.children])
        if any(leaf.criterion.kind == "hard_rule" for leaf in descendants):
            continue
        rule = Node(
            criterion=Criterion(
                id=child_id(node.id),
                text=node.criterion.text,
                kind="hard_rule",
                provenance=Provenance(
                    source="decomposed",
                    parent=node.id,
                    detail="the parent's hard rule, kept as a leaf: none of its children is a "
                    "hard rule",
                ),
            ),
            depth=node.depth + 1,
            ancestors=(*node.ancestors, node.id),
            values=list(node.values),
            passes=list(node.passes),
        )
        accepted[rule.id] = rule
        node.children.append(rule.id)
