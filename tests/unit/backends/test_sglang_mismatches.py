"""Four mismatches with SGLang found by reading its source, each pinned by a test that catches it.

Seeds of n>1 draws, the scheduler's length rule, 0.5.23's error shapes (and FastAPI 422), and
``dp_size`` against the server's own; the behaviour SGLang has is quoted from its 0.5.23 source.
"""

from __future__ import annotations

from typing import Any

import pytest

from judge.backends.sglang import batching, wire
from judge.backends.sglang.engine import SGLangEngineBackend
from judge.backends.sglang.server import SGLangServerBackend
from judge.backends.sglang.wire import WireRequest
from judge.errors import ConfigError
from judge.types import ErrorKind, GenerationRequest, Message, SamplingParams
from tests.doubles.sglang import FakeEngine, FakeSGLangServer, SGLangDouble, make_tokenizer

FAST = {"backoff_base": 0.01, "backoff_max": 0.02}


class DeterministicDouble(SGLangDouble):
    """SGLang under --enable-deterministic-inference: a draw is a function of its seed alone."""

    def _output(self, prompt: str, ids: list[int], sampling: dict[str, Any], *rest: Any) -> Any:
        output = super()._output(prompt, ids, sampling, *rest)
        if "sampling_seed" in sampling:
            output["text"] = f"draw-{sampling['sampling_seed'] % 5}"
        return output


def request(rid: str, *, words: int = 3, n: int = 1, seed: int | None = None, max_new: int = 8):
    return GenerationRequest(
        id=rid,
        messages=(Message(role="user", content="word " * words),),
        sampling=SamplingParams(
            max_new_tokens=max_new, n=n, seed=seed, temperature=0.7 if n > 1 else 0.0
        ),
    )


def server_backend(server: FakeSGLangServer, **options: Any) -> SGLangServerBackend:
    return SGLangServerBackend(
        server.url, tokenizer_object=server.double.tokenizer, **{**FAST, **options}
    )


# -- 1. seeds: n>1 draws of one request must not share a seed ----------------------------------


def test_seeded_self_consistency_draws_differ_on_the_server() -> None:
    requests = [request("a", n=3, seed=7), request("b", n=3, seed=7)]
    with (
        FakeSGLangServer(DeterministicDouble(make_tokenizer())) as server,
        server_backend(server) as backend,
    ):
        generations = backend.generate(requests)
    by_request: dict[str, list[str]] = {}
    for generation in generations:
        by_request.setdefault(generation.request_id, []).append(generation.text)
    assert [g.sample_index for g in generations] == [0, 1, 2, 0, 1, 2]
    assert all(len(set(texts)) == 3 for texts in by_request.values()), by_request
    [call] = server.double.calls
    assert [p["sampling_seed"] for p in call["sampling_params"]] == [7, 8, 9, 7, 8, 9]
    assert {p["n"] for p in call["sampling_params"]} == {1}


def test_seeded_self_consistency_draws_differ_on_the_engine() -> None:
    engine = FakeEngine(DeterministicDouble(make_tokenizer()))
    try:
        backend = SGLangEngineBackend(engine=engine)
        generations = backend.generate([request("a", n=4, seed=0)])
    finally:
        engine.loop.close()
    assert len({g.text for g in generations}) == 4
    assert [g.sample_index for g in generations] == [0, 1, 2, 3]


def test_unseeded_draws_keep_one_entry_with_n() -> None:
    encoder_ids = (1, 2, 3)
    batch = [WireRequest(request("a", n=3), "word", encoder_ids)]
    payload = wire.generate_payload(batch, top_logprobs_num=5)
    assert payload["text"] == ["word"]
    assert payload["sampling_params"][0]["n"] == 3
    assert "sampling_seed" not in payload["sampling_params"][0]


# -- 2. length: SGLang's scheduler admits a prompt only below max_req_input_len ----------------


def test_length_rule_mirrors_the_scheduler_margin() -> None:
    # context 100: the scheduler's max_req_input_len is min(100 - 1, pool - 1) - 5 = 94.
    assert wire.length_error(93, 1, 100) is None
    refused = wire.length_error(94, 1, 100)
    assert refused is not None and "below 94 tokens" in refused
    # a small KV pool, as the server tells it, binds far below the context length
    small_pool = wire.length_error(60, 1, 4096, max_input_tokens=50)
    assert small_pool is not None and "max_req_input_len" in small_pool


def test_prompt_over_the_servers_input_limit_is_not_sent() -> None:
    with FakeSGLangServer(SGLangDouble(make_tokenizer()), max_req_input_len=30) as server:
        with server_backend(server) as backend:
            ok, long = backend.generate([request("ok"), request("long", words=40)])
        sent = [text for call in server.double.calls for text in call["text"]]
    assert ok.error is None
    assert long.error_kind is ErrorKind.CONTEXT_OVERFLOW
    assert long.error is not None and "below 30 tokens" in long.error
    assert all("word word word word" not in text for text in sent)


def test_prepare_uses_the_limit_it_is_given() -> None:
    from judge.backends.chat_prompt import PromptEncoder

    encoder = PromptEncoder(make_tokenizer())
    [item] = batching.prepare(
        [request("a", words=20)], encoder, context_length=4096, max_input_tokens=10
    )
    assert isinstance(item, wire.NotSent) and item.kind is ErrorKind.CONTEXT_OVERFLOW


