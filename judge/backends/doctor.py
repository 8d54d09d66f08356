"""`judge doctor`: which backends work on this machine, and for each that does not, why.

Every check is cheap and loads no model: package metadata, ``torch.cuda.is_available()``, and
a short HTTP probe of the servers named (only loopback unless a URL is given).
"""

from __future__ import annotations

import importlib.util
import os
from typing import Literal

import httpx
from pydantic import BaseModel, ConfigDict

from judge.backends.sglang.engine import INSTALL_HINT, engine_unavailable_reason
from judge.backends.sglang.router import serving_health
from judge.backends.sglang.server import DEFAULT_URL as SGLANG_DEFAULT_URL
from judge.errors import JudgeError

Status = Literal["ok", "unavailable", "not checked"]
OPENAI_DEFAULT_URL = "https://api.openai.com/v1"


class BackendStatus(BaseModel):
    """One backend's verdict: usable here or not, with a one-line reason."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    status: Status
    detail: str
    hint: str | None = None

    @property
    def available(self) -> bool:
        """True when the backend can run here now."""
        return self.status == "ok"


def _transformers() -> BackendStatus:
    missing = [name for name in ("torch", "transformers") if importlib.util.find_spec(name) is None]
    if missing:
        return BackendStatus(
            name="transformers",
            status="unavailable",
            detail=f"{' and '.join(missing)} not installed",
            hint="pip install judge",
        )
    from judge.backends.transformers.embedded import embedded_gguf_path, pick_dtype

    # What `--dtype auto` picks; verdict probabilities are float32 in every case.
    compute = str(pick_dtype("auto")).removeprefix("torch.")
    invariant = "batch-invariant" if compute == "float32" else "not batch-invariant"
    precision = f"compute {compute} ({invariant}), probabilities float32"
    try:
        path = embedded_gguf_path()
    except JudgeError as exc:
        return BackendStatus(
            name="transformers",
            status="ok",
            detail=f"needs --model <local model>: the embedded one is missing ({exc.message}); "
            f"{precision}",
            hint=exc.hint,
        )
    return BackendStatus(
        name="transformers", status="ok", detail=f"embedded model at {path} (CPU, {precision})"
    )


def _sglang() -> BackendStatus:
    reason = engine_unavailable_reason()
    if reason is not None:
        return BackendStatus(name="sglang", status="unavailable", detail=reason, hint=INSTALL_HINT)
    import torch

    device = torch.cuda.get_device_name(0)
    return BackendStatus(name="sglang", status="ok", detail=f"sglang installed, CUDA GPU: {device}")


def _probe(
    url: str, paths: tuple[str, ...], timeout: float
) -> tuple[int | None, str, dict[str, object]]:
    """GET the first path that answers; (status, reason, JSON body if any)."""
    last = "no answer"
    for path in paths:
        try:
            response = httpx.get(url.rstrip("/") + path, timeout=timeout)
        except httpx.HTTPError as exc:
            return None, f"unreachable at {url} ({type(exc).__name__})", {}
        if response.status_code == 200:
            try:
                body = response.json()
            except ValueError:
                body = {}
            return 200, "", body if isinstance(body, dict) else {"data": body}
        last = f"HTTP {response.status_code} on {path}"
    return None, f"server at {url} answers {last}", {}


def _sglang_server(url: str | None, timeout: float) -> BackendStatus:
    target = url or os.environ.get("SGLANG_URL") or SGLANG_DEFAULT_URL
    status, reason, _ = _probe(target, ("/health",), timeout)
    if status is None:
        return BackendStatus(
            name="sglang-server",
            status="unavailable",
            detail=f"server {reason}" if reason.startswith("unreachable") else reason,
            hint="start one with `sglang serve --model-path MODEL`, then --base-url URL",
        )
    _, _, info = _probe(target, ("/model_info", "/get_model_info"), timeout)
    model = info.get("model_path", "an unnamed model")
    serving = serving_health(target, timeout)
    if not serving.workers:
        return BackendStatus(name="sglang-server", status="ok", detail=f"{target} serves {model}")
    # A router: the workers it lists, each probed (a lost one is still listed for a while).
    answering = any(worker.healthy for worker in serving.workers)
    return BackendStatus(
        name="sglang-server",
        status="ok" if answering else "unavailable",
        detail=f"{target} serves {model}; {serving.detail}",
        hint=None
        if serving.healthy
        else "restart the lost worker(s); the router sends their requests to the others",
    )


def _openai(url: str | None, timeout: float) -> BackendStatus:
    key_set = bool(os.environ.get("OPENAI_API_KEY"))
    if url is None:
        if not key_set:
            return BackendStatus(
                name="openai",
                status="unavailable",
                detail="no --base-url given and OPENAI_API_KEY is not set",
                hint="pass --base-url http://HOST:PORT/v1 (a local server) or set OPENAI_API_KEY",
            )
        return BackendStatus(
            name="openai",
            status="not checked",
            detail=f"OPENAI_API_KEY is set; {OPENAI_DEFAULT_URL} was not contacted",
        )
    status, reason, body = _probe(url, ("/models",), timeout)
    if status is None:
        return BackendStatus(
            name="openai",
            status="unavailable",
            detail=f"server {reason}" if reason.startswith("unreachable") else reason,
        )
    cards = body.get("data")
    models = [m.get("id") for m in cards if isinstance(m, dict)] if isinstance(cards, list) else []
    return BackendStatus(
        name="openai", status="ok", detail=f"{url} serves {', '.join(map(str, models)) or 'models'}"
    )


def diagnose(
    *,
    sglang_url: str | None = None,
    openai_url: str | None = None,
    timeout: float = 2.0,
) -> list[BackendStatus]:
    """Check every backend: transformers, sglang, sglang-server, openai (in that order)."""
    return [
        _transformers(),
        _sglang(),
        _sglang_server(sglang_url, timeout),
        _openai(openai_url, timeout),
    ]
