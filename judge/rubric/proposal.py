"""Criteria proposed by a model: the output grammar, a tolerant parser, and the screen.

Generation, contrastive generation and decomposition all ask the model for the same JSON shape,
``{"criteria": [{"text": ..., "kind": "hard_rule" | "principle"}, ...]}``. Backends with
structured output are held to it by a regex (or JSON schema); other outputs are parsed
tolerantly (JSON anywhere in the text, then bullet or numbered lines). The screen then drops
proposals that cannot serve as criteria, each with the reason a user sees in `Rubric.dropped`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from judge.backends.base import Capabilities
from judge.rubric.wording import Wording, key_terms, most_similar, similarity, words
from judge.types import Constraint, CriterionKind, Generation

KINDS: tuple[CriterionKind, ...] = ("hard_rule", "principle")
# Characters a criterion may not contain under the grammar: they would end the JSON string.
_TEXT_CLASS = r'[^"\\\n]'


@dataclass(frozen=True)
class ProposedCriterion:
    """One criterion as the model wrote it, before it has an id."""

    text: str
    kind: CriterionKind


def _item_regex(min_chars: int, max_chars: int) -> str:
    return (
        r'\{"text": "' + _TEXT_CLASS + "{" + f"{min_chars},{max_chars}" + r'}", '
        r'"kind": "(hard_rule|principle)"\}'
    )


def criteria_regex(min_items: int, max_items: int, min_chars: int, max_chars: int) -> str:
    """The output grammar as a regex: ``min_items``..``max_items`` criteria of bounded length."""
    item = _item_regex(min_chars, max_chars)
    more = f"(, {item}){{{max(0, min_items - 1)},{max(0, max_items - 1)}}}"
    return r'\{"criteria": \[' + item + more + r"\]\}"


def criteria_schema(min_items: int, max_items: int, min_chars: int, max_chars: int) -> str:
    """The same output as a JSON schema, for backends that take schemas but not regexes."""
    item = {
        "type": "object",
        "properties": {
            "text": {"type": "string", "minLength": min_chars, "maxLength": max_chars},
            "kind": {"type": "string", "enum": list(KINDS)},
        },
        "required": ["text", "kind"],
        "additionalProperties": False,
    }
    schema = {
        "type": "object",
        "properties": {
            "criteria": {
                "type": "array",
                "items": item,
                "minItems": min_items,
                "maxItems": max_items,
            }
        },
        "required": ["criteria"],
        "additionalProperties": False,
    }
    return json.dumps(schema)


def criteria_constraint(
    capabilities: Capabilities, min_items: int, max_items: int, min_chars: int, max_chars: int
) -> Constraint | None:
    """The strongest criteria-list constraint the backend honours, or None."""
    if not capabilities.structured_output:
        return None
    if "regex" in capabilities.constraint_kinds:
        return Constraint(
            kind="regex", value=criteria_regex(min_items, max_items, min_chars, max_chars)
        )
    if "json_schema" in capabilities.constraint_kinds:
        return Constraint(
            kind="json_schema", value=criteria_schema(min_items, max_items, min_chars, max_chars)
        )
    return None


def criteria_max_tokens(max_items: int, max_chars: int) -> int:
    """New tokens enough for the longest list the grammar allows (a token is >= 1 character)."""
    return max_items * (max_chars + 32) + 24


def _kind(value: Any) -> CriterionKind:
    text = str(value or "").strip().lower().replace("-", "_").replace(" ", "_")
    if text in ("hard_rule", "hard", "rule", "hardrule", "constraint", "requirement"):
        return "hard_rule"
    return "principle"


_BULLET_RE = re.compile(r"^\s*(?:[-*\u2022]|\d{1,2}[.)])\s+(.+?)\s*$")
_TAG_RE = re.compile(r"^\s*[\[(]?\s*(hard[ _-]?rule|principle)\s*[\])]?\s*[:\-\u2014]?\s*", re.I)
_FENCE_RE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def _from_json(data: Any) -> list[ProposedCriterion] | None:
    if isinstance(data, dict):
        for key in ("criteria", "rubric", "items", "children"):
            if isinstance(data.get(key), list):
                data = data[key]
                break
        else:
            return None
    if not isinstance(data, list):
        return None
    found = []
    for item in data:
        if isinstance(item, str):
            found.append(ProposedCriterion(text=item.strip(), kind="principle"))
        elif isinstance(item, dict):
            text = item.get("text") or item.get("criterion") or item.get("description")
            if isinstance(text, str):
                kind = _kind(item.get("kind") or item.get("type"))
                found.append(ProposedCriterion(text=text.strip(), kind=kind))
    return found


def _json_candidates(text: str) -> Iterable[str]:
    yield text
    yield from _FENCE_RE.findall(text)
    for opener, closer in (("{", "}"), ("[", "]")):
        start, end = text.find(opener), text.rfind(closer)
        if 0 <= start < end:
            yield text[start : end + 1]


def parse_criteria(text: str) -> list[ProposedCriterion]:
    """Read proposed criteria from model output: JSON (anywhere in it), else list lines.

    Returns an empty list when nothing criterion-like is found; the caller decides what that means.
    """
    stripped = text.strip()
    for candidate in _json_candidates(stripped):
        try:
            data = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        parsed = _from_json(data)
        if parsed is not None:
            return [item for item in parsed if item.text]
    # A cut or malformed JSON list still has complete items in it.
    items: list[ProposedCriterion] = []
    for chunk in re.findall(r"\{[^{}]*\}", stripped):
        try:
            data = json.loads(chunk)
        except json.JSONDecodeError:
            continue
        parsed = _from_json([data])
        items.extend(item for item in parsed or () if item.text)
    if items:
        return items
    lines = []
    for line in stripped.splitlines():
        match = _BULLET_RE.match(line)
        if match is None:
            continue
        body = match.group(1)
        tag = _TAG_RE.match(body)
        kind: CriterionKind = _kind(tag.group(1)) if tag else "principle"
        body = body[tag.end() :] if tag else body
        if body:
            lines.append(ProposedCriterion(text=body.strip(), kind=kind))
    return lines


_PLACEHOLDER_RE = re.compile(r"\.\.\.|\u2026")


def _ngrams(tokens: Sequence[str], size: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + size]) for i in range(len(tokens) - size + 1)}


def _contains_phrase(haystack: Sequence[str], needle: Sequence[str]) -> bool:
    if not needle or len(needle) > len(haystack):
        return False
    return tuple(needle) in _ngrams(haystack, len(needle))


@dataclass(frozen=True)
class Screen:
    """What a proposed criterion is checked against before it may enter a rubric.

    Attributes:
        prompt: the request's text (phrases it contains may be quoted freely).
        reference: a reference answer a criterion must not contain.
        responses: responses a criterion must not copy from.
        min_chars: shorter texts are not criteria.
        max_chars: longer texts are not atomic.
        copy_words: a run of this many words shared with a response (and not in the prompt) is a
            copy; responses shorter than this are checked as a whole when they have at least
            `min_copy_words` words.
        min_copy_words: shorter responses are not checked for copies.
        templates: the prompt template's own example texts; a criterion that reads like one of
            them (`similarity` at or above `template_similarity`) copies the template.
        template_similarity: see `templates`.
        duplicate_similarity: a criterion at least this similar to one already kept (or seen,
            or an ancestor) is a near-duplicate.
    """

    prompt: str
    reference: str | None = None
    responses: tuple[str, ...] = ()
    min_chars: int = 12
    max_chars: int = 200
    copy_words: int = 8
    min_copy_words: int = 3
    templates: tuple[str, ...] = ()
    template_similarity: float = 0.7
    duplicate_similarity: float = 0.85

    def reason_to_drop(self, text: str) -> str | None:
        """Why `text` cannot be a criterion, or None if it can."""
        if len(text) < self.min_chars:
            return (
                f"screened: too short to be a criterion ({len(text)} < {self.min_chars} characters)"
            )
        if len(text) > self.max_chars:
            return f"screened: too long to be atomic ({len(text)} > {self.max_chars} characters)"
        tokens, prompt_tokens = words(text), words(self.prompt)
        if len(tokens) < 3 or _PLACEHOLDER_RE.search(text):
            return "screened: a placeholder, not a criterion"
        score, example = most_similar(text, self.templates)
        if (
            example is not None
            and score >= self.template_similarity
            and not stated_in_prompt(text, self.prompt)
        ):
            return (
                f"screened: copies the prompt template's example {example[:60]!r} "
                f"(similarity {score:.2f})"
            )
        if self.reference is not None:
            answer = words(self.reference)
            if (
                answer
                and _contains_phrase(tokens, answer)
                and not _contains_phrase(prompt_tokens, answer)
            ):
                quoted = repr(self.reference.strip()[:60])
                return f"screened: states the answer (contains the reference {quoted})"
            copied = self._copied_run(tokens, answer, prompt_tokens)
            if copied:
                return f"screened: states the answer (copies {copied!r} from the reference)"
        for index, response in enumerate(self.responses, start=1):
            copied = self._copied_run(tokens, words(response), prompt_tokens)
            if copied:
                return f"screened: copies response {index} ({copied!r})"
        return None

    def _copied_run(
        self, tokens: Sequence[str], source: Sequence[str], prompt_tokens: Sequence[str]
    ) -> str | None:
        size = min(self.copy_words, len(source))
        if size < self.min_copy_words:
            return None
        shared = (_ngrams(tokens, size) & _ngrams(source, size)) - _ngrams(prompt_tokens, size)
        for start in range(len(tokens) - size + 1):
            run = tuple(tokens[start : start + size])
            if run in shared:
                return " ".join(run)
        return None


def screen(
    proposed: Sequence[ProposedCriterion],
    rules: Screen,
    *,
    seen: Iterable[str] = (),
    ancestors: Iterable[str] = (),
) -> tuple[list[ProposedCriterion], list[tuple[ProposedCriterion, str]]]:
    """Split proposals into usable ones and (proposal, reason) pairs for the dropped ones.

    `seen` holds texts already in the rubric and `ancestors` the criteria a proposal refines; a
    proposal that reads like one of them, or like an earlier proposal (a sibling), by
    `similarity` at or above `rules.duplicate_similarity`, is a near-duplicate.
    """
    lineage = [(text, Wording.of(text)) for text in ancestors]
    known = [(text, Wording.of(text)) for text in seen]
    kept: list[ProposedCriterion] = []
    dropped: list[tuple[ProposedCriterion, str]] = []
    for item in proposed:
        reason = rules.reason_to_drop(item.text)
        wording = Wording.of(item.text)
        if reason is None:
            reason = _near_duplicate(wording, lineage, rules, "restates its ancestor")
        if reason is None:
            reason = _near_duplicate(wording, known, rules, "near-duplicate of")
        if reason is None:
            kept.append(item)
            known.append((item.text, wording))
        else:
            dropped.append((item, reason))
    return kept, dropped


def _near_duplicate(
    wording: Wording, others: Sequence[tuple[str, Wording]], rules: Screen, label: str
) -> str | None:
    for text, other in others:
        score = 1.0 if wording == other else similarity(wording, other)
        if score >= rules.duplicate_similarity:
            return f"screened: {label} {text[:60]!r} (similarity {score:.2f})"
    return None


_QUOTED_RE = re.compile(r'"([^"\n]*)"')
_DATA_BLOCK_RE = re.compile(
    r"<(conversation|reference|response|criteria|criterion)\b[^>]*>.*?</\1>", re.DOTALL
)


def template_examples(rendered: str) -> tuple[str, ...]:
    """The example texts a rendered prompt template itself shows (data blocks left out).

    Every double-quoted text of at least three words outside the data blocks counts: a
    criterion that reads like one of them was copied from the prompt, not written for the
    request.
    """
    instructions = _DATA_BLOCK_RE.sub(" ", rendered)
    found = []
    for text in _QUOTED_RE.findall(instructions):
        if len(text) >= 12 and len(words(text)) >= 3 and text not in found:
            found.append(text)
    return tuple(found)


def stated_in_prompt(text: str, prompt: str) -> bool:
    """Whether a requirement's key terms appear in the prompt (at least half of them)."""
    terms = key_terms(text)
    if not terms:
        return False
    return 2 * len(terms & key_terms(prompt)) >= len(terms)


