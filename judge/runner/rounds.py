"""Run one round of requests as one backend batch, retrying malformed outputs in one more batch.

Every strategy is a short sequence of rounds (route -> solve -> judge at most); a round gathers
the requests of every sample that is ready for it, so a call costs one batch per round, not one
per sample. With ``n > 1`` samples per request only the failed samples are drawn again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

from judge.backends.base import Backend, group_by_request
from judge.types import ErrorKind, Generation, GenerationRequest, SamplingParams, Usage

logger = logging.getLogger(__name__)

Check = Callable[[Generation], str | None]
"""Reads a generation and returns why it is unusable, or None when it is usable."""

RETRY_TEMPERATURE = 0.5
Result = TypeVar("Result")
Other = TypeVar("Other")


@dataclass
class BatchStats:
    """What the last call cost: backend batch calls, requests, retried requests, rounds run."""

    backend_calls: int = 0
    requests: int = 0
    retried: int = 0
    usage: Usage = field(default_factory=Usage)
    rounds: list[str] = field(default_factory=list)
    probs_sources: set[str] = field(default_factory=set)
    """Where the backend read choice probabilities from (logits, top_logprobs, ...)."""


class Task(NamedTuple):
    """A request, how to tell whether one of its generations is usable, and its role.

    A named tuple, as `Attempt`: a batch builds one per request, and a tuple is the cheapest
    immutable record.
    """

    request: GenerationRequest
    check: Check
    role: str = "judge"


class Attempt(NamedTuple):
    """The final generations of a request (n of them, retries merged in) and all their tokens."""

    generations: tuple[Generation, ...]
    usage: Usage


NEVER_RETRIED = frozenset({ErrorKind.CONTEXT_OVERFLOW, ErrorKind.INVALID_INPUT})
"""Failures no retry can fix: the same prompt never fits, the same input is never valid."""


def retryable(generation: Generation) -> bool:
    """Malformed or failed outputs are retried, unless the backend's failure kind rules it out."""
    return generation.error_kind not in NEVER_RETRIED


def _retry_request(request: GenerationRequest, count: int, attempt: int) -> GenerationRequest:
    """The same request, sampled `count` times with another seed: a greedy retry repeats itself."""
    sampling = request.sampling
    retry_sampling = SamplingParams(
        max_new_tokens=sampling.max_new_tokens,
        temperature=max(sampling.temperature, RETRY_TEMPERATURE),
        top_p=sampling.top_p,
        seed=(sampling.seed or 0) + attempt,
        n=count,
    )
    return request.model_copy(update={"sampling": retry_sampling})


def _call(
    backend: Backend, requests: Sequence[GenerationRequest], stats: BatchStats
) -> dict[str, list[Generation]]:
    generated = backend.generate(requests)
    grouped = group_by_request(requests, generated)
    stats.backend_calls += 1
    stats.requests += len(requests)
    stats.usage = Usage.total([stats.usage, *(generation.usage for generation in generated)])
    stats.probs_sources.update({g.probs_source for g in generated if g.probs_source is not None})
    return grouped


def run_round(
    backend: Backend,
    tasks: Sequence[Task],
    stats: BatchStats,
    *,
    retries: int = 1,
    label: str = "judge",
) -> dict[str, Attempt]:
    """Send `tasks` as one batch; resend the unusable generations up to `retries` times.

    Returns each request id's final generations, in sample order, with the tokens of every try.
    """
    if not tasks:
        return {}
    ids = [task.request.id for task in tasks]
    if len(set(ids)) != len(ids):
        raise ValueError(f"request ids repeat within one round: {sorted(ids)}")
    stats.rounds.append(label)
    final = _call(backend, [task.request for task in tasks], stats)  # fresh lists: ours to edit
    usage = {
        request_id: generations[0].usage
        if len(generations) == 1
        else Usage.total(g.usage for g in generations)
        for request_id, generations in final.items()
    }
    for attempt in range(1, retries + 1):
        failed: dict[str, list[int]] = {}
        for request_id, task in zip(ids, tasks, strict=True):
            check = task.check
            for slot, generation in enumerate(final[request_id]):
                if check(generation) is not None and retryable(generation):
                    failed.setdefault(request_id, []).append(slot)
        if not failed:
            break
        stats.retried += len(failed)
        logger.info("%s round: retrying %d unusable outputs in one batch", label, len(failed))
        retry_requests = [
            _retry_request(task.request, len(failed[task.request.id]), attempt)
            for task in tasks
            if task.request.id in failed
        ]
        for request_id, generations in _call(backend, retry_requests, stats).items():
            for slot, generation in zip(failed[request_id], generations, strict=True):
                final[request_id][slot] = generation.model_copy(update={"sample_index": slot})
                usage[request_id] = usage[request_id] + generation.usage
    return {request_id: Attempt(tuple(final[request_id]), usage[request_id]) for request_id in ids}


