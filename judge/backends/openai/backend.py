"""A backend for OpenAI-compatible ``/v1/chat/completions``: OpenAI, vLLM, SGLang, llama.cpp.

Servers differ in how they take constraints, so the dialect is an option (`flavor`, detected from
``/v1/models`` by default) with per-feature overrides, and whatever a server cannot do is declared
in `capabilities` rather than pretended: without logprobs `choice_probs` is None, and a constraint
the dialect cannot express is dropped with a warning (or, with ``unsupported_constraint="error"``,
fails that request). A batch is sent as concurrent requests over one pooled ``httpx.Client``.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import random
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from pydantic import ValidationError

from judge.backends.base import Capabilities, seconds_left
from judge.backends.chat_prompt import PromptEncoder
from judge.backends.openai.discovery import discover
from judge.backends.openai.options import (
    DEFAULT_MAX_CONCURRENCY,
    DIALECTS,
    SINGLE_SLOT_OWNER,
    Dialect,
    OpenAIOptions,
    batch_in_flight,
)
from judge.backends.openai.retry import RequestFailed, RetryPolicy, post_json
from judge.backends.openai.scoring import scored_call, scored_generation
from judge.backends.openai.wire import generations_from_response, token_positions
from judge.backends.prefix_order import run_leaders_first
from judge.errors import ConfigError
from judge.types import ErrorKind, Generation, GenerationRequest

__all__ = ["OpenAIBackend", "OpenAIOptions"]

logger = logging.getLogger(__name__)


def _mentions_logprobs(status: int, body: bytes) -> bool:
    """An error answer about logprobs (e.g. llama-cpp-python's 500 without logits_all)."""
    return b"logprob" in body.lower()


class OpenAIBackend:
    """Judge with any server that speaks the OpenAI chat-completions API."""

    def __init__(
        self,
        options: OpenAIOptions | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        **settings: Any,
    ) -> None:
        try:
            base = options.model_dump() if options is not None else {}
            self._options = OpenAIOptions.model_validate({**base, **settings})
        except ValidationError as exc:
            raise ConfigError(
                f"openai backend: invalid options: {exc.errors()[0]['loc']}: "
                f"{exc.errors()[0]['msg']}",
                hint="see OpenAIOptions (judge/backends/openai/options.py) for accepted options",
            ) from exc
        opts = self._options
        self._base_url = opts.base_url.rstrip("/")
        headers = {"Accept": "application/json"}
        api_key = os.environ.get(opts.api_key_env)
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._client = httpx.Client(
            base_url=self._base_url + "/",
            headers=headers,
            timeout=httpx.Timeout(
                opts.read_timeout_s, connect=opts.connect_timeout_s, pool=opts.request_timeout_s
            ),
            limits=httpx.Limits(
                max_connections=opts.max_concurrency or batch_in_flight(None),
                max_keepalive_connections=opts.max_concurrency or batch_in_flight(None),
            ),
            transport=transport,
        )
        self._policy = RetryPolicy(
            max_retries=opts.max_retries,
            deadline_s=opts.request_timeout_s,
            backoff_base_s=opts.backoff_base_s,
            backoff_max_s=opts.backoff_max_s,
            rng=random.Random(),
        )
        self._pool: ThreadPoolExecutor | None = None
        self._warned: set[str] = set()
        try:
            self._start(opts)
        except BaseException:
            self._client.close()
            raise

    def _start(self, opts: OpenAIOptions) -> None:
        """Check the server, settle the dialect, and learn whether logprobs come back."""
        self._model, flavor, context, self._revision, self._owner = discover(
            self._client, self._base_url, self._options
        )
        dialect = DIALECTS[flavor]
        self._flavor = flavor
        self._dialect = Dialect(
            json_schema_style=opts.json_schema_style or dialect.json_schema_style,
            regex_style=opts.regex_style or dialect.regex_style,
            expand_n=dialect.expand_n if opts.expand_n is None else opts.expand_n,
            prefix_cache=dialect.prefix_cache if opts.prefix_cache is None else opts.prefix_cache,
            continuous_batching=dialect.continuous_batching,
            body_defaults=dialect.body_defaults,
            continues_reply=dialect.continues_reply,
        )
        self._encoder = (
            None if opts.tokenizer is None else PromptEncoder.from_pretrained(opts.tokenizer)
        )
        self._max_in_flight = opts.max_concurrency or self._default_in_flight()
        self._context = opts.max_context_tokens or context
        self._logprobs = opts.logprobs
        if opts.logprobs and opts.check_logprobs:
            self._logprobs = self._server_returns_logprobs()
        logger.info(
            "openai backend: %s at %s, flavor %s, %d in flight, %s",
            self._model,
            self._base_url,
            flavor,
            self._max_in_flight,
            self._dialect,
        )

    def _default_in_flight(self) -> int:
        """The whole batch for a continuous-batching server (up to the width it advertises)."""
        if not self._dialect.continuous_batching:
            # llama-cpp-python serves one request at a time: more in flight only queue there.
            return 1 if self._owner == SINGLE_SLOT_OWNER else DEFAULT_MAX_CONCURRENCY
        info = None
        if self._flavor == "sglang" and self._options.check_model:  # vLLM advertises no width
            try:
                url = f"{self._base_url.removesuffix('/v1')}/get_server_info"
                response = self._client.get(url, timeout=10.0)
                info = response.json() if response.status_code == 200 else None
            except (httpx.HTTPError, ValueError):
                info = None
        return batch_in_flight(info)

    @property
    def model_id(self) -> str:
        """The model name as the server serves it."""
        return self._model

    @property
    def flavor(self) -> str:
        """The server dialect in use (detected or given)."""
        return self._flavor

    @property
    def capabilities(self) -> Capabilities:
        """What this server supports, as configured and as found at start-up."""
        kinds = self.constraint_kinds
        return Capabilities(
            structured_output=bool(kinds),
            constraint_kinds=tuple(kind for kind in ("regex", "json_schema") if kind in kinds),
            choice_probabilities=self._logprobs,
            score_without_decoding=self._logprobs
            and (self._encoder is not None or self._dialect.continues_reply),
            prefix_cache=self._dialect.prefix_cache,
            max_context_tokens=self._context,
            model_revision=self._revision,
        )

    @property
    def constraint_kinds(self) -> frozenset[str]:
        """Constraint kinds the server is sent; others are dropped or fail per options."""
        kinds = set()
        if self._dialect.json_schema_style != "none":
            kinds.add("json_schema")
        if self._dialect.regex_style != "none":
            kinds.add("regex")
        return frozenset(kinds)

    def _server_returns_logprobs(self) -> bool:
        """Ask for one token with logprobs; False when the server refuses or ignores them."""
        body: dict[str, Any] = {
            "model": self._model,
            "messages": [{"role": "user", "content": "1"}],
            self._options.max_tokens_field: 1,
            "temperature": 0.0,
            "logprobs": True,
            "top_logprobs": self._options.top_logprobs,
        }
        try:
            start_up = RetryPolicy(
                max_retries=1,
                deadline_s=min(self._options.request_timeout_s, 60.0),
                backoff_base_s=self._policy.backoff_base_s,
                rng=self._policy.rng,
            )
            payload = post_json(
                self._client, "chat/completions", body, start_up, permanent=_mentions_logprobs
            )
        except RequestFailed as exc:
            if exc.retryable:
                logger.warning("openai backend: logprobs check failed (%s); assuming logprobs", exc)
                return True
            logger.warning("openai backend: %s refuses logprobs (%s)", self._base_url, exc)
            return False
        choices = payload.get("choices")
        first = choices[0] if isinstance(choices, list) and choices else None
        if isinstance(first, dict) and token_positions(first):
            return True
        logger.warning("openai backend: %s returns no logprobs", self._base_url)
        return False

    def _body(self, request: GenerationRequest, n: int, seed: int | None) -> dict[str, Any]:
        """The JSON body of one chat-completions call."""
        opts = self._options
        sampling = request.sampling
        body: dict[str, Any] = {**self._dialect.body_defaults, **opts.extra_body}
        body.update(
            model=self._model,
            messages=[{"role": m.role, "content": m.content} for m in request.messages],
            temperature=sampling.temperature,
            top_p=sampling.top_p,
        )
        body[opts.max_tokens_field] = sampling.max_new_tokens
        if n > 1:
            body["n"] = n
        if seed is not None:
            body["seed"] = seed
        if request.probe is not None and self._logprobs:
            body["logprobs"] = True
            body["top_logprobs"] = opts.top_logprobs
        constraint = request.constraint
        if constraint is None:
            return body
        if constraint.kind not in self.constraint_kinds:
            if opts.unsupported_constraint == "error":
                raise RequestFailed(
                    f"this server ({self._flavor}) is not configured for {constraint.kind} "
                    "constraints; set json_schema_style/regex_style, or "
                    "unsupported_constraint='unconstrained'",
                    retryable=False,
                )
            if constraint.kind not in self._warned:
                self._warned.add(constraint.kind)
                logger.warning(
                    "openai backend (%s): %s constraints are not supported; generating "
                    "unconstrained",
                    self._flavor,
                    constraint.kind,
                )
            return body
        if constraint.kind == "json_schema":
            try:
                schema = json.loads(constraint.value)
            except ValueError as exc:
                raise RequestFailed(
                    f"constraint is not a JSON schema: {exc}", retryable=False
                ) from None
            if self._dialect.json_schema_style == "json_object":
                body["response_format"] = {"type": "json_object", "schema": schema}
            else:
                body["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {
                        "name": "judgment",
                        "schema": schema,
                        "strict": opts.json_schema_strict,
                    },
                }
        elif self._dialect.regex_style == "structured_outputs":
            body["structured_outputs"] = {"regex": constraint.value}
        else:
            body[self._dialect.regex_style] = constraint.value
        return body

    def _run(
        self, request: GenerationRequest, samples: range, seed: int | None
    ) -> list[Generation]:
        """One HTTP call for `samples` of `request`; a failure becomes each sample's error.

        A request past its deadline is not sent; one sent gets the time left as its limit.
        """
        left = seconds_left(request)
        policy = self._policy
        try:
            if left is not None and left <= 0:
                raise RequestFailed("the deadline passed before it was sent", retryable=False)
            if request.score_after is not None:
                return [self._score(request)]
            body = self._body(request, len(samples), seed)
            asks_logprobs = "logprobs" in body
            try:
                payload = post_json(
                    self._client,
                    "chat/completions",
                    body,
                    policy,
                    permanent=_mentions_logprobs if asks_logprobs else None,
                    until=request.deadline,
                )
            except RequestFailed as exc:
                if not (asks_logprobs and not exc.retryable and "logprob" in str(exc).lower()):
                    raise
                # The server refuses logprobs: drop them for good, answer without confidence.
                logger.warning(
                    "openai backend: server refused logprobs (%s); continuing "
                    "without choice probabilities",
                    exc,
                )
                self._logprobs = False
                body = self._body(request, len(samples), seed)
                payload = post_json(
                    self._client, "chat/completions", body, policy, until=request.deadline
                )
            return generations_from_response(
                payload, request, samples, top_k=self._options.top_logprobs
            )
        except RequestFailed as exc:
            endpoint = (
                "completions" if request.score_after and self._encoder else "chat/completions"
            )
            message = f"POST {self._base_url}/{endpoint}: {exc}"
        except Exception as exc:  # the batch contract: one request never sinks the others
            logger.exception("openai backend: unexpected failure of request %s", request.id)
            message = f"unexpected {type(exc).__name__}: {exc}"
        late = request.deadline is not None and (seconds_left(request) or 0.0) <= 0
        return [
            Generation(
                request_id=request.id,
                sample_index=index,
                finish_reason="error",
                error=message,
                error_kind=ErrorKind.TIMEOUT if late else None,
            )
            for index in samples
        ]

    @property
    def max_in_flight(self) -> int:
        """Requests sent at once: `max_concurrency`, or the flavor's default."""
        return self._max_in_flight

    def _score(self, request: GenerationRequest) -> Generation:
        """A scored request (reasoning none): one token, P(choice) from its top logprobs."""
        endpoint, body = scored_call(
            request,
            self._model,
            encoder=self._encoder,
            top_logprobs=self._options.top_logprobs,
            max_tokens_field=self._options.max_tokens_field,
            defaults={**self._dialect.body_defaults, **self._options.extra_body},
        )
        payload = post_json(self._client, endpoint, body, self._policy, until=request.deadline)
        return scored_generation(payload, request, self._options.top_logprobs)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Send the batch concurrently and keep its order.

        With a prefix cache, each prefix group of scored (one-token) requests sends its first
        call ahead of its siblings (see `judge.backends.prefix_order`); otherwise calls go in
        batch order.
        """
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                max_workers=self._max_in_flight, thread_name_prefix="judge-openai"
            )
        calls: list[Callable[[], list[Generation]]] = []
        keys: list[str | None] = []
        for request in requests:
            n, seed = request.sampling.n, request.sampling.seed
            # Only a one-token leader (a scored request) is worth waiting for: one that decodes
            # holds its siblings back for its whole decode.
            key = request.prefix_group if request.sampling.max_new_tokens == 1 else None
            if n > 1 and self._dialect.expand_n:
                for index in range(n):
                    sample_seed = None if seed is None else seed + index
                    calls.append(
                        functools.partial(self._run, request, range(index, index + 1), sample_seed)
                    )
                    keys.append(key)
            else:
                calls.append(functools.partial(self._run, request, range(n), seed))
                keys.append(key)
        if self._dialect.prefix_cache:
            results = run_leaders_first(self._pool, calls, keys)
        else:
            results = [future.result() for future in [self._pool.submit(c) for c in calls]]
        return [generation for result in results for generation in result]

    def close(self) -> None:
        """Close the connections and stop the worker threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._client.close()

    def __enter__(self) -> OpenAIBackend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
