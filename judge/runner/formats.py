"""Output formats of the runner's non-verdict requests: one labelled choice, or a principle list.

A choice output is ``{"rationale": "...", "<field>": "<choice>"}`` (the rationale is optional):
the task type of a routing request, the winner of a pairwise request, the 1-N score of a Likert
request. The choice is a JSON string right after a fixed marker, so a `ChoiceProbe` reads its
probability from the first token of each choice, exactly as for yes/no verdicts.

`reasoning` orders the output: ``before`` (rationale, then choice), ``after`` (choice first, then
an optional rationale) or ``none``: nothing is decoded, the reply is scored right after
``{`` + marker (`score_prefix`), and the answer is the most probable choice (`read`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from judge.backends.base import Capabilities
from judge.errors import VerdictParseError
from judge.settings import Reasoning
from judge.types import ChoiceProbe, Constraint, Generation

_RATIONALE_RE = re.compile(r'"rationale"\s*:\s*"((?:[^"\\]|\\.)*)"', re.DOTALL)


def _strongest(capabilities: Capabilities, regex: str, schema: str) -> Constraint | None:
    """The regex if the backend honours regexes, else the schema, else nothing."""
    if not capabilities.structured_output:
        return None
    if "regex" in capabilities.constraint_kinds:
        return Constraint(kind="regex", value=regex)
    if "json_schema" in capabilities.constraint_kinds:
        return Constraint(kind="json_schema", value=schema)
    return None


@dataclass(frozen=True)
class ChoiceFormat:
    """A JSON object with an optional bounded rationale, then one of `choices` under `field`."""

    field: str
    choices: tuple[str, ...]
    rationale_chars: int | None = None
    reasoning: Reasoning = "before"

    @property
    def marker(self) -> str:
        """The text right before the choice (where the probe reads the distribution)."""
        return f'"{self.field}": "'

    def probe(self) -> ChoiceProbe:
        """Read P(choice) at the marker."""
        return ChoiceProbe(marker=self.marker, choices=self.choices)

    def regex(self) -> str:
        """The output grammar as a regex (the rationale has no quotes, backslashes or newlines)."""
        alternatives = "|".join(re.escape(choice) for choice in self.choices)
        rationale = None
        if self.rationale_chars is not None and self.reasoning != "none":
            rationale = r'"rationale": "[^"\\\n]{0,' + str(self.rationale_chars) + r'}"'
        # Field names are plain identifiers: the marker needs no escaping.
        answer = self.marker + f"({alternatives})" + '"'
        if rationale is None:
            return r"\{" + answer + r"\}"
        if self.reasoning == "after":
            return r"\{" + answer + f"(, {rationale})?" + r"\}"
        return r"\{" + rationale + ", " + answer + r"\}"

    def schema(self) -> str:
        """The same output as a JSON schema."""
        properties: dict[str, object] = {}
        rationale = {"type": "string", "maxLength": self.rationale_chars}
        with_rationale = self.rationale_chars is not None and self.reasoning != "none"
        if with_rationale and self.reasoning == "before":
            properties["rationale"] = rationale
        properties[self.field] = {"type": "string", "enum": list(self.choices)}
        required = list(properties)
        if with_rationale and self.reasoning == "after":
            properties["rationale"] = rationale
        return json.dumps(
            {
                "type": "object",
                "properties": properties,
                "required": required,
                "additionalProperties": False,
            }
        )

    def constraint(self, capabilities: Capabilities) -> Constraint | None:
        """The strongest constraint for this format the backend honours."""
        return _strongest(capabilities, self.regex(), self.schema())

    def max_tokens(self) -> int:
        """Enough new tokens for the longest output the grammar allows (a token is >= 1 char)."""
        fixed = len(self.marker) + max(len(choice) for choice in self.choices) + 24
        return fixed + (self.rationale_chars or 0)

    @property
    def score_prefix(self) -> str:
        """The reply up to the choice: where `reasoning` none reads the next token."""
        return "{" + self.marker

    def read(self, generation: Generation) -> tuple[str, str]:
        """(choice, rationale) of a usable output; a scored one reads as its likeliest choice."""
        scored = scored_choice(generation, self.choices)
        return (scored, "") if scored is not None else self.parse(generation.text)

    def parse(self, text: str) -> tuple[str, str]:
        """Return (choice, rationale) from an output; raise VerdictParseError if there is none.

        Unconstrained outputs may wrap the JSON in prose, so the field is also searched for.
        Choices match case-insensitively and are returned in their canonical spelling.
        """
        canonical = {choice.lower(): choice for choice in self.choices}
        stripped = text.strip()
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict) and isinstance(data.get(self.field), str):
            choice = canonical.get(data[self.field].strip().lower())
            if choice is not None:
                rationale = data.get("rationale")
                return choice, rationale.strip() if isinstance(rationale, str) else ""
        alternatives = "|".join(re.escape(choice) for choice in self.choices)
        found = re.search(
            rf'"{re.escape(self.field)}"\s*:\s*"?({alternatives})\b', stripped, re.IGNORECASE
        )
        if found is None:
            raise VerdictParseError(
                f"no {self.field} ({' or '.join(self.choices)}) in model output {stripped[:120]!r}",
                hint="use a backend with structured output, or a stronger model",
            )
        rationale_match = _RATIONALE_RE.search(stripped)
        rationale = rationale_match.group(1).strip() if rationale_match else ""
        return canonical[found.group(1).lower()], rationale


VERDICT_MARKER = '"verdict": "'
VERDICT_CHOICES = ("yes", "no")


def scored_choice(generation: Generation, choices: tuple[str, ...]) -> str | None:
    """The likeliest choice of a scored generation (no text, choice probabilities); else None."""
    probs = generation.choice_probs
    if generation.error is not None or generation.text or not probs:
        return None
    return max(choices, key=lambda choice: probs.get(choice, 0.0))


def verdict_format(max_rationale_chars: int, reasoning: Reasoning) -> ChoiceFormat:
    """The yes/no verdict output in the order `reasoning` asks for."""
    return ChoiceFormat("verdict", VERDICT_CHOICES, max_rationale_chars, reasoning)


def verdict_regex(max_rationale_chars: int) -> str:
    """The verdict grammar: a bounded rationale (no quotes, backslashes, newlines), then yes/no."""
    return (
        r'\{"rationale": "[^"\\\n]{0,' + str(max_rationale_chars) + r'}", "verdict": "(yes|no)"\}'
    )


def verdict_schema(max_rationale_chars: int) -> str:
    """The same output as a JSON schema, for backends that take schemas but not regexes."""
    return ChoiceFormat("verdict", VERDICT_CHOICES, max_rationale_chars).schema()


def verdict_max_tokens(max_rationale_chars: int) -> int:
    """Enough new tokens for the longest output the grammar allows (a token is >= 1 character)."""
    return max_rationale_chars + 32


ROUTE_CHOICES = ("objective", "subjective")
PAIR_CHOICES = ("A", "B")


def route_format() -> ChoiceFormat:
    """The routing answer: objective or subjective, no rationale (one short constrained answer)."""
    return ChoiceFormat(field="task_type", choices=ROUTE_CHOICES)


def pair_format(rationale_chars: int, reasoning: Reasoning = "before") -> ChoiceFormat:
    """The pairwise answer: a rationale, then which position is better, "A" or "B"."""
    return ChoiceFormat("winner", PAIR_CHOICES, rationale_chars, reasoning)


def likert_format(
    scale: int, rationale_chars: int, reasoning: Reasoning = "before"
) -> ChoiceFormat:
    """The Likert answer: a rationale, then one digit 1..scale (one token per digit)."""
    choices = tuple(str(value) for value in range(1, scale + 1))
    return ChoiceFormat("score", choices, rationale_chars, reasoning)


@dataclass(frozen=True)
class PrincipleFormat:
    """A list of 1..`max_items` principles, each a short text and a yes/no sub-verdict."""

    max_items: int
    principle_chars: int = 80

    def _item_regex(self) -> str:
        return (
            r'\{"principle": "[^"\\\n]{1,'
            + str(self.principle_chars)
            + r'}", "verdict": "(yes|no)"\}'
        )

    def regex(self) -> str:
        """The output grammar as a regex."""
        item = self._item_regex()
        repeat = f"(, {item}){{0,{self.max_items - 1}}}" if self.max_items > 1 else ""
        return r'\{"principles": \[' + item + repeat + r"\]\}"

    def schema(self) -> str:
        """The same output as a JSON schema."""
        item = {
            "type": "object",
            "properties": {
                "principle": {"type": "string", "minLength": 1, "maxLength": self.principle_chars},
                "verdict": {"type": "string", "enum": ["yes", "no"]},
            },
            "required": ["principle", "verdict"],
            "additionalProperties": False,
        }
        return json.dumps(
            {
                "type": "object",
                "properties": {
                    "principles": {
                        "type": "array",
                        "items": item,
                        "minItems": 1,
                        "maxItems": self.max_items,
                    }
                },
                "required": ["principles"],
                "additionalProperties": False,
            }
        )

    def constraint(self, capabilities: Capabilities) -> Constraint | None:
        """The strongest constraint for this format the backend honours."""
        return _strongest(capabilities, self.regex(), self.schema())

    def max_tokens(self) -> int:
        """Enough new tokens for the longest list the grammar allows."""
        return 24 + self.max_items * (self.principle_chars + 32)

    def parse(self, text: str) -> list[tuple[str, str]]:
        """Return [(principle, "yes"|"no")]; raise VerdictParseError if none can be read."""
        stripped = text.strip()
        items: list[tuple[str, str]] = []
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError:
            data = None
        listed = data.get("principles") if isinstance(data, dict) else None
        if isinstance(listed, list):
            for entry in listed:
                if not isinstance(entry, dict):
                    continue
                principle, verdict = entry.get("principle"), entry.get("verdict")
                if (
                    isinstance(principle, str)
                    and isinstance(verdict, str)
                    and principle.strip()
                    and verdict.strip().lower() in ("yes", "no")
                ):
                    items.append((principle.strip(), verdict.strip().lower()))
        else:
            pattern = r'"principle"\s*:\s*"([^"\\\n]+)"\s*,\s*"verdict"\s*:\s*"(yes|no)"'
            for match in re.finditer(pattern, stripped, re.IGNORECASE):
                items.append((match.group(1).strip(), match.group(2).lower()))
        if not items:
            raise VerdictParseError(
                f"no principles in model output {stripped[:120]!r}",
                hint="use a backend with structured output, or a stronger model",
            )
        return items[: self.max_items]
