"""Reading OpenAI chat-completions answers: choices, usage, and per-token logprobs.

Servers fill the optional parts differently: ``bytes`` may be null (llama-cpp-python), usage
may lack ``prompt_tokens_details``, and older servers return completion-style logprobs
(``tokens`` / ``token_logprobs`` / ``top_logprobs`` as dicts). Everything optional is read
defensively; a missing part yields None, never an invented value.
"""

from __future__ import annotations

from typing import Any

import httpx

from judge.backends.openai.retry import RequestFailed
from judge.backends.openai.top_logprobs import TokenAlternatives, choice_probs_at_marker
from judge.types import FinishReason, Generation, GenerationRequest, Usage

PROBS_SOURCE = "top_logprobs"


def served_models(response: httpx.Response) -> dict[str, dict[str, Any]]:
    """Map model id -> its ``/models`` entry (empty when the body is not a model list)."""
    try:
        payload = response.json()
    except ValueError:
        return {}
    entries = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(entries, list):
        return {}
    return {
        str(entry["id"]): entry
        for entry in entries
        if isinstance(entry, dict) and isinstance(entry.get("id"), str)
    }


def _int(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


def usage_from_response(payload: dict[str, Any]) -> Usage:
    """Token counts of a response; cached tokens from ``prompt_tokens_details`` when given."""
    usage = payload.get("usage")
    if not isinstance(usage, dict):
        return Usage()
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    return Usage(
        prompt_tokens=_int(usage.get("prompt_tokens")),
        completion_tokens=_int(usage.get("completion_tokens")),
        cached_tokens=_int(cached),
    )


def _token_bytes(entry: dict[str, Any]) -> bytes | None:
    raw = entry.get("bytes")
    if isinstance(raw, list) and all(isinstance(b, int) and 0 <= b < 256 for b in raw):
        return bytes(raw)
    token = entry.get("token")
    return token.encode("utf-8") if isinstance(token, str) else None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _chat_positions(content: list[Any]) -> list[TokenAlternatives] | None:
    positions = []
    for entry in content:
        if not isinstance(entry, dict):
            return None
        token, logprob = _token_bytes(entry), _float(entry.get("logprob"))
        if token is None or logprob is None:
            return None
        top = []
        for alternative in entry.get("top_logprobs") or ():
            if not isinstance(alternative, dict):
                continue
            alt_token, alt_logprob = _token_bytes(alternative), _float(alternative.get("logprob"))
            if alt_token is not None and alt_logprob is not None:
                top.append((alt_token, alt_logprob))
        positions.append(TokenAlternatives(token, logprob, tuple(top)))
    return positions


def _completion_positions(logprobs: dict[str, Any]) -> list[TokenAlternatives] | None:
    tokens, values, tops = (logprobs.get(k) for k in ("tokens", "token_logprobs", "top_logprobs"))
    if not (isinstance(tokens, list) and isinstance(values, list) and isinstance(tops, list)):
        return None
    positions = []
    for token, value, top in zip(tokens, values, tops, strict=False):
        logprob = _float(value)
        if not isinstance(token, str) or logprob is None:
            return None
        alternatives = tuple(
            (text.encode("utf-8"), float(lp))
            for text, lp in (top.items() if isinstance(top, dict) else ())
            if isinstance(text, str) and _float(lp) is not None
        )
        positions.append(TokenAlternatives(token.encode("utf-8"), logprob, alternatives))
    return positions


def token_positions(choice: dict[str, Any]) -> list[TokenAlternatives] | None:
    """The per-token logprobs of one choice, or None when the server sent none."""
    logprobs = choice.get("logprobs")
    if not isinstance(logprobs, dict):
        return None
    content = logprobs.get("content")
    if isinstance(content, list):
        return _chat_positions(content)
    return _completion_positions(logprobs)


def _finish_reason(value: Any) -> FinishReason:
    return "length" if value == "length" else "stop"


def generations_from_response(
    payload: dict[str, Any], request: GenerationRequest, samples: range, top_k: int | None
) -> list[Generation]:
    """One Generation per sample index, read from the response's choices (by `index`).

    The response's usage is given to the first generation only (the prompt was processed once);
    a choice missing from the response becomes that sample's error.
    """
    raw_choices = payload.get("choices")
    if not isinstance(raw_choices, list):
        raise RequestFailed("the response has no 'choices' list", retryable=False)
    by_index: dict[int, dict[str, Any]] = {}
    for position, choice in enumerate(raw_choices):
        if isinstance(choice, dict):
            index = choice.get("index")
            by_index.setdefault(index if isinstance(index, int) else position, choice)
    usage = usage_from_response(payload)
    generations = []
    for offset, sample_index in enumerate(samples):
        choice = by_index.get(offset)
        if choice is None:
            generations.append(
                Generation(
                    request_id=request.id,
                    sample_index=sample_index,
                    finish_reason="error",
                    error=f"the server returned {len(by_index)} choices for n={len(samples)}; "
                    "if it ignores n, set expand_n=True",
                )
            )
            continue
        message = choice.get("message")
        text = message.get("content") if isinstance(message, dict) else None
        choice_probs = None
        if request.probe is not None:
            positions = token_positions(choice)
            if positions is not None:
                choice_probs = choice_probs_at_marker(positions, request.probe, top_k=top_k)
        generations.append(
            Generation(
                request_id=request.id,
                sample_index=sample_index,
                text=text if isinstance(text, str) else "",
                choice_probs=choice_probs,
                probs_source=PROBS_SOURCE if choice_probs is not None else None,
                usage=usage if offset == 0 else Usage(),
                finish_reason=_finish_reason(choice.get("finish_reason")),
            )
        )
    return generations


__all__ = [
    "PROBS_SOURCE",
    "generations_from_response",
    "served_models",
    "token_positions",
    "usage_from_response",
]
