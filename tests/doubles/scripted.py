"""Scripted replies and backend factories (registered by name for `judge score --backend NAME`)."""

from __future__ import annotations

import json

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
