"""A deterministic backend answering from a script: for users' and our own tests, never a default.

Like httpx's ``MockTransport``: give it a function from request to reply, and it records every
batch it was sent, so a test can assert what was asked and how it was batched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from judge.backends.base import Capabilities
from judge.types import ErrorKind, Generation, GenerationRequest, Usage


@dataclass(frozen=True)
class ScriptedReply:
    """What the scripted model says to one request."""

    text: str
    choice_probs: dict[str, float] | None = None
    finish_reason: str = "stop"
    error: str | None = None
    error_kind: ErrorKind | None = None


Responder = Callable[[GenerationRequest, int], ScriptedReply | str]


class _LineWords:
    """``len(text.split())``, counted line by line with each distinct line split once.

    A word never spans a newline, so a text's count is the sum of its lines' counts; the
    prompts of a batch repeat most of their lines (a sample's conversation and response in the
    request of each of its criteria), so one counter per batch splits each of them once.
    """

    def __init__(self) -> None:
        self._lines: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        total = 0
        for line in text.split("\n"):
            count = self._lines.get(line)
            if count is None:
                count = self._lines[line] = len(line.split())
            total += count
        return total


class ScriptedBackend:
    """Answers each request with ``responder(request, sample_index)`` and records the batches."""

    def __init__(
        self,
        responder: Responder,
        *,
        model_id: str = "scripted",
        capabilities: Capabilities | None = None,
    ) -> None:
        self._responder = responder
        self._model_id = model_id
        # Its answers are a Python function, not a model's: no judgment cache by default.
        self._capabilities = capabilities or Capabilities(
            structured_output=True,
            choice_probabilities=True,
            score_without_decoding=True,
            prefix_cache=False,
            cacheable=False,
        )
        self.batches: list[list[GenerationRequest]] = []

    @property
    def model_id(self) -> str:
        """The name given at construction."""
        return self._model_id

    @property
    def capabilities(self) -> Capabilities:
        """The capabilities given at construction (default: all but prefix cache)."""
        return self._capabilities

    @property
    def calls(self) -> int:
        """How many batched `generate` calls were made."""
        return len(self.batches)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Answer every request and sample from the script; record the batch."""
        self.batches.append(list(requests))
        generations = []
        # Words per message object: the requests of a batch share their system message. The
        # batch keeps every message alive meanwhile, so an id names one message.
        words: dict[int, int] = {}
        count_words = _LineWords()
        # One Usage per distinct count (frozen values, so generations may share one).
        usages: dict[tuple[int, int], Usage] = {}
        for request in requests:
            prompt_tokens = 0
            for message in request.messages:
                count = words.get(id(message))
                if count is None:
                    count = words[id(message)] = count_words(message.content)
                prompt_tokens += count
            for index in range(request.sampling.n):
                reply = self._responder(request, index)
                if isinstance(reply, str):
                    reply = ScriptedReply(text=reply)
                probs = reply.choice_probs if self._capabilities.choice_probabilities else None
                # A scored request is not decoded: only the reply's probabilities are given.
                text = "" if request.score_after is not None else reply.text
                counts = (prompt_tokens, len(text.split()))
                usage = usages.get(counts)
                if usage is None:
                    usage = usages[counts] = Usage(
                        prompt_tokens=counts[0], completion_tokens=counts[1]
                    )
                generations.append(
                    Generation(
                        request_id=request.id,
                        sample_index=index,
                        text=text,
                        choice_probs=probs,
                        probs_source="scripted" if probs is not None else None,
                        usage=usage,
                        finish_reason=reply.finish_reason,
                        error=reply.error,
                        error_kind=reply.error_kind,
                    )
                )
        return generations

    def close(self) -> None:
        """Nothing to release."""
        return None
