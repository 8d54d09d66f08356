"""WIRE-FORMAT DOUBLE of SGLang, for offline unit tests only -- not SGLang, and never a backend.

SGLang needs a CUDA GPU, so the unit tests talk to this stand-in instead: it answers
``/generate``, ``/health``, ``/model_info``, ``/get_model_info`` and ``/v1/models`` in the shapes
of tests/fixtures/sglang/*.json (taken from SGLang's docs and source, cited there), with a toy
radix cache for ``cached_tokens``, SGLang's batch rules (one ``n`` per call; one bad request fails
the whole call with HTTP 400) and fault injection (5xx, 4xx, dropped connections). Outputs are
scripted, not generated. The real server and engine are exercised by tests/gpu/.

Also here: a small real Hugging Face tokenizer built offline (word-or-character vocabulary,
ChatML template), so prompts are rendered and counted by real tokenizer code.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

from tests.loopback import send_json

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sglang"
MARKER = '"verdict": "'
SCORED_END = re.compile(r'\{"(verdict|winner|score)": "$')
CHATML = (
    "{{ bos_token }}{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
WORDS = ["verdict", "rationale", "user", "assistant", "system", "yes", "no", "The", "answer"]


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def make_tokenizer(*, merge_quote: bool = False, add_bos: bool = False) -> Any:
    """A real fast tokenizer: known words are one token, anything else one token per character.

    `merge_quote` adds tokens ``"yes`` and ``"no`` (a vocabulary where the marker's last
    character and the choice share a token); `add_bos` makes encoding add ``<s>`` itself.
    """
    vocab: dict[str, int] = {"<unk>": 0, "<s>": 1, "</s>": 2, "<|im_start|>": 3, "<|im_end|>": 4}
    for code in [*range(32, 127), 10]:
        vocab.setdefault(chr(code), len(vocab))
    merged = ['"yes', '"no'] if merge_quote else []
    for word in [*WORDS, *merged]:
        vocab.setdefault(word, len(vocab))
    alternatives = [*merged, *WORDS]
    pattern = "|".join(w.replace('"', '\\"') for w in alternatives) + r"|[\s\S]"
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(pattern), behavior="isolated")
    backend.decoder = decoders.Fuse()
    if add_bos:
        backend.post_processor = processors.TemplateProcessing(
            single="<s> $A", special_tokens=[("<s>", 1)]
        )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    tokenizer.chat_template = CHATML
    tokenizer.name_or_path = "test-org/test-model"
    return tokenizer


class DoubleBadRequest(Exception):
    """What SGLang reports as HTTP 400 / raises as ValueError in the engine."""


Verdicts = Callable[[str], tuple[str, dict[str, float]]]


def default_verdicts(prompt: str) -> tuple[str, dict[str, float]]:
    return "looks fine", {"yes": 0.8, "no": 0.2}


class SGLangDouble:
    """Scripted generation in SGLang's wire format (see module docstring)."""

    def __init__(
        self,
        tokenizer: Any,
        *,
        model_path: str = "test-org/test-model",
        context_length: int = 4096,
        verdicts: Verdicts = default_verdicts,
        plain_text: str = "OK",
    ) -> None:
        self.tokenizer = tokenizer
        self.model_path = model_path
        self.context_length = context_length
        self.verdicts = verdicts
        self.plain_text = plain_text
        self.calls: list[dict[str, Any]] = []
        self.caches: dict[int | None, list[tuple[int, ...]]] = {}
        self.lock = threading.Lock()
        self.template = fixture("generate_json_schema.json")["response"]["meta_info"]

    # -- one /generate call ------------------------------------------------------------------

    def generate(self, payload: dict[str, Any]) -> Any:
        with self.lock:
            self.calls.append(payload)
        single = isinstance(payload.get("text"), str) or (
            "input_ids" in payload
            and payload["input_ids"]
            and isinstance(payload["input_ids"][0], int)
        )
        prompts = payload.get("text", payload.get("input_ids"))
        prompts = [prompts] if single else list(prompts)
        params = payload.get("sampling_params") or {}
        params = [params] * len(prompts) if isinstance(params, dict) else list(params)
        counts = {p.get("n", 1) for p in params}
        if len(counts) > 1:  # GenerateReqInput._handle_parallel_sampling
            raise DoubleBadRequest(
                "The parallel_sample_num should be the same for all samples in sample params."
            )
        n = counts.pop()
        prepared = []
        for prompt, sampling in zip(prompts, params, strict=True):
            ids = (
                list(self.tokenizer(prompt)["input_ids"])
                if isinstance(prompt, str)
                else list(prompt)
            )
            max_new = sampling.get("max_new_tokens", 128)
            if len(ids) + max_new > self.context_length:
                raise DoubleBadRequest(
                    "Requested token count exceeds the model's maximum context length of "
                    f"{self.context_length} tokens. You requested a total of {len(ids) + max_new} "
                    f"tokens: {len(ids)} tokens from the input messages and {max_new} tokens for "
                    "the completion. Please reduce the number of tokens in the input messages or "
                    "the completion to fit within the limit."
                )
            if "BAD(" in str(sampling.get("regex", "")):
                raise DoubleBadRequest("[double] regex does not compile")
            prepared.append((prompt, ids, sampling))
        rank = payload.get("routed_dp_rank")
        outputs = []
        for prompt, ids, sampling in prepared:
            text = prompt if isinstance(prompt, str) else self.tokenizer.decode(ids)
            for sample in range(n):
                outputs.append(self._output(text, ids, sampling, payload, rank, sample))
        return outputs[0] if single and n == 1 else outputs

    def _cached(self, ids: list[int], rank: int | None) -> int:
        with self.lock:
            cache = self.caches.setdefault(rank, [])
            best = 0
            for entry in cache:
                common = 0
                for a, b in zip(entry, ids, strict=False):
                    if a != b:
                        break
                    common += 1
                best = max(best, common)
            cache.append(tuple(ids))
        return min(best, max(len(ids) - 1, 0))

    def _output(
        self,
        prompt: str,
        ids: list[int],
        sampling: dict[str, Any],
        payload: dict[str, Any],
        rank: int | None,
        sample: int,
    ) -> dict[str, Any]:
        cached = self._cached(ids, rank)
        max_new = sampling.get("max_new_tokens", 128)
        probs: dict[str, float] = {}
        # A scored request (reasoning none): the prompt ends at the marker, the choice is next.
        scored = SCORED_END.search(prompt) is not None and not (
            sampling.get("regex") or sampling.get("json_schema")
        )
        if max_new == 0:
            text = ""
        elif scored:
            _, probs = self.verdicts(prompt)
            text = max(probs, key=lambda c: probs[c])
        elif sampling.get("regex") or sampling.get("json_schema"):
            rationale, probs = self.verdicts(prompt)
            choice = max(probs, key=lambda c: probs[c])
            grammar = str(sampling.get("regex") or sampling.get("json_schema"))
            key = next((k for k in ("winner", "score") if f'"{k}' in grammar), "verdict")
            text = json.dumps({"rationale": rationale, key: choice})
        else:
            text = self.plain_text
        out_ids = list(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        finish: dict[str, Any] = {"type": "stop", "matched": 2}
        if len(out_ids) > max_new:
            out_ids = out_ids[:max_new]
            text = self.tokenizer.decode(out_ids)
            finish = {"type": "length", "length": max_new}
        meta = {key: self.template[key] for key in self.template}
        meta.update(
            id=f"double-{len(self.calls)}-{sample}",
            finish_reason=finish,
            prompt_tokens=len(ids),
            completion_tokens=len(out_ids),
            cached_tokens=cached,
            dp_rank=rank,
        )
        if payload.get("return_logprob"):
            meta.update(self._logprobs(text, out_ids, probs, payload, scored=scored))
        return {"text": text, "output_ids": out_ids, "meta_info": meta}

    def _logprobs(
        self,
        text: str,
        out_ids: list[int],
        probs: dict[str, float],
        payload: dict[str, Any],
        *,
        scored: bool = False,
    ) -> dict[str, Any]:
        step, rest = (0, "") if scored else self._step(text)
        choice_tokens: dict[int, float] = {}
        if step is not None and probs:
            vocab = self.tokenizer.get_vocab()
            for choice, p in probs.items():
                token = vocab.get(rest + choice, vocab.get(choice))
                choice_tokens[token] = math.log(p)
        k = payload.get("top_logprobs_num") or 0
        token_ids = payload.get("token_ids_logprob") or []
        token_lp, top, by_id = [], [], []
        for position, token in enumerate(out_ids):
            at_step = position == step
            lp = choice_tokens.get(token, -0.01) if at_step else -0.01
            token_lp.append([lp, token, None])
            listed = dict(choice_tokens) if at_step else {token: lp}
            top.append(
                [[v, t, None] for t, v in sorted(listed.items(), key=lambda x: -x[1])][:k] or None
            )
            by_id.append(
                [[choice_tokens.get(t, -20.0) if at_step else -20.0, t, None] for t in token_ids]
                or None
            )
        fields: dict[str, Any] = {
            "input_token_logprobs": [],
            "output_token_logprobs": token_lp,
            "output_token_logprobs_length": len(token_lp),
        }
        if k:
            fields["input_top_logprobs"] = []
            fields["output_top_logprobs"] = top
        if token_ids:
            fields["input_token_ids_logprobs"] = []
            fields["output_token_ids_logprobs"] = by_id
        return fields

    def _step(self, text: str) -> tuple[int | None, str]:
        at = text.rfind(MARKER)
        if at < 0:
            return None, ""
        end = at + len(MARKER)
        encoding = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        for index, (start, stop) in enumerate(encoding["offset_mapping"]):
            if start <= end < stop:
                return index, text[start:end]
        return None, ""


class _QuietServer(ThreadingHTTPServer):
    """A client that gave up (timed out) leaves a broken pipe behind: not worth a traceback."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeSGLangServer:
    """The double behind HTTP on 127.0.0.1 (an ephemeral port), with fault injection.

    `faults` holds what the next POSTs get instead of an answer: an HTTP status, ``"drop"``
    (close the connection without answering), ``("stall", seconds)`` or ``(status, body)``
    (an error answer of that exact shape). Paths in `missing` answer 404 (an older server, or a
    router that does not proxy them). /server_info tells `dp_size` and ``max_req_input_len``
    (by default SGLang's rule: the context length less 6) and, where `deterministic` is
    given, ``enable_deterministic_inference`` at its top level as SGLang's own; a
    ``routed_dp_rank`` at or above `dp_size` is refused as SGLang refuses it.
    """

    def __init__(
        self,
        double: SGLangDouble,
        *,
        health_status: int = 200,
        missing: frozenset[str] = frozenset(),
        dp_size: int = 1,
        max_req_input_len: int | None = None,
        deterministic: bool | None = None,
    ) -> None:
        self.double = double
        self.deterministic = deterministic
        self.dp_size = dp_size
        self.max_req_input_len = max_req_input_len
        self.health_status = health_status
        self.missing = missing
        self.faults: deque[Any] = deque()
        self.posts = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _send(self, status: int, body: Any) -> None:
                send_json(self, status, body)

            def do_GET(self) -> None:
                model = owner.double.model_path
                if self.path in owner.missing:
                    self._send(404, {"detail": "Not Found"})
                elif self.path == "/health":
                    self._send(owner.health_status, {})
                elif self.path in ("/model_info", "/get_model_info"):
                    info = dict(fixture("model_info.json")["response"])
                    info.update(model_path=model, tokenizer_path=model)
                    self._send(200, info)
                elif self.path == "/v1/models":
                    card = {
                        "id": model,
                        "object": "model",
                        "root": model,
                        "max_model_len": owner.double.context_length,
                    }
                    self._send(200, {"object": "list", "data": [card]})
                elif self.path in ("/server_info", "/get_server_info"):
                    limit = owner.max_req_input_len or owner.double.context_length - 6
                    info: dict[str, Any] = {"dp_size": owner.dp_size, "max_req_input_len": limit}
                    if owner.deterministic is not None:
                        info["enable_deterministic_inference"] = owner.deterministic
                    self._send(200, info)
                else:
                    self._send(404, {"detail": "Not Found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                payload = json.loads(self.rfile.read(length))
                owner.posts += 1
                if self.path != "/generate":
                    self._send(404, {"detail": "Not Found"})
                    return
                fault = owner.faults.popleft() if owner.faults else None
                if fault == "drop":
                    self.close_connection = True
                    self.connection.close()
                    return
                if isinstance(fault, tuple) and isinstance(fault[0], int):
                    self._send(fault[0], fault[1])
                    return
                if isinstance(fault, tuple):
                    time.sleep(fault[1])
                elif isinstance(fault, int):
                    self._send(fault, {"error": {"message": f"[double] injected HTTP {fault}"}})
                    return
                rank = payload.get("routed_dp_rank")
                if rank is not None and not 0 <= rank < owner.dp_size:
                    message = f"routed_dp_rank={rank} out of range [0, {owner.dp_size})"
                    self._send(400, {"error": message})
                    return
                try:
                    self._send(200, owner.double.generate(payload))
                except DoubleBadRequest as exc:
                    self._send(400, {"error": {"message": str(exc)}})

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> FakeSGLangServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class FakeEngine:
    """The double behind ``sglang.Engine``'s async API (same parameter names as the real one)."""

    def __init__(self, double: SGLangDouble, *, dp_size: int = 1) -> None:
        self.double = double
        self.tokenizer_manager = SimpleNamespace(
            tokenizer=double.tokenizer,
            context_len=double.context_length,
            model_path=double.model_path,
            num_reserved_tokens=0,
        )
        self.server_args = SimpleNamespace(dp_size=dp_size)
        self.loop = asyncio.new_event_loop()
        self.shut_down = False

    async def async_generate(
        self,
        prompt: Any = None,
        sampling_params: Any = None,
        input_ids: Any = None,
        return_logprob: Any = False,
        logprob_start_len: Any = None,
        top_logprobs_num: Any = None,
        token_ids_logprob: Any = None,
        routed_dp_rank: int | None = None,
    ) -> Any:
        payload = {
            key: value
            for key, value in {
                "text": prompt,
                "input_ids": input_ids,
                "sampling_params": sampling_params,
                "return_logprob": return_logprob,
                "logprob_start_len": logprob_start_len,
                "top_logprobs_num": top_logprobs_num,
                "token_ids_logprob": token_ids_logprob,
                "routed_dp_rank": routed_dp_rank,
            }.items()
            if value is not None
        }
        await asyncio.sleep(0)
        try:
            return self.double.generate(payload)
        except DoubleBadRequest as exc:
            raise ValueError(str(exc)) from None

    def shutdown(self) -> None:
        self.shut_down = True