def prompt_specificity(text: str, prompt: str) -> float:
    """The share of a criterion's key terms that the prompt contains (0: generic)."""
    terms = key_terms(text)
    return len(terms & key_terms(prompt)) / len(terms) if terms else 0.0


_SLUG_STOP = {
    "the",
    "a",
    "an",
    "response",
    "responses",
    "is",
    "are",
    "does",
    "do",
    "it",
    "its",
    "that",
    "this",
    "of",
    "to",
    "and",
    "or",
    "in",
    "on",
    "for",
    "with",
    "be",
    "by",
}


def slug_id(text: str, taken: set[str]) -> str:
    """A readable, unique criterion id from its text (``mentions_the_price`` -> taken updated)."""
    content = [word.replace("'", "") for word in words(text) if word not in _SLUG_STOP]
    base = "_".join(content[:4])[:40].strip("_") or "criterion"
    candidate, counter = base, 2
    while candidate in taken:
        candidate, counter = f"{base}_{counter}", counter + 1
    taken.add(candidate)
    return candidate


def proposal_check(generation: Generation) -> str | None:
    """Why an output holds no proposed criteria (a round's check: such outputs are re-asked)."""
    if generation.error is not None:
        return generation.error
    return None if parse_criteria(generation.text) else "no criteria in the output"
