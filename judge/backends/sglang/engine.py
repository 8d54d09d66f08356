"""SGLang's in-process ``sglang.Engine``: batch jobs and RL rewards on the GPU of this process.

A batch is one engine call per data-parallel rank (and per value of ``n``): first one
``max_new_tokens=0`` call that warms every prefix group's shared prefix, then all requests with
per-request sampling parameters, each group's requests together. With ``dp_size > 1`` a group is
pinned to one rank by ``routed_dp_rank``. Prompts are rendered with the engine's own tokenizer
and sent as token ids, so what was length-checked is exactly what runs. If one bad request makes
a call fail, the call is bisected so the others still run.

``import sglang`` (which imports torch and triton) happens only in the constructor.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
from collections.abc import Sequence
from typing import Any

from judge.backends.base import Capabilities
from judge.backends.chat_prompt import PromptEncoder
from judge.backends.sglang import batching, wire
from judge.errors import BackendUnavailableError, ConfigError
from judge.types import Generation, GenerationRequest, Usage

logger = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'rubric-judge[sglang]' on a machine with a CUDA GPU (SGLang needs CUDA)"


def engine_unavailable_reason() -> str | None:
    """Why an in-process SGLang engine cannot run here, or None (never imports sglang)."""
    problems = []
    if importlib.util.find_spec("torch") is None:
        problems.append("torch is not installed")
    else:
        import torch

        if not torch.cuda.is_available():
            problems.append(f"no CUDA GPU (torch {torch.__version__} sees none)")
    if importlib.util.find_spec("sglang") is None:
        problems.append("sglang is not installed")
    return " and ".join(problems) if problems else None


def _import_sglang() -> Any:
    try:
        import sglang
    except ImportError as exc:
        reason = engine_unavailable_reason() or f"importing sglang failed: {exc}"
        raise BackendUnavailableError(
            f"the sglang backend cannot run: {reason}", hint=INSTALL_HINT
        ) from exc
    return sglang


class SGLangEngineBackend:
    """Judges with an in-process ``sglang.Engine`` (see module docstring)."""

    def __init__(
        self,
        model: str | None = None,
        *,
        tp_size: int = 1,
        dp_size: int = 1,
        mem_fraction_static: float | None = None,
        context_length: int | None = None,
        seed: int | None = None,
        grammar_backend: str | None = None,
        chat_template: str | None = None,
        top_logprobs_num: int = 20,
        warm_prefixes: bool = True,
        min_warm_tokens: int = 32,
        log_level: str = "error",
        deterministic_inference: bool = False,
        engine_args: dict[str, Any] | None = None,
        engine: Any = None,
    ) -> None:
        self._owns_engine = engine is None
        if engine is None:
            if not model:
                raise ConfigError(
                    "the sglang backend needs a model", hint="pass model=<HF id or local path>"
                )
            extra = dict(engine_args or {})
            sglang = _import_sglang()
            if "device" not in extra and (reason := engine_unavailable_reason()) is not None:
                raise BackendUnavailableError(
                    f"the sglang backend cannot run: {reason}", hint=INSTALL_HINT
                )
            arguments: dict[str, Any] = {
                "model_path": model,
                "tp_size": tp_size,
                "dp_size": dp_size,
                "log_level": log_level,
            }
            optional = {
                "mem_fraction_static": mem_fraction_static,
                "context_length": context_length,
                "random_seed": seed,
                "grammar_backend": grammar_backend,
                wire.DETERMINISTIC_ARG: deterministic_inference or None,
            }
            arguments.update({k: v for k, v in optional.items() if v is not None})
            arguments.update(extra)
            try:
                engine = sglang.Engine(**arguments)
            except Exception as exc:
                raise BackendUnavailableError(
                    f"sglang.Engine could not start {model!r}: {type(exc).__name__}: {exc}",
                    hint="check the model path, GPU memory (mem_fraction_static) and tp_size",
                ) from exc
        self._engine = engine
        manager = engine.tokenizer_manager
        self._encoder = PromptEncoder(manager.tokenizer, chat_template=chat_template)
        self._context_length: int | None = context_length or getattr(manager, "context_len", None)
        self._reserved = int(getattr(manager, "num_reserved_tokens", 0) or 0)
        # Set by Engine from the scheduler (min of context and KV pool, less SGLang's margin).
        limit = getattr(manager, "max_req_input_len", None)
        self._max_input_tokens = limit if isinstance(limit, int) and limit > 0 else None
        self._model_id = model or str(getattr(manager, "model_path", "sglang"))
        server_args = getattr(engine, "server_args", None)
        self._dp_size = int(getattr(server_args, "dp_size", dp_size) or 1)
        deterministic = getattr(server_args, wire.DETERMINISTIC_ARG, None)
        self._deterministic = deterministic if isinstance(deterministic, bool) else None
        self._top_logprobs_num = top_logprobs_num
        self._warm = warm_prefixes
        self._min_warm_tokens = min_warm_tokens
        self._closed = False

    @property
    def model_id(self) -> str:
        """The model path the engine serves."""
        return self._model_id

    @property
    def capabilities(self) -> Capabilities:
        """Regex/JSON-schema output, choice probabilities and a radix prefix cache."""
        return wire.capabilities(self._context_length, self._deterministic)

    @property
    def engine(self) -> Any:
        """The underlying ``sglang.Engine`` (for ``score()``, weight updates, metrics)."""
        return self._engine

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Run a batch on the engine's event loop; from async code use `agenerate`."""
        loop = self._engine.loop
        if loop.is_running():
            raise ConfigError(
                "SGLangEngineBackend.generate was called from a running event loop",
                hint="await backend.agenerate(requests) instead",
            )
        result: list[Generation] = loop.run_until_complete(self.agenerate(requests))
        return result

    async def agenerate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Run a batch; await it on the event loop the engine was created on."""
        prepared = batching.prepare(
            requests,
            self._encoder,
            context_length=self._context_length,
            reserved_tokens=self._reserved,
            max_input_tokens=self._max_input_tokens,
        )
        by_rank: dict[int | None, list[batching.PrefixGroup]] = {}
        for position, group in enumerate(batching.prefix_groups(prepared)):
            rank = (
                batching.dp_rank(group.key, position, self._dp_size) if self._dp_size > 1 else None
            )
            by_rank.setdefault(rank, []).append(group)
        done: dict[int, list[Generation]] = {}
        for part in await asyncio.gather(
            *(self._run_rank(rank, groups, prepared) for rank, groups in by_rank.items())
        ):
            done.update(part)
        out: list[Generation] = []
        for index, item in enumerate(prepared):
            out.extend(
                wire.failed(requests[index], item.message, item.kind)
                if isinstance(item, wire.NotSent)
                else done[index]
            )
        return out

    def __enter__(self) -> SGLangEngineBackend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Shut the engine down (only if this backend started it)."""
        if not self._closed and self._owns_engine:
            self._engine.shutdown()
        self._closed = True

    async def _run_rank(
        self,
        rank: int | None,
        groups: list[batching.PrefixGroup],
        prepared: Sequence[wire.WireRequest | wire.NotSent],
    ) -> dict[int, list[Generation]]:
        warm = await self._warm_up(rank, groups, prepared) if self._warm else {}
        members = [index for group in groups for index in group.members]
        results: dict[int, list[Generation]] = {}
        for run in batching.by_sample_count(members, prepared):
            wires = [
                item for item in (prepared[i] for i in run) if isinstance(item, wire.WireRequest)
            ]

            async def call(batch: Sequence[wire.WireRequest]) -> list[Generation]:
                payload = wire.generate_payload(
                    batch,
                    top_logprobs_num=self._top_logprobs_num,
                    input_field="input_ids",
                    routed_dp_rank=rank,
                )
                body = await self._engine.async_generate(**wire.engine_arguments(payload))
                return wire.parse_outputs(
                    body, batch, self._encoder.decode, top_logprobs_num=self._top_logprobs_num
                )

            generations = await batching.run_bisecting_async(
                wires,
                call,
                splittable=lambda exc: isinstance(exc, ValueError),
                on_failure=lambda item, exc: wire.failed(
                    item.request, f"sglang engine: {type(exc).__name__}: {exc}"
                ),
            )
            cursor = 0
            for index, item in zip(run, wires, strict=True):
                results[index] = generations[cursor : cursor + item.request.sampling.n]
                cursor += item.request.sampling.n
        for first, usage in warm.items():
            results[first] = [wire.charge_warmup(results[first][0], usage), *results[first][1:]]
        return results

    async def _warm_up(
        self,
        rank: int | None,
        groups: list[batching.PrefixGroup],
        prepared: Sequence[wire.WireRequest | wire.NotSent],
    ) -> dict[int, Usage]:
        """Warm every group's shared prefix in one call; return usage keyed by first member."""
        warmed = [g for g in groups if batching.needs_warmup(g, self._min_warm_tokens)]
        prefixes = []
        for group in warmed:
            first = prepared[group.members[0]]
            assert isinstance(first, wire.WireRequest)
            prefixes.append(first.input_ids[: group.shared_tokens])
        if not prefixes:
            return {}
        payload = wire.warm_payload(prefixes, input_field="input_ids", routed_dp_rank=rank)
        try:
            body = await self._engine.async_generate(**wire.engine_arguments(payload))
        except Exception as exc:  # warming is an optimisation; the groups still run
            logger.warning("warming %d prefixes failed: %s", len(prefixes), exc)
            return {}
        outputs = body if isinstance(body, list) else [body]
        return {
            group.members[0]: wire.usage_of(output)
            for group, output in zip(warmed, outputs, strict=False)
            if isinstance(output, dict)
        }
