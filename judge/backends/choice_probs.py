"""Read P(choice) at the verdict step from a model's per-token log-probabilities.

The runner's output format puts the verdict right after a marker (``"verdict": "``). The
verdict step is the output token where the text before it ends with the marker; the choice
probabilities are the probabilities of the tokens that begin each choice there, renormalised
over the choice set. When the marker's last characters and the choice share one token (a
tokenizer with a ``"yes`` token), the step is that token and only tokens that begin with the
rest of the marker count.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence

Decode = Callable[[Sequence[int]], str]


def verdict_step(token_ids: Sequence[int], marker: str, decode: Decode) -> tuple[int, str] | None:
    """Locate the token that begins the choice after the last `marker` in the output.

    Returns ``(index, rest)``: the output index of that token and the part of the marker that
    falls inside it (``""`` at a clean token boundary). None when the marker is absent or the
    output ends with it.
    """
    if not marker or not token_ids:
        return None
    full = decode(token_ids)
    at = full.rfind(marker)
    if at < 0:
        return None
    end = at + len(marker)
    # Smallest k whose decoded prefix reaches the end of the marker (prefix lengths only grow).
    low, high = 0, len(token_ids)
    while low < high:
        middle = (low + high) // 2
        if len(decode(token_ids[:middle])) >= end:
            high = middle
        else:
            low = middle + 1
    reached = len(decode(token_ids[:low]))
    if reached == end:
        return (low, "") if low < len(token_ids) else None
    start = len(decode(token_ids[: low - 1]))
    return low - 1, full[start:end]


def _matching_choice(tail: str, choices: Sequence[str]) -> str | None:
    """The one choice a token's text can begin (or spell out), if exactly one."""
    matches = [
        choice
        for choice in choices
        if choice.startswith(tail)
        or (
            tail.startswith(choice)
            and (len(tail) == len(choice) or not tail[len(choice)].isalnum())
        )
    ]
    return matches[0] if len(matches) == 1 else None


def renormalise(
    candidates: Iterable[tuple[str, float]],
    rest: str,
    choices: Sequence[str],
    *,
    absent_bound: float = 0.0,
) -> dict[str, float] | None:
    r"""P(choice) from ``(token text, logprob)`` candidates at the verdict step.

    A candidate counts for a choice when its text, less `rest`, begins that choice (``"y"``,
    ``"yes"``) or is that choice followed by punctuation (``"yes\""``); ambiguous and other
    tokens are ignored. A choice no candidate begins gets `absent_bound` (for a top-K list, the
    K-th largest probability: the most it can have), so the confidence is never above what the
    list supports. None when no choice is found at all.
    """
    mass = dict.fromkeys(choices, 0.0)
    found: set[str] = set()
    for text, logprob in candidates:
        if math.isnan(logprob) or not text.startswith(rest):
            continue
        tail = text[len(rest) :]
        choice = _matching_choice(tail, choices) if tail else None
        if choice is not None:
            mass[choice] += math.exp(logprob)
            found.add(choice)
    if not found:
        return None
    for choice in choices:
        if choice not in found:
            mass[choice] = absent_bound
    total = sum(mass.values())
    if not total > 0.0 or math.isinf(total):
        return None
    return {choice: value / total for choice, value in mass.items()}


def kth_largest_probability(logprobs: Sequence[float], k: int) -> float:
    """The K-th largest probability of a top-K list (0 when the list is shorter than K)."""
    listed = sorted((math.exp(lp) for lp in logprobs if not math.isnan(lp)), reverse=True)
    return listed[k - 1] if 0 < k <= len(listed) else 0.0


def from_choice_ids(
    logprobs_by_id: Mapping[int, float], choice_ids: Mapping[str, int]
) -> dict[str, float] | None:
    """P(choice) from the log-probabilities of each choice's exact first token."""
    if any(token_id not in logprobs_by_id for token_id in choice_ids.values()):
        return None
    mass = {choice: math.exp(logprobs_by_id[token_id]) for choice, token_id in choice_ids.items()}
    total = sum(mass.values())
    if not total > 0.0 or math.isnan(total):
        return None
    return {choice: value / total for choice, value in mass.items()}
