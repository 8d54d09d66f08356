"""JSON over HTTP with bounded time and retries, for backends that talk to model servers.

A call either returns the decoded JSON body or raises `RequestFailed` with a one-line reason;
it never waits longer than ``attempts x (deadline + backoff)``. Connection errors, timeouts,
HTTP 5xx, 408 and 429 are retried with jittered exponential backoff (honouring ``Retry-After``);
any other 4xx is the caller's mistake and is not retried.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

logger = logging.getLogger(__name__)

_RETRIED_CLIENT_ERRORS = frozenset({408, 429})
_BODY_EXCERPT_CHARS = 300


class RequestFailed(Exception):
    """A request failed for good (after its retries, or at once when retrying cannot help)."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class _DeadlineExceeded(Exception):
    """The response did not complete within the per-attempt deadline."""


@dataclass
class RetryPolicy:
    """How long one attempt may take, how often to retry, and how long to wait in between."""

    max_retries: int = 3
    deadline_s: float = 300.0
    backoff_base_s: float = 0.5
    backoff_max_s: float = 20.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, retry: int, retry_after_s: float | None) -> float:
        """Seconds to wait before retry number `retry` (1-based): exponential, equal-jittered."""
        ceiling = min(self.backoff_max_s, self.backoff_base_s * 2.0 ** (retry - 1))
        jittered = ceiling * (0.5 + 0.5 * self.rng.random())
        if retry_after_s is not None:
            return max(jittered, min(retry_after_s, self.backoff_max_s))
        return jittered


def _retry_after(headers: httpx.Headers) -> float | None:
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _excerpt(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace").strip().replace("\n", " ")
    if len(text) > _BODY_EXCERPT_CHARS:
        return text[:_BODY_EXCERPT_CHARS] + "..."
    return text


def _post_once(
    client: httpx.Client, url: str, body: dict[str, Any], deadline_s: float, capped: bool = False
) -> tuple[int, bytes, httpx.Headers]:
    # httpx's read timeout restarts with every chunk; the deadline also stops a server that
    # trickles bytes forever.
    deadline = time.monotonic() + deadline_s
    # A caller's deadline caps every wait of the call, not only the time between chunks.
    timeout: Any = httpx.USE_CLIENT_DEFAULT
    if capped:
        limits = client.timeout.as_dict()
        timeout = httpx.Timeout(
            **{k: deadline_s if v is None else min(v, deadline_s) for k, v in limits.items()}
        )
    with client.stream("POST", url, json=body, timeout=timeout) as response:
        chunks: list[bytes] = []
        for chunk in response.iter_bytes():
            chunks.append(chunk)
            if time.monotonic() > deadline:
                raise _DeadlineExceeded(f"no complete response within {deadline_s:g} s")
        return response.status_code, b"".join(chunks), response.headers


def post_json(
    client: httpx.Client,
    url: str,
    body: dict[str, Any],
    policy: RetryPolicy,
    *,
    permanent: Callable[[int, bytes], bool] | None = None,
    until: float | None = None,
) -> dict[str, Any]:
    """POST `body` as JSON and return the decoded JSON object of a 2xx answer.

    `permanent(status, body)` marks error answers that no retry can fix even though their
    status says otherwise (a server that reports an unsupported option as a 500). `until`
    (``time.monotonic()`` seconds) is the caller's deadline: no attempt starts or waits past it.

    Raises:
        RequestFailed: on a non-retryable answer, or when every attempt failed.
    """
    attempts = policy.max_retries + 1
    reason = ""
    retry_after: float | None = None
    late = False
    for attempt in range(attempts):
        if attempt:
            wait = policy.delay(attempt, retry_after)
            logger.info(
                "POST %s failed (%s); retry %d/%d in %.2f s",
                url,
                reason,
                attempt,
                policy.max_retries,
                wait,
            )
            if until is not None and time.monotonic() + wait >= until:
                late = True
                break
            time.sleep(wait)
        retry_after = None
        attempt_s = policy.deadline_s
        if until is not None:
            attempt_s = min(attempt_s, until - time.monotonic())
            if attempt_s <= 0:
                late = True
                break
        try:
            status, payload, headers = _post_once(
                client, url, body, attempt_s, capped=until is not None
            )
        except (httpx.TransportError, _DeadlineExceeded) as exc:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            continue
        if status >= 400 and permanent is not None and permanent(status, payload):
            raise RequestFailed(f"HTTP {status}: {_excerpt(payload)}", retryable=False)
        if status >= 500 or status in _RETRIED_CLIENT_ERRORS:
            reason = f"HTTP {status}: {_excerpt(payload)}"
            retry_after = _retry_after(headers)
            continue
        if status >= 400:
            raise RequestFailed(f"HTTP {status}: {_excerpt(payload)}", retryable=False)
        try:
            decoded = json.loads(payload)
        except ValueError:
            raise RequestFailed(
                f"HTTP {status} with a body that is not JSON: {_excerpt(payload)}",
                retryable=False,
            ) from None
        if not isinstance(decoded, dict):
            raise RequestFailed(
                f"HTTP {status} with a JSON body that is not an object", retryable=False
            )
        return decoded
    if late or (until is not None and time.monotonic() >= until):
        raise RequestFailed(
            f"the caller's deadline passed ({reason or 'not sent'})", retryable=False
        )
    raise RequestFailed(f"{reason} (after {attempts} attempts)", retryable=True)
