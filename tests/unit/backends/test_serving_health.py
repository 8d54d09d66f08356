"""Probing the servers behind a backend: a single SGLang server, a router's worker list, the
reward server's /health. The real router is in tests/integration/test_sglang_router_faults.py."""

from __future__ import annotations

import httpx

from judge.backends.base import ServingHealth, WorkerHealth
from judge.backends.sglang.router import listed_workers, serving_health
from judge.reward import RubricReward
from tests.doubles.reward import SlowScriptedBackend
from tests.doubles.sglang import FakeSGLangServer, SGLangDouble, make_tokenizer
from tests.loopback import LOOPBACK_TIMEOUT
from tests.unit.reward.test_serve import running


def _free_url() -> str:
    with FakeSGLangServer(SGLangDouble(make_tokenizer())) as server:
        return server.url  # closed on exit: nothing listens there now


def test_a_single_server_is_one_healthy_server_with_no_workers():
    with FakeSGLangServer(SGLangDouble(make_tokenizer())) as server:
        health = serving_health(server.url)
    assert health == ServingHealth(url=server.url, healthy=True, detail="ok")


def test_an_unreachable_or_unhealthy_server_says_why():
    gone = serving_health(_free_url(), timeout=1.0)
    assert not gone.healthy and gone.detail == "server unreachable (ConnectError)"
    double = SGLangDouble(make_tokenizer())
    with FakeSGLangServer(double, health_status=503) as server:
        sick = serving_health(server.url)
    assert not sick.healthy and sick.detail == "server HTTP 503 on /health"


def test_the_router_s_worker_list_is_read_and_its_own_verdict_kept():
    body = {
        "workers": [
            {"url": "http://a:1", "is_healthy": True},
            {"url": "http://b:2", "is_healthy": False},
            {"url": "http://c:3"},  # no flag: the probe decides
            {"id": "no url"},
        ]
    }
    assert listed_workers(body) == [
        ("http://a:1", True),
        ("http://b:2", False),
        ("http://c:3", True),
    ]
    assert listed_workers({"detail": "Not Found"}) is None
    assert listed_workers(["http://a:1"]) is None


class ServedScriptedBackend(SlowScriptedBackend):
    """A scripted backend that reports one lost worker of two."""

    def serving_health(self) -> ServingHealth:
        workers = (
            WorkerHealth(url="http://w1", healthy=True, detail="ok"),
            WorkerHealth(url="http://w2", healthy=False, detail="unreachable (ConnectError)"),
        )
        return ServingHealth(url="http://router", healthy=False, detail="lost w2", workers=workers)


def test_reward_health_reports_the_backend_s_servers_and_is_degraded_while_one_is_lost():
    with running(RubricReward("helpfulness", ServedScriptedBackend(0.0))) as url:
        health = httpx.get(f"{url}/health", timeout=LOOPBACK_TIMEOUT).json()
    assert health["status"] == "degraded"
    assert health["backend"]["workers"][1] == {
        "url": "http://w2",
        "healthy": False,
        "detail": "unreachable (ConnectError)",
    }
    with running(RubricReward("helpfulness", SlowScriptedBackend(0.0))) as url:
        plain = httpx.get(f"{url}/health", timeout=LOOPBACK_TIMEOUT).json()
    assert plain["status"] == "ok" and plain["backend"] is None
