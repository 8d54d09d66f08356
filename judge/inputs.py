"""The one reader of user records: samples, chat messages; errors name the record and field.

`judge score`, `judge compare`, `judge batch`, the runner and the reward functions read prompts,
chat messages, responses and pairs through these functions, so every entry point accepts (and
refuses) the same inputs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import ValidationError

from judge.errors import InputError, describe_validation_error
from judge.types import Message, Pair, Sample

_ROLES = ("system", "user", "assistant", "tool")


def sample_from_record(record: Any, *, where: str, default_id: str) -> Sample:
    """Validate one record (a dict with prompt or messages, response, ...) into a Sample."""
    if not isinstance(record, dict):
        raise InputError(f"{where}: expected a JSON object, got {type(record).__name__}")
    data = dict(record)
    data.setdefault("id", default_id)
    if not isinstance(data["id"], str):
        data["id"] = str(data["id"])
    try:
        return Sample.model_validate(data)
    except ValidationError as exc:
        raise InputError(
            f"{where}: {describe_validation_error(exc)}",
            hint="each row needs 'prompt' (or 'messages') and 'response'; optional 'id', "
            "'reference', 'metadata'",
        ) from None


def content_text(content: Any, where: str) -> str:
    """The text of a message content: a string, or a list of text parts (multimodal format)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if (
                isinstance(part, Mapping)
                and part.get("type") == "text"
                and isinstance(part.get("text"), str)
            ):
                texts.append(part["text"])
            else:
                kind = part.get("type") if isinstance(part, Mapping) else type(part).__name__
                raise InputError(f"{where}: a {kind!r} part cannot be judged (text only)")
        return "".join(texts)
    raise InputError(f"{where}: content is {type(content).__name__}, expected text")


def tool_calls_text(tool_calls: Any, where: str) -> str:
    """Tool calls as data: one ``[tool call] name({arguments})`` line each (OpenAI/TRL shape)."""
    if not isinstance(tool_calls, list | tuple):
        raise InputError(f"{where}: tool_calls is {type(tool_calls).__name__}, expected a list")
    lines = []
    for index, call in enumerate(tool_calls):
        function = call.get("function", call) if isinstance(call, Mapping) else None
        name = function.get("name") if isinstance(function, Mapping) else None
        if not isinstance(name, str):
            raise InputError(f"{where}[{index}]: a tool call needs a function name")
        arguments = function.get("arguments", {}) if isinstance(function, Mapping) else {}
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments, ensure_ascii=False, sort_keys=True, default=str)
        lines.append(f"[tool call] {name}({arguments})")
    return "\n".join(lines)


def to_messages(value: Any, where: str) -> tuple[Message, ...]:
    """Chat messages from a list of ``{"role", "content"}`` dicts.

    Tool use (OpenAI's and TRL's shape) is read as data: an assistant turn's ``tool_calls`` become
    ``[tool call] name(arguments)`` lines of its text (its ``content`` may then be None or
    empty), and a ``{"role": "tool", "name", "content"}`` result becomes a ``tool`` message.
    """
    messages = []
    for index, message in enumerate(value):
        if not isinstance(message, Mapping):
            raise InputError(
                f"{where}[{index}]: expected a message dict, got {type(message).__name__}"
            )
        role = message.get("role")
        if role not in _ROLES:
            raise InputError(
                f"{where}[{index}]: role {role!r} cannot be judged (use {'/'.join(_ROLES)})"
            )
        content = message.get("content")
        calls = message.get("tool_calls") if role == "assistant" else None
        at = f"{where}[{index}]"
        text = "" if content is None and calls else content_text(content, f"{at}.content")
        if calls:
            rendered = tool_calls_text(calls, f"{at}.tool_calls")
            text = f"{text}\n{rendered}" if text.strip() else rendered
        if role == "tool" and isinstance(message.get("name"), str):
            text = f"[result of {message['name']}]\n{text}"
        messages.append(Message(role=role, content=text))
    return tuple(messages)


def pair_from_record(record: dict[str, Any], *, where: str) -> Pair:
    """Validate a record (prompt or messages, response_a, response_b, ...) into a Pair.

    Errors name the field: a missing prompt, a field of the wrong type. A blank response is
    valid (it loses by rule).
    """
    try:
        pair = Pair.model_validate(record)
    except ValidationError as exc:
        raise InputError(
            f"{where}: {describe_validation_error(exc, 'pair')}",
            hint="a pair needs 'prompt' (or 'messages'), 'response_a' and 'response_b'",
        ) from None
    return pair


class PreferencePair(NamedTuple):
    """A prompt with a better (chosen) and a worse (rejected) response."""

    prompt: str
    chosen: str
    rejected: str


def read_preference_pairs(path: Path) -> list[PreferencePair]:
    """Read JSONL rows ``{"prompt", "chosen", "rejected"}`` (extra fields are ignored).

    Every row is checked before anything else happens: an error names the file, the line and
    the field.
    """
    hint = 'each line needs "prompt", "chosen" and "rejected" as non-empty strings'
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(f"pairs file {path} not found") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"pairs file {path}: not valid UTF-8 at byte {exc.start}") from None
    pairs = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: not valid JSON ({exc.msg})", hint=hint) from None
        if not isinstance(record, dict):
            raise InputError(f"{where}: expected an object, got {type(record).__name__}", hint=hint)
        values = []
        for name in PreferencePair._fields:
            value = record.get(name)
            if not isinstance(value, str) or not value.strip():
                problem = "missing" if value is None else f"not a non-empty string ({value!r:.40})"
                raise InputError(f"{where}: field {name!r} is {problem}", hint=hint)
            values.append(value)
        pair = PreferencePair(*values)
        if " ".join(pair.chosen.split()) == " ".join(pair.rejected.split()):
            raise InputError(
                f"{where}: 'chosen' and 'rejected' are the same text",
                hint="a contrastive rubric needs two different responses",
            )
        pairs.append(pair)
    if not pairs:
        raise InputError(f"pairs file {path} has no rows", hint=hint)
    return pairs
