"""A scripted model that answers every request kind of the runner, for CLI tests of strategies.

Registered by name in tests (``monkeypatch.setitem(backends._REGISTRY, ...)``), so that
`judge score --strategy ...` and `judge compare` run end to end without a model.
"""

from __future__ import annotations

import json
import re

from judge.backends.scripted import ScriptedBackend, ScriptedReply
from judge.types import GenerationRequest

_FIRST = re.compile(r"<response_a>\n(.*?)\n</response_a>", re.DOTALL)


def reply(request: GenerationRequest, index: int) -> ScriptedReply:
    """Objective if the prompt has a digit; prefers the longer response shown first or second."""
    role = request.id.rsplit("/", 1)[-1]
    text = request.messages[-1].content
    if role == "#route":
        objective = bool(re.search(r"\d", text.rsplit("<conversation>", 1)[1]))
        route = "objective" if objective else "subjective"
        p_objective = 0.85 if objective else 0.3
        probs = {"objective": p_objective, "subjective": 1 - p_objective}
        return ScriptedReply(text=json.dumps({"task_type": route}), choice_probs=probs)
    if role == "#solve":
        return ScriptedReply(text="Worked out: the answer is 4.")
    if role in ("ab", "ba"):
        first = _FIRST.search(text)
        second = re.search(r"<response_b>\n(.*?)\n</response_b>", text, re.DOTALL)
        assert first is not None and second is not None
        p_first = 0.8 if len(first.group(1)) > len(second.group(1)) else 0.25
        winner = "A" if p_first > 0.5 else "B"
        return ScriptedReply(
            text=json.dumps({"rationale": "longer", "winner": winner}),
            choice_probs={"A": p_first, "B": 1 - p_first},
        )
    verdict = json.dumps({"rationale": "fine", "verdict": "yes"})
    return ScriptedReply(text=verdict, choice_probs={"yes": 0.7, "no": 0.3})


def all_roles(**options: object) -> ScriptedBackend:
    """The scripted judge above, as a backend factory."""
    return ScriptedBackend(reply, model_id="scripted-roles")
