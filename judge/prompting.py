"""The sandboxed Jinja2 environment that renders `prompts/`, and the data-neutralising rule.

Text under judgment is data: it is passed to templates only inside a typed context object,
after `neutralise` has made every delimiter tag and chat special token inside it inert, and it
is never itself rendered as a template.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import nodes
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
    if "<" not in text and "[" not in text:  # every pattern starts with one of the two
        return text
    text = _TAG_RE.sub(r"&lt;\1", text)
    return _SPECIAL_RE.sub(
        lambda m: ("&lt;" if m.group(0)[0] == "<" else "&#91;") + m.group(0)[1:], text
    )


SLOT = "<criterion>"
"""Stands in for a field in a render that is reused: no neutralised text can contain it."""

# Nodes whose effect on a printed field cannot be read from the node alone (other templates,
# filter blocks, autoescape switches, macros called with caller blocks).
_OPAQUE_NODES = (
    nodes.Extends,
    nodes.Include,
    nodes.Import,
    nodes.FromImport,
    nodes.FilterBlock,
    nodes.ScopedEvalContextModifier,
    nodes.EvalContextModifier,
    nodes.CallBlock,
)


def verbatim_fields(tree: nodes.Template) -> frozenset[str]:
    """The `ctx` fields a template only ever prints as they are (``{{ ctx.field }}``).

    Such a field changes nothing else in the output, so a render with `SLOT` in its place, with
    `SLOT` then replaced by the value, is the render with the value: the planner renders a
    sample's shared prompt once and fills in each criterion.
    """
    if any(True for _ in tree.find_all(_OPAQUE_NODES)):
        return frozenset()
    reads = [node for node in tree.find_all(nodes.Getattr) if _is_ctx(node.node)]
    names = [node for node in tree.find_all(nodes.Name) if node.name == "ctx"]
    if len(names) != len(reads) or any(node.ctx != "load" for node in names):
        return frozenset()  # ctx is used other than as ``ctx.field``
    printed = {
        id(child)
        for output in tree.find_all(nodes.Output)
        for child in output.nodes
        if isinstance(child, nodes.Getattr)
    }
    fields = {node.attr for node in reads}
    used_otherwise = {node.attr for node in reads if id(node) not in printed}
    return frozenset(fields - used_otherwise)


def _is_ctx(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Name) and node.name == "ctx"


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
    prompts: tuple[str, ...] = ()
    """Prompts of several judged items in one request (relative confidence), as plain text."""

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
        if "prompts" in fields:
            fields["prompts"] = tuple(neutralise(text) for text in fields["prompts"])
        if "responses" in fields:
            fields["responses"] = tuple(neutralise(text) for text in fields["responses"])
        if fields.get("criterion"):
            fields["criterion"] = neutralise(fields["criterion"])
        return cls(**fields)


class PromptLibrary:
    """Loads and renders the templates of one prompts folder in a sandbox."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or resource_dir("prompts")
        self._loader = jinja2.FileSystemLoader(str(self.directory))
        self._env = ImmutableSandboxedEnvironment(
            loader=self._loader,
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=False,
            trim_blocks=True,
            lstrip_blocks=True,
            # Templates ship with the package: no mtime check per render.
            auto_reload=False,
        )

        self._verbatim: dict[str, frozenset[str]] = {}
        self._templates: dict[str, jinja2.Template] = {}

    def names(self) -> list[str]:
        """Template names (file stems) available in this library."""
        return sorted(path.stem for path in self.directory.glob("*.j2"))

    def render(self, name: str, context: PromptContext) -> str:
        """Render template `name` (without `.j2`) from `context`."""
        try:
            return self._template(name).render(ctx=context).strip()
        except jinja2.TemplateNotFound:
            raise TemplateError(
                f"prompt template {name!r} not found in {self.directory}",
                hint=f"available: {', '.join(self.names())}",
            ) from None
        except jinja2.TemplateError as exc:
            raise TemplateError(f"prompt template {name!r} failed to render: {exc}") from exc

    def _template(self, name: str) -> jinja2.Template:
        """Template `name`, loaded once (templates ship with the package and never change)."""
        template = self._templates.get(name)
        if template is None:
            template = self._env.get_template(f"{name}.j2")
            self._templates[name] = template
        return template

    def verbatim(self, name: str) -> frozenset[str]:
        """The context fields template `name` prints as they are and reads nowhere else."""
        found = self._verbatim.get(name)
        if found is None:
            try:
                source = self._loader.get_source(self._env, f"{name}.j2")[0]
                found = verbatim_fields(self._env.parse(source))
            except jinja2.TemplateError:
                found = frozenset()  # render() reports the template's error
            self._verbatim[name] = found
        return found

    def render_around(
        self, name: str, context: PromptContext, field_name: str, **fixed: Any
    ) -> tuple[str, str] | None:
        """Render `name` with `SLOT` for field `field_name` (and the `fixed` fields set).

        Returns the text before and after the slot.

        None when the template reads the field other than by printing it, or when the render
        holds `SLOT` other than once; callers then render each value in full.
        """
        if field_name not in self.verbatim(name):
            return None
        fixed[field_name] = SLOT
        text = self.render(name, replace(context, **fixed))
        head, slot, tail = text.partition(SLOT)
        if not slot or SLOT in tail:
            return None
        return head, tail

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
