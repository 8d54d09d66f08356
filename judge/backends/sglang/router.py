"""The workers behind sglang-router, as it lists them and as they answer now.

sglang-router (0.3.2) lists its workers at ``GET /workers`` (``{"workers": [{"url", "is_healthy",
...}]}``). Its own flag is not enough: it re-checks a worker only every health-check interval
(60 s by default), and a worker killed mid-batch is still listed as healthy meanwhile, while the
router quietly resends that worker's requests to the others. So each listed worker's ``/health``
is probed directly: a worker is healthy when the router says so and it answers 200. A single
SGLang server (no ``/workers``) is one server with no workers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from judge.backends.base import ServingHealth, WorkerHealth


def _get(client: httpx.Client, url: str, timeout: float) -> tuple[int | None, Any, str]:
    """(status, JSON body or None, why not) of a GET."""
    try:
        response = client.get(url, timeout=timeout)
    except httpx.HTTPError as exc:
        return None, None, f"unreachable ({type(exc).__name__})"
    try:
        body = response.json()
    except ValueError:
        body = None
    return response.status_code, body, f"HTTP {response.status_code} on /health"


def listed_workers(body: Any) -> list[tuple[str, bool]] | None:
    """(url, healthy as the router says) of each worker in a ``/workers`` answer, or None."""
    if not isinstance(body, dict) or not isinstance(body.get("workers"), list):
        return None
    found = []
    for worker in body["workers"]:
        if isinstance(worker, dict) and isinstance(worker.get("url"), str):
            found.append((worker["url"], worker.get("is_healthy") is not False))
    return found


def _worker(client: httpx.Client, url: str, router_says: bool, timeout: float) -> WorkerHealth:
    status, _, reason = _get(client, url.rstrip("/") + "/health", timeout)
    if status != 200:
        return WorkerHealth(url=url, healthy=False, detail=reason)
    if not router_says:
        return WorkerHealth(url=url, healthy=False, detail="answers, but the router marks it down")
    return WorkerHealth(url=url, healthy=True, detail="ok")


def serving_health(
    base_url: str, timeout: float = 2.0, headers: Mapping[str, str] | None = None
) -> ServingHealth:
    """Probe a server, or a router and every worker it lists (`headers`: e.g. a bearer token)."""
    base = base_url.rstrip("/")
    with httpx.Client(timeout=timeout, headers=dict(headers or {})) as client:
        status, _, reason = _get(client, base + "/health", timeout)
        if status != 200:
            return ServingHealth(url=base, healthy=False, detail=f"server {reason}")
        code, body, _ = _get(client, base + "/workers", timeout)
        listed = listed_workers(body) if code == 200 else None
        if listed is None:
            return ServingHealth(url=base, healthy=True, detail="ok")
        workers = tuple(_worker(client, url, says, timeout) for url, says in listed)
    lost = [w for w in workers if not w.healthy]
    answering = len(workers) - len(lost)
    detail = f"router: {answering} of {len(workers)} workers answer"
    if lost:
        detail += "; lost: " + ", ".join(f"{w.url} ({w.detail})" for w in lost)
    return ServingHealth(
        url=base, healthy=not lost and bool(workers), detail=detail, workers=workers
    )
