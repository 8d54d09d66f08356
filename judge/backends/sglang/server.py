"""A running SGLang server (or sglang-router in front of many) through its native ``/generate``.

One HTTP call per prefix group -- a warm-up of the group's shared prefix, then the group as a
batched ``text`` list -- so a cache-aware router sends a group to the worker that holds its
prefix, while groups fan out over workers. Calls run concurrently (bounded), over one pooled
connection set; connection errors and 5xx answers are retried with jittered exponential backoff,
4xx answers never are; a 400 or 422 from a batch is bisected so one bad row fails alone.

sglang-router (0.3.2) refuses batched bodies (422) and drops ``routed_dp_rank``: behind it
(detected from its /get_server_info, or ``batched=False``) each request goes in its own call,
a group's calls in order, and the router's cache-aware policy does the prefix pinning.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from judge.backends.base import Capabilities, ServingHealth
from judge.backends.chat_prompt import PromptEncoder
from judge.backends.sglang import batching, router, wire
from judge.errors import BackendUnavailableError, ConfigError
from judge.types import ErrorKind, Generation, GenerationRequest, Usage

logger = logging.getLogger(__name__)

DEFAULT_URL = "http://127.0.0.1:30000"


class ServerCallError(Exception):
    """An SGLang server answered with an error status (after any retries)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.kind = wire.error_kind(status, message)


class DeadlinePassed(Exception):
    """Every request of a call is past its deadline: it is not sent, or no longer waited for."""

    kind = ErrorKind.TIMEOUT


def _until(batch: Sequence[wire.WireRequest]) -> float | None:
    """When nobody waits for a call: its requests' latest deadline (None if one has none)."""
    deadlines = [item.request.deadline for item in batch]
    return None if None in deadlines else max(d for d in deadlines if d is not None)


def _is_bad_request(exc: Exception) -> bool:
    """A 400 or 422: SGLang rejected something in the batch (a grammar, a length, a field)."""
    return isinstance(exc, ServerCallError) and exc.status in (400, 422)


def _info_int(info: dict[str, Any], key: str) -> int | None:
    """An integer of /server_info, at the top level or in one nested group of server args."""
    nested = [v.get(key) for v in info.values() if isinstance(v, dict)]
    for value in (info.get(key), *nested):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _info_bool(info: dict[str, Any], key: str) -> bool | None:
    """A flag of /server_info, at the top level or in one nested group of server args."""
    nested = [v.get(key) for v in info.values() if isinstance(v, dict)]
    for value in (info.get(key), *nested):
        if isinstance(value, bool):
            return value
    return None


def same_model(asked: str, served: str) -> bool:
    """Whether a served model path names the model asked for (HF id, local dir or hub cache)."""

    def names(path: str) -> set[str]:
        path = path.rstrip("/").lower()
        parts = path.split("/")
        found = {path, parts[-1], "/".join(parts[-2:])}
        for part in parts:  # a hub cache dir: models--org--name/snapshots/<hash>
            if part.startswith("models--"):
                repo = part[len("models--") :].replace("--", "/")
                found |= {repo, repo.split("/")[-1]}
        return found

    return bool(names(asked) & names(served))


