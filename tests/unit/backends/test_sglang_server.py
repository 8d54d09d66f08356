"""The SGLang server backend against a wire-format double of SGLang on 127.0.0.1.

The double (tests/unit/sglang_double.py) answers in SGLang's documented shapes, so these tests
check what the backend sends, in which calls, and how it recovers from faults; the real server
is exercised by tests/gpu/test_sglang_gpu.py.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from judge.backends import create_backend
from judge.backends.base import check_batch
from judge.backends.sglang.server import SGLangServerBackend, same_model
from judge.errors import BackendUnavailableError, ConfigError
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
from tests.doubles.sglang import MARKER, FakeSGLangServer, SGLangDouble, make_tokenizer

PROBE = ChoiceProbe(marker=MARKER, choices=("yes", "no"))
REGEX = Constraint(kind="regex", value=r'\{"rationale": "[^"\\\n]{0,50}", "verdict": "(yes|no)"\}')
SYSTEM = Message(role="system", content="You judge one criterion at a time. " * 6)
FAST = {"backoff_base": 0.01, "backoff_max": 0.02}


@pytest.fixture
def tokenizer() -> Any:
    return make_tokenizer()


@pytest.fixture
def server(tokenizer: Any) -> Iterator[FakeSGLangServer]:
    with FakeSGLangServer(SGLangDouble(tokenizer)) as running:
        yield running


def backend(server: FakeSGLangServer, tokenizer: Any, **options: Any) -> SGLangServerBackend:
    return SGLangServerBackend(
        server.url, model="test-org/test-model", tokenizer_object=tokenizer, **{**FAST, **options}
    )


def criterion_requests(
    samples: int = 2, criteria: int = 3, **sampling: Any
) -> list[GenerationRequest]:
    return [
        GenerationRequest(
            id=f"s{s}/c{c}",
            messages=(
                SYSTEM,
                Message(role="user", content=f"Response {s} is here. Criterion {c}?"),
            ),
            sampling=SamplingParams(max_new_tokens=64, **sampling),
            constraint=REGEX,
            probe=PROBE,
            prefix_group=f"s{s}",
        )
        for s in range(samples)
        for c in range(criteria)
    ]


def plain(rid: str, **sampling: Any) -> GenerationRequest:
    return GenerationRequest(
        id=rid,
        messages=(Message(role="user", content=f"say ok {rid}"),),
        sampling=SamplingParams(max_new_tokens=8, **sampling),
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- start-up ------------------------------------------------------------------------------


def test_start_up_reads_model_and_context(server: FakeSGLangServer, tokenizer: Any) -> None:
    judge_backend = backend(server, tokenizer)
    try:
        assert judge_backend.model_id == "test-org/test-model"
        assert judge_backend.capabilities.max_context_tokens == 4096
        assert (
            judge_backend.capabilities.prefix_cache and judge_backend.capabilities.structured_output
        )
        # what stands behind the served name keys fingerprints and the judgment cache
        assert judge_backend.capabilities.model_revision == (
            "model_path=test-org/test-model, weight_version=default"
        )
    finally:
        judge_backend.close()


def test_registry_creates_the_server_backend(server: FakeSGLangServer, tokenizer: Any) -> None:
    created = create_backend("sglang-server", base_url=server.url, tokenizer_object=tokenizer)
    try:
        assert isinstance(created, SGLangServerBackend)
        assert created.model_id == "test-org/test-model"
    finally:
        created.close()


def test_older_endpoints_and_routers_still_identify_the_model(tokenizer: Any) -> None:
    double = SGLangDouble(tokenizer)
    with FakeSGLangServer(double, missing=frozenset({"/model_info", "/v1/models"})) as running:
        judge_backend = backend(running, tokenizer)
        assert judge_backend.model_id == "test-org/test-model"
        assert judge_backend.capabilities.max_context_tokens is None
        judge_backend.close()


def test_wrong_model_is_refused(server: FakeSGLangServer, tokenizer: Any) -> None:
    with pytest.raises(BackendUnavailableError) as caught:
        SGLangServerBackend(server.url, model="other-org/other-model", tokenizer_object=tokenizer)
    message = str(caught.value)
    assert "serves 'test-org/test-model', not 'other-org/other-model'" in message
    assert "sglang serve --model-path other-org/other-model" in message


def test_down_server_is_refused_fast(tokenizer: Any) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError, match="unreachable") as caught:
        SGLangServerBackend(url, tokenizer_object=tokenizer)
    assert url in str(caught.value) and "sglang serve" in str(caught.value)
    assert time.monotonic() - started < 5


def test_unhealthy_server_is_refused(tokenizer: Any) -> None:
    unhealthy = r"not healthy \(HTTP 503 on /health\)"
    with (
        FakeSGLangServer(SGLangDouble(tokenizer), health_status=503) as running,
        pytest.raises(BackendUnavailableError, match=unhealthy),
    ):
        SGLangServerBackend(running.url, tokenizer_object=tokenizer)


def test_bad_options_are_config_errors(server: FakeSGLangServer, tokenizer: Any) -> None:
    with pytest.raises(ConfigError):
        SGLangServerBackend(server.url, tokenizer_object=tokenizer, max_concurrency=0)


def test_same_model_matches_paths_ids_and_hub_caches() -> None:
    assert same_model("Qwen/Qwen2.5-0.5B-Instruct", "qwen/qwen2.5-0.5b-instruct")
    assert same_model("Qwen/Qwen2.5-0.5B-Instruct", "/models/Qwen2.5-0.5B-Instruct/")
    hub = "/root/.cache/huggingface/hub/models--Qwen--Qwen2.5-0.5B-Instruct/snapshots/abc123"
    assert same_model("Qwen/Qwen2.5-0.5B-Instruct", hub)
    assert not same_model("meta-llama/Llama-3.1-8B-Instruct", "Qwen/Qwen2.5-7B-Instruct")


# -- batching and prefixes -----------------------------------------------------------------


def test_each_group_is_warmed_then_sent_as_one_batch(
    server: FakeSGLangServer, tokenizer: Any
) -> None:
    requests = criterion_requests(samples=2, criteria=3)
    with backend(server, tokenizer, max_concurrency=1) as judge_backend:
        generations = judge_backend.generate(requests)
    check_batch(requests, generations)
    calls = server.double.calls
    assert len(calls) == 4  # per group: one warm-up, then one batch
    warm, batch = calls[0], calls[1]
    assert warm["sampling_params"] == {"max_new_tokens": 0} and len(warm["text"]) == 1
    assert len(batch["text"]) == 3 and batch["return_logprob"] is True
    assert all(text.startswith(warm["text"][0]) for text in batch["text"])
    assert batch["logprob_start_len"] == -1
    for generation in generations:
        assert generation.error is None
        assert generation.choice_probs == pytest.approx({"yes": 0.8, "no": 0.2})
        assert generation.probs_source == "sglang:token_ids_logprob+grammar"
        assert generation.text.endswith('"verdict": "yes"}')
    # Members after the warm-up find the shared prefix cached.
    shared = len(tokenizer(warm["text"][0])["input_ids"])
    assert all(g.usage.cached_tokens >= shared - 1 for g in generations[1:3])


def test_usage_totals_include_the_warm_up(server: FakeSGLangServer, tokenizer: Any) -> None:
    requests = criterion_requests(samples=1, criteria=4)
    with backend(server, tokenizer) as judge_backend:
        generations = judge_backend.generate(requests)
    computed = sum(g.usage.prompt_tokens - g.usage.cached_tokens for g in generations)
    warm, batch = server.double.calls
    shared = len(tokenizer(warm["text"][0])["input_ids"])
    members = [len(tokenizer(text)["input_ids"]) for text in batch["text"]]
    # Computed prompt tokens: the shared prefix once (the warm-up), then each member's suffix.
    assert computed == shared + sum(length - shared for length in members)
    assert generations[0].usage.prompt_tokens > generations[1].usage.prompt_tokens


def test_ungrouped_requests_share_batches(server: FakeSGLangServer, tokenizer: Any) -> None:
    requests = [plain(f"p{i}") for i in range(5)]
    with backend(server, tokenizer, max_batch_size=2) as judge_backend:
        generations = judge_backend.generate(requests)
    assert [g.text for g in generations] == ["OK"] * 5
    assert sorted(len(call["text"]) for call in server.double.calls) == [1, 2, 2]


def test_self_consistency_samples_and_mixed_n(server: FakeSGLangServer, tokenizer: Any) -> None:
    requests = [plain("a", n=3, temperature=0.7), plain("b"), plain("c", n=3, temperature=0.7)]
    with backend(server, tokenizer) as judge_backend:
        generations = judge_backend.generate(requests)
    check_batch(requests, generations)
    ns = sorted({p["n"] for p in call["sampling_params"]}.pop() for call in server.double.calls)
    assert ns == [1, 3]  # one call per value of n


def test_data_parallel_pins_a_group_to_one_rank(tokenizer: Any) -> None:
    with (
        FakeSGLangServer(SGLangDouble(tokenizer), dp_size=4) as server,
        backend(server, tokenizer, dp_size=4) as judge_backend,
    ):
        results = judge_backend.generate(criterion_requests(samples=3, criteria=2))
    assert [g.error for g in results] == [None] * 6
    by_prefix: dict[str, set[int]] = {}
    for call in server.double.calls:
        by_prefix.setdefault(call["text"][0][:400], set()).add(call["routed_dp_rank"])
    assert all(len(ranks) == 1 for ranks in by_prefix.values())


def test_long_prompt_fails_alone_before_sending(tokenizer: Any) -> None:
    with FakeSGLangServer(SGLangDouble(tokenizer, context_length=120)) as running:
        long = GenerationRequest(
            id="long",
            messages=(Message(role="user", content="word " * 40),),
            sampling=SamplingParams(max_new_tokens=64),
        )
        with backend(running, tokenizer) as judge_backend:
            ok, failed = judge_backend.generate([plain("ok"), long])
        assert ok.text == "OK" and failed.finish_reason == "error"
        assert failed.error is not None and "context length 120" in failed.error
        assert all("word" not in text for call in running.double.calls for text in call["text"])


def test_bad_row_is_bisected_out(server: FakeSGLangServer, tokenizer: Any) -> None:
    requests = criterion_requests(samples=1, criteria=4)
    bad = requests[2].model_copy(update={"constraint": Constraint(kind="regex", value="BAD(")})
    requests[2] = bad
    with backend(server, tokenizer) as judge_backend:
        generations = judge_backend.generate(requests)
    assert [g.error is None for g in generations] == [True, True, False, True]
    assert "regex does not compile" in (generations[2].error or "")


# -- faults ---------------------------------------------------------------------------------


def test_5xx_is_retried_then_succeeds(server: FakeSGLangServer, tokenizer: Any) -> None:
    server.faults.extend([503, 500])
    with backend(server, tokenizer) as judge_backend:
        [generation] = judge_backend.generate([plain("a")])
    assert generation.text == "OK" and server.posts == 3


def test_persistent_5xx_becomes_an_error_after_the_retries(
    server: FakeSGLangServer, tokenizer: Any
) -> None:
    server.faults.extend([503] * 10)
    with backend(server, tokenizer, max_retries=2) as judge_backend:
        [generation] = judge_backend.generate([plain("a")])
    assert server.posts == 3
    assert generation.finish_reason == "error" and "HTTP 503" in (generation.error or "")


def test_4xx_is_never_retried(server: FakeSGLangServer, tokenizer: Any) -> None:
    server.faults.append(401)
    with backend(server, tokenizer) as judge_backend:
        [generation] = judge_backend.generate([plain("a")])
    assert server.posts == 1 and "HTTP 401" in (generation.error or "")


def test_dropped_connection_is_retried(server: FakeSGLangServer, tokenizer: Any) -> None:
    server.faults.append("drop")
    with backend(server, tokenizer) as judge_backend:
        [generation] = judge_backend.generate([plain("a")])
    assert generation.text == "OK" and server.posts == 2


def test_stalled_server_times_out_with_a_clear_error(
    server: FakeSGLangServer, tokenizer: Any
) -> None:
    server.faults.extend([("stall", 1.0)] * 3)
    started = time.monotonic()
    with backend(server, tokenizer, timeout=0.3, max_retries=1) as judge_backend:
        [generation] = judge_backend.generate([plain("a")])
    assert time.monotonic() - started < 3
    assert "unreachable after 2 attempts (ReadTimeout" in (generation.error or "")


def test_a_request_past_its_deadline_is_not_sent_and_a_stalled_one_stops_at_it(
    server: FakeSGLangServer, tokenizer: Any
) -> None:
    server.faults.append(("stall", 5.0))
    with backend(server, tokenizer) as judge_backend:
        started = time.monotonic()
        late = plain("late").model_copy(update={"deadline": started - 1})
        [gone] = judge_backend.generate([late])
        assert server.posts == 0, "nobody waits for it: never sent"
        soon = plain("soon").model_copy(update={"deadline": time.monotonic() + 0.4})
        [stopped] = judge_backend.generate([soon])
        elapsed = time.monotonic() - started
    assert gone.error_kind == ErrorKind.TIMEOUT and stopped.error_kind == ErrorKind.TIMEOUT
    assert "deadline" in (stopped.error or "")
    assert elapsed < 3, f"the 5 s stall (600 s client timeout) was waited out: {elapsed:.1f} s"


def test_server_gone_mid_run_gives_errors_not_a_hang(tokenizer: Any) -> None:
    running = FakeSGLangServer(SGLangDouble(tokenizer)).__enter__()
    judge_backend = backend(running, tokenizer, max_retries=1)
    running.__exit__(None, None, None)
    try:
        generations = judge_backend.generate(criterion_requests(samples=1, criteria=2))
    finally:
        judge_backend.close()
    assert all(g.finish_reason == "error" and "unreachable" in (g.error or "") for g in generations)


# -- async and end to end ------------------------------------------------------------------


def test_agenerate_runs_from_an_event_loop(server: FakeSGLangServer, tokenizer: Any) -> None:
    with backend(server, tokenizer) as judge_backend:
        generations = asyncio.run(judge_backend.agenerate([plain("a"), plain("b")]))
    assert [g.text for g in generations] == ["OK", "OK"]


def test_judge_scores_through_the_server_backend(tokenizer: Any) -> None:
    from judge.runner.judge import Judge

    def verdicts(prompt: str) -> tuple[str, dict[str, float]]:
        p_yes = 0.9 if "Paris" in prompt else 0.2
        return "checked", {"yes": p_yes, "no": 1 - p_yes}

    rubric = Rubric(
        name="capital",
        criteria=(
            Criterion(id="correct", text="The answer names the right city."),
            Criterion(id="short", text="The answer is one sentence."),
        ),
    )
    samples = [
        Sample(id="a", prompt="Capital of France?", response="Paris."),
        Sample(id="b", prompt="Capital of France?", response="Lyon."),
    ]
    with FakeSGLangServer(SGLangDouble(tokenizer, verdicts=verdicts)) as running:
        with backend(running, tokenizer) as judge_backend:
            judgments = Judge(judge_backend, rubric).score(samples)
        warmups = [c for c in running.double.calls if c["sampling_params"] == {"max_new_tokens": 0}]
    assert [j.error for j in judgments] == [None, None]
    first, second = judgments
    assert first.score is not None and second.score is not None and first.score > second.score
    assert [v.p_yes for v in first.verdicts] == pytest.approx([0.9, 0.9])
    assert len(warmups) == 2
    assert first.usage.cached_tokens > 0


def test_scored_requests_are_one_step_and_read_the_choice_token_ids(tokenizer: Any) -> None:
    """reasoning none: the prompt ends at the marker, max_new_tokens=1, token_ids_logprob read."""
    double = SGLangDouble(tokenizer, verdicts=lambda prompt: ("", {"yes": 0.3, "no": 0.7}))
    with FakeSGLangServer(double) as running, backend(running, tokenizer) as judge_backend:
        assert judge_backend.capabilities.score_without_decoding
        requests = [
            GenerationRequest(
                id=f"s0/c{i}",
                messages=(SYSTEM, Message(role="user", content=f"Criterion {i}: The answer")),
                sampling=SamplingParams(max_new_tokens=1, temperature=0.0, seed=0),
                probe=PROBE,
                prefix_group="s0",
                score_after="{" + MARKER,
            )
            for i in range(2)
        ]
        generations = judge_backend.generate(requests)
    [payload] = [call for call in double.calls if len(call.get("text", [])) == 2]
    assert all(text.endswith("assistant\n{" + MARKER) for text in payload["text"])
    assert all(
        p["max_new_tokens"] == 1 and p["temperature"] == 0.0 for p in payload["sampling_params"]
    )
    assert payload["return_logprob"] is True and payload["token_ids_logprob"]
    for generation in generations:
        assert generation.error is None and generation.text == ""
        assert generation.finish_reason == "stop"
        assert generation.choice_probs == {"yes": pytest.approx(0.3), "no": pytest.approx(0.7)}
        assert generation.probs_source == "sglang:token_ids_logprob"


@pytest.mark.parametrize("deterministic", [True, False, None])
def test_deterministic_inference_is_read_from_the_server_and_required_by_a_strict_judge(
    tokenizer: Any, deterministic: bool | None
) -> None:
    from judge.runner.judge import Judge

    double = SGLangDouble(tokenizer)
    with (
        FakeSGLangServer(double, deterministic=deterministic) as running,
        backend(running, tokenizer) as judge_backend,
    ):
        assert judge_backend.capabilities.batch_invariant is deterministic
        if deterministic:
            judge = Judge(judge_backend, "helpfulness", batch_invariant=True)
            assert judge.settings.batch_invariant
            return
        with pytest.raises(ConfigError, match="batch_invariant is set") as caught:
            Judge(judge_backend, "helpfulness", batch_invariant=True)
    said = "says it is not" if deterministic is False else "does not say whether it is"
    assert said in caught.value.message
    assert "--enable-deterministic-inference" in (caught.value.hint or "")
