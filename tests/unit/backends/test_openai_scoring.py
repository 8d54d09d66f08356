"""reasoning none on the OpenAI-compatible backend: one token, P(choice) from its top logprobs.

The server is httpx's MockTransport (FakeServer of test_openai_backend_unit), answering in the
chat-completions and completions wire formats; real servers: tests/integration.
"""

from __future__ import annotations

import json
import math
from typing import Any

import httpx
import pytest

from judge.backends.chat_prompt import PromptEncoder
from judge.backends.openai import OpenAIBackend
from judge.errors import ConfigError
from judge.runner.judge import Judge
from judge.types import ChoiceProbe, ErrorKind, GenerationRequest, Message, SamplingParams
from tests.doubles.sglang import make_tokenizer
from tests.unit.backends.test_openai_backend_unit import FakeServer, _backend

MARKER = '"verdict": "'
PROBE = ChoiceProbe(marker=MARKER, choices=("yes", "no"))


def scored(rid: str = "s0/c") -> GenerationRequest:
    return GenerationRequest(
        id=rid,
        messages=(Message(role="system", content="Judge."), Message(role="user", content="Q?")),
        sampling=SamplingParams(max_new_tokens=1, temperature=0.0, seed=3),
        probe=PROBE,
        score_after="{" + MARKER,
    )


def top(*alternatives: tuple[str, float]) -> list[dict[str, Any]]:
    return [
        {"token": t, "logprob": math.log(p), "bytes": list(t.encode())} for t, p in alternatives
    ]


def chat_answer(alternatives: list[dict[str, Any]]) -> Any:
    def answer(body: dict[str, Any]) -> httpx.Response:
        first = alternatives[0] if alternatives else {"token": "yes", "logprob": -0.1}
        content = [{**first, "top_logprobs": alternatives}]
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": first["token"]},
            "finish_reason": "length",
            "logprobs": {"content": content},
        }
        usage = {"prompt_tokens": 30, "completion_tokens": 1}
        return httpx.Response(200, json={"choices": [choice], "usage": usage})

    return answer


def test_vllm_continues_the_reply_and_reads_the_first_position() -> None:
    server = FakeServer(chat_answer(top(("yes", 0.6), ("no", 0.3), ("maybe", 0.1))))
    with _backend(server, flavor="vllm", check_logprobs=False) as backend:
        assert backend.capabilities.score_without_decoding
        [generation] = backend.generate([scored()])
    body = server.bodies[-1]
    assert body["messages"][-1] == {"role": "assistant", "content": "{" + MARKER}
    assert body["continue_final_message"] is True and body["add_generation_prompt"] is False
    assert body["max_tokens"] == 1 and body["logprobs"] is True and body["top_logprobs"] == 20
    assert "response_format" not in body and body["seed"] == 3
    assert generation.error is None and generation.text == "" and generation.finish_reason == "stop"
    assert generation.choice_probs == {"yes": pytest.approx(2 / 3), "no": pytest.approx(1 / 3)}
    assert generation.probs_source == "top_logprobs"


def test_no_choice_in_the_top_logprobs_is_an_error_value() -> None:
    server = FakeServer(chat_answer(top(("maybe", 0.9), ("perhaps", 0.1))))
    with _backend(server, flavor="sglang", check_logprobs=False) as backend:
        [generation] = backend.generate([scored()])
    assert generation.choice_probs is None and generation.error_kind == ErrorKind.UNPARSEABLE
    assert "none of the choices" in (generation.error or "")


def test_llama_cpp_without_a_tokenizer_cannot_score_and_says_so_before_judging() -> None:
    server = FakeServer(owned_by="llamacpp")
    with _backend(server, check_logprobs=False) as backend:
        assert backend.flavor == "llama.cpp"
        assert not backend.capabilities.score_without_decoding
        with pytest.raises(ConfigError, match="cannot score without decoding"):
            Judge(backend, "helpfulness", reasoning="none")
    assert server.bodies == []


def test_with_a_tokenizer_the_prompt_is_rendered_here_for_completions(monkeypatch) -> None:
    encoder = PromptEncoder(make_tokenizer())
    monkeypatch.setattr(PromptEncoder, "from_pretrained", classmethod(lambda cls, name: encoder))
    seen: list[tuple[str, dict[str, Any]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/models"):
            data = [{"id": "m", "object": "model", "owned_by": "llamacpp"}]
            return httpx.Response(200, json={"object": "list", "data": data})
        seen.append((request.url.path, json.loads(request.content)))
        logprobs = {
            "tokens": ["no"],
            "token_logprobs": [math.log(0.7)],
            "top_logprobs": [{"no": math.log(0.7), "yes": math.log(0.2), "x": math.log(0.1)}],
        }
        choice = {"index": 0, "text": "no", "finish_reason": "length", "logprobs": logprobs}
        return httpx.Response(200, json={"choices": [choice]})

    with OpenAIBackend(
        base_url="http://judge.test/v1",
        transport=httpx.MockTransport(handler),
        tokenizer="served-model-tokenizer",
        check_logprobs=False,
    ) as backend:
        assert backend.capabilities.score_without_decoding
        [generation] = backend.generate([scored()])
    [(path, body)] = seen
    assert path.endswith("/v1/completions")
    assert body["prompt"] == encoder.render(scored().messages) + "{" + MARKER
    assert body["prompt"].endswith("<|im_start|>assistant\n{" + MARKER)
    assert body["max_tokens"] == 1 and body["logprobs"] == 20
    assert body["repeat_penalty"] == 1.0  # the flavor's sampler defaults still apply
    assert generation.choice_probs == {"yes": pytest.approx(2 / 9), "no": pytest.approx(7 / 9)}
