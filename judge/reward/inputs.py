"""Turn what RL trainers hand a reward (strings or chat-message lists) into Samples and Pairs.

Tool-using completions are judged on their final answer, with the tool calls and results as
context. An input that cannot be judged (an empty completion, no final answer, a non-text part)
becomes an `Invalid` item with the reason, so the reward's failure policy applies to that item.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from judge.errors import InputError, describe_validation_error
from judge.inputs import to_messages
from judge.types import Message, Pair, Sample


@dataclass(frozen=True)
class Invalid:
    """An input that cannot be judged, and why."""

    reason: str


RewardItem = Sample | Pair | Invalid


def prompt_fields(prompt: Any) -> dict[str, Any]:
    """``{"prompt": text}`` for a string, ``{"messages": ...}`` for a conversational prompt."""
    if isinstance(prompt, str):
        return {"prompt": prompt}
    if isinstance(prompt, list | tuple):
        return {"messages": to_messages(prompt, "prompt")}
    raise InputError(f"prompt is {type(prompt).__name__}, expected text or a list of messages")


def read_completion(completion: Any) -> tuple[tuple[Message, ...], str]:
    """The turns before the answer (context) and the response under judgment.

    A string is the response. A message list without tool use is the joined text of its
    assistant messages. With tool use (TRL's ``tools=``: assistant turns with ``tool_calls``,
    ``{"role": "tool"}`` results), the final assistant answer is the response and every turn
    before it (the calls and their results) is context, rendered as data.
    """
    if isinstance(completion, str):
        return (), completion
    if not isinstance(completion, list | tuple):
        raise InputError(f"completion is {type(completion).__name__}, expected text or messages")
    messages = to_messages(completion, "completion")
    uses_tools = any(
        isinstance(m, Mapping) and (m.get("role") == "tool" or m.get("tool_calls"))
        for m in completion
    )
    if not uses_tools:
        return (), "\n".join(m.content for m in messages if m.role == "assistant")
    last = completion[-1]
    if messages[-1].role != "assistant" or (isinstance(last, Mapping) and last.get("tool_calls")):
        raise InputError("the tool-using completion has no final answer (it ends in tool use)")
    return messages[:-1], messages[-1].content


def with_context(fields: Mapping[str, Any], context: Sequence[Message]) -> dict[str, Any]:
    """The prompt fields with the completion's earlier turns appended as conversation."""
    if not context:
        return dict(fields)
    if "messages" in fields:
        return {"messages": (*fields["messages"], *context)}
    return {"messages": (Message(role="user", content=fields["prompt"]), *context)}


def _optional_text(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text if text.strip() else None


def build_item(
    item_id: str, fields: Mapping[str, Any], response: str, reference: Any, baseline: Any
) -> Sample | Pair | Invalid:
    """A Sample (or a Pair against `baseline` when given), or Invalid with the reason."""
    if not response.strip():
        return Invalid(f"item {item_id}: the completion is empty")
    if baseline is not None and not str(baseline).strip():
        return Invalid(f"item {item_id}: the baseline response is empty")
    common = {"id": item_id, **fields, "reference": _optional_text(reference)}
    try:
        if baseline is not None:
            return Pair(**common, response_a=response, response_b=str(baseline))
        return Sample(**common, response=response)
    except ValidationError as exc:
        return Invalid(f"item {item_id}: {describe_validation_error(exc, 'item')}")


# Chat templates whose rendered prompts can be read back into messages (OpenRLHF sends the
# rendered prompt string): ChatML (Qwen, SmolLM) and Llama 3.
_CHAT_PATTERNS = (
    re.compile(r"<\|im_start\|>(system|user|assistant)\n(.*?)<\|im_end\|>", re.DOTALL),
    re.compile(
        r"<\|start_header_id\|>(system|user|assistant)<\|end_header_id\|>\n\n(.*?)<\|eot_id\|>",
        re.DOTALL,
    ),
)


def parse_rendered_prompt(prompt: str) -> dict[str, Any]:
    """``{"messages": ...}`` for a prompt rendered with a known chat template, else the text."""
    for pattern in _CHAT_PATTERNS:
        found = pattern.findall(prompt)
        if found:
            messages = tuple(Message(role=role, content=text) for role, text in found)
            if any(m.role == "user" for m in messages):
                return {"messages": messages}
    return {"prompt": prompt}


def split_query(query: str, prompt: str | None, end_markers: Sequence[str]) -> str:
    """The response part of an OpenRLHF query (the decoded prompt + response tokens).

    The query starts with the prompt; end-of-turn markers left by decoding with special tokens
    are stripped from the end. Raises InputError when the prompt cannot be found in the query.
    """
    response = query
    if prompt:
        if query.startswith(prompt):
            response = query[len(prompt) :]
        else:
            # Decoding may normalise the prompt's start (a BOS token, spaces); its tail is
            # stable, and is looked for where the prompt ends, not inside the response.
            tail = prompt[-64:]
            at = query.find(tail, max(0, len(prompt) - len(tail) - 32))
            if at < 0:
                raise InputError("the query does not contain the prompt")
            response = query[at + len(tail) :]
    stripped = True
    while stripped:
        stripped = False
        response = response.rstrip()
        for marker in end_markers:
            if marker and response.endswith(marker):
                response = response[: -len(marker)]
                stripped = True
    return response.strip()
