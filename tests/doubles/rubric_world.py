"""A scripted 'model' for rubric-engine tests: proposals, verdicts, overlaps and decompositions
come from tables keyed by the texts a real model would read in the rendered prompt."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from judge.backends.base import Capabilities
from judge.backends.scripted import ScriptedBackend, ScriptedReply
from judge.types import GenerationRequest

Items = list[tuple[str, str]]

_RESPONSE_RE = re.compile(r"<response>\n(.*?)\n</response>", re.DOTALL)
_CRITERION_RE = re.compile(r"^Criterion \([^)]*\): (.*)$", re.MULTILINE)
_BLOCK_RE = re.compile(r"<criterion[^>]*>\n(.*?)\n</criterion>", re.DOTALL)


def criteria_json(items: Items) -> str:
    return json.dumps({"criteria": [{"text": text, "kind": kind} for text, kind in items]})


@dataclass
class RubricWorld:
    """Answers each kind of rubric-engine request from its tables.

    satisfies(criterion_text, response_text) -> P(yes) decides verdicts; `decompositions` maps
    a parent criterion's text to its children; `overlaps` maps (candidate, accepted) texts to
    (overlap percent, conflict).
    """

    satisfies: Callable[[str, str], float]
    proposal: Items = field(default_factory=list)
    proposal_text: str | None = None
    decompositions: dict[str, Items] = field(default_factory=dict)
    overlaps: dict[tuple[str, str], tuple[int, bool]] = field(default_factory=dict)
    pool: Callable[[int | None, int], str] = lambda seed, index: f"sampled {seed}-{index}"
    requests: list[GenerationRequest] = field(default_factory=list)

    def __call__(self, request: GenerationRequest, index: int) -> ScriptedReply | str:
        self.requests.append(request)
        user = request.messages[-1].content
        # Several items in one batch prefix their ids with "r<item>:" (contrastive rows).
        request_id = re.sub(r"^r\d+:", "", request.id)
        kind = request_id.split(":")[0] if ":" in request_id else request_id
        if request_id == "pool":
            return self.pool(request.sampling.seed, index)
        if request_id in ("propose", "contrastive"):
            return (
                self.proposal_text
                if self.proposal_text is not None
                else criteria_json(self.proposal)
            )
        if kind == "decompose":
            parent = _BLOCK_RE.search(user).group(1)
            return criteria_json(self.decompositions.get(parent, []))
        if kind in ("overlap", "meaning"):
            first, second = _BLOCK_RE.findall(user)
            percent, conflict = self.overlaps.get((first, second), (0, False))
            text = json.dumps({"overlap": percent, "conflict": "yes" if conflict else "no"})
            p = 0.9 if conflict else 0.1
            return ScriptedReply(text=text, choice_probs={"yes": p, "no": 1 - p})
        response = _RESPONSE_RE.search(user).group(1)
        criterion = _CRITERION_RE.search(user).group(1)
        p_yes = self.satisfies(criterion, response)
        verdict = "yes" if p_yes >= 0.5 else "no"
        return ScriptedReply(
            text=json.dumps({"rationale": "checked", "verdict": verdict}),
            choice_probs={"yes": p_yes, "no": 1 - p_yes},
        )

    def backend(self, **kwargs: object) -> ScriptedBackend:
        return ScriptedBackend(self, **kwargs)  # type: ignore[arg-type]


def keyword_judge(table: dict[str, set[str]], p: float = 0.9) -> Callable[[str, str], float]:
    """P(yes) = p when the criterion's key (a word in its text) names the response in `table`."""

    def satisfies(criterion: str, response: str) -> float:
        for key, responses in table.items():
            if key in criterion:
                return p if response in responses else 1 - p
        return 1 - p

    return satisfies


NO_PROBS = Capabilities(structured_output=True, choice_probabilities=False)
