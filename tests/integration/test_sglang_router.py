"""The real sglang-router (pinned, .ci/install-sglang-conformance.sh) on loopback in front of two
instances of our SGLang wire double, with our server backend sending through it.

What sglang-router 0.3.2 changes, pinned here so a new release that changes it shows: it refuses
batched ``text`` lists (422, "text: invalid type: sequence, expected a string"), drops
``routed_dp_rank``, and passes ``token_ids_logprob``, ``top_logprobs_num``, ``n`` and the grammar.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from judge.backends.sglang.server import SGLangServerBackend
from judge.runner.judge import Judge
from judge.types import Criterion, Rubric, Sample
from tests.doubles.sglang import FakeSGLangServer, SGLangDouble, make_tokenizer
from tests.peers import skip_or_fail

pytestmark = pytest.mark.sglang_conformance

ROUTER_VERSION = "0.3.2"
RUBRIC = Rubric(
    name="capital",
    criteria=(
        Criterion(id="correct", text="The answer names the right city."),
        Criterion(id="short", text="The answer is one sentence."),
        Criterion(id="polite", text="The answer is polite."),
    ),
)
CITIES = ["Paris", "Lyon", "Nice", "Lille", "Brest", "Dijon"]


def verdicts(prompt: str) -> tuple[str, dict[str, float]]:
    """P(yes) tells which sample the answer came from, so any reordering shows."""
    response = prompt.rsplit("<response>", 1)[-1]
    index = next((i for i, city in enumerate(CITIES) if city in response), 0)
    p_yes = 0.05 + 0.15 * index
    return "checked", {"yes": p_yes, "no": 1 - p_yes}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def router(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, list[FakeSGLangServer]]]:
    """One router process for the module (it takes seconds to start)."""
    tmp_path = tmp_path_factory.mktemp("router")
    if importlib.util.find_spec("sglang_router") is None:
        reason = "sglang-router is not installed: run .ci/install-sglang-conformance.sh"
        skip_or_fail(reason)
    assert importlib.metadata.version("sglang-router") == ROUTER_VERSION
    tokenizer = make_tokenizer()
    workers = [FakeSGLangServer(SGLangDouble(tokenizer, verdicts=verdicts)) for _ in range(2)]
    for worker in workers:
        worker.__enter__()
    port = free_port()
    log = (tmp_path / "router.log").open("w")
    command = [sys.executable, "-m", "sglang_router.launch_router", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--policy", "round_robin", "--worker-urls"]
    command += [worker.url for worker in workers]
    router = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert router.poll() is None, (tmp_path / "router.log").read_text()[-2000:]
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "sglang-router did not become healthy in 30 s"
            time.sleep(0.2)
        yield url, workers
    finally:
        router.terminate()
        router.wait(10)
        log.close()
        for worker in workers:
            worker.__exit__(None, None, None)


@pytest.fixture
def routed(
    router: tuple[str, list[FakeSGLangServer]],
) -> tuple[str, list[FakeSGLangServer]]:
    """The router, its workers' records cleared for this test."""
    for worker in router[1]:
        worker.double.calls.clear()
    return router


def forwarded(workers: list[FakeSGLangServer]) -> list[dict[str, Any]]:
    return [call for worker in workers for call in worker.double.calls]


def test_router_refuses_our_batched_body(routed: tuple[str, list[FakeSGLangServer]]) -> None:
    url, _ = routed
    body = {"text": ["a", "b"], "sampling_params": [{"max_new_tokens": 2}] * 2}
    answer = httpx.post(f"{url}/generate", json=body, timeout=10)
    assert answer.status_code == 422
    assert "expected a string" in answer.text


def test_judging_through_the_router_gives_ordered_results(
    routed: tuple[str, list[FakeSGLangServer]],
) -> None:
    url, workers = routed
    samples = [Sample(id=c, prompt="Capital of France?", response=f"{c}.") for c in CITIES]
    with SGLangServerBackend(
        url, model="test-org/test-model", tokenizer_object=workers[0].double.tokenizer, dp_size=2
    ) as backend:
        judgments = Judge(backend, RUBRIC).score(samples)
    assert [j.error for j in judgments] == [None] * len(CITIES)
    for index, judgment in enumerate(judgments):
        assert [v.p_yes for v in judgment.verdicts] == pytest.approx([0.05 + 0.15 * index] * 3)
    calls = forwarded(workers)
    assert all(isinstance(call["text"], str) for call in calls)  # one request per call
    assert all(worker.double.calls for worker in workers)  # both workers served
    verdict_calls = [call for call in calls if call.get("return_logprob")]
    assert len(verdict_calls) == len(CITIES) * len(RUBRIC.criteria)
    assert all(call["token_ids_logprob"] for call in verdict_calls)  # passed through
    assert all(call["top_logprobs_num"] == 20 for call in verdict_calls)
    assert not any("routed_dp_rank" in call for call in calls)  # the router drops it


def test_self_consistency_draws_through_the_router(
    routed: tuple[str, list[FakeSGLangServer]],
) -> None:
    url, workers = routed
    samples = [Sample(id="p", prompt="Capital of France?", response="Paris.")]
    with SGLangServerBackend(
        url, model="test-org/test-model", tokenizer_object=workers[0].double.tokenizer
    ) as backend:
        [judgment] = Judge(backend, RUBRIC, samples=3, seed=11).score(samples)
    assert judgment.error is None
    seeds = sorted(
        params["sampling_seed"]
        for call in forwarded(workers)
        if call.get("return_logprob")
        for params in [call["sampling_params"]]
    )
    assert seeds == sorted([11, 12, 13] * len(RUBRIC.criteria))
