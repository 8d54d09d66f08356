"""The Transformers backend: batched, grammar-constrained generation on CPU (the embedded default).

Each batch is laid out prefix-first: the distinct shared prefixes (one per `prefix_group`, e.g.
system + rubric + prompt + response) are prefilled once, their KV cache is copied to every row of
the group, and only the per-row suffixes (the criterion) are computed per row. Rows are then
decoded together, one token per step, under xgrammar masks. A scored request (`score_after`,
reasoning none) is answered from the prefill's last logits and never decoded.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from judge.backends.base import Capabilities
from judge.backends.transformers.embedded import load_model_and_tokenizer
from judge.backends.transformers.grammar import GrammarCache, SequenceState, choice_token_ids
from judge.backends.transformers.stopping import (
    AbandonCheck,
    Abandoned,
    batch_deadline,
    deadline_error,
    model_layers,
)
from judge.errors import ConfigError
from judge.types import ErrorKind, Generation, GenerationRequest, Usage

logger = logging.getLogger(__name__)


@dataclass
class _Row:
    """One (request, sample) to decode."""

    index: int
    request: GenerationRequest
    sample_index: int
    prompt_ids: list[int]
    group: str
    error: str | None = None
    error_kind: ErrorKind | None = None
    state: SequenceState | None = None
    cached_tokens: int = 0


def _past_deadline(row: _Row, when: str) -> bool:
    """Fail `row` as a timeout if its request's deadline has passed; say whether it did."""
    error = deadline_error(row.request, when)
    if error is not None:
        row.error, row.error_kind = error, ErrorKind.TIMEOUT
    return error is not None


def float32_logits(model: Any) -> None:
    """Make the model's output head compute logits in float32, whatever the compute dtype.

    A bfloat16 head rounds every logit to 8 significant bits, so log-odds between choices come
    out as multiples of 1/8 and distinct inputs share one P(yes). The head gets its
    own float32 weights (untied from the input embedding, which stays in the compute dtype)
    and upcasts the final hidden state, so the model's own post-processing (soft-capping,
    scaling) runs on float32 logits. Costs vocab x hidden float32 weights (113 MB for the
    embedded model); nothing to do when the model already computes in float32.
    """
    import torch

    head = model.get_output_embeddings()
    if head is None or head.weight.dtype == torch.float32:
        return
    bias = getattr(head, "bias", None)
    float_head = torch.nn.Linear(
        head.weight.shape[1],
        head.weight.shape[0],
        bias=bias is not None,
        dtype=torch.float32,
        device=head.weight.device,
    )
    with torch.no_grad():
        float_head.weight.copy_(head.weight.float())
        if bias is not None:
            float_head.bias.copy_(bias.float())
    float_head.requires_grad_(False)
    float_head.register_forward_pre_hook(lambda _module, args: (args[0].float(), *args[1:]))
    model.set_output_embeddings(float_head)


def _common_prefix_length(sequences: Sequence[Sequence[int]]) -> int:
    first = sequences[0]
    length = min(len(sequence) for sequence in sequences)
    for position in range(length):
        token = first[position]
        if any(sequence[position] != token for sequence in sequences[1:]):
            return position
    return length


