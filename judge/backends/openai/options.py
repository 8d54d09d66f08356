"""Options of the OpenAI-compatible backend, and what each server family accepts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Flavor = Literal["auto", "openai", "vllm", "sglang", "llama.cpp"]
JsonSchemaStyle = Literal["json_schema", "json_object", "none"]
RegexStyle = Literal["regex", "guided_regex", "structured_outputs", "none"]


@dataclass(frozen=True)
class Dialect:
    """How one server family takes constraints, `n`, and whether it caches prefixes."""

    json_schema_style: JsonSchemaStyle
    regex_style: RegexStyle
    expand_n: bool
    prefix_cache: bool
    continuous_batching: bool = False
    """The server batches whatever is in flight: send the whole batch at once, not 8 at a time."""
    body_defaults: Mapping[str, Any] = field(default_factory=dict)
    """Fields sent with every request, before `extra_body` (which may override them)."""
    continues_reply: bool = False
    """Chat requests take ``continue_final_message`` (the prompt ends inside the last assistant
    message): a scored request (reasoning none) needs no local tokenizer."""


# What each server family accepts (checked against their docs and, for llama.cpp, by the tests):
# SGLang takes an extra `regex` field; vLLM >= 0.12 takes `structured_outputs: {"regex": ...}`
# (older releases `guided_regex`); llama-cpp-python answers 500 to `json_schema` but honours
# `json_object` with a `schema`, and ignores `n`. llama.cpp servers also apply samplers of their
# own by default (repeat_penalty 1.1, top_k 40, min_p 0.05): a repeat penalty flips greedy
# verdicts after a rationale that mentions "yes", so they are turned off to decode as asked.
DIALECTS: dict[str, Dialect] = {
    "openai": Dialect("json_schema", "none", expand_n=False, prefix_cache=False),
    "vllm": Dialect(
        "json_schema",
        "structured_outputs",
        expand_n=False,
        prefix_cache=True,
        continuous_batching=True,
        continues_reply=True,
    ),
    "sglang": Dialect(
        "json_schema",
        "regex",
        expand_n=False,
        prefix_cache=True,
        continuous_batching=True,
        continues_reply=True,
    ),
    "llama.cpp": Dialect(
        "json_object",
        "none",
        expand_n=True,
        prefix_cache=False,
        body_defaults={"repeat_penalty": 1.0, "top_k": 0, "min_p": 0.0},
    ),
}
DEFAULT_MAX_CONCURRENCY = 8
"""In-flight requests for servers that do not batch continuously (OpenAI, llama.cpp)."""
BATCH_IN_FLIGHT_CEILING = 512
"""Most in-flight requests (worker threads) when the whole batch is sent at once."""


def batch_in_flight(server_info: object) -> int:
    """In-flight requests for a continuous-batching server, at most `BATCH_IN_FLIGHT_CEILING`.

    SGLang's advertised ``max_running_requests`` (/get_server_info, top level or per DP rank)
    when it gives one, else the whole batch.
    """
    sources: list[object] = []
    if isinstance(server_info, dict):
        states = server_info.get("internal_states")
        sources = [server_info, *(states if isinstance(states, list) else [])]
    for source in sources:
        width = source.get("max_running_requests") if isinstance(source, dict) else None
        if isinstance(width, int) and not isinstance(width, bool) and width > 0:
            return min(width, BATCH_IN_FLIGHT_CEILING)
    return BATCH_IN_FLIGHT_CEILING


SINGLE_SLOT_OWNER = "me"
"""llama-cpp-python's ``owned_by``: its server runs one request at a time (llama.cpp's own
``llama-server``, "llamacpp", has parallel slots)."""
OWNERS = {
    "vllm": "vllm",
    "sglang": "sglang",
    "llamacpp": "llama.cpp",
    SINGLE_SLOT_OWNER: "llama.cpp",
}


class OpenAIOptions(BaseModel):
    """Options of `OpenAIBackend`; unknown names are errors. None means "the flavor's default"."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str = "https://api.openai.com/v1"
    model: str | None = None
    """Model to ask for; None takes the one model the server serves."""
    api_key_env: str = "OPENAI_API_KEY"
    """Environment variable holding the API key (sent as a bearer token when set)."""
    flavor: Flavor = "auto"
    json_schema_style: JsonSchemaStyle | None = None
    regex_style: RegexStyle | None = None
    unsupported_constraint: Literal["unconstrained", "error"] = "unconstrained"
    logprobs: bool = True
    """Ask for top-K logprobs when a request has a ChoiceProbe."""
    top_logprobs: int = Field(default=20, ge=1)
    expand_n: bool | None = None
    """Send ``n`` separate requests instead of one with ``n`` (for servers that ignore `n`)."""
    prefix_cache: bool | None = None
    max_context_tokens: int | None = Field(default=None, ge=1)
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    json_schema_strict: bool = False
    max_concurrency: int | None = Field(default=None, ge=1)
    """Requests in flight at once. None: for vLLM and SGLang the whole batch (at most the
    server's advertised ``max_running_requests``, and at most 512), else 8."""
    connect_timeout_s: float = Field(default=10.0, gt=0)
    read_timeout_s: float = Field(default=120.0, gt=0)
    """Longest silence between bytes of a response."""
    request_timeout_s: float = Field(default=300.0, gt=0)
    """Longest time for one attempt of one request, start to end."""
    max_retries: int = Field(default=3, ge=0)
    backoff_base_s: float = Field(default=0.5, ge=0)
    backoff_max_s: float = Field(default=20.0, ge=0)
    extra_body: dict[str, Any] = Field(default_factory=dict)
    """Fields merged into every request body (server-specific settings)."""
    check_model: bool = True
    """Ask ``/models`` at start-up and fail if the server is down or lacks the model."""
    check_logprobs: bool = True
    """Send one 1-token request at start-up to learn whether the server returns logprobs."""
    tokenizer: str | None = None
    """The served model's Hugging Face tokenizer (local path or id): scored requests (reasoning
    none) are then rendered here and sent to ``/completions``, ending exactly at the marker."""
