"""`judge doctor`'s checks: each backend is reported usable or not, with a one-line reason."""

from __future__ import annotations

import importlib.util
import socket

import pytest

from judge.backends.doctor import diagnose
from tests.doubles.sglang import FakeSGLangServer, SGLangDouble, make_tokenizer


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_every_backend_is_reported_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("SGLANG_URL", raising=False)
    down = f"http://127.0.0.1:{_free_port()}"
    statuses = diagnose(sglang_url=down, timeout=1.0)
    assert [s.name for s in statuses] == ["transformers", "sglang", "sglang-server", "openai"]
    assert all(s.detail and "\n" not in s.detail for s in statuses)
    server = statuses[2]
    assert server.status == "unavailable" and f"unreachable at {down}" in server.detail
    assert statuses[3].status == "unavailable" and "OPENAI_API_KEY" in statuses[3].detail


@pytest.mark.skipif(importlib.util.find_spec("sglang") is not None, reason="sglang is installed")
def test_sglang_on_a_cpu_machine_says_why() -> None:
    sglang = diagnose(sglang_url="http://127.0.0.1:9", timeout=0.5)[1]
    assert not sglang.available
    assert "sglang is not installed" in sglang.detail
    assert sglang.hint is not None and "judge[sglang]" in sglang.hint


def test_running_servers_are_reported_with_their_model() -> None:
    with FakeSGLangServer(SGLangDouble(make_tokenizer())) as running:
        statuses = diagnose(sglang_url=running.url, openai_url=f"{running.url}/v1", timeout=30.0)
    assert statuses[2].available and "serves test-org/test-model" in statuses[2].detail
    assert statuses[3].available and "test-org/test-model" in statuses[3].detail


def test_an_unhealthy_server_is_not_usable() -> None:
    with FakeSGLangServer(SGLangDouble(make_tokenizer()), health_status=503) as running:
        server = diagnose(sglang_url=running.url, timeout=30.0)[2]
    assert not server.available and "HTTP 503 on /health" in server.detail
