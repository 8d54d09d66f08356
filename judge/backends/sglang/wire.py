"""SGLang's native ``generate`` wire format, shared by the engine and the HTTP server backends.

Pure Python: builds request bodies and reads responses; imports neither sglang nor httpx.
The shapes follow SGLang's own definitions (sgl-project/sglang, read at commit 001067ff):

- request: ``GenerateReqInput`` (python/sglang/srt/managers/io_struct.py) -- a batch is a list
  of ``text`` (or ``input_ids``) with a list of per-request ``sampling_params``; ``n`` must be
  the same for every request of one call, and with ``n > 1`` the logprob fields must be scalars
  (a flat ``token_ids_logprob`` list applies to every request).
- response: a list with one dict per request and sample, request-major (all samples of
  request 0, then of request 1; ``TokenizerManager._handle_batch_request``), each
  ``{"text", "output_ids", "meta_info"}``; ``meta_info`` carries ``prompt_tokens``,
  ``completion_tokens``, ``cached_tokens``, ``finish_reason`` (``{"type": "stop" | "length" |
  "abort", ...}``) and, with ``return_logprob``, ``output_token_logprobs`` (one
  ``[logprob, token_id, text|null]`` per output token), ``output_top_logprobs`` and
  ``output_token_ids_logprobs`` (per output token, a list of such triples, or null).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from judge.backends import choice_probs
from judge.backends.base import Capabilities
from judge.types import ErrorKind, FinishReason, Generation, GenerationRequest, Usage

InputField = Literal["text", "input_ids"]

#: Under a regex/json_schema grammar SGLang masks the logits before computing logprobs, so
#: returned logprobs are renormalised over the grammar-allowed tokens. Renormalising over the
#: choices gives the same ratio either way; the suffix records that the top-k list was masked.
GRAMMAR_SUFFIX = "+grammar"


class WireFormatError(Exception):
    """An SGLang response does not have the documented shape."""


@dataclass(frozen=True)
class WireRequest:
    """One request ready for the wire: its rendered prompt, the prompt's tokens, and probe ids."""

    request: GenerationRequest
    text: str
    input_ids: tuple[int, ...]
    choice_ids: Mapping[str, int] | None = None


def constraint_error(request: GenerationRequest) -> str | None:
    """Why SGLang would reject this request's constraint before decoding, if it would."""
    constraint = request.constraint
    if constraint is None or constraint.kind != "json_schema":
        return None
    try:
        schema = json.loads(constraint.value)
    except json.JSONDecodeError as exc:
        return f"json_schema is not valid JSON ({exc.msg} at character {exc.pos})"
    if not isinstance(schema, dict | bool):
        return f"json_schema must be a JSON object, got {type(schema).__name__}"
    return None


#: SGLang's scheduler admits a prompt only below ``max_req_input_len`` tokens, which is
#: ``min(context_len, kv_pool_tokens) - 1 - 5`` (python/sglang/srt/managers/tp_worker.py and
#: managers/utils.py ``validate_input_length``, 0.5.23): without the server's own figure, the
#: context length less this margin is the bound.
SCHEDULER_MARGIN = 6


def length_error(
    prompt_tokens: int,
    max_new_tokens: int,
    context_length: int | None,
    reserved: int = 0,
    max_input_tokens: int | None = None,
) -> str | None:
    """Why SGLang would reject a prompt of this length, mirroring its own checks.

    The tokenizer manager refuses ``prompt + reserved >= context_length`` and ``prompt + reserved
    + max_new_tokens > context_length`` (TokenizerManager._validate_one_request); the scheduler
    then refuses ``prompt >= max_req_input_len`` (`max_input_tokens`, read from the server where
    it tells, else ``context_length - SCHEDULER_MARGIN``), which also covers a small KV pool.
    """
    if max_input_tokens is None and context_length is not None:
        max_input_tokens = context_length - SCHEDULER_MARGIN
    if context_length is not None:
        needed = prompt_tokens + reserved
        if needed >= context_length:
            return (
                f"prompt has {prompt_tokens} tokens, not below the context length {context_length}"
            )
        if needed + max_new_tokens > context_length:
            return (
                f"prompt ({prompt_tokens} tokens) + max_new_tokens ({max_new_tokens}) exceeds "
                f"the context length {context_length}"
            )
    if max_input_tokens is not None and prompt_tokens >= max_input_tokens:
        return (
            f"prompt has {prompt_tokens} tokens; SGLang's scheduler admits prompts below "
            f"{max_input_tokens} tokens (its max_req_input_len)"
        )
    return None


