"""OpenAI-compatible backend: request building, response reading, retries (httpx.MockTransport).

The server side is httpx's MockTransport, a handler that answers as the OpenAI wire format
documents (https://platform.openai.com/docs/api-reference/chat/object) and records what it got.
Real-server behaviour is covered by tests/integration/test_openai_backend.py.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from judge.backends import create_backend
from judge.backends.openai import OpenAIBackend
from judge.backends.openai.retry import RequestFailed, RetryPolicy, post_json
from judge.backends.openai.top_logprobs import TokenAlternatives, choice_probs_at_marker
from judge.errors import BackendUnavailableError, ConfigError
from judge.types import ChoiceProbe, Constraint, GenerationRequest, Message, SamplingParams

PROBE = ChoiceProbe(marker='"verdict": "', choices=("yes", "no"))
SCHEMA = json.dumps(
    {
        "type": "object",
        "properties": {"rationale": {"type": "string"}, "verdict": {"enum": ["yes", "no"]}},
        "required": ["rationale", "verdict"],
    }
)
REGEX = r'\{"rationale": "[^"\\\n]{0,80}", "verdict": "(yes|no)"\}'


# --- choice probabilities from top logprobs -------------------------------------------------


def _pos(token: str, logprob: float, *top: tuple[str, float]) -> TokenAlternatives:
    return TokenAlternatives(
        token.encode(), logprob, tuple((text.encode(), lp) for text, lp in top)
    )


def _verdict_positions(verdict_step: TokenAlternatives) -> list[TokenAlternatives]:
    prefix = ['{"', "rationale", '":', ' "', "ok", '",', ' "', "verdict", '":', ' "']
    return [_pos(token, -0.1) for token in prefix] + [verdict_step, _pos('"}', -0.01)]


def test_choice_probs_renormalise_over_choices_at_clean_boundary() -> None:
    step = _pos(
        "yes",
        math.log(0.6),
        ("yes", math.log(0.6)),
        ("no", math.log(0.3)),
        ("maybe", math.log(0.05)),
    )
    probs = choice_probs_at_marker(_verdict_positions(step), PROBE)
    assert probs is not None
    assert probs["yes"] == pytest.approx(0.6 / 0.9)
    assert probs["no"] == pytest.approx(0.3 / 0.9)


def test_choice_probs_add_leading_space_variants() -> None:
    positions = [
        _pos("Verdict:", -0.1),
        _pos(
            " no",
            math.log(0.5),
            (" no", math.log(0.5)),
            ("no", math.log(0.1)),
            (" yes", math.log(0.2)),
        ),
    ]
    probs = choice_probs_at_marker(positions, ChoiceProbe(marker="Verdict:", choices=("yes", "no")))
    assert probs == pytest.approx({"yes": 0.2 / 0.8, "no": 0.6 / 0.8})


def test_choice_probs_at_a_token_that_straddles_the_marker_end() -> None:
    # The tokenizer merges the marker's closing quote with the choice: '"yes' after ' '.
    prefix = ['{"', "verdict", '":', " "]
    step = _pos(
        '"yes',
        math.log(0.7),
        ('"yes', math.log(0.7)),
        ('"no', math.log(0.2)),
        ("yes", math.log(0.05)),
    )
    positions = [_pos(t, -0.1) for t in prefix] + [step, _pos('"}', -0.1)]
    probs = choice_probs_at_marker(positions, PROBE)
    # 'yes' without the marker's quote is not the verdict step's continuation: ignored.
    assert probs == pytest.approx({"yes": 0.7 / 0.9, "no": 0.2 / 0.9})


@pytest.mark.parametrize("spelling", ['{"verdict":"', '{ "verdict" :"', '{"verdict" :  "'])
def test_choice_probs_accept_any_json_whitespace(spelling: str) -> None:
    # A JSON-schema constraint lets the model choose its whitespace (seen from llama.cpp).
    positions = [
        _pos(spelling, -0.1),
        _pos("no", math.log(0.8), ("no", math.log(0.8)), ("yes", math.log(0.1))),
    ]
    probs = choice_probs_at_marker(positions, PROBE)
    assert probs == pytest.approx({"yes": 0.1 / 0.9, "no": 0.8 / 0.9})
    assert choice_probs_at_marker([_pos('{"verdict""', -0.1), positions[1]], PROBE) is None


def test_choice_followed_by_punctuation_in_one_token_counts_but_longer_words_do_not() -> None:
    step = _pos(
        'yes"',
        math.log(0.5),
        ('yes"', math.log(0.5)),
        ("no", math.log(0.25)),
        ("yesterday", math.log(0.2)),
    )
    probs = choice_probs_at_marker(_verdict_positions(step), PROBE)
    assert probs == pytest.approx({"yes": 0.5 / 0.75, "no": 0.25 / 0.75})


def test_absent_choice_is_bounded_by_the_kth_probability_never_zero() -> None:
    top = [("yes", math.log(0.9)), ("Yes", math.log(0.04)), ("y", math.log(0.02))]
    # The server appended the sampled token as a K+1-th entry with a lower probability.
    step = _pos("yes", math.log(0.9), *top, ("ok", math.log(0.001)))
    probs = choice_probs_at_marker(_verdict_positions(step), PROBE, top_k=3)
    assert probs is not None
    # "no" may have up to 0.02 (the 3rd largest), so P(yes) is at most 0.9 / 0.92.
    assert probs["no"] == pytest.approx(0.02 / 0.92)
    assert probs["yes"] < 0.99


def test_no_probability_without_marker_choices_or_top_list() -> None:
    step = _pos("yes", -0.1, ("yes", -0.1), ("no", -2.0))
    assert choice_probs_at_marker([_pos("no marker here", -0.1), step], PROBE) is None
    unrelated = _pos("maybe", -0.1, ("maybe", -0.1), ("perhaps", -2.0))
    assert choice_probs_at_marker(_verdict_positions(unrelated), PROBE) is None
    assert choice_probs_at_marker(_verdict_positions(_pos("yes", -0.1)), PROBE) is None
    # The output ends right after the marker (truncated): nothing to read.
    assert choice_probs_at_marker(_verdict_positions(step)[:-2], PROBE) is None


# --- a scripted OpenAI-compatible server ----------------------------------------------------


Answer = Callable[[dict[str, Any]], httpx.Response]


class FakeServer:
    """Answers /models and /chat/completions like an OpenAI-compatible server; records bodies."""

    def __init__(
        self,
        answer: Answer | None = None,
        *,
        owned_by: str = "vllm",
        models: tuple[str, ...] = ("judge-model",),
        logprobs: bool = True,
    ) -> None:
        self.answer = answer or self.default_answer
        self.owned_by = owned_by
        self.models = models
        self.logprobs = logprobs
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[httpx.Headers] = []
        self.lock = threading.Lock()

    def default_answer(self, body: dict[str, Any]) -> httpx.Response:
        text = '{"rationale": "fine", "verdict": "yes"}'
        tokens = [
            '{"',
            "rationale",
            '":',
            ' "',
            "fine",
            '",',
            ' "',
            "verdict",
            '":',
            ' "',
            "yes",
            '"}',
        ]
        content = [
            {
                "token": t,
                "logprob": -0.01,
                "bytes": list(t.encode()),
                "top_logprobs": [
                    {"token": "yes", "logprob": math.log(0.75), "bytes": None},
                    {"token": "no", "logprob": math.log(0.25), "bytes": None},
                ]
                if t == "yes"
                else [{"token": t, "logprob": -0.01, "bytes": None}],
            }
            for t in tokens
        ]
        choices = [
            {
                "index": i,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
                "logprobs": {"content": content}
                if body.get("logprobs") and self.logprobs
                else None,
            }
            for i in range(body.get("n", 1))
        ]
        usage = {
            "prompt_tokens": 40,
            "completion_tokens": 12,
            "total_tokens": 52,
            "prompt_tokens_details": {"cached_tokens": 32},
        }
        return httpx.Response(
            200, json={"object": "chat.completion", "choices": choices, "usage": usage}
        )

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/models"):
            data = [
                {"id": m, "object": "model", "owned_by": self.owned_by, "max_model_len": 4096}
                for m in self.models
            ]
            return httpx.Response(200, json={"object": "list", "data": data})
        body = json.loads(request.content)
        with self.lock:
            self.bodies.append(body)
            self.headers.append(request.headers)
        return self.answer(body)


def _backend(server: FakeServer, **options: Any) -> OpenAIBackend:
    options.setdefault("backoff_base_s", 0.001)
    return OpenAIBackend(
        base_url="http://judge.test/v1", transport=httpx.MockTransport(server), **options
    )


def _request(rid: str = "r0", **fields: Any) -> GenerationRequest:
    return GenerationRequest(
        id=rid,
        messages=(Message(role="system", content="Judge."), Message(role="user", content="Q?")),
        **fields,
    )


def test_registered_under_openai_name() -> None:
    server = FakeServer()
    backend = create_backend(
        "openai", base_url="http://judge.test/v1", transport=httpx.MockTransport(server)
    )
    assert isinstance(backend, OpenAIBackend)
    backend.close()


def test_request_body_carries_messages_sampling_probe_and_schema() -> None:
    server = FakeServer()
    with _backend(server, flavor="vllm") as backend:
        request = _request(
            sampling=SamplingParams(max_new_tokens=77, temperature=0.5, top_p=0.9, seed=7),
            constraint=Constraint(kind="json_schema", value=SCHEMA),
            probe=PROBE,
        )
        [generation] = backend.generate([request])
    body = server.bodies[-1]
    assert body["model"] == "judge-model"
    assert body["messages"] == [
        {"role": "system", "content": "Judge."},
        {"role": "user", "content": "Q?"},
    ]
    assert (body["max_tokens"], body["temperature"], body["top_p"], body["seed"]) == (
        77,
        0.5,
        0.9,
        7,
    )
    assert (body["logprobs"], body["top_logprobs"]) == (True, 20)
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == json.loads(SCHEMA)
    assert generation.choice_probs == pytest.approx({"yes": 0.75, "no": 0.25})
    assert generation.probs_source == "top_logprobs"
    assert generation.usage.cached_tokens == 32
    assert generation.usage.prompt_tokens == 40


def test_no_logprobs_asked_without_probe_and_seed_omitted_when_unset() -> None:
    server = FakeServer()
    with _backend(server, check_logprobs=False) as backend:
        backend.generate([_request()])
    assert "logprobs" not in server.bodies[-1]
    assert "seed" not in server.bodies[-1]


@pytest.mark.parametrize(
    ("flavor", "field", "expected"),
    [
        ("sglang", "regex", REGEX),
        ("vllm", "structured_outputs", {"regex": REGEX}),
    ],
)
def test_regex_constraint_per_flavor(flavor: str, field: str, expected: object) -> None:
    server = FakeServer()
    with _backend(server, flavor=flavor) as backend:
        backend.generate([_request(constraint=Constraint(kind="regex", value=REGEX))])
        assert "regex" in backend.constraint_kinds
    assert server.bodies[-1][field] == expected


def test_llama_cpp_flavor_detected_and_uses_json_object_with_schema() -> None:
    server = FakeServer(owned_by="me")
    with _backend(server) as backend:
        assert backend.flavor == "llama.cpp"
        assert backend.capabilities.model_revision == "owned_by=me", "keys fingerprints, caches"
        assert backend.constraint_kinds == frozenset({"json_schema"})
        assert backend.capabilities.constraint_kinds == ("json_schema",)
        backend.generate([_request(constraint=Constraint(kind="json_schema", value=SCHEMA))])
    assert server.bodies[-1]["response_format"] == {
        "type": "json_object",
        "schema": json.loads(SCHEMA),
    }
    # The server's own samplers (repeat penalty 1.1 by default) are turned off ...
    assert server.bodies[-1]["repeat_penalty"] == 1.0
    # ... unless the user's extra_body says otherwise.
    with _backend(server, extra_body={"repeat_penalty": 1.3}) as backend:
        backend.generate([_request()])
    assert server.bodies[-1]["repeat_penalty"] == 1.3


def test_unsupported_regex_is_dropped_with_warning_or_fails_when_asked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = FakeServer(owned_by="openai")
    request = _request(constraint=Constraint(kind="regex", value=REGEX))
    with _backend(server) as backend:
        [generation] = backend.generate([request])
    assert generation.error is None
    assert "regex" not in server.bodies[-1] and "response_format" not in server.bodies[-1]
    assert "regex constraints are not supported" in caplog.text
    with _backend(server, unsupported_constraint="error") as backend:
        [generation] = backend.generate([request])
    assert generation.error is not None and "regex" in generation.error


def test_server_without_logprobs_gives_no_choice_probs_and_says_so() -> None:
    server = FakeServer(logprobs=False)
    with _backend(server) as backend:
        assert backend.capabilities.choice_probabilities is False
        [generation] = backend.generate([_request(probe=PROBE)])
    assert generation.choice_probs is None and generation.probs_source is None
    assert generation.text.startswith("{")


def test_server_that_refuses_logprobs_at_run_time_degrades_without_retrying() -> None:
    def refuse(body: dict[str, Any]) -> httpx.Response:
        if body.get("logprobs"):
            return httpx.Response(500, json={"error": {"message": "logprobs is not supported"}})
        return server.default_answer(body)

    server = FakeServer(refuse)
    with _backend(server, check_logprobs=False) as backend:
        assert backend.capabilities.choice_probabilities is True
        [generation] = backend.generate([_request(probe=PROBE)])
        assert backend.capabilities.choice_probabilities is False
    assert generation.error is None and generation.choice_probs is None
    assert [bool(b.get("logprobs")) for b in server.bodies] == [True, False]


def test_n_native_and_expanded() -> None:
    server = FakeServer()
    with _backend(server, flavor="vllm", check_logprobs=False) as backend:
        generations = backend.generate([_request(sampling=SamplingParams(n=3, seed=5))])
    assert [g.sample_index for g in generations] == [0, 1, 2]
    assert len(server.bodies) == 1 and server.bodies[0]["n"] == 3
    assert [g.usage.prompt_tokens for g in generations] == [40, 0, 0]

    server = FakeServer(owned_by="me")
    with _backend(server, check_logprobs=False) as backend:
        generations = backend.generate([_request(sampling=SamplingParams(n=3, seed=5))])
    assert [g.sample_index for g in generations] == [0, 1, 2]
    assert sorted(b["seed"] for b in server.bodies) == [5, 6, 7]
    assert all("n" not in b for b in server.bodies)


def test_server_ignoring_n_yields_errors_for_missing_samples() -> None:
    def one_choice(body: dict[str, Any]) -> httpx.Response:
        return server.default_answer({**body, "n": 1})

    server = FakeServer(one_choice)
    with _backend(server, expand_n=False) as backend:
        generations = backend.generate([_request(sampling=SamplingParams(n=2))])
    assert generations[0].error is None
    assert generations[1].error is not None and "expand_n" in generations[1].error


def test_concurrent_batch_keeps_request_order() -> None:
    active, peak = 0, 0

    def slow(body: dict[str, Any]) -> httpx.Response:
        nonlocal active, peak
        with server.lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.05)
        with server.lock:
            active -= 1
        answer = server.default_answer(body)
        payload = answer.json()
        payload["choices"][0]["message"]["content"] = body["messages"][-1]["content"]
        return httpx.Response(200, json=payload)

    server = FakeServer(slow)
    requests = [
        GenerationRequest(id=f"r{i}", messages=(Message(role="user", content=f"q{i}"),))
        for i in range(12)
    ]
    with _backend(server, max_concurrency=4, check_logprobs=False) as backend:
        started = time.monotonic()
        generations = backend.generate(requests)
        elapsed = time.monotonic() - started
    assert [g.request_id for g in generations] == [r.id for r in requests]
    assert [g.text for g in generations] == [f"q{i}" for i in range(12)]
    assert peak == 4
    assert elapsed < 12 * 0.05


def test_api_key_from_named_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUDGE_TEST_KEY", "sk-test-123")
    server = FakeServer()
    with _backend(server, api_key_env="JUDGE_TEST_KEY", check_logprobs=False) as backend:
        backend.generate([_request()])
    assert server.headers[-1]["authorization"] == "Bearer sk-test-123"


# --- start-up checks ------------------------------------------------------------------------


def test_model_not_served_names_url_and_served_models() -> None:
    with pytest.raises(BackendUnavailableError) as caught:
        _backend(FakeServer(models=("a", "b")), model="c")
    assert "http://judge.test/v1" in str(caught.value) and "'c'" in str(caught.value)
    assert caught.value.hint is not None and "a, b" in caught.value.hint


def test_model_must_be_chosen_when_server_serves_several() -> None:
    with pytest.raises(ConfigError, match="serves 2 models"):
        _backend(FakeServer(models=("a", "b")))
    with _backend(FakeServer(models=("a", "b")), model="b", check_logprobs=False) as backend:
        assert backend.model_id == "b"
        assert backend.capabilities.max_context_tokens == 4096


def test_server_down_is_backend_unavailable_naming_the_url() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(BackendUnavailableError, match=r"http://judge\.test/v1 is unreachable"):
        OpenAIBackend(base_url="http://judge.test/v1", transport=httpx.MockTransport(refuse))


def test_rejected_api_key_points_at_the_variable() -> None:
    def unauthorized(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": {"message": "bad key"}})

    with pytest.raises(BackendUnavailableError) as caught:
        OpenAIBackend(base_url="http://judge.test/v1", transport=httpx.MockTransport(unauthorized))
    assert caught.value.hint is not None and "$OPENAI_API_KEY" in caught.value.hint


def test_unknown_option_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="top_logprob"):
        _backend(FakeServer(), top_logprob=5)


# --- retries --------------------------------------------------------------------------------


def _flaky(statuses: list[int]) -> tuple[httpx.Client, list[int]]:
    seen: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        status = statuses[min(len(seen), len(statuses) - 1)]
        seen.append(status)
        return httpx.Response(status, json={"ok": status == 200}, headers={"retry-after": "0"})

    return httpx.Client(transport=httpx.MockTransport(handler), base_url="http://t"), seen


def test_5xx_and_429_are_retried_until_success() -> None:
    client, seen = _flaky([500, 429, 503, 200])
    assert post_json(client, "/x", {}, RetryPolicy(max_retries=3, backoff_base_s=0.0)) == {
        "ok": True
    }
    assert seen == [500, 429, 503, 200]


def test_4xx_is_not_retried() -> None:
    client, seen = _flaky([400, 200])
    with pytest.raises(RequestFailed, match="HTTP 400") as caught:
        post_json(client, "/x", {}, RetryPolicy(max_retries=3, backoff_base_s=0.0))
    assert seen == [400] and caught.value.retryable is False


def test_retries_give_up_with_the_last_reason() -> None:
    client, seen = _flaky([502])
    with pytest.raises(RequestFailed, match=r"HTTP 502.*after 3 attempts"):
        post_json(client, "/x", {}, RetryPolicy(max_retries=2, backoff_base_s=0.0))
    assert len(seen) == 3


def test_backoff_is_exponential_jittered_and_capped() -> None:
    policy = RetryPolicy(backoff_base_s=1.0, backoff_max_s=5.0)
    for retry, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (9, 5.0)]:
        delays = {policy.delay(retry, None) for _ in range(20)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1
    assert policy.delay(1, retry_after_s=3.0) == 3.0


def test_failed_request_becomes_its_generation_error_not_the_batch() -> None:
    def fail_second(body: dict[str, Any]) -> httpx.Response:
        if body["messages"][-1]["content"] == "bad":
            return httpx.Response(400, json={"error": {"message": "context length exceeded"}})
        return server.default_answer(body)

    server = FakeServer(fail_second)
    requests = [
        GenerationRequest(id=f"r{i}", messages=(Message(role="user", content=text),))
        for i, text in enumerate(["ok", "bad", "ok"])
    ]
    with _backend(server, check_logprobs=False) as backend:
        generations = backend.generate(requests)
    assert [g.error is None for g in generations] == [True, False, True]
    assert generations[1].finish_reason == "error"
    assert "HTTP 400" in (generations[1].error or "") and "context length" in (
        generations[1].error or ""
    )
