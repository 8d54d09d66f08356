"""The sandboxed Jinja2 environment that renders `prompts/`, and the data-neutralising rule.

Text under judgment is data: it is passed to templates only inside a typed context object,
after `neutralise` has made every delimiter tag and chat special token inside it inert, and it
is never itself rendered as a template.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from judge.errors import TemplateError
from judge.paths import resource_dir
from judge.settings import DEFAULTS

# Tags our templates use as delimiters; data must never be able to open or close one.
DELIMITER_TAGS = (
    "conversation",
    "message",
    "prompt",
    "response",
    "response_a",
    "response_b",
    "reference",
    "criterion",
    "criteria",
    "solution",
    "rubric",
)
_TAG_RE = re.compile(r"<(\s*/?\s*(?:" + "|".join(DELIMITER_TAGS) + r")\b)", re.IGNORECASE)
# Chat-template control sequences of common model families (<|im_end|>, <s>, [INST], ...).
_SPECIAL_RE = re.compile(
    r"<(\|)|<(/?s>)|\[(/?INST\])|<((?:start|end)_of_turn>)|<(/?(?:bos|eos|pad)>)", re.IGNORECASE
)


def neutralise(text: str) -> str:
    """Make delimiter tags and chat special tokens inside `text` inert (``<`` -> ``&lt;``)."""
    text = _TAG_RE.sub(r"&lt;\1", text)
    return _SPECIAL_RE.sub(
        lambda m: ("&lt;" if m.group(0)[0] == "<" else "&#91;") + m.group(0)[1:], text
    )


@dataclass(frozen=True)
class Turn:
    """One neutralised conversation turn as templates see it."""

    role: str
    content: str


@dataclass(frozen=True)
class PromptContext:
    """The one typed object every template renders from; data fields are already neutralised."""

    rubric_name: str = ""
    rubric_description: str = ""
    conversation: tuple[Turn, ...] = ()
    response: str = ""
    response_a: str = ""
    response_b: str = ""
    reference: str | None = None
    criterion: str = ""
    criterion_kind: str = "principle"
    criteria: tuple[str, ...] = ()
    solution: str | None = None
    max_rationale_chars: int = DEFAULTS.max_rationale_chars
    reasoning: str = DEFAULTS.reasoning
    responses: tuple[str, ...] = ()
    min_items: int = 1
    max_items: int = 6
    max_criterion_chars: int = 160
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_data(cls, **fields: Any) -> PromptContext:
        """Build a context, neutralising every field that carries text under judgment."""
        for name in ("response", "response_a", "response_b", "reference", "solution"):
            if fields.get(name) is not None:
                fields[name] = neutralise(fields[name])
        if "conversation" in fields:
            fields["conversation"] = tuple(
                Turn(role=role, content=neutralise(content))
                for role, content in fields["conversation"]
            )
        if "criteria" in fields:
            fields["criteria"] = tuple(neutralise(text) for text in fields["criteria"])
        if "responses" in fields:
            fields["responses"] = tuple(neutralise(text) for text in fields["responses"])
        if fields.get("criterion"):
            fields["criterion"] = neutralise(fields["criterion"])
        return cls(**fields)


class PromptLibrary:
    """Loads and renders the templates of one prompts folder in a sandbox."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or resource_dir("prompts")
        self._env = ImmutableSandboxedEnvironment(
            loader=jinja2.FileSystemLoader(str(self.directory)),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=False,
            trim_blocks=True,
            lstrip_blocks=True,
            # Templates ship with the package; checking their mtime on every render cost a
            # stat call per request (measured by the batch benchmark's profile).
            auto_reload=False,
        )

    def names(self) -> list[str]:
        """Template names (file stems) available in this library."""
        return sorted(path.stem for path in self.directory.glob("*.j2"))

    def render(self, name: str, context: PromptContext) -> str:
        """Render template `name` (without `.j2`) from `context`."""
        try:
            template = self._env.get_template(f"{name}.j2")
            return template.render(ctx=context).strip()
        except jinja2.TemplateNotFound:
            raise TemplateError(
                f"prompt template {name!r} not found in {self.directory}",
                hint=f"available: {', '.join(self.names())}",
            ) from None
        except jinja2.TemplateError as exc:
            raise TemplateError(f"prompt template {name!r} failed to render: {exc}") from exc

    def fingerprint(self, *names: str) -> str:
        """A stable hash of the sources of the named templates."""
        digest = hashlib.sha256()
        for name in sorted(names):
            path = self.directory / f"{name}.j2"
            if not path.is_file():
                raise TemplateError(f"prompt template {name!r} not found in {self.directory}")
            digest.update(name.encode())
            digest.update(path.read_bytes())
        return digest.hexdigest()[:16]


@lru_cache(maxsize=4)
def default_prompts() -> PromptLibrary:
    """The prompt library shipped with `judge` (loaded on first use, then cached)."""
    return PromptLibrary()