def ask(
    backend: Backend,
    tasks: Sequence[Task],
    *,
    retries: int,
    label: str = "judge",
    stats: BatchStats | None = None,
) -> dict[str, list[Generation]]:
    """`run_round` for callers that need only each request's final generations."""
    attempts = run_round(backend, tasks, stats or BatchStats(), retries=retries, label=label)
    return {request_id: list(attempt.generations) for request_id, attempt in attempts.items()}


Flow = Generator[list[Task], dict[str, Attempt], Result]
"""One sample's (or pair's) rounds: yields tasks, receives their attempts, returns a result."""


class _Flows:
    """Flows advanced round by round: each holds its next round's tasks, or has its result."""

    def __init__(self, flows: Sequence[Flow[Any]]) -> None:
        self.flows = list(flows)
        self.results: list[Any] = [None] * len(self.flows)
        self.pending: dict[int, list[Task]] = {}
        for position in range(len(self.flows)):
            self._advance(position, None)

    def _advance(self, position: int, attempts: dict[str, Attempt] | None) -> None:
        flow = self.flows[position]
        try:
            tasks = next(flow) if attempts is None else flow.send(attempts)
        except StopIteration as stop:
            self.results[position] = stop.value
            self.pending.pop(position, None)
            return
        if not tasks:
            raise RuntimeError(f"flow {position} yielded an empty round")
        self.pending[position] = tasks

    def tasks(self) -> list[Task]:
        """Every waiting flow's tasks, in flow order: the next round."""
        return [task for position in sorted(self.pending) for task in self.pending[position]]

    def send(self, attempts: dict[str, Attempt]) -> None:
        """Give each waiting flow the attempts of its own tasks."""
        for position in sorted(self.pending):
            tasks = self.pending[position]
            self._advance(position, {t.request.id: attempts[t.request.id] for t in tasks})


def joint(first: Flow[Result], second: Flow[Other]) -> Flow[tuple[Result, Other]]:
    """One flow that runs two: each round holds the tasks both have ready, in one batch.

    When one finishes first, the other goes on alone; the result is both results. The two must
    not share request ids.
    """
    flows = _Flows([first, second])
    while flows.pending:
        flows.send((yield flows.tasks()))
    return flows.results[0], flows.results[1]


def drive(
    backend: Backend,
    flows: Sequence[Flow[Result]],
    stats: BatchStats,
    *,
    retries: int,
) -> list[Result]:
    """Advance every flow round by round; each round's tasks of all flows go in one batch.

    A flow yields the tasks of its next round (never an empty list) and receives their
    attempts; its return value is its result. Flows that finish without a round cost nothing.
    """
    running = _Flows(flows)
    while running.pending:
        tasks = running.tasks()
        label = "+".join(dict.fromkeys(task.role for task in tasks))
        running.send(run_round(backend, tasks, stats, retries=retries, label=label))
    results: list[Result | None] = running.results
    missing = [position for position, judgment in enumerate(results) if judgment is None]
    if missing:
        raise RuntimeError(f"flows {missing} ended without a judgment")
    return [judgment for judgment in results if judgment is not None]
