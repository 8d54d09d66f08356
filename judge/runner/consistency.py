"""Merge several sampled readings into one: self-consistency verdicts and breadth principles.

Self-consistency (Wang et al., 2023) draws K judgments at temperature > 0 and keeps the majority;
here the majority verdict of a criterion is reported with the mean of the K P(yes) values, and the
share of samples that agree with it is the criterion's agreement, which becomes the confidence.
Breadth principles (Mix-GRM's breadth chain of thought) merge N sampled principle lists:
duplicates are folded together, counted, and each keeps its majority sub-verdict.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

from judge.runner.parse import VerdictCheck, first_kind, read_verdict
from judge.types import CriterionVerdict, Generation

MAX_MERGED_PRINCIPLES = 10
Verdict = Literal["yes", "no"]


class MergedVerdict(NamedTuple):
    """One criterion's verdict over K samples, with the agreement and the per-sample readings.

    A named tuple: a batch merges one per criterion-judgment.
    """

    verdict: CriterionVerdict
    agreement: float | None
    readings: tuple[CriterionVerdict, ...]

    @property
    def valid(self) -> int:
        """How many samples gave a usable verdict."""
        return sum(reading.error is None for reading in self.readings)


def majority(yes: int, no: int, mean_p_yes: float | None) -> Verdict:
    """The majority of yes/no votes; a tie goes to the mean P(yes), else to "no".

    "no" on an undecidable tie, because a criterion the judge cannot confirm is not met.
    """
    if yes != no:
        return "yes" if yes > no else "no"
    if mean_p_yes is not None and mean_p_yes != 0.5:
        return "yes" if mean_p_yes > 0.5 else "no"
    return "no"


def merge_verdicts(
    criterion_id: str,
    generations: Sequence[Generation],
    check: Callable[[Generation], str | None] | None = None,
) -> MergedVerdict:
    """Read each generation as a verdict and merge them (one generation: its own reading).

    `check`, when it is the round's `VerdictCheck`, gives the readings it already made.
    """
    if isinstance(check, VerdictCheck):
        readings = tuple(map(check.reading, generations))
    else:
        readings = tuple(read_verdict(criterion_id, generation) for generation in generations)
    if len(readings) == 1 and readings[0].error is None:
        return MergedVerdict(readings[0], None, readings)
    valid = [reading for reading in readings if reading.error is None]
    if not valid:
        errors = list(dict.fromkeys(reading.error or "" for reading in readings))
        kind = first_kind(reading.error_kind for reading in readings)
        failed = CriterionVerdict(
            criterion_id=criterion_id, error="; ".join(errors), error_kind=kind
        )
        return MergedVerdict(failed, None, readings)
    if len(readings) == 1:
        return MergedVerdict(valid[0], None, readings)
    probabilities = [reading.p_yes for reading in valid]
    mean_p_yes = (
        sum(p for p in probabilities if p is not None) / len(probabilities)
        if all(p is not None for p in probabilities)
        else None
    )
    yes = sum(reading.verdict == "yes" for reading in valid)
    no = len(valid) - yes
    verdict = majority(yes, no, mean_p_yes)
    # The majority always has at least one vote, so some reading carries its rationale.
    rationale = next(reading.rationale for reading in valid if reading.verdict == verdict)
    merged = CriterionVerdict(
        criterion_id=criterion_id,
        verdict=verdict,
        p_yes=mean_p_yes,
        rationale=rationale,
    )
    # Failed draws count against the agreement: they are draws that did not confirm the verdict.
    return MergedVerdict(merged, max(yes, no) / len(readings), readings)


@dataclass(frozen=True)
class MergedPrinciple:
    """A principle found in `count` of the sampled rationales, with its yes/no votes."""

    text: str
    count: int
    yes: int

    @property
    def verdict(self) -> Verdict:
        """The majority sub-verdict (a tie is "no": an unconfirmed principle is not met)."""
        return majority(self.yes, self.count - self.yes, None)

    @property
    def p_yes(self) -> float:
        """The share of the rationales naming this principle that judged it met."""
        return self.yes / self.count


def principle_key(text: str) -> str:
    """The form under which two principles count as the same: lower-case words, no punctuation."""
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def merge_principles(
    rationales: Sequence[Sequence[tuple[str, str]]], keep: int = MAX_MERGED_PRINCIPLES
) -> list[MergedPrinciple]:
    """Fold N principle lists into the `keep` most frequent principles, majority sub-verdicts.

    A principle counts once per rationale (its first mention there). Ties in frequency keep the
    order of first appearance, so the merge is deterministic.
    """
    texts: dict[str, str] = {}
    counts: dict[str, int] = {}
    yes_votes: dict[str, int] = {}
    for rationale in rationales:
        seen: set[str] = set()
        for text, verdict in rationale:
            key = principle_key(text)
            if not key or key in seen:
                continue
            seen.add(key)
            texts.setdefault(key, text)
            counts[key] = counts.get(key, 0) + 1
            yes_votes[key] = yes_votes.get(key, 0) + (verdict == "yes")
    order = {key: position for position, key in enumerate(texts)}
    ranked = sorted(texts, key=lambda key: (-counts[key], order[key]))[:keep]
    return [MergedPrinciple(texts[key], counts[key], yes_votes[key]) for key in ranked]