class TransformersBackend:
    """A local Hugging Face causal LM, by default the embedded SmolLM2-135M-Instruct."""

    def __init__(
        self,
        model: str | None = None,
        *,
        dtype: str = "auto",
        batch_size: int = 16,
        max_context_tokens: int | None = None,
        threads: int | None = None,
        prefix_sharing: bool = True,
    ) -> None:
        # Nothing here changes the host process (it may be a trainer): no environment variable,
        # no logger, no thread count unless `threads` asks for one (torch's count is
        # process-wide, so that is the caller's explicit choice). The `judge` command sets
        # OMP_WAIT_POLICY=PASSIVE for its own process (judge/__main__.py).
        import torch

        if batch_size < 1:
            raise ConfigError(f"batch_size {batch_size} < 1")
        if threads:
            torch.set_num_threads(threads)
        self._torch = torch
        self._model_id, self._model, self._tokenizer, self._dtype = load_model_and_tokenizer(
            model, dtype
        )
        float32_logits(self._model)
        head_dtype = self._model.get_output_embeddings().weight.dtype
        self._compute_dtype = str(self._dtype).removeprefix("torch.")
        self._probs_dtype = str(head_dtype).removeprefix("torch.")
        self.batch_size = batch_size
        self.prefix_sharing = prefix_sharing
        config_context = int(getattr(self._model.config, "max_position_embeddings", 2048))
        self._max_context = min(max_context_tokens or config_context, config_context)
        vocab_size = int(self._model.config.vocab_size)
        self._grammars = GrammarCache(self._tokenizer, vocab_size)
        self._pad_id = self._tokenizer.pad_token_id
        if self._pad_id is None:
            self._pad_id = self._tokenizer.eos_token_id
        self._stop_ids = {self._tokenizer.eos_token_id, *self._chat_end_ids()}
        self._lock = threading.Lock()
        self._abandon = AbandonCheck()
        for layer in model_layers(self._model):
            layer.register_forward_pre_hook(self._abandon)

    def _chat_end_ids(self) -> list[int]:
        ids = []
        for marker in ("<|im_end|>", "<|eot_id|>", "<end_of_turn>"):
            token_id = self._tokenizer.convert_tokens_to_ids(marker)
            if isinstance(token_id, int) and token_id != self._tokenizer.unk_token_id:
                ids.append(token_id)
        return ids

    @property
    def model_id(self) -> str:
        """The loaded model's name."""
        return self._model_id

    @property
    def capabilities(self) -> Capabilities:
        """Grammar constraints, logit probabilities, scoring and a shared-prefix prefill."""
        return Capabilities(
            structured_output=True,
            choice_probabilities=True,
            score_without_decoding=True,
            prefix_cache=self.prefix_sharing,
            max_context_tokens=self._max_context,
            compute_dtype=self._compute_dtype,
            probs_dtype=self._probs_dtype,
            batch_invariant=self._compute_dtype == "float32",
        )

    def count_tokens(self, request: GenerationRequest) -> int:
        """Prompt tokens of `request` after the chat template."""
        return len(self._encode(request))

    def _encode(self, request: GenerationRequest) -> list[int]:
        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        text = self._tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )
        text += request.score_after or ""
        return list(self._tokenizer.encode(text, add_special_tokens=False))

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Generate for every request (and each of its n samples), batch_size rows at a time."""
        rows: list[_Row] = []
        for request in requests:
            prompt_ids = self._encode(request)
            new_tokens = 0 if request.score_after is not None else request.sampling.max_new_tokens
            error, kind = None, None
            if len(prompt_ids) + new_tokens > self._max_context:
                kind = ErrorKind.CONTEXT_OVERFLOW
                error = (
                    f"prompt is {len(prompt_ids)} tokens + {new_tokens} new "
                    f"> the model's context of {self._max_context} tokens"
                )
            for sample_index in range(request.sampling.n):
                rows.append(
                    _Row(
                        len(rows),
                        request,
                        sample_index,
                        prompt_ids,
                        self._group_of(request, sample_index),
                        error,
                        kind,
                    )
                )
        runnable = [row for row in rows if row.error is None]
        # inference_mode is local to this call: the process's grad mode (an RL trainer's) is
        # left alone.
        with self._lock, self._torch.inference_mode():
            for batch in self._pack(runnable):
                batch = [row for row in batch if not _past_deadline(row, "before it started")]
                if not batch:
                    continue
                self._abandon.at = batch_deadline([row.request for row in batch])
                try:
                    self._run_batch(batch)
                except Abandoned:
                    for row in batch:
                        _past_deadline(row, "during the forward pass")
                except Exception as exc:  # one failed batch must not sink the others
                    logger.exception("batch of %d rows failed", len(batch))
                    for row in batch:
                        row.error = f"generation failed: {type(exc).__name__}: {exc}"
        return [self._to_generation(row) for row in rows]

    def _group_of(self, request: GenerationRequest, sample_index: int) -> str:
        """Rows of one group share a prefill; n samples of a request always share their prompt."""
        if self.prefix_sharing and request.prefix_group is not None:
            return f"g:{request.prefix_group}"
        return f"r:{request.id}" if self.prefix_sharing else f"r:{request.id}/{sample_index}"

    def _pack(self, rows: list[_Row]) -> list[list[_Row]]:
        """Split rows into batches of at most batch_size, keeping prefix groups whole.

        A group larger than a batch is split; otherwise each group's prefix is computed once.
        """
        groups: list[list[_Row]] = []
        for row in rows:
            if groups and groups[-1][0].group == row.group:
                groups[-1].append(row)
            else:
                groups.append([row])
        batches: list[list[_Row]] = []
        current: list[_Row] = []
        for group in groups:
            if current and len(current) + len(group) > self.batch_size:
                batches.append(current)
                current = []
            for start in range(0, len(group), self.batch_size):
                piece = group[start : start + self.batch_size]
                if len(piece) == self.batch_size:
                    batches.append(piece)
                else:
                    current.extend(piece)
        if current:
            batches.append(current)
        return batches

    def _to_generation(self, row: _Row) -> Generation:
        state = row.state
        if row.error is not None or state is None:
            return Generation(
                request_id=row.request.id,
                sample_index=row.sample_index,
                finish_reason="error",
                error=row.error or "not generated",
                error_kind=row.error_kind,
                usage=Usage(prompt_tokens=len(row.prompt_ids)),
            )
        return Generation(
            request_id=row.request.id,
            sample_index=row.sample_index,
            text=state.text,
            choice_probs=state.choice_probs,
            probs_source="logits" if state.choice_probs is not None else None,
            usage=Usage(
                prompt_tokens=len(row.prompt_ids),
                completion_tokens=len(state.tokens),
                cached_tokens=row.cached_tokens,
            ),
            finish_reason=state.finish_reason,
            error=state.error,
        )

    def _new_state(self, row: _Row) -> SequenceState:
        request = row.request
        matcher = self._grammars.matcher(request.constraint) if request.constraint else None
        probe_ids = choice_token_ids(self._tokenizer, request.probe) if request.probe else None
        return SequenceState(
            self._tokenizer, request.sampling.max_new_tokens, matcher, request.probe, probe_ids
        )

    def _prefill(self, batch: list[_Row]) -> tuple[Any, Any, Any, Any]:
        """Prefill shared prefixes once per group, copy their cache to rows, then the suffixes."""
        torch = self._torch
        groups: dict[str, list[_Row]] = {}
        for row in batch:
            groups.setdefault(row.group, []).append(row)
        group_names = list(groups)
        prefix_lengths = []
        for name in group_names:
            members = groups[name]
            shared = _common_prefix_length([row.prompt_ids for row in members])
            # Every row needs at least one suffix token, so the last logits are its own.
            prefix_lengths.append(min(shared, min(len(row.prompt_ids) for row in members) - 1))
        width = max(prefix_lengths)
        prefix_ids = torch.full((len(group_names), width), self._pad_id, dtype=torch.long)
        prefix_mask = torch.zeros((len(group_names), width), dtype=torch.long)
        for g, name in enumerate(group_names):
            length = prefix_lengths[g]
            if length:
                prefix_ids[g, width - length :] = torch.tensor(groups[name][0].prompt_ids[:length])
                prefix_mask[g, width - length :] = 1
        row_group = torch.tensor([group_names.index(row.group) for row in batch], dtype=torch.long)
        # One explicit cache object for the whole batch: the model fills it in place (the
        # `cache=` argument of transformers >= 5.24), and reorder_cache copies each group's
        # prefix to its rows.
        cache = self._new_cache()
        if width:
            positions = (prefix_mask.cumsum(-1) - 1).clamp(min=0)
            self._model(
                input_ids=prefix_ids,
                attention_mask=prefix_mask,
                position_ids=positions,
                cache=cache,
                use_cache=True,
                logits_to_keep=1,
            )
            cache.reorder_cache(row_group)
        for g, name in enumerate(group_names):
            for i, row in enumerate(groups[name]):
                row.cached_tokens = prefix_lengths[g] if (i > 0 or row.sample_index > 0) else 0
        suffixes = [row.prompt_ids[prefix_lengths[group_names.index(row.group)] :] for row in batch]
        suffix_width = max(len(s) for s in suffixes)
        suffix_ids = torch.full((len(batch), suffix_width), self._pad_id, dtype=torch.long)
        suffix_mask = torch.zeros((len(batch), suffix_width), dtype=torch.long)
        for r, suffix in enumerate(suffixes):
            suffix_ids[r, suffix_width - len(suffix) :] = torch.tensor(suffix)
            suffix_mask[r, suffix_width - len(suffix) :] = 1
        mask = torch.cat([prefix_mask[row_group], suffix_mask], dim=-1)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, -suffix_width:]
        out = self._model(
            input_ids=suffix_ids,
            attention_mask=mask,
            position_ids=positions,
            cache=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        return out.logits[:, -1, :], cache, mask, positions[:, -1]

    def _new_cache(self) -> Any:
        from transformers import DynamicCache

        return DynamicCache(config=self._model.config)

    def _run_batch(self, batch: list[_Row]) -> None:
        torch = self._torch
        for row in batch:
            row.state = self._new_state(row)
        states = [row.state for row in batch]
        assert all(state is not None for state in states)
        logits, cache, mask, last_positions = self._prefill(batch)
        bitmask = self._grammars.allocate_bitmask(len(batch))
        generators = [self._generator(row) for row in batch]
        timed = [row for row in batch if row.request.deadline is not None]
        while True:
            # Between decode steps: a row nobody waits for stops; when all rows have, the batch.
            for row in timed:
                state = row.state
                if state and not state.finished and _past_deadline(row, "while decoding"):
                    state.finished = True
            next_tokens = []
            raw = logits.float()
            masked = raw.clone()
            needs_mask = [
                r
                for r, s in enumerate(states)
                if s is not None and not s.finished and not s.forced and s.matcher
            ]
            for r in needs_mask:
                states[r].matcher.fill_next_token_bitmask(bitmask, r)  # type: ignore[union-attr]
            if needs_mask:
                index = torch.tensor(needs_mask, dtype=torch.long)
                sub = masked[index]
                self._grammars.apply_bitmask(sub, bitmask[index])
                masked[index] = sub
            for r, state in enumerate(states):
                assert state is not None
                if state.finished:
                    next_tokens.append(self._pad_id)
                    continue
                if batch[r].request.score_after is not None:
                    # Scored, not decoded: the prefill's last logits are the whole answer.
                    state.record_probe(raw[r])
                    state.finished, state.finish_reason = True, "stop"
                    next_tokens.append(self._pad_id)
                    continue
                if state.forced:
                    token = state.forced.popleft()
                else:
                    if state.wants_probe():
                        state.record_probe(raw[r])
                    token = self._select(masked[r], batch[r].request, generators[r])
                state.accept(token, self._stop_ids)
                next_tokens.append(token)
            if all(state.finished for state in states if state is not None):
                return
            step = torch.tensor(next_tokens, dtype=torch.long).unsqueeze(-1)
            mask = torch.cat([mask, torch.ones((len(batch), 1), dtype=torch.long)], dim=-1)
            last_positions = last_positions + 1
            out = self._model(
                input_ids=step,
                attention_mask=mask,
                position_ids=last_positions.unsqueeze(-1),
                cache=cache,
                use_cache=True,
            )
            logits = out.logits[:, -1, :]

    def _generator(self, row: _Row) -> Any:
        sampling = row.request.sampling
        if sampling.temperature == 0:
            return None
        generator = self._torch.Generator()
        generator.manual_seed(
            (sampling.seed if sampling.seed is not None else 0) * 1000 + row.sample_index
        )
        return generator

    def _select(self, logits: Any, request: GenerationRequest, generator: Any) -> int:
        torch = self._torch
        sampling = request.sampling
        if generator is None:
            return int(torch.argmax(logits).item())
        probs = torch.softmax(logits / sampling.temperature, dim=-1)
        if sampling.top_p < 1.0:
            sorted_probs, order = torch.sort(probs, descending=True)
            keep = sorted_probs.cumsum(-1) - sorted_probs < sampling.top_p
            probs = torch.zeros_like(probs).scatter(0, order[keep], sorted_probs[keep])
        return int(torch.multinomial(probs, 1, generator=generator).item())

    def close(self) -> None:
        """Drop the model so its memory can be freed."""
        self._model = None
