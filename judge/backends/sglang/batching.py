"""Prefix-aware batch planning shared by the SGLang backends.

SGLang's radix cache reuses a prefix only once it is cached: requests of one batch that share a
prefix not yet cached each compute it again (the default schedule is first-come-first-served).
So each prefix group's shared prefix is warmed once with a ``max_new_tokens=0`` request (what
SGLang's own ``n > 1`` and ``fork`` do) before the group is sent, the group's requests travel
together, and with data parallelism a group is pinned to one rank (``routed_dp_rank``), since
SGLang spreads requests over ranks round-robin, not by cache.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from judge.backends.chat_prompt import PromptEncoder
from judge.backends.prefix_order import group_positions
from judge.backends.sglang.wire import NotSent, WireRequest, constraint_error, length_error
from judge.types import ErrorKind, GenerationRequest

logger = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass(frozen=True)
class PrefixGroup:
    """Requests (by batch position) that share a prompt prefix, and that prefix's length."""

    key: str | None
    members: tuple[int, ...]
    shared_tokens: int = 0


def prepare(
    requests: Sequence[GenerationRequest],
    encoder: PromptEncoder,
    *,
    context_length: int | None,
    reserved_tokens: int = 0,
    max_input_tokens: int | None = None,
) -> list[WireRequest | NotSent]:
    """Render, tokenize and check every request; a `NotSent` in the result is why one was not."""
    texts: list[str | None] = []
    errors: dict[int, str] = {}
    for index, request in enumerate(requests):
        try:
            # A scored request (reasoning none) ends inside the reply, right at the marker.
            texts.append(encoder.render(request.messages) + (request.score_after or ""))
        except Exception as exc:  # a template error sinks only its own request
            texts.append(None)
            errors[index] = f"chat template failed: {type(exc).__name__}: {exc}"
    rendered = [(i, text) for i, text in enumerate(texts) if text is not None]
    encoded = dict(
        zip((i for i, _ in rendered), encoder.encode_many([t for _, t in rendered]), strict=True)
    )
    prepared: list[WireRequest | NotSent] = []
    for index, request in enumerate(requests):
        text = texts[index]
        if text is None:
            prepared.append(NotSent(errors[index]))
            continue
        ids = encoded[index]
        problem = constraint_error(request)
        if problem is not None:
            prepared.append(NotSent(f"request {request.id!r} not sent: {problem}"))
            continue
        problem = length_error(
            len(ids),
            request.sampling.max_new_tokens,
            context_length,
            reserved_tokens,
            max_input_tokens,
        )
        if problem is not None:
            message = f"request {request.id!r} not sent: {problem}"
            prepared.append(NotSent(message, ErrorKind.CONTEXT_OVERFLOW))
            continue
        choice_ids = encoder.choice_token_ids(request.probe) if request.probe else None
        prepared.append(WireRequest(request, text, tuple(ids), choice_ids))
    return prepared


def common_prefix_length(sequences: Sequence[Sequence[int]]) -> int:
    """Length of the longest common prefix of token sequences."""
    if not sequences:
        return 0
    shortest = min(len(s) for s in sequences)
    first = sequences[0]
    for position in range(shortest):
        token = first[position]
        if any(s[position] != token for s in sequences[1:]):
            return position
    return shortest


def prefix_groups(batch: Sequence[WireRequest | NotSent]) -> list[PrefixGroup]:
    """Group runnable requests by `prefix_group`, in order of first appearance.

    Requests without a group each form their own group. A group's `shared_tokens` is the
    common prefix of its members' tokens (0 for a group of one).
    """
    runnable = [(i, w) for i, w in enumerate(batch) if isinstance(w, WireRequest)]
    keys = [wire.request.prefix_group for _, wire in runnable]
    result: list[PrefixGroup] = []
    for key, positions in group_positions(keys):
        indices = tuple(runnable[p][0] for p in positions)
        shared = 0
        if len(indices) > 1:
            shared = common_prefix_length([runnable[p][1].input_ids for p in positions])
        result.append(PrefixGroup(key, indices, shared))
    return result


def needs_warmup(group: PrefixGroup, min_tokens: int) -> bool:
    """Worth warming: several members share at least `min_tokens` prompt tokens."""
    return len(group.members) > 1 and group.shared_tokens >= max(1, min_tokens)


def dp_rank(key: str | None, fallback: int, dp_size: int) -> int:
    """A stable data-parallel rank for a prefix group's key, so its cache stays on one rank."""
    if dp_size <= 1:
        return 0
    if key is None:
        return fallback % dp_size
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % dp_size


def by_sample_count(
    indices: Sequence[int], batch: Sequence[WireRequest | NotSent]
) -> list[list[int]]:
    """Split positions into runs with one value of ``n`` each (SGLang needs one n per call)."""
    runs: dict[int, list[int]] = {}
    for index in indices:
        wire = batch[index]
        if isinstance(wire, WireRequest):
            runs.setdefault(wire.request.sampling.n, []).append(index)
    return list(runs.values())


def chunks(items: Sequence[Item], size: int) -> list[list[Item]]:
    """Consecutive slices of at most `size` items."""
    step = max(1, size)
    return [list(items[start : start + step]) for start in range(0, len(items), step)]


def run_bisecting(
    items: Sequence[Item],
    call: Callable[[Sequence[Item]], list[Result]],
    *,
    splittable: Callable[[Exception], bool],
    on_failure: Callable[[Item, Exception], list[Result]],
) -> list[Result]:
    """Run `call` on all items; if one bad item makes the batch fail, split it and retry halves.

    SGLang fails a whole batched call when one request is bad (a grammar it cannot compile,
    an over-long prompt) and cancels the others. Bisecting isolates the bad rows in
    O(bad x log n) calls and still runs every good row.
    """
    try:
        return call(items)
    except Exception as exc:
        if len(items) == 1 or not splittable(exc):
            return [result for item in items for result in on_failure(item, exc)]
        logger.info("batch of %d failed (%s); splitting", len(items), exc)
        middle = len(items) // 2
        left = run_bisecting(items[:middle], call, splittable=splittable, on_failure=on_failure)
        right = run_bisecting(items[middle:], call, splittable=splittable, on_failure=on_failure)
        return left + right


async def run_bisecting_async(
    items: Sequence[Item],
    call: Callable[[Sequence[Item]], Awaitable[list[Result]]],
    *,
    splittable: Callable[[Exception], bool],
    on_failure: Callable[[Item, Exception], list[Result]],
) -> list[Result]:
    """`run_bisecting` for an async call."""
    try:
        return await call(items)
    except Exception as exc:
        if len(items) == 1 or not splittable(exc):
            return [result for item in items for result in on_failure(item, exc)]
        logger.info("batch of %d failed (%s); splitting", len(items), exc)
        middle = len(items) // 2
        left = await run_bisecting_async(
            items[:middle], call, splittable=splittable, on_failure=on_failure
        )
        right = await run_bisecting_async(
            items[middle:], call, splittable=splittable, on_failure=on_failure
        )
        return left + right
