"""Backend factories for CLI tests, registered by name for `judge score --backend NAME`."""

from __future__ import annotations

import json

from judge.backends.scripted import ScriptedBackend, ScriptedReply
from judge.types import GenerationRequest


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
