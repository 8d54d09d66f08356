"""What `judge serve` does under overload: a body-size limit, latency and timeout accounting.

A trainer reads every number the server returns as a reward, so overload must be visible: a
request whose deadline passed gets HTTP 503 with ``Retry-After`` (not a reward), `/health` says
``degraded`` or ``overloaded`` with the queue depth, timeouts and p95 latency, and a body over the
limit gets 413 before it is read into memory or parsed.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
"""4 MiB: an OpenRLHF request of one sample is a few KB; a 20 MB body is a mistake or an attack."""

RECENT_S = 60.0
"""A timeout or refusal within this many seconds makes `/health` report it."""


class BodyLimit:
    """ASGI middleware: 413 for a body over `max_bytes`, from Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse early on the declared length; count the bytes of a chunked body as they come."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        received = 0
        started = refused = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes and not refused:
                    # Answer now and tell the app the client left, so it stops reading.
                    refused = True
                    if not started:
                        await self._refuse(send)
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 is the answer
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except Exception:
            if not refused:
                raise

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {"detail": f"request body over {self.max_bytes} bytes (--max-body-bytes)"}
        ).encode()
        headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class ServerHealth:
    """Latencies of answered requests, timeouts and refusals, summarised for `/health`."""

    def __init__(self, window: int = 1000) -> None:
        self._latencies: deque[float] = deque(maxlen=window)
        self._lock = threading.Lock()
        self.timeouts = 0
        self.refused = 0
        self._last_timeout = -float("inf")
        self._last_refusal = -float("inf")

    def answered(self, seconds: float) -> None:
        """Record the latency of a request answered with rewards."""
        with self._lock:
            self._latencies.append(seconds)

    def timed_out(self) -> None:
        """Record a request whose deadline passed (answered 503)."""
        with self._lock:
            self.timeouts += 1
            self._last_timeout = time.monotonic()

    def refusal(self) -> None:
        """Record a request refused because the queue was full (answered 503)."""
        with self._lock:
            self.refused += 1
            self._last_refusal = time.monotonic()

    def p95_s(self) -> float | None:
        """The 95th percentile latency of the last answered requests (None before the first)."""
        with self._lock:
            latencies = sorted(self._latencies)
        if not latencies:
            return None
        return latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]

    def status(self, queued: int, max_queue: int) -> str:
        """``overloaded`` (queue 90% full, a refusal lately), ``degraded`` (a timeout lately)."""
        now = time.monotonic()
        with self._lock:
            refused_recently = now - self._last_refusal < RECENT_S
            timed_out_recently = now - self._last_timeout < RECENT_S
        if refused_recently or queued >= 0.9 * max_queue:
            return "overloaded"
        if timed_out_recently:
            return "degraded"
        return "ok"