# -- 3. 0.5.23's error shapes and FastAPI's 422 -------------------------------------------------

CONTRACT_ERROR = {"error": "unknown field `max_tokens`, expected one of `max_new_tokens`, `stop`"}
FASTAPI_422 = {
    "detail": [
        {"type": "missing", "loc": ["body", "sampling_params", 0], "msg": "Field required"},
        {"type": "int_type", "loc": ["body", "top_logprobs_num"], "msg": "Input should be int"},
    ]
}


def test_error_bodies_are_read_whatever_their_shape() -> None:
    assert wire.error_message(CONTRACT_ERROR).startswith("unknown field `max_tokens`")
    assert wire.error_message(FASTAPI_422) == (
        "body.sampling_params.0: Field required; body.top_logprobs_num: Input should be int"
    )
    assert wire.error_message({"error": {"message": "bad regex"}}) == "bad regex"
    too_long = "The input (5000 tokens) is longer than the model's context length (4096 tokens)."
    assert wire.error_kind(400, too_long) is ErrorKind.CONTEXT_OVERFLOW
    assert wire.error_kind(422, "body.x: Field required") is ErrorKind.INVALID_INPUT
    assert wire.error_kind(503, "overloaded") is ErrorKind.GENERATION


@pytest.mark.parametrize(
    ("status", "body", "kind", "text"),
    [
        (400, CONTRACT_ERROR, ErrorKind.INVALID_INPUT, "unknown field `max_tokens`"),
        (422, FASTAPI_422, ErrorKind.INVALID_INPUT, "body.sampling_params.0: Field required"),
        (
            400,
            {"error": "Input length (5000 tokens) exceeds the maximum allowed length (4090"},
            ErrorKind.CONTEXT_OVERFLOW,
            "exceeds the maximum allowed length",
        ),
    ],
)
def test_server_errors_are_classified_and_split(
    status: int, body: dict[str, Any], kind: ErrorKind, text: str
) -> None:
    with FakeSGLangServer(SGLangDouble(make_tokenizer())) as server:
        # the whole batch is refused, then each half; the second half then succeeds
        server.faults.extend([(status, body), (status, body)])
        with server_backend(server) as backend:
            bad, good = backend.generate([request("bad"), request("good")])
    assert bad.error_kind is kind and bad.error is not None and text in bad.error
    assert good.error is None and good.text == "OK"
    assert server.posts == 3  # never retried: split once, each half sent once


# -- 4. dp_size against the server's own -------------------------------------------------------


def test_dp_size_above_the_servers_is_refused_at_start_up() -> None:
    with FakeSGLangServer(SGLangDouble(make_tokenizer()), dp_size=2) as server:
        with pytest.raises(ConfigError) as caught:
            server_backend(server, dp_size=4)
        assert "dp_size=4" in str(caught.value) and "dp_size=2" in str(caught.value)
        with server_backend(server, dp_size=2) as backend:
            generations = backend.generate([request("a"), request("b"), request("c")])
    assert [g.error for g in generations] == [None, None, None]


def test_a_server_without_server_info_is_not_checked() -> None:
    missing = frozenset({"/server_info", "/get_server_info"})
    double = SGLangDouble(make_tokenizer())
    with (
        FakeSGLangServer(double, missing=missing, dp_size=2) as server,
        server_backend(server, dp_size=2) as backend,
    ):
        [generation] = backend.generate([request("a")])
    assert generation.error is None


# -- 5. sglang-router refuses batched bodies: one request per call behind it -------------------


def test_split_payload_keeps_order_and_shared_fields() -> None:
    body = {
        "text": ["a", "b"],
        "sampling_params": [{"n": 1, "sampling_seed": 1}, {"n": 1, "sampling_seed": 2}],
        "token_ids_logprob": [5, 6],
    }
    first, second = wire.split_payload(body)
    assert first == {
        "text": "a",
        "sampling_params": body["sampling_params"][0],
        "token_ids_logprob": [5, 6],
    }
    assert second["text"] == "b" and second["sampling_params"]["sampling_seed"] == 2
    [warm] = wire.split_payload(wire.warm_payload(["prefix"]))
    assert warm == {"text": "prefix", "sampling_params": {"max_new_tokens": 0}}


def test_unbatched_backend_sends_one_request_per_call() -> None:
    requests = [request("a"), request("b", n=2, seed=3), request("c", n=2, seed=3)]
    with (
        FakeSGLangServer(DeterministicDouble(make_tokenizer())) as server,
        server_backend(server, batched=False) as backend,
    ):
        generations = backend.generate(requests)
    assert [(g.request_id, g.sample_index) for g in generations] == [
        ("a", 0),
        ("b", 0),
        ("b", 1),
        ("c", 0),
        ("c", 1),
    ]
    assert all(isinstance(call["text"], str) for call in server.double.calls)
    assert [g.error for g in generations] == [None] * 5


def test_server_info_read_in_nested_and_per_rank_shapes() -> None:
    from judge.backends.sglang.server import _info_int

    assert _info_int({"parallel": {"dp_size": 2}}, "dp_size") == 2
    assert _info_int({"dp_size": 4, "parallel": {"dp_size": 2}}, "dp_size") == 4
    assert _info_int({"enable_dp_attention": True}, "enable_dp_attention") is None