def sampling_params(request: GenerationRequest, sample: int | None = None) -> dict[str, Any]:
    """SGLang ``sampling_params`` for one request, or for one of its samples.

    Every decoding knob is explicit, so results do not depend on the server's
    ``--sampling-defaults`` (which read the model's generation_config.json). With `sample`
    the params are those of that one draw (``n=1``) and its seed is ``seed + sample``.
    """
    sampling = request.sampling
    params: dict[str, Any] = {
        "max_new_tokens": sampling.max_new_tokens,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "top_k": -1,
        "min_p": 0.0,
        "repetition_penalty": 1.0,
        "n": sampling.n if sample is None else 1,
    }
    if request.score_after is not None:  # scored: one step whose logprobs are read
        params.update(max_new_tokens=1, temperature=0.0)
    if sampling.seed is not None:
        params["sampling_seed"] = sampling.seed + (sample or 0)
    if request.constraint is not None:
        params[request.constraint.kind] = request.constraint.value
    return params


def _per_sample(batch: Sequence[WireRequest]) -> bool:
    """Whether the samples of a seeded ``n > 1`` batch must be sent one by one.

    SGLang gives all ``n`` samples of a request its one ``sampling_seed``: under
    ``--enable-deterministic-inference`` the draws would be identical and self-consistency
    would collapse to one vote. One ``n=1`` entry per sample, each with its own
    seed, keeps the outputs in the same request-major order.
    """
    return any(w.request.sampling.n > 1 and w.request.sampling.seed is not None for w in batch)


def generate_payload(
    batch: Sequence[WireRequest],
    *,
    top_logprobs_num: int,
    input_field: InputField = "text",
    routed_dp_rank: int | None = None,
) -> dict[str, Any]:
    """The body of one batched ``/generate`` call (also the keyword arguments of Engine.generate).

    All requests of `batch` must share ``sampling.n``. Prompt logprobs are never asked for
    (``logprob_start_len=-1``): asking from position 0 disables radix-cache reuse.
    """
    sample_counts = {wire.request.sampling.n for wire in batch}
    if len(sample_counts) != 1:
        raise ValueError(f"one SGLang call needs one value of n, got {sorted(sample_counts)}")
    draws: list[tuple[WireRequest, int | None]] = (
        [(w, i) for w in batch for i in range(w.request.sampling.n)]
        if _per_sample(batch)
        else [(w, None) for w in batch]
    )
    payload: dict[str, Any] = {
        input_field: [w.text if input_field == "text" else list(w.input_ids) for w, _ in draws],
        "sampling_params": [sampling_params(w.request, sample) for w, sample in draws],
    }
    probed = [wire for wire in batch if wire.request.probe is not None]
    if probed:
        payload["return_logprob"] = True
        payload["logprob_start_len"] = -1
        payload["top_logprobs_num"] = top_logprobs_num
        token_ids = sorted({i for wire in probed for i in (wire.choice_ids or {}).values()})
        if token_ids:
            payload["token_ids_logprob"] = token_ids
    if routed_dp_rank is not None:
        payload["routed_dp_rank"] = routed_dp_rank
    return payload


