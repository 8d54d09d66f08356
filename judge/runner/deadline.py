"""A judge call's deadline, carried into the backend batch on every request of the call.

The reward server's callers wait a bounded time (`RubricReward.timeout_s`); once every caller
of a batch has given up, its work is waste that delays the next caller. `with_deadline` wraps
the backend for one call: every request it sends carries the deadline (the backend stops it
when the deadline passes, see `GenerationRequest.deadline`), and a round that would start after
the deadline (a retry, the next round of a strategy) is not sent at all.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from judge.backends.base import Backend, Capabilities
from judge.types import ErrorKind, Generation, GenerationRequest


def deadline_passed(request: GenerationRequest) -> list[Generation]:
    """The generations of a request that was not run because its deadline had passed."""
    return [
        Generation(
            request_id=request.id,
            sample_index=index,
            finish_reason="error",
            error="the deadline passed before the request ran (nobody waits for it)",
            error_kind=ErrorKind.TIMEOUT,
        )
        for index in range(request.sampling.n)
    ]


class DeadlineBackend:
    """`backend` with `deadline` (``time.monotonic()`` seconds) stamped on every request."""

    def __init__(self, backend: Backend, deadline: float) -> None:
        self.backend = backend
        self.deadline = deadline

    @property
    def model_id(self) -> str:
        """The wrapped backend's model."""
        return self.backend.model_id

    @property
    def capabilities(self) -> Capabilities:
        """The wrapped backend's capabilities."""
        return self.backend.capabilities

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Run the requests with the deadline, or fail them all if it has passed."""
        if time.monotonic() >= self.deadline:
            return [g for request in requests for g in deadline_passed(request)]
        stamped = [
            request
            if request.deadline is not None and request.deadline <= self.deadline
            else request.model_copy(update={"deadline": self.deadline})
            for request in requests
        ]
        return self.backend.generate(stamped)

    def close(self) -> None:
        """Closing is the owner's business: the wrapper lives for one call."""


def with_deadline(backend: Backend, deadline: float | None) -> Backend:
    """`backend` itself without a deadline, else a `DeadlineBackend` for one call."""
    return backend if deadline is None else DeadlineBackend(backend, deadline)
