"""The cheap, model-free parts of RRD's filters: lexical similarity, negation, misalignment.

Lexical similarity (`judge.rubric.wording`) compares two criteria's content words. It only
decides which pairs are worth an LLM overlap check, except at the extremes: near-identical
wording is redundant, and near-identical wording with opposite negation is a polarity conflict,
without asking a model.
"""

from __future__ import annotations

from collections.abc import Sequence

from judge.rubric.wording import NEGATIONS, Wording, jaccard, similarity

__all__ = ["NEGATIONS", "Wording", "jaccard", "misalignment", "similarity"]


def misalignment(
    passes: Sequence[bool | None], qualities: Sequence[float | None], tolerance: float
) -> str | None:
    """Why a criterion is misaligned with the pool's quality labels, or None if it is not.

    Over labelled pairs with different qualities that the criterion separates (one passes, one
    fails), it is misaligned when the weaker passes and the stronger fails in more than
    `tolerance` of them (in any of them at tolerance 0).
    """
    inverted: list[tuple[int, int]] = []
    concordant = 0
    for i, (pass_i, quality_i) in enumerate(zip(passes, qualities, strict=True)):
        for j, (pass_j, quality_j) in enumerate(zip(passes, qualities, strict=True)):
            if quality_i is None or quality_j is None or quality_i <= quality_j:
                continue
            if pass_i is None or pass_j is None or pass_i == pass_j:
                continue
            # i is the stronger response of the pair.
            if pass_j and not pass_i:
                inverted.append((j, i))
            else:
                concordant += 1
    separated = len(inverted) + concordant
    if not inverted or len(inverted) <= tolerance * separated:
        return None
    weaker, stronger = inverted[0]
    return (
        f"misaligned: weaker pool response {weaker + 1} (quality {qualities[weaker]:g}) passes "
        "while "
        f"stronger response {stronger + 1} (quality {qualities[stronger]:g}) fails; "
        f"{len(inverted)} of {separated} separated labelled pairs inverted"
    )