def split_payload(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One single-request body per entry of a batched body, in order.

    sglang-router (0.3.2) refuses batched ``text``/``input_ids`` lists with a 422; each entry
    goes alone, with the batch-wide fields (logprob options, ``routed_dp_rank``) copied.
    """
    field = "text" if "text" in payload else "input_ids"
    prompts = payload[field]
    params = payload["sampling_params"]
    shared = {k: v for k, v in payload.items() if k not in (field, "sampling_params")}
    return [
        {
            **shared,
            field: prompt,
            "sampling_params": params[i] if isinstance(params, list) else params,
        }
        for i, prompt in enumerate(prompts)
    ]


def warm_payload(
    prefixes: Sequence[str] | Sequence[Sequence[int]],
    *,
    input_field: InputField = "text",
    routed_dp_rank: int | None = None,
) -> dict[str, Any]:
    """A ``max_new_tokens=0`` call that only fills the radix cache with shared prefixes."""
    prompts = [p if isinstance(p, str) else list(p) for p in prefixes]
    payload: dict[str, Any] = {input_field: prompts, "sampling_params": {"max_new_tokens": 0}}
    if routed_dp_rank is not None:
        payload["routed_dp_rank"] = routed_dp_rank
    return payload


def engine_arguments(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments of ``Engine.generate``/``async_generate`` for a ``/generate`` body.

    The engine takes the same fields, except that the text prompt is called ``prompt``
    (python/sglang/srt/entrypoints/engine.py).
    """
    return {("prompt" if key == "text" else key): value for key, value in payload.items()}


def usage_of(output: Mapping[str, Any]) -> Usage:
    """Token counts of one output from its ``meta_info``."""
    meta = output.get("meta_info") or {}
    return Usage(
        prompt_tokens=int(meta.get("prompt_tokens") or 0),
        completion_tokens=int(meta.get("completion_tokens") or 0),
        cached_tokens=int(meta.get("cached_tokens") or 0),
    )


def finish_of(meta: Mapping[str, Any]) -> tuple[FinishReason, str | None]:
    """Our finish reason, and an error for an aborted request."""
    reason = meta.get("finish_reason")
    kind = reason.get("type") if isinstance(reason, dict) else reason
    if kind == "length":
        return "length", None
    if kind == "abort":
        detail = reason.get("message") if isinstance(reason, dict) else None
        return "error", f"SGLang aborted the request: {detail or 'no reason given'}"
    return "stop", None


def error_message(body: Any) -> str:
    """The message of an SGLang error body, whatever its shape.

    ``{"error": {"message"}}`` (OpenAI style), ``{"error": "<string>"}`` (0.5.23's /generate
    contract), ``{"message"}``, and FastAPI's ``{"detail": "..."}`` or 422
    ``{"detail": [{"loc", "msg"}, ...]}``.
    """
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str) and error:
            return error
        detail = body.get("detail")
        if isinstance(detail, list) and detail:
            return "; ".join(_validation_item(item) for item in detail)
        for key in ("message", "detail"):
            if body.get(key):
                return str(body[key])
    return str(body)[:500]


def _validation_item(item: Any) -> str:
    """One FastAPI validation error as ``field.path: message``."""
    if not isinstance(item, dict):
        return str(item)
    where = ".".join(str(part) for part in item.get("loc") or ())
    message = str(item.get("msg") or item)
    return f"{where}: {message}" if where else message


#: SGLang's wording when a prompt does not fit (tokenizer manager and scheduler, 0.5.23).
_CONTEXT_WORDING = (
    "longer than the model's context length",
    "exceeds the model's context length",
    "exceeds the model's maximum context length",
    "exceeds the maximum allowed length",
)


def error_kind(status: int, message: str) -> ErrorKind:
    """The kind of an SGLang error answer: a prompt too long, a refused request, or other."""
    if any(wording in message for wording in _CONTEXT_WORDING):
        return ErrorKind.CONTEXT_OVERFLOW
    if status in (400, 422):
        return ErrorKind.INVALID_INPUT
    return ErrorKind.GENERATION


def _entries_at(rows: Any, index: int) -> list[tuple[float, int]]:
    """``(logprob, token_id)`` pairs at one output position of a top/token-ids logprob list."""
    if not isinstance(rows, list) or index >= len(rows) or not rows[index]:
        return []
    return [(float(entry[0]), int(entry[1])) for entry in rows[index] if entry[0] is not None]


