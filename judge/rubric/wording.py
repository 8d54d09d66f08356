"""How criteria read: word tokens, content words, key terms, and how alike two criteria are.

Content words are a criterion's words without stop words, the word "response", light verbs
that carry no check of their own ("is", "uses", "gives", "written") and negations, each cut to
a crude stem (plural and verb endings stripped) so that "a poem about the rain" and "a poem
about rain", or "lists three tips for saving money" and "gives three tips to save money", read
the same. Key terms are the content words that are not generic evaluation vocabulary
("request", "answer", "clear", "complete"): the words that tie a criterion to one request.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_WORD_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")

NEGATIONS = frozenset(
    {
        "not",
        "no",
        "never",
        "without",
        "avoid",
        "avoids",
        "lack",
        "lacks",
        "none",
        "nor",
        "neither",
        "fail",
        "fails",
        "cannot",
        "omit",
        "omits",
        "free",
    }
)
STOP_WORDS = frozenset(
    {
        "the",
        "a",
        "an",
        "response",
        "responses",
        "is",
        "are",
        "be",
        "been",
        "being",
        "was",
        "were",
        "does",
        "do",
        "it",
        "its",
        "of",
        "to",
        "in",
        "into",
        "on",
        "for",
        "and",
        "or",
        "that",
        "this",
        "these",
        "those",
        "with",
        "as",
        "by",
        "at",
        "any",
        "all",
        "each",
        "every",
        "their",
        "which",
        "from",
        "than",
        "about",
        "if",
        "when",
        "so",
        "there",
        "them",
        "they",
        "how",
        "what",
        "why",
        "who",
        "where",
        "should",
        "must",
        "can",
        "could",
        "would",
        "will",
        "may",
        "might",
    }
)
# Verbs that frame a check without being one: "uses a formal tone" checks the tone.
LIGHT_VERBS = frozenset(
    {
        "use",
        "us",
        "uses",
        "using",
        "has",
        "have",
        "having",
        "give",
        "gives",
        "giving",
        "provide",
        "provides",
        "providing",
        "include",
        "includes",
        "including",
        "contain",
        "contains",
        "containing",
        "offer",
        "offers",
        "list",
        "lists",
        "name",
        "names",
        "mention",
        "mentions",
        "state",
        "states",
        "write",
        "writes",
        "written",
        "make",
        "makes",
        "present",
        "presents",
        "show",
        "shows",
        "attempt",
        "attempts",
        "one",
        "that",
    }
)
# Evaluation vocabulary that any request shares: a criterion made only of these is generic.
GENERIC_TERMS = frozenset(
    {
        "request",
        "requested",
        "answer",
        "question",
        "user",
        "prompt",
        "task",
        "instruction",
        "ask",
        "asked",
        "part",
        "clear",
        "clearly",
        "accurate",
        "accurately",
        "correct",
        "correctly",
        "complete",
        "relevant",
        "helpful",
        "good",
        "well",
        "information",
        "content",
        "detail",
        "detailed",
        "length",
        "stay",
        "stays",
        "within",
        "set",
        "sets",
        "follow",
        "follows",
        "address",
        "addresses",
        "specific",
        "appropriate",
        "overall",
        "quality",
        "concise",
        "consistent",
        "format",
        "formatted",
        "structure",
        "structured",
        "language",
        "tone",
        "style",
        "explicit",
        "explicitly",
        "exactly",
        "only",
        "more",
        "most",
        "least",
        "other",
        "also",
        "way",
        "thing",
        "need",
        "needs",
    }
)


def words(text: str) -> list[str]:
    """Lower-case word tokens of `text` (apostrophes kept inside words: don't, isn't)."""
    return _WORD_RE.findall(text.lower())


def stem(word: str) -> str:
    """A crude stem: plural and verb endings stripped, so word forms of one lemma meet."""
    if len(word) <= 3 or not word.isalpha():
        return word
    for suffix, replacement in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith("ss"):
                break
            word = word[: len(word) - len(suffix)] + replacement
            break
    return word[:-1] if len(word) > 3 and word.endswith("e") else word


def _is_negation(token: str) -> bool:
    return token in NEGATIONS or token.endswith("n't")


def content_words(text: str) -> frozenset[str]:
    """Stems of the words of `text` that carry its check."""
    return frozenset(
        stem(token)
        for token in words(text)
        if token not in STOP_WORDS and token not in LIGHT_VERBS and not _is_negation(token)
    )


def key_terms(text: str) -> frozenset[str]:
    """Content words of `text` that are not generic evaluation vocabulary."""
    generic = {stem(term) for term in GENERIC_TERMS}
    return frozenset(word for word in content_words(text) if word not in generic)


@dataclass(frozen=True)
class Wording:
    """A criterion's content words and the parity of its negations."""

    content: frozenset[str]
    negated: bool

    @classmethod
    def of(cls, text: str) -> Wording:
        """Analyse `text`."""
        negations = sum(1 for token in words(text) if _is_negation(token))
        return cls(content=content_words(text), negated=negations % 2 == 1)


def jaccard(a: Wording, b: Wording) -> float:
    """Jaccard index of two content-word sets (0 when both are empty)."""
    union = a.content | b.content
    return len(a.content & b.content) / len(union) if union else 0.0


def similarity(a: Wording, b: Wording) -> float:
    """How alike two criteria read, in [0, 1]; 1 for the same check in other words.

    The Jaccard index of the content words, raised to 1 when the smaller set has at least three
    words and lies wholly inside the larger one with at most one extra word ("uses exactly three
    lines" vs "the haiku has exactly three lines"); a criterion with opposite negation is a
    different check and scores 0.
    """
    if a.negated != b.negated:
        return 0.0
    score = jaccard(a, b)
    small, large = sorted((a.content, b.content), key=len)
    if len(small) >= 3 and small <= large and len(large) - len(small) <= 1:
        return 1.0
    return score


def most_similar(text: str, others: Iterable[str]) -> tuple[float, str | None]:
    """The highest `similarity` of `text` to any of `others`, and that other text."""
    wording = Wording.of(text)
    best: tuple[float, str | None] = (0.0, None)
    for other in others:
        score = similarity(wording, Wording.of(other))
        if score > best[0]:
            best = (score, other)
    return best