class SGLangServerBackend:
    """Judges through a running SGLang server's native API (see module docstring)."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        model: str | None = None,
        tokenizer: str | None = None,
        tokenizer_object: Any = None,
        chat_template: str | None = None,
        api_key: str | None = None,
        timeout: float = 600.0,
        connect_timeout: float = 5.0,
        max_concurrency: int = 16,
        max_batch_size: int = 64,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        top_logprobs_num: int = 20,
        warm_prefixes: bool = True,
        min_warm_tokens: int = 32,
        context_length: int | None = None,
        dp_size: int = 1,
        batched: bool | None = None,
        wait_for_server: float = 0.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if max_concurrency < 1 or max_batch_size < 1 or max_retries < 0:
            raise ConfigError(
                f"max_concurrency={max_concurrency}, max_batch_size={max_batch_size}, "
                f"max_retries={max_retries}",
                hint="concurrency and batch size must be >= 1, retries >= 0",
            )
        self.base_url = base_url.rstrip("/")
        self._max_retries = max_retries
        self._backoff = (backoff_base, backoff_max)
        self._max_batch_size = max_batch_size
        self._top_logprobs_num = top_logprobs_num
        self._warm = warm_prefixes
        self._min_warm_tokens = min_warm_tokens
        self._dp_size = dp_size
        self._batched = batched
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            limits=httpx.Limits(
                max_connections=max_concurrency, max_keepalive_connections=max_concurrency
            ),
            transport=transport,
        )
        self._pool = ThreadPoolExecutor(max_concurrency, thread_name_prefix="judge-sglang")
        self._tokenizer_path: str | None = None
        self._deterministic: bool | None = None
        self._revision: str | None = None
        try:
            self._wait_healthy(wait_for_server, min(timeout, 60.0))
            served, served_names, context = self._model_info()
            if model is not None and served and not any(same_model(model, s) for s in served_names):
                raise BackendUnavailableError(
                    f"SGLang server at {self.base_url} serves {served!r}, not {model!r}",
                    hint=f"start it with `sglang serve --model-path {model}`, or ask for "
                    f"model={served!r}",
                )
            if served is None and model is None:
                raise BackendUnavailableError(
                    f"SGLang server at {self.base_url} does not say which model it serves",
                    hint="pass model=<model path> and tokenizer=<tokenizer path>",
                )
            self._model_id = served or str(model)
            self._context_length = context_length or context
            self._max_input_tokens = self._check_server_info(dp_size)
            if tokenizer_object is not None:
                self._encoder = PromptEncoder(tokenizer_object, chat_template=chat_template)
            else:
                source = tokenizer or self._tokenizer_path or self._model_id
                self._encoder = PromptEncoder.from_pretrained(source, chat_template=chat_template)
        except BaseException:
            self.close()
            raise

    # -- start-up -------------------------------------------------------------------------

    def _wait_healthy(self, wait_for: float, probe_timeout: float) -> None:
        deadline = time.monotonic() + wait_for
        while True:
            try:
                response = self._client.get("/health", timeout=probe_timeout)
            except httpx.TransportError as exc:
                reason = f"unreachable ({type(exc).__name__}: {exc})"
            else:
                if response.status_code == 200:
                    return
                reason = f"not healthy (HTTP {response.status_code} on /health)"
            if time.monotonic() >= deadline:
                raise BackendUnavailableError(
                    f"SGLang server at {self.base_url} is {reason}",
                    hint="start one with `sglang serve --model-path MODEL --port PORT` "
                    "(it answers /health once the model is loaded), or fix --base-url",
                )
            time.sleep(1.0)

    def _get_json(self, path: str) -> Any:
        try:
            response = self._client.get(path, timeout=30.0)
        except httpx.TransportError:
            return None
        if response.status_code != 200:
            return None
        try:
            return response.json()
        except ValueError:
            return None

    def _check_server_info(self, dp_size: int) -> int | None:
        """Check `dp_size` against the server's own; its ``max_req_input_len`` if it tells.

        A `dp_size` above the server's makes every row fail with "routed_dp_rank out of
        range", so it is refused here. A router or an older server may not answer
        /server_info; then nothing can be checked.
        """
        info = self._get_json("/server_info") or self._get_json("/get_server_info")
        if self._batched is None:
            # sglang-router answers {"router_manager": true, ...} and refuses batched bodies
            self._batched = not (isinstance(info, dict) and info.get("router_manager"))
        if not isinstance(info, dict):
            if dp_size > 1:
                logger.warning(
                    "%s gives no /server_info: dp_size=%d unchecked", self.base_url, dp_size
                )
            return None
        served_dp = _info_int(info, "dp_size")
        if served_dp is None and isinstance(info.get("internal_states"), list):
            served_dp = len(info["internal_states"]) or None  # one entry per DP rank
        if served_dp is not None and dp_size > served_dp:
            raise ConfigError(
                f"dp_size={dp_size} but the SGLang server at {self.base_url} runs dp_size="
                f"{served_dp}: every request would fail with 'routed_dp_rank out of range'",
                hint=f"pass dp_size={served_dp} (or leave it at 1 to let the server balance)",
            )
        self._deterministic = _info_bool(info, wire.DETERMINISTIC_ARG)
        limit = _info_int(info, "max_req_input_len")
        return limit if limit is not None and limit > 0 else None

    def _model_info(self) -> tuple[str | None, list[str], int | None]:
        """The served model path, every name it answers to, and its context length if told."""
        info = self._get_json("/model_info") or self._get_json("/get_model_info") or {}
        served = info.get("model_path") if isinstance(info, dict) else None
        if isinstance(info, dict) and info.get("tokenizer_path"):
            self._tokenizer_path = str(info["tokenizer_path"])
        if isinstance(info, dict):  # weights updated in place get a new weight_version
            behind = [f"{k}={info[k]}" for k in ("model_path", "weight_version") if info.get(k)]
            self._revision = ", ".join(behind) or None
        names = [str(served)] if served else []
        context: int | None = None
        models = self._get_json("/v1/models")
        for card in models.get("data", []) if isinstance(models, dict) else []:
            if isinstance(card, dict) and card.get("id"):
                names.append(str(card["id"]))
                if isinstance(card.get("max_model_len"), int):
                    context = card["max_model_len"]
        if served is None and names:
            served = names[0]
        return (str(served) if served else None), names, context

    # -- Backend protocol -----------------------------------------------------------------

    @property
    def model_id(self) -> str:
        """The model the server serves."""
        return self._model_id

    @property
    def capabilities(self) -> Capabilities:
        """Regex/JSON-schema output, choice probabilities and a radix prefix cache."""
        return wire.capabilities(self._context_length, self._deterministic).model_copy(
            update={"model_revision": self._revision}
        )

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Run a batch; one generation per request and sample, in order."""
        prepared = batching.prepare(
            requests,
            self._encoder,
            context_length=self._context_length,
            max_input_tokens=self._max_input_tokens,
        )
        groups = batching.prefix_groups(prepared)
        keyed = [g for g in groups if g.key is not None]
        loose = [g.members[0] for g in groups if g.key is None]
        units: list[tuple[batching.PrefixGroup | None, list[int]]] = [
            (g, list(g.members)) for g in keyed
        ]
        units += [(None, chunk) for chunk in batching.chunks(loose, self._max_batch_size)]
        futures = [
            self._pool.submit(self._run_unit, group, members, prepared, position)
            for position, (group, members) in enumerate(units)
        ]
        done: dict[int, list[Generation]] = {}
        for future in futures:
            done.update(future.result())
        out: list[Generation] = []
        for index, item in enumerate(prepared):
            out.extend(
                wire.failed(requests[index], item.message, item.kind)
                if isinstance(item, wire.NotSent)
                else done[index]
            )
        return out

    def serving_health(self) -> ServingHealth:
        """The server now, or sglang-router and each worker it lists (`router.serving_health`)."""
        token = self._client.headers.get("Authorization")
        return router.serving_health(
            self.base_url, headers={"Authorization": token} if token else None
        )

    async def agenerate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """`generate` for asyncio code (an HTTP reward server): runs in a worker thread."""
        return await asyncio.to_thread(self.generate, requests)

    def __enter__(self) -> SGLangServerBackend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool and the worker threads."""
        self._pool.shutdown(wait=True)
        self._client.close()

    # -- one unit of work: a prefix group or a chunk of ungrouped requests ---------------------

    def _run_unit(
        self,
        group: batching.PrefixGroup | None,
        members: list[int],
        prepared: Sequence[wire.WireRequest | wire.NotSent],
        position: int,
    ) -> dict[int, list[Generation]]:
        rank = None
        if self._dp_size > 1:
            rank = batching.dp_rank(group.key if group else None, position, self._dp_size)
        warm_usage: Usage | None = None
        if group is not None and self._warm and batching.needs_warmup(group, self._min_warm_tokens):
            warm_usage = self._warm_up(group, prepared, rank)
        results: dict[int, list[Generation]] = {}
        for run in batching.by_sample_count(members, prepared):
            for chunk in batching.chunks(run, self._max_batch_size):
                items = [prepared[i] for i in chunk]
                wires = [w for w in items if isinstance(w, wire.WireRequest)]
                generations = batching.run_bisecting(
                    wires,
                    functools.partial(self._call, rank=rank),
                    splittable=_is_bad_request,
                    on_failure=self._failure,
                )
                cursor = 0
                for index, item in zip(chunk, wires, strict=True):
                    count = item.request.sampling.n
                    results[index] = generations[cursor : cursor + count]
                    cursor += count
        if warm_usage is not None and group is not None:
            first = group.members[0]
            results[first] = [
                wire.charge_warmup(results[first][0], warm_usage),
                *results[first][1:],
            ]
        return results

    def _warm_up(
        self,
        group: batching.PrefixGroup,
        prepared: Sequence[wire.WireRequest | wire.NotSent],
        rank: int | None,
    ) -> Usage | None:
        first = prepared[group.members[0]]
        assert isinstance(first, wire.WireRequest)
        prefix = self._encoder.prefix_text(first.text, group.shared_tokens)
        try:
            payload = wire.warm_payload([prefix], routed_dp_rank=rank)
            body = self._post(
                "/generate", wire.split_payload(payload)[0] if not self._batched else payload
            )
        except Exception as exc:  # warming is an optimisation; the group still runs
            logger.warning("warming prefix group %r failed: %s", group.key, exc)
            return None
        outputs = body if isinstance(body, list) else [body]
        return wire.usage_of(outputs[0]) if outputs and isinstance(outputs[0], dict) else None

    def _call(self, batch: Sequence[wire.WireRequest], rank: int | None) -> list[Generation]:
        payload = wire.generate_payload(
            batch, top_logprobs_num=self._top_logprobs_num, routed_dp_rank=rank
        )
        until = _until(batch)
        if self._batched is False:
            body: Any = []
            for one in wire.split_payload(payload):
                answer = self._post("/generate", one, until)
                body.extend(answer if isinstance(answer, list) else [answer])
        else:
            body = self._post("/generate", payload, until)
        return wire.parse_outputs(
            body, batch, self._encoder.decode, top_logprobs_num=self._top_logprobs_num
        )

    def _failure(self, item: wire.WireRequest, exc: Exception) -> list[Generation]:
        kind = (
            exc.kind if isinstance(exc, ServerCallError | DeadlinePassed) else ErrorKind.GENERATION
        )
        return wire.failed(item.request, f"SGLang server at {self.base_url}: {exc}", kind)

    def _post(self, path: str, payload: dict[str, Any], until: float | None = None) -> Any:
        """POST with retries on connection errors and 5xx; never on 4xx, nor past `until`."""
        attempt = 0
        while True:
            timeout: Any = httpx.USE_CLIENT_DEFAULT
            if until is not None:
                left = until - time.monotonic()
                if left <= 0:
                    raise DeadlinePassed(f"the deadline passed before attempt {attempt + 1}")
                limits = self._client.timeout.as_dict()
                timeout = httpx.Timeout(
                    **{k: left if v is None else min(v, left) for k, v in limits.items()}
                )
            try:
                response = self._client.post(path, json=payload, timeout=timeout)
            except httpx.TransportError as exc:
                failure: Exception = ConnectionError(
                    f"unreachable after {attempt + 1} attempts ({type(exc).__name__}: {exc})"
                )
            else:
                if response.status_code < 400:
                    return response.json()
                try:
                    message = wire.error_message(response.json())
                except ValueError:
                    message = response.text[:500]
                failure = ServerCallError(response.status_code, message)
                if response.status_code < 500:
                    raise failure
            if attempt >= self._max_retries:
                raise failure
            base, cap = self._backoff
            time.sleep(random.uniform(0.0, min(cap, base * 2**attempt)))
            attempt += 1