def read_choice_probs(
    wire: WireRequest,
    meta: Mapping[str, Any],
    output_ids: Sequence[int],
    decode: choice_probs.Decode,
    top_logprobs_num: int,
) -> tuple[dict[str, float] | None, str | None]:
    """P(choice) at the verdict step of one output, and the source it was read from.

    The exact ids of the choices' first tokens (``token_ids_logprob``) are preferred; the
    top-logprobs list (which, under a grammar, only holds allowed tokens) is the fallback,
    with the sampled token added and a choice absent from it bounded by the K-th probability.
    """
    probe = wire.request.probe
    if probe is None:
        return None, None
    token_logprobs = meta.get("output_token_logprobs") or []
    ids = [int(entry[1]) for entry in token_logprobs] if token_logprobs else list(output_ids)
    # A scored request's prompt ends at the marker: its first output step is the choice.
    scored = wire.request.score_after is not None
    step = (0, "") if scored and ids else choice_probs.verdict_step(ids, probe.marker, decode)
    if step is None:
        return None, None
    index, rest = step
    suffix = GRAMMAR_SUFFIX if wire.request.constraint is not None else ""
    exact = _entries_at(meta.get("output_token_ids_logprobs"), index)
    if not rest and wire.choice_ids and exact:
        probs = choice_probs.from_choice_ids({t: lp for lp, t in exact}, wire.choice_ids)
        if probs is not None:
            return probs, "sglang:token_ids_logprob" + suffix
    top = _entries_at(meta.get("output_top_logprobs"), index)
    if not top:
        return None, None
    candidates = {token: logprob for logprob, token in top}
    if index < len(token_logprobs) and token_logprobs[index][0] is not None:
        candidates.setdefault(int(token_logprobs[index][1]), float(token_logprobs[index][0]))
    prefix = ids[:index]
    base = decode(prefix)
    texts = [(decode([*prefix, token])[len(base) :], lp) for token, lp in candidates.items()]
    bound = choice_probs.kth_largest_probability([lp for lp, _ in top], top_logprobs_num)
    probs = choice_probs.renormalise(texts, rest, probe.choices, absent_bound=bound)
    return (probs, "sglang:top_logprobs" + suffix) if probs is not None else (None, None)


def parse_outputs(
    body: Any, batch: Sequence[WireRequest], decode: choice_probs.Decode, *, top_logprobs_num: int
) -> list[Generation]:
    """Generations for `batch` from a batched response, in request then sample order.

    `top_logprobs_num` is the K the request asked for (it bounds choices absent from the list).
    """
    outputs = [body] if isinstance(body, dict) else body
    expected = sum(wire.request.sampling.n for wire in batch)
    if not isinstance(outputs, list) or len(outputs) != expected:
        got = len(outputs) if isinstance(outputs, list) else type(outputs).__name__
        raise WireFormatError(f"SGLang returned {got} outputs for {expected} expected")
    generations: list[Generation] = []
    position = 0
    for wire in batch:
        for sample in range(wire.request.sampling.n):
            output = outputs[position]
            if not isinstance(output, dict):
                raise WireFormatError(f"SGLang output {position} is {type(output).__name__}")
            generations.append(_generation(wire, sample, output, decode, top_logprobs_num))
            position += 1
    return generations


def _generation(
    wire: WireRequest,
    sample: int,
    output: Mapping[str, Any],
    decode: choice_probs.Decode,
    top_logprobs_num: int,
) -> Generation:
    meta = output.get("meta_info") or {}
    finish, error = finish_of(meta)
    probs, source = (None, None)
    if error is None:
        probs, source = read_choice_probs(
            wire, meta, output.get("output_ids") or [], decode, top_logprobs_num
        )
    scored = wire.request.score_after is not None and error is None
    return Generation(
        request_id=wire.request.id,
        sample_index=sample,
        text="" if scored else str(output.get("text") or ""),
        choice_probs=probs,
        probs_source=source,
        usage=usage_of(output),
        finish_reason="stop" if scored else finish,
        error=error,
    )


@dataclass(frozen=True)
class NotSent:
    """Why a request was not sent: a message and its failure kind."""

    message: str
    kind: ErrorKind = ErrorKind.GENERATION


def failed(
    request: GenerationRequest, message: str, kind: ErrorKind = ErrorKind.GENERATION
) -> list[Generation]:
    """The n error generations of a request that could not run."""
    return [
        Generation(
            request_id=request.id,
            sample_index=i,
            finish_reason="error",
            error=message,
            error_kind=kind,
        )
        for i in range(request.sampling.n)
    ]


def charge_warmup(generation: Generation, warm: Usage) -> Generation:
    """Add a warm-up request's tokens to a group's first generation, so totals stay exact."""
    return generation.model_copy(update={"usage": generation.usage + warm})


DETERMINISTIC_ARG = "enable_deterministic_inference"
"""SGLang's server argument for batch-invariant kernels (``--enable-deterministic-inference``)."""


def capabilities(context_length: int | None, batch_invariant: bool | None) -> Capabilities:
    """What either SGLang backend offers: constrained output, choice probabilities, radix cache.

    `batch_invariant` is whether the engine runs SGLang's deterministic inference mode (None: the
    server did not say).
    """
    return Capabilities(
        structured_output=True,
        choice_probabilities=True,
        score_without_decoding=True,
        prefix_cache=True,
        max_context_tokens=context_length,
        batch_invariant=batch_invariant,
    )
