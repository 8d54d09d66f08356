"""Choice probabilities read from per-token top-K logprobs, for servers that expose no better API.

OpenAI-compatible servers return, for each output token, its logprob and the K most likely
alternatives. A `ChoiceProbe` asks for P(choice) at the point where the output reaches the
probe's marker (``"verdict": "``); this module finds that position and reads the choices there.

Matching. The probed position is the token that holds the first byte after the first occurrence
of the marker, found with JSON's freedom of whitespace (see `marker_pattern`). When that token
also holds the marker's tail (a token that straddles the marker end, e.g. ``"yes`` after
``"verdict": ``), an alternative counts only if it starts with the same tail. What follows the
tail counts for a choice when it equals the choice, optionally after one leading space, or starts
with the choice followed by a non-word byte (``yes"``). Several matching alternatives add up.

Absent choices. A choice that is not among the top-K has a probability of at most the K-th largest
probability listed (the list holds the K most likely tokens; some servers add the sampled token as
a K+1-th entry, which is why it is the K-th and not the smallest), so it is given exactly that
upper bound before renormalising: the confidence reported is never above what the logprobs
support. With no choice in the top-K, or no top-K list at all, there is nothing to read and the
result is None.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from judge.types import ChoiceProbe


@dataclass(frozen=True)
class TokenAlternatives:
    """One output position: the token produced, its logprob, and the top-K alternatives."""

    token: bytes
    logprob: float
    top: tuple[tuple[bytes, float], ...]


def _is_word_byte(byte: int) -> bool:
    return chr(byte).isalnum() or byte == ord("_") or byte >= 0x80


def _matches(rest: bytes, choice: bytes) -> bool:
    """Does a token's text (after the marker tail) start the given choice as a whole word."""
    for candidate in (rest, rest[1:] if rest.startswith(b" ") else None):
        if candidate is None or not candidate.startswith(choice):
            continue
        if len(candidate) == len(choice) or not _is_word_byte(candidate[len(choice)]):
            return True
    return False


_JSON_PUNCTUATION = frozenset(":,{}[]")


def marker_pattern(marker: str) -> re.Pattern[bytes]:
    """The marker as a pattern that tolerates JSON whitespace.

    A JSON-schema constraint lets the model choose its whitespace (``"verdict" :"yes"`` is as
    valid as ``"verdict": "yes"``), so the marker's spacing cannot be taken literally: each
    whitespace run matches any whitespace or none, and so does the space around ``: , { } [ ]``.
    """
    parts: list[bytes] = []
    for piece in re.split(r"(\s+)", marker):
        if not piece:
            continue
        if piece.isspace():
            parts.append(rb"\s*")
            continue
        for char in piece:
            escaped = re.escape(char.encode("utf-8"))
            parts.append(rb"\s*" + escaped + rb"\s*" if char in _JSON_PUNCTUATION else escaped)
    pattern = b"".join(parts)
    # Whitespace after the marker belongs to the choice's token (" yes"), not to the marker.
    while pattern.endswith(rb"\s*"):
        pattern = pattern[: -len(rb"\s*")]
    return re.compile(pattern)


def probed_position(
    positions: Sequence[TokenAlternatives], marker: str
) -> tuple[int, bytes] | None:
    """Index of the token holding the first byte after `marker`, and the marker tail it holds."""
    generated = b"".join(position.token for position in positions)
    found = marker_pattern(marker).search(generated)
    if found is None or not marker.strip():
        return None
    marker_end = found.end()
    start = 0
    for index, position in enumerate(positions):
        end = start + len(position.token)
        if start <= marker_end < end:
            return index, generated[start:marker_end]
        start = end
    return None


def choice_probs_at_marker(
    positions: Sequence[TokenAlternatives], probe: ChoiceProbe, *, top_k: int | None = None
) -> dict[str, float] | None:
    """P(choice) renormalised over the probe's choices, or None when the logprobs cannot tell.

    `top_k` is the K that was asked for (None: the list's length), which fixes the bound given
    to a choice absent from the list.
    """
    located = probed_position(positions, probe.marker)
    if located is None:
        return None
    index, tail = located
    return choice_probs_at(positions[index], tail, probe, top_k=top_k)


def choice_probs_at(
    position: TokenAlternatives, tail: bytes, probe: ChoiceProbe, *, top_k: int | None = None
) -> dict[str, float] | None:
    """P(choice) at one position whose token holds `tail` before the choice (b"": a boundary).

    A scored request (reasoning none) reads its first output position with an empty tail: the
    prompt already ends at the marker.
    """
    if not position.top:
        return None
    alternatives = dict(position.top)
    alternatives.setdefault(position.token, position.logprob)

    mass = {choice: 0.0 for choice in probe.choices}
    found = {choice: False for choice in probe.choices}
    for token, logprob in alternatives.items():
        if not token.startswith(tail):
            continue
        rest = token[len(tail) :]
        for choice in probe.choices:
            if _matches(rest, choice.encode("utf-8")):
                mass[choice] += math.exp(logprob)
                found[choice] = True
    if not any(found.values()):
        return None
    listed = sorted((math.exp(logprob) for _, logprob in position.top), reverse=True)
    bound = listed[min(top_k or len(listed), len(listed)) - 1]
    for choice in probe.choices:
        if not found[choice]:
            mass[choice] = bound
    total = sum(mass.values())
    if total <= 0.0 or not math.isfinite(total):
        return None
    return {choice: mass[choice] / total for choice in probe.choices}
