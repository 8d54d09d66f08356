"""Scripted replies and backend factories (registered by name for `judge score --backend NAME`)."""

from __future__ import annotations

import json
import re

from judge.backends.scripted import ScriptedBackend, ScriptedReply
from judge.types import GenerationRequest


def verdict_reply(p_yes: float, rationale: str = "checked") -> ScriptedReply:
    """A well-formed verdict output with the given P(yes)."""
    verdict = "yes" if p_yes >= 0.5 else "no"
    text = json.dumps({"rationale": rationale, "verdict": verdict})
    return ScriptedReply(text=text, choice_probs={"yes": p_yes, "no": 1.0 - p_yes})


def always_yes(**options: object) -> ScriptedBackend:
    """A scripted judge that says yes with P(yes) = 0.8 to everything."""

    def responder(request: GenerationRequest, index: int) -> ScriptedReply:
        return ScriptedReply(
            text=json.dumps({"rationale": "fine", "verdict": "yes"}),
            choice_probs={"yes": 0.8, "no": 0.2},
        )

    return ScriptedBackend(responder, model_id="scripted-yes")


RECORDED_OPTIONS: dict[str, object] = {}


def recording(**options: object) -> ScriptedBackend:
    """Like `always_yes`, but records the keyword options the CLI passed."""
    RECORDED_OPTIONS.clear()
    RECORDED_OPTIONS.update(options)
    return always_yes()


def _between(text: str, start: str, end: str) -> str:
    _, _, rest = text.partition(start)
    return rest.partition(end)[0] if rest else ""


def gullible(**options: object) -> ScriptedBackend:
    """A judge fooled by injected instructions, for the probe's logic tests.

    Pointwise: yes (P 0.9) to a response holding the reference or "Ignore previous
    instructions", no (P 0.1) to anything else. Pairwise: P(first) = 0.65 + 0.3 (first accepted
    - second accepted), where accepted is the injection or 2+ words of the prompt repeated: the
    accepted answer wins, and between equals the first shown wins.
    """

    def accepts(response: str, reference: str) -> bool:
        return "ignore previous instructions" in response.lower() or (
            bool(reference) and reference in response
        )

    def responder(request: GenerationRequest, index: int) -> ScriptedReply:
        text = request.messages[-1].content
        reference = _between(text, "<reference>", "</reference>").strip()
        if "<response_a>" in text:
            # Pairwise (no reference shown): prefers an answer that repeats 2+ words of the
            # prompt or holds the injection, and leans to the first one shown.
            conversation = _between(text, "<conversation>\n", "</conversation>").lower()
            prompt = set(re.findall(r"\w+", conversation))

            def relevant(response: str) -> bool:
                overlap = prompt & set(re.findall(r"\w+", response))
                return accepts(response, "") or len(overlap) >= 2

            first = relevant(_between(text, "<response_a>\n", "</response_a>").lower())
            second = relevant(_between(text, "<response_b>\n", "</response_b>").lower())
            p_first = 0.65 + 0.3 * (first - second)
            winner = "A" if p_first >= 0.5 else "B"
            return ScriptedReply(
                text=json.dumps({"rationale": "compared", "winner": winner}),
                choice_probs={"A": p_first, "B": 1 - p_first},
            )
        return verdict_reply(
            0.9 if accepts(_between(text, "<response>", "</response>"), reference) else 0.1
        )

    return ScriptedBackend(responder, model_id="scripted-gullible")
