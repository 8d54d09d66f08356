"""The `Backend` protocol: one batched `generate(requests)` call, and declared capabilities.

The runner never imports a concrete backend; it reads `capabilities` and plans accordingly.
A backend must return one `Generation` per request and sample, in request order, and must turn
a failure of one request into that generation's `error` rather than failing the whole batch.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from judge.errors import ConfigError, GenerationError
from judge.types import Generation, GenerationRequest


class Capabilities(BaseModel):
    """What a backend can do; the runner checks these instead of assuming them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    structured_output: bool = False
    """Outputs can be constrained (see `constraint_kinds`)."""
    constraint_kinds: tuple[Literal["regex", "json_schema"], ...] = ("regex", "json_schema")
    """Which `Constraint` kinds are honoured when `structured_output` is true."""
    choice_probabilities: bool = False
    """`ChoiceProbe` probabilities are read from the model's token distribution."""
    score_without_decoding: bool = False
    """A `GenerationRequest.score_after` request (the reply begins with that text) is answered
    with the `probe`'s P(choice) of the next token from one forward pass: empty text, no
    constraint, nothing decoded (reasoning none)."""
    prefix_cache: bool = False
    """A shared prompt prefix is computed once across requests."""
    max_context_tokens: int | None = None
    """Prompt plus new tokens must fit in this many tokens (None: unknown)."""
    compute_dtype: str | None = None
    """The dtype the model computes in, e.g. "bfloat16" (None: not known to the backend)."""
    probs_dtype: str | None = None
    """The dtype choice logits and their softmax are computed in (None: not known)."""
    model_revision: str | None = None
    """What identifies the weights behind `model_id` where the name alone may not (a served
    model's path or weight version; None: the name does). It keys fingerprints and caches."""
    batch_invariant: bool | None = None
    """A request's verdict probabilities do not depend on which other requests share its batch
    (within the tolerance docs/determinism.md states); None: not known to the backend."""
    cacheable: bool = True
    """Its judgments may be answered from a judgment cache: the answer is a function of the
    model and the request (False for a scripted test backend)."""


@runtime_checkable
class Backend(Protocol):
    """A model behind one batched generation call."""

    @property
    def model_id(self) -> str:
        """A stable name of the model (recorded in every Judgment)."""
        ...

    @property
    def capabilities(self) -> Capabilities:
        """What this backend supports."""
        ...

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Run a batch; return ``sum(r.sampling.n for r in requests)`` generations in order."""
        ...

    def close(self) -> None:
        """Release the model, connections and threads."""
        ...


class WorkerHealth(BaseModel):
    """One server behind a backend (a router's worker): does it answer now, and if not, why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str
    healthy: bool
    detail: str
    """``ok``, or why not: ``unreachable (ConnectError)``, ``HTTP 503 on /health``, ..."""


class ServingHealth(BaseModel):
    """What a backend that sends to servers can tell about them now (``/health``, doctor)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str
    healthy: bool
    """The server answers, and so does every worker it lists."""
    detail: str
    workers: tuple[WorkerHealth, ...] = ()
    """The workers a router lists (empty for a single server)."""


@runtime_checkable
class ReportsHealth(Protocol):
    """A backend that can probe the servers it sends to (optional beside `Backend`)."""

    def serving_health(self) -> ServingHealth:
        """Probe the server (and a router's workers) now; a few short HTTP calls."""
        ...


def seconds_left(request: GenerationRequest) -> float | None:
    """Seconds until the request's deadline (negative once past; None without a deadline)."""
    return None if request.deadline is None else request.deadline - time.monotonic()


def check_batch(requests: Sequence[GenerationRequest], generations: Sequence[Generation]) -> None:
    """Raise if a backend broke the contract of `generate` (count or order of generations)."""
    expected = [(request.id, index) for request in requests for index in range(request.sampling.n)]
    got = [(generation.request_id, generation.sample_index) for generation in generations]
    if got != expected:
        raise GenerationError(
            f"backend returned {len(got)} generations for {len(expected)} expected, "
            "or out of order",
            hint="a Backend must return one Generation per request and sample, in request order",
            retryable=False,
        )


def group_by_request(
    requests: Sequence[GenerationRequest], generations: Sequence[Generation]
) -> dict[str, list[Generation]]:
    """Map each request id to its generations (n of them with self-consistency sampling).

    Checks the batch as `check_batch` does, in the same pass (a batch can hold 10,000).
    """
    grouped: dict[str, list[Generation]] = {request.id: [] for request in requests}
    position, count = 0, len(generations)
    for request in requests:
        found = grouped[request.id]
        for index in range(request.sampling.n):
            generation = generations[position] if position < count else None
            if (
                generation is None
                or generation.request_id != request.id
                or generation.sample_index != index
            ):
                check_batch(requests, generations)  # raises: the batch breaks the contract
            found.append(generations[position])
            position += 1
    if position != count:
        check_batch(requests, generations)  # raises: more generations than expected
    return grouped


BATCH_INVARIANCE_HINT = (
    "the local backend is batch-invariant in float32 (--dtype auto or float32); start an SGLang "
    "server with --enable-deterministic-inference and an attention backend that supports it "
    "(fa3, flashinfer or triton), or give the in-process SGLang engine "
    "-B deterministic_inference=true"
)


def require_batch_invariance(backend: Backend) -> None:
    """Refuse `backend` unless it declares verdicts that do not depend on their batch."""
    declared = backend.capabilities.batch_invariant
    if declared:
        return
    said = "says it is not" if declared is False else "does not say whether it is"
    raise ConfigError(
        f"batch_invariant is set but the backend of {backend.model_id!r} {said} batch-invariant",
        hint=BATCH_INVARIANCE_HINT,
    )
