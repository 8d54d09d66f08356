"""`judge serve` under overload, on loopback: a passed deadline is a 503, never a reward; work
whose requester is gone is not started; /health says so; an over-large body is a 413."""

import asyncio
import threading
import time

import httpx

from judge.reward import RubricReward
from tests.doubles.reward import SlowScriptedBackend
from tests.loopback import LOOPBACK_TIMEOUT, SERVER_START_S
from tests.unit.reward.test_serve import _openrlhf_body, running


class Gated(SlowScriptedBackend):
    """Holds every batch until released; counts the requests it judged."""

    def __init__(self) -> None:
        super().__init__(0.0)
        self.release = threading.Event()
        self.judged_requests = 0

    def generate(self, requests):
        self.release.wait(LOOPBACK_TIMEOUT.read)
        self.judged_requests += len(requests)
        return super().generate(requests)


async def _until(condition) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while not condition():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)


def test_a_passed_deadline_is_a_503_not_a_zero_reward_and_queued_work_is_dropped():
    backend = Gated()
    reward = RubricReward("helpfulness", backend, on_error=0.0, timeout_s=0.5, max_wait_s=0.0)
    with running(reward) as url:

        async def scenario():
            worker = reward.worker()
            async with httpx.AsyncClient(timeout=LOOPBACK_TIMEOUT) as client:
                post = client.post
                first = asyncio.create_task(post(f"{url}/get_reward", json=_openrlhf_body(0)))
                await _until(lambda: worker.stats.batches == 1)  # running, held by the gate
                # queued behind it; its deadline passes while it waits
                second = await post(f"{url}/get_reward", json=_openrlhf_body(1))
                health = (await client.get(f"{url}/health")).json()
                first_answer = await first
                batches_before_release = worker.stats.batches
                backend.release.set()
                await _until(lambda: worker.queued_items == 0)
                later = await post(f"{url}/get_reward", json=_openrlhf_body(2))
                batches = (batches_before_release, worker.stats.batches)
                return first_answer, second, health, batches, later

        first, second, health, batches, later = asyncio.run(scenario())
    for answer in (first, second):
        assert answer.status_code == 503 and answer.headers["retry-after"] == "1"
        assert "deadline" in answer.json()["detail"] and "rewards" not in answer.json()
    assert health["status"] == "degraded" and health["timeouts"] >= 1
    assert {"queued", "max_queue", "p95_latency_s", "refused"} <= set(health)
    # the second request's item was cancelled before it started: only two batches ever ran
    assert batches == (1, 2) and later.status_code == 200
    assert later.json()["extra_logs"]["judge_failed"] == [0.0]


def test_health_reports_overloaded_after_a_refusal_and_p95_after_answers():
    backend = Gated()
    backend.release.set()
    reward = RubricReward("helpfulness", backend, on_error=0.0, max_queue=1, max_wait_s=0.0)
    with running(reward) as url, httpx.Client(timeout=LOOPBACK_TIMEOUT) as client:
        assert client.get(f"{url}/health").json()["status"] == "ok"
        for i in range(3):
            assert client.post(f"{url}/get_reward", json=_openrlhf_body(i)).status_code == 200
        health = client.get(f"{url}/health").json()
        assert health["status"] == "ok" and health["p95_latency_s"] > 0
        backend.release.clear()

        async def flood():
            async with httpx.AsyncClient(timeout=LOOPBACK_TIMEOUT) as aclient:
                worker = reward.worker()
                post = aclient.post
                first = asyncio.create_task(post(f"{url}/get_reward", json=_openrlhf_body(0)))
                await _until(lambda: worker.stats.batches == 4)
                second = asyncio.create_task(post(f"{url}/get_reward", json=_openrlhf_body(1)))
                await _until(lambda: worker.queued_items == 1)
                third = await post(f"{url}/get_reward", json=_openrlhf_body(2))
                during = (await aclient.get(f"{url}/health")).json()
                backend.release.set()
                return third, during, await first, await second

        third, during, *rest = asyncio.run(flood())
    assert third.status_code == 503
    assert during["status"] == "overloaded" and during["refused"] == 1 and during["queued"] == 1
    assert [r.status_code for r in rest] == [200, 200]


def test_a_body_over_the_limit_gets_413_before_parsing():
    backend = Gated()
    backend.release.set()
    reward = RubricReward("helpfulness", backend, on_error=0.0)
    with (
        running(reward, max_body_bytes=10_000) as url,
        httpx.Client(timeout=LOOPBACK_TIMEOUT) as client,
    ):
        big = _openrlhf_body(0)
        big["query"][0] += "x" * 20_000
        declared = client.post(f"{url}/get_reward", json=big)
        # no Content-Length: the limit holds while the body streams in
        chunks = (b'{"query": ["' + b"x" * 4_000 + b'"' for _ in range(5))
        streamed = client.post(f"{url}/get_reward", content=chunks)
        small = client.post(f"{url}/get_reward", json=_openrlhf_body(1))
        judged_items = reward.worker().stats.items
    assert declared.status_code == 413 and "10000 bytes" in declared.json()["detail"]
    assert streamed.status_code == 413
    assert small.status_code == 200
    assert judged_items == 1, "refused bodies never reached the judge"
