"""Scripted backends for reward, server and batch tests (also loaded by `judge batch` subprocesses).

`graded` answers every verdict request with a P(yes) derived from a hash of the request, so
different rows get different, reproducible scores in any process. The environment variable
JUDGE_TEST_BACKEND_DELAY_S makes each batch call sleep (so a test can kill a job mid-run);
JUDGE_TEST_BACKEND_MARKER names a file that the factory creates, so a test can tell whether a
command got as far as loading its backend (the model load of a real backend).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence

from judge.backends.base import Capabilities
from judge.backends.scripted import ScriptedBackend, ScriptedReply
from judge.types import Generation, GenerationRequest
from tests.doubles.scripted import verdict_reply


def graded_p_yes(request: GenerationRequest) -> float:
    """A reproducible P(yes) in [0.05, 0.95] from the request's text."""
    text = "".join(message.content for message in request.messages)
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return round(0.05 + 0.9 * digest[0] / 255, 4)


def graded_reply(request: GenerationRequest, index: int) -> ScriptedReply:
    """A yes/no verdict, or for a direct pairwise request a winner, at the graded probability."""
    p = graded_p_yes(request)
    if request.probe is not None and request.probe.choices == ("A", "B"):
        text = json.dumps({"rationale": "compared", "winner": "A" if p >= 0.5 else "B"})
        return ScriptedReply(text=text, choice_probs={"A": p, "B": 1.0 - p})
    return verdict_reply(p)


CACHEABLE = Capabilities(structured_output=True, choice_probabilities=True, cacheable=True)
"""Capabilities of a scripted backend whose answers are a function of the request alone."""


class SlowScriptedBackend(ScriptedBackend):
    """A scripted backend whose batch calls take `delay_s` seconds.

    JUDGE_TEST_BACKEND_CALLS names a file that gets one line per batch call (with the number of
    requests), so a test can count model calls across processes.
    """

    def __init__(self, delay_s: float, **kwargs: object) -> None:
        super().__init__(graded_reply, **kwargs)  # type: ignore[arg-type]
        self.delay_s = delay_s

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        if calls := os.environ.get("JUDGE_TEST_BACKEND_CALLS"):
            with open(calls, "a", encoding="utf-8") as handle:
                handle.write(f"{len(requests)}\n")
        time.sleep(self.delay_s)
        return super().generate(requests)


def graded(**options: object) -> ScriptedBackend:
    """Factory for the registry: `judge batch --backend scripted-graded`."""
    delay = float(os.environ.get("JUDGE_TEST_BACKEND_DELAY_S", "0"))
    if marker := os.environ.get("JUDGE_TEST_BACKEND_MARKER"):
        with open(marker, "a", encoding="utf-8") as handle:
            handle.write("loaded\n")
    model_id = str(options.get("model") or "scripted-graded")
    return SlowScriptedBackend(delay, model_id=model_id)


def graded_cacheable(**options: object) -> ScriptedBackend:
    """`graded`, declared cacheable (its answer is a function of the request): cache tests."""
    delay = float(os.environ.get("JUDGE_TEST_BACKEND_DELAY_S", "0"))
    model_id = str(options.get("model") or "scripted-graded")
    return SlowScriptedBackend(delay, model_id=model_id, capabilities=CACHEABLE)
