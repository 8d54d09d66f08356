"""Several judges' plans over one backend in shared batches, each distinct request computed once.

`drive_plans` runs the `JudgingPlan`s of several judges (the configurations `judge tune`
compares, say) together: each plan's request ids and prefix groups are renamed under the plan's
own prefix (``c3|s0/clarity``), so every round of every plan goes in one `Backend.generate`
batch. `SharedBatches`, the backend they are driven through, sends each distinct request once
(the same messages, sampling, constraint and probe: two score rules over the same verdicts ask
the same requests) and gives its generations to every plan that asked it. It also keeps the
account: requests asked and sent, backend calls, and each plan's share of the backend's
seconds, so a plan's cost can be stated as if it had run alone.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from judge.backends.base import Backend, Capabilities, group_by_request
from judge.runner.judge import JudgingPlan
from judge.runner.rounds import Attempt, BatchStats, Flow, Task, drive
from judge.types import Generation, GenerationRequest

SEPARATOR = "|"
"""Between a plan's prefix and a request id (never in a prefix: prefixes are ``c<number>``)."""
BASELINE_SUFFIX = "~naive"
"""Appended to a plan's owner for its naive baseline's requests, accounted apart."""


def _deterministic(request: GenerationRequest) -> bool:
    """Asking twice gives the same answer: greedy decoding or a fixed seed."""
    return request.sampling.temperature == 0 or request.sampling.seed is not None


def _content_key(request: GenerationRequest) -> str:
    """What a generation depends on: everything but the id, the prefix group and the deadline."""
    text = request.model_dump_json(exclude={"id", "prefix_group", "deadline"})
    return hashlib.sha256(text.encode()).hexdigest()


def owner_of(request_id: str) -> str:
    """The plan prefix of a renamed request id (``c3|s0/clarity`` -> ``c3``)."""
    return request_id.partition(SEPARATOR)[0]


@dataclass
class SharedBatches:
    """A backend that sends each distinct request of a batch once and accounts per plan.

    Requests are merged only where the answer cannot differ (greedy or seeded sampling); the
    copies get the same generations under their own ids. Each backend call's seconds are split
    over the distinct requests it ran in proportion to their tokens (prompt + decoded), and each
    plan that asked a request is charged its whole share, as if it had asked alone.
    """

    inner: Backend
    calls: int = 0
    asked: int = 0
    sent: int = 0
    seconds: float = 0.0
    seconds_by_owner: dict[str, float] = field(default_factory=dict)

    @property
    def model_id(self) -> str:
        """The inner backend's model."""
        return self.inner.model_id

    @property
    def capabilities(self) -> Capabilities:
        """The inner backend's capabilities."""
        return self.inner.capabilities

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """One inner call with the distinct requests; every request gets its generations."""
        first: dict[str, GenerationRequest] = {}
        source: list[str] = []
        for request in requests:
            key = _content_key(request) if _deterministic(request) else f"id:{request.id}"
            first.setdefault(key, request)
            source.append(first[key].id)
        unique = list(first.values())
        started = time.monotonic()
        generated = self.inner.generate(unique) if unique else []
        elapsed = time.monotonic() - started
        grouped = group_by_request(unique, generated)
        self.calls += 1
        self.asked += len(requests)
        self.sent += len(unique)
        self.seconds += elapsed
        weights = {
            request_id: sum(g.usage.prompt_tokens + g.usage.completion_tokens for g in gens) or 1
            for request_id, gens in grouped.items()
        }
        total = sum(weights.values()) or 1
        charged: set[tuple[str, str]] = set()
        out: list[Generation] = []
        for request, origin in zip(requests, source, strict=True):
            owner = owner_of(request.id)
            if (owner, origin) not in charged:
                charged.add((owner, origin))
                share = elapsed * weights[origin] / total
                self.seconds_by_owner[owner] = self.seconds_by_owner.get(owner, 0.0) + share
            for generation in grouped[origin]:
                out.append(
                    generation
                    if origin == request.id
                    else generation.model_copy(update={"request_id": request.id})
                )
        return out

    def close(self) -> None:
        """Nothing to release: the inner backend belongs to the caller."""


def _renamed(task: Task, prefix: str) -> Task:
    request = task.request
    group = None if request.prefix_group is None else prefix + request.prefix_group
    update: dict[str, Any] = {"id": prefix + request.id, "prefix_group": group}
    return Task(request.model_copy(update=update), task.check, task.role)


def _restored(attempt: Attempt, request_id: str) -> Attempt:
    generations = tuple(
        g.model_copy(update={"request_id": request_id}) for g in attempt.generations
    )
    return Attempt(generations, attempt.usage)


def namespaced(flow: Flow[Any], owner: str) -> Flow[Any]:
    """`flow` with its request ids and prefix groups under ``owner|``; its result unchanged."""
    prefix = owner + SEPARATOR
    try:
        tasks = next(flow)
        while True:
            attempts = yield [_renamed(task, prefix) for task in tasks]
            tasks = flow.send(
                {
                    task.request.id: _restored(attempts[prefix + task.request.id], task.request.id)
                    for task in tasks
                }
            )
    except StopIteration as stop:
        return stop.value


def drive_plans(
    backend: Backend, plans: Sequence[JudgingPlan], owners: Sequence[str], stats: BatchStats
) -> list[tuple[list[Any], list[Any]]]:
    """Drive every plan's flows together; each plan's (judgments, baseline judgments), in order.

    `owners` names each plan (``c<number>``: no `SEPARATOR`); the requests of a plan's naive
    baseline are owned by ``owner + BASELINE_SUFFIX``. Plans with the same retry count share
    every round's batch; plans with another count run in their own drive after them.
    """
    if len(owners) != len(plans) or len(set(owners)) != len(owners):
        raise ValueError(f"one distinct owner per plan, got {list(owners)}")
    if any(SEPARATOR in owner for owner in owners):
        raise ValueError(f"an owner holds {SEPARATOR!r}: {list(owners)}")
    results: list[list[Any]] = [[] for _ in plans]
    for retries in sorted({plan.settings.retries for plan in plans}):
        chosen = [i for i, plan in enumerate(plans) if plan.settings.retries == retries]
        flows: list[Flow[Any]] = []
        spans: list[tuple[int, int, int]] = []
        for i in chosen:
            start = len(flows)
            plan, owner = plans[i], owners[i]
            flows += [
                namespaced(flow, owner if k < plan.count else owner + BASELINE_SUFFIX)
                for k, flow in enumerate(plan.flows)
            ]
            spans.append((i, start, len(flows)))
        finished = drive(backend, flows, stats, retries=retries)
        for i, start, end in spans:
            results[i] = finished[start:end]
    return [plan.finish(found, stats) for plan, found in zip(plans, results, strict=True)]
