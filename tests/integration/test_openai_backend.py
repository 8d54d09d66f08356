"""The OpenAI-compatible backend against real servers on loopback.

- llama-cpp-python's server with the embedded SmolLM2-135M GGUF (tests marked `slow`; skipped
  with the reason when llama-cpp-python is not installed: .ci/install-llama-server.sh).
- A fault injector (tests/integration/fault_server.py) for 500s, stalls, trickles and drops.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest

from judge.backends.openai import OpenAIBackend
from judge.errors import BackendUnavailableError
from judge.runner.formats import VERDICT_CHOICES, VERDICT_MARKER, verdict_schema
from judge.runner.judge import Judge
from judge.types import (
    ChoiceProbe,
    Constraint,
    Criterion,
    ErrorKind,
    GenerationRequest,
    Message,
    Rubric,
    Sample,
    SamplingParams,
)
from tests.integration.fault_server import FaultServer
from tests.integration.llama_server import (
    LlamaServer,
    free_port,
    llama_server,
    missing_requirement,
    start_llama_server,
)

__all__ = ["llama_server"]  # the fixture, imported to be found by pytest

PROBE = ChoiceProbe(marker=VERDICT_MARKER, choices=VERDICT_CHOICES)
CASES = [
    ("What is 2 + 2?", "2 + 2 = 4.", "The response gives the correct number."),
    ("What is 2 + 2?", "2 + 2 = 5.", "The response gives the correct number."),
    ("Name the capital of France.", "Paris is the capital of France.", "The answer is Paris."),
    ("Name the capital of France.", "I like turtles.", "The answer is Paris."),
]


def _verdict_request(index: int, question: str, answer: str, criterion: str) -> GenerationRequest:
    user = (
        f"Question: {question}\nResponse: {answer}\nCriterion: {criterion}\n"
        'Does the response satisfy the criterion? Reply with JSON only: {"rationale": "<short>", '
        '"verdict": "yes" or "no"}'
    )
    return GenerationRequest(
        id=f"r{index}",
        messages=(
            Message(role="system", content="You are a strict evaluator."),
            Message(role="user", content=user),
        ),
        sampling=SamplingParams(max_new_tokens=60, temperature=0.0, seed=0),
        constraint=Constraint(kind="json_schema", value=verdict_schema(60)),
        probe=PROBE,
        prefix_group=question,
    )


@pytest.fixture(scope="module")
def backend(llama_server: LlamaServer) -> Iterator[OpenAIBackend]:
    with OpenAIBackend(base_url=llama_server.base_url, max_concurrency=4) as backend:
        yield backend


@pytest.mark.slow
def test_server_dialect_and_capabilities(backend: OpenAIBackend, llama_server: LlamaServer) -> None:
    assert backend.model_id == llama_server.model
    assert backend.flavor == "llama.cpp"
    capabilities = backend.capabilities
    assert capabilities.structured_output and capabilities.constraint_kinds == ("json_schema",)
    assert capabilities.choice_probabilities is True


@pytest.mark.slow
def test_verdict_format_is_structured_and_carries_choice_probs(backend: OpenAIBackend) -> None:
    requests = [_verdict_request(i, *case) for i, case in enumerate(CASES)]
    generations = backend.generate(requests)
    assert [g.request_id for g in generations] == [r.id for r in requests]
    for generation in generations:
        assert generation.error is None, generation.error
        output = json.loads(generation.text)
        assert set(output) == {"rationale", "verdict"}
        assert output["verdict"] in VERDICT_CHOICES
        assert len(output["rationale"]) <= 60
        probs = generation.choice_probs
        assert probs is not None and set(probs) == set(VERDICT_CHOICES), generation.text
        assert sum(probs.values()) == pytest.approx(1.0)
        assert all(0.0 < p < 1.0 for p in probs.values())
        assert generation.probs_source == "top_logprobs"
        # Greedy decoding under the grammar picks the likelier of the two allowed tokens.
        assert output["verdict"] == max(probs, key=lambda choice: probs[choice])
        assert generation.usage.prompt_tokens > 40 and generation.usage.completion_tokens > 5


@pytest.mark.slow
def test_judge_scores_a_sample_through_the_openai_backend(backend: OpenAIBackend) -> None:
    rubric = Rubric(
        name="arithmetic",
        criteria=(
            Criterion(id="correct", text="The response states the correct sum.", kind="hard_rule"),
            Criterion(id="concise", text="The response is one short sentence."),
        ),
    )
    [judgment] = Judge(backend, rubric, max_rationale_chars=60).score(
        [Sample(id="s1", prompt="What is 2 + 2?", response="2 + 2 = 4.")]
    )
    assert judgment.error is None, judgment.error
    assert judgment.score is not None and judgment.confidence is not None
    assert [v.criterion_id for v in judgment.verdicts] == ["correct", "concise"]
    assert all(v.p_yes is not None for v in judgment.verdicts)
    assert judgment.model == backend.model_id
    assert judgment.usage.prompt_tokens > 0


@pytest.mark.slow
def test_concurrent_batch_keeps_order(llama_server: LlamaServer) -> None:
    # Prompts of growing length: the prompt token counts reveal which answer is which.
    requests = [
        GenerationRequest(
            id=f"c{i}",
            messages=(Message(role="user", content="Say hi. " + "hi " * (10 * i)),),
            sampling=SamplingParams(max_new_tokens=4),
        )
        for i in range(6)
    ]
    with OpenAIBackend(base_url=llama_server.base_url, max_concurrency=3) as backend:
        generations = backend.generate(requests)
    assert [g.request_id for g in generations] == [r.id for r in requests]
    assert all(g.error is None for g in generations)
    prompt_tokens = [g.usage.prompt_tokens for g in generations]
    assert prompt_tokens == sorted(prompt_tokens) and len(set(prompt_tokens)) == 6


@pytest.mark.slow
def test_start_up_fails_clearly_for_a_model_not_served(llama_server: LlamaServer) -> None:
    with pytest.raises(BackendUnavailableError) as caught:
        OpenAIBackend(base_url=llama_server.base_url, model="gpt-4o")
    assert llama_server.base_url in str(caught.value)
    assert caught.value.hint is not None and llama_server.model in caught.value.hint


@pytest.mark.slow
def test_llama_cpp_python_refuses_the_json_schema_response_format(
    llama_server: LlamaServer,
) -> None:
    # Why the llama.cpp flavor sends `json_object` + `schema`: `json_schema` is a 500 there.
    with OpenAIBackend(
        base_url=llama_server.base_url, json_schema_style="json_schema", max_retries=0
    ) as backend:
        [generation] = backend.generate([_verdict_request(0, *CASES[0])])
    assert generation.error is not None and "HTTP 500" in generation.error


@pytest.mark.slow
@pytest.mark.llama_server
def test_server_killed_mid_batch_fails_the_rest_without_hanging() -> None:
    reason = missing_requirement()
    if reason is not None:
        pytest.skip(reason)
    server = start_llama_server()
    try:
        requests = [
            GenerationRequest(
                id=f"k{i}",
                messages=(Message(role="user", content=f"Count from {i} to {i + 40}."),),
                sampling=SamplingParams(max_new_tokens=48),
            )
            for i in range(6)
        ]
        backend = OpenAIBackend(
            base_url=server.base_url, max_concurrency=2, max_retries=2, backoff_base_s=0.1
        )
        killer = threading.Timer(1.5, server.kill)
        started = time.monotonic()
        killer.start()
        try:
            generations = backend.generate(requests)
        finally:
            killer.cancel()
            backend.close()
        elapsed = time.monotonic() - started
    finally:
        server.stop()
        server.log_path.unlink(missing_ok=True)
    assert [g.request_id for g in generations] == [r.id for r in requests]
    failed = [g for g in generations if g.error is not None]
    assert failed, "the server was killed, yet every request succeeded"
    assert failed[-1].request_id == "k5"
    for generation in failed:
        assert generation.finish_reason == "error"
        assert "after 3 attempts" in (generation.error or "")
    assert elapsed < 30


def test_start_up_fails_clearly_when_nothing_listens() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError, match="is unreachable") as caught:
        OpenAIBackend(base_url=url)
    assert url in str(caught.value)
    assert time.monotonic() - started < 10


def _fault_backend(server: FaultServer, **options: object) -> OpenAIBackend:
    settings: dict[str, object] = {
        "base_url": server.base_url,
        "check_logprobs": False,
        "max_retries": 2,
        "backoff_base_s": 0.05,
        "read_timeout_s": 0.5,
        "request_timeout_s": 1.0,
    }
    settings.update(options)
    return OpenAIBackend(**settings)


def _one_request() -> list[GenerationRequest]:
    return [GenerationRequest(id="f0", messages=(Message(role="user", content="hi"),))]


def test_500s_are_retried_then_succeed() -> None:
    with FaultServer(["500", "500", "ok"]) as server, _fault_backend(server) as backend:
        [generation] = backend.generate(_one_request())
        assert server.calls == 3
    assert generation.error is None
    assert json.loads(generation.text)["verdict"] == "yes"


@pytest.mark.parametrize(
    ("behaviour", "message"),
    [
        ("500", 'HTTP 500: {"error": {"message": "injected failure"}}'),
        ("stall", "ReadTimeout"),
        ("trickle", "no complete response within 1 s"),
        ("drop", "RemoteProtocolError"),
    ],
)
def test_persistent_fault_becomes_a_clear_error_without_hanging(
    behaviour: str, message: str
) -> None:
    with FaultServer([behaviour]) as server, _fault_backend(server) as backend:
        started = time.monotonic()
        generations = backend.generate(
            _one_request() * 1
            + [GenerationRequest(id="f1", messages=(Message(role="user", content="again"),))]
        )
        elapsed = time.monotonic() - started
        assert server.calls == 6  # 2 requests x (1 + 2 retries)
    for generation in generations:
        assert generation.finish_reason == "error"
        assert message in (generation.error or ""), generation.error
        assert "after 3 attempts" in (generation.error or "")
        assert server.base_url in (generation.error or "")
    # 3 attempts of at most ~1 s each plus short backoffs, the two requests concurrently.
    assert elapsed < 6


def test_a_request_past_its_deadline_is_not_sent_and_a_stalled_one_stops_at_it() -> None:
    message = (Message(role="user", content="hi"),)
    with (
        FaultServer(["stall"]) as server,
        _fault_backend(server, read_timeout_s=30.0, request_timeout_s=60.0) as backend,
    ):
        started = time.monotonic()
        late = GenerationRequest(id="late", messages=message, deadline=started - 1)
        soon = GenerationRequest(id="soon", messages=message, deadline=started + 0.5)
        generations = backend.generate([late, soon])
        elapsed = time.monotonic() - started
        assert server.calls == 1, "the request already past its deadline was never sent"
    assert [g.error_kind for g in generations] == [ErrorKind.TIMEOUT, ErrorKind.TIMEOUT]
    assert "deadline" in (generations[0].error or "") and "deadline" in (generations[1].error or "")
    # The stall would last 30 s (read timeout) x 3 attempts without the deadline.
    assert elapsed < 5, elapsed
