"""xgrammar-constrained decoding state for one sequence, and the choice probe.

xgrammar is the grammar engine SGLang uses, so outputs constrained here and on SGLang follow the
same rules. Deterministic stretches of the grammar (literal JSON keys, quotes) are forced in their
canonical tokenization (jump-forward), which also guarantees that a `ChoiceProbe` marker ends on a
token boundary: the choice is then one fresh token, read from the logits at that position.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from judge.errors import ConfigError
from judge.types import ChoiceProbe, Constraint


class GrammarCache:
    """Compiles each constraint once per tokenizer (compiling a regex takes ~0.1-2 s)."""

    def __init__(self, tokenizer: Any, vocab_size: int) -> None:
        import xgrammar as xgr

        self._xgr = xgr
        self.info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size)
        self._compiler = xgr.GrammarCompiler(self.info)
        self._compiled: dict[Constraint, Any] = {}
        self._lock = threading.Lock()

    def matcher(self, constraint: Constraint) -> Any:
        """A fresh matcher for `constraint`."""
        with self._lock:
            compiled = self._compiled.get(constraint)
            if compiled is None:
                try:
                    if constraint.kind == "regex":
                        compiled = self._compiler.compile_regex(constraint.value)
                    else:
                        compiled = self._compiler.compile_json_schema(constraint.value)
                except Exception as exc:  # xgrammar raises RuntimeError/ValueError variants
                    raise ConfigError(f"invalid {constraint.kind} constraint: {exc}") from exc
                self._compiled[constraint] = compiled
        return self._xgr.GrammarMatcher(compiled)

    def allocate_bitmask(self, rows: int) -> Any:
        """A token bitmask for `rows` sequences."""
        return self._xgr.allocate_token_bitmask(rows, self.info.vocab_size)

    def apply_bitmask(self, logits: Any, bitmask: Any) -> None:
        """Set disallowed logits to -inf in place."""
        self._xgr.apply_token_bitmask_inplace(logits, bitmask)


def choice_token_ids(tokenizer: Any, probe: ChoiceProbe) -> list[int]:
    """The first token id of each choice; choices must start with distinct tokens."""
    ids = []
    for choice in probe.choices:
        encoded = tokenizer.encode(choice, add_special_tokens=False)
        if not encoded:
            raise ConfigError(f"choice {choice!r} encodes to no tokens")
        ids.append(encoded[0])
    if len(set(ids)) != len(ids):
        raise ConfigError(f"choices {probe.choices} do not start with distinct tokens")
    return ids


class SequenceState:
    """Decoding state of one output row: tokens so far, grammar, forced tokens, probe result."""

    def __init__(
        self,
        tokenizer: Any,
        max_new_tokens: int,
        matcher: Any | None,
        probe: ChoiceProbe | None,
        probe_ids: list[int] | None,
    ) -> None:
        self.tokenizer = tokenizer
        self.max_new_tokens = max_new_tokens
        self.matcher = matcher
        self.probe = probe
        self.probe_ids = probe_ids
        self.tokens: list[int] = []
        self.forced: deque[int] = deque()
        self.choice_probs: dict[str, float] | None = None
        self.finished = False
        self.finish_reason = "length"
        self.error: str | None = None
        self._queue_jump_forward()

    @property
    def text(self) -> str:
        """The text generated so far."""
        return str(self.tokenizer.decode(self.tokens, skip_special_tokens=True))

    def _queue_jump_forward(self) -> None:
        if self.matcher is None or self.forced:
            return
        jump = self.matcher.find_jump_forward_string()
        if jump:
            self.forced.extend(self.tokenizer.encode(jump, add_special_tokens=False))

    def wants_probe(self) -> bool:
        """True at the position right after the probe marker, before the choice is emitted."""
        if self.probe is None or self.choice_probs is not None or self.forced:
            return False
        return self.text.endswith(self.probe.marker)

    def record_probe(self, raw_logits: Any) -> None:
        """Renormalise the unconstrained next-token distribution over the choices' first tokens."""
        import torch

        assert self.probe is not None and self.probe_ids is not None
        chosen = raw_logits[self.probe_ids].float()
        probs = torch.softmax(chosen, dim=-1).tolist()
        self.choice_probs = {
            choice: float(p) for choice, p in zip(self.probe.choices, probs, strict=True)
        }

    def accept(self, token: int, stop_ids: set[int]) -> None:
        """Append `token`; update grammar, forced queue and the finished flag."""
        if self.matcher is not None:
            if not self.matcher.accept_token(token):
                self.finished, self.finish_reason = True, "error"
                self.error = f"grammar rejected token {token}"
                return
        elif token in stop_ids:
            self.finished, self.finish_reason = True, "stop"
            return
        self.tokens.append(token)
        if self.matcher is not None and (
            self.matcher.is_completed() or self.matcher.is_terminated()
        ):
            self.finished, self.finish_reason = True, "stop"
            return
        if len(self.tokens) >= self.max_new_tokens:
            self.finished, self.finish_reason = True, "length"
            return
        self._queue_jump_forward()
