"""The content-free gate: a response with nothing in it but boilerplate gets a 0, without a model.

A response is content-free when nothing is left of it after removing whitespace, punctuation,
our delimiter tags, chat-template tokens and a short list of reasoning openers and answer labels
("Solution", "Thought process:", "Let's solve this step by step.", "Answer:", in a few languages).
Such answers fool small and large judges alike ("One Token to Fool LLM-as-a-Judge", Zhao et al.
2025). The gate's result is a verdict, not a failure: the response was read and holds no answer,
so it scores 0 by rule (`JudgeSettings.content_gate`), with the rule named in the judgment.

It knows no answer's meaning: a fluent wrong answer, an injected instruction or a constant
"great answer" paragraph has content and passes to the model.
"""

from __future__ import annotations

import re

from judge.prompting import DELIMITER_TAGS

GATE_RULE = "content_free"
"""The name of the rule in `Judgment.details['gate']`."""

_TAGS = re.compile(r"<\s*/?\s*(?:" + "|".join(DELIMITER_TAGS) + r")\b[^>]*>", re.IGNORECASE)
# A chat token, and the role name a turn-opening token is followed by (<|im_start|>assistant).
_CHAT_TOKENS = re.compile(
    r"(?:<\|[^|<>]{1,40}\|>|</?s>|\[/?INST\]|<(?:start|end)_of_turn>|</?(?:bos|eos|pad)>)"
    r"(?:\s*(?:system|user|assistant|model)\b)?",
    re.IGNORECASE,
)
_OPENERS = (
    # English
    "let's solve this step by step",
    "let us solve this step by step",
    "let's think step by step",
    "step by step",
    "thought process",
    "solution",
    "answer",
    "final answer",
    "reasoning",
    "response",
    # Chinese, Japanese
    "解答",
    "答案",
    "解",
    "思考过程",
    # Spanish, French, German, Russian
    "solución",
    "respuesta",
    "paso a paso",
    "réponse",
    "étape par étape",
    "lösung",
    "antwort",
    "schritt für schritt",
    "решение",
    "ответ",
)
_OPENER_RE = re.compile(
    "|".join(re.escape(opener) for opener in sorted(_OPENERS, key=len, reverse=True)),
    re.IGNORECASE,
)
_CONTENT = re.compile(r"\w", re.UNICODE)


def content_free(response: str) -> bool:
    """Whether `response` holds nothing beyond boilerplate, openers, tags, tokens and spacing."""
    rest = _CHAT_TOKENS.sub(" ", _TAGS.sub(" ", response))
    rest = _OPENER_RE.sub(" ", rest)
    return _CONTENT.search(rest) is None


def gate_reason(response: str) -> str:
    """The documented reason recorded on a gated judgment."""
    shown = " ".join(response.split())[:40]
    return f"{GATE_RULE}: {shown!r} has no content beyond boilerplate (score 0 by rule)"
