"""Scored requests (reasoning none) on OpenAI-compatible servers: one token, its top logprobs.

A scored request's prompt must end exactly at the verdict marker, inside the assistant's reply.
Servers that continue a final assistant message (vLLM, SGLang: ``continue_final_message``) get
it as a chat request; any server gets it as a ``/completions`` prompt rendered here with the
served model's own tokenizer (`PromptEncoder`), which is what llama.cpp servers need: their chat
endpoint closes the assistant message and opens a new one. Either way ``max_tokens`` is 1 and
P(choice) is read from the top logprobs of that one position, never from the sampled token.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from judge.backends.chat_prompt import PromptEncoder
from judge.backends.openai.retry import RequestFailed
from judge.backends.openai.top_logprobs import choice_probs_at
from judge.backends.openai.wire import token_positions, usage_from_response
from judge.types import ErrorKind, Generation, GenerationRequest

PROBS_SOURCE = "top_logprobs"


def scored_call(
    request: GenerationRequest,
    model: str,
    *,
    encoder: PromptEncoder | None,
    top_logprobs: int,
    max_tokens_field: str,
    defaults: Mapping[str, Any],
) -> tuple[str, dict[str, Any]]:
    """The endpoint and JSON body of a scored request (a completions prompt with an encoder)."""
    assert request.score_after is not None
    body: dict[str, Any] = {**defaults, "model": model, "temperature": 0.0}
    if request.sampling.seed is not None:
        body["seed"] = request.sampling.seed
    if encoder is not None:
        body.update(
            prompt=encoder.render(request.messages) + request.score_after,
            max_tokens=1,
            logprobs=top_logprobs,
        )
        return "completions", body
    messages = [{"role": m.role, "content": m.content} for m in request.messages]
    messages.append({"role": "assistant", "content": request.score_after})
    body.update(
        messages=messages,
        continue_final_message=True,
        add_generation_prompt=False,
        logprobs=True,
        top_logprobs=top_logprobs,
    )
    body[max_tokens_field] = 1
    return "chat/completions", body


def scored_generation(
    payload: dict[str, Any], request: GenerationRequest, top_k: int
) -> Generation:
    """The choice probabilities of a scored request's answer (no text: nothing was decoded).

    A missing or unreadable top-logprobs list is the generation's error, never a guess.
    """
    assert request.probe is not None
    choices = payload.get("choices")
    first = choices[0] if isinstance(choices, list) and choices else None
    if not isinstance(first, dict):
        raise RequestFailed("the response has no choices", retryable=False)
    positions = token_positions(first)
    probs = None
    if positions:
        probs = choice_probs_at(positions[0], b"", request.probe, top_k=top_k)
    usage = usage_from_response(payload)
    if probs is None:
        listed = "no logprobs" if not positions else "none of the choices in the top logprobs"
        return Generation(
            request_id=request.id,
            finish_reason="error",
            error=f"scored request: {listed} after the marker {request.probe.marker!r}",
            error_kind=ErrorKind.UNPARSEABLE,
            usage=usage,
        )
    return Generation(
        request_id=request.id, choice_probs=probs, probs_source=PROBS_SOURCE, usage=usage
    )
