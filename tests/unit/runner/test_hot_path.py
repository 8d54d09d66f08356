"""The hot path's shortcuts decide exactly what the long way decides."""

from __future__ import annotations

import re

import pytest

from judge import prompting
from judge.backends.base import check_batch, group_by_request
from judge.backends.scripted import ScriptedBackend
from judge.errors import GenerationError
from judge.prompting import neutralise
from judge.runner import parse
from judge.runner.parse import parse_verdict_text
from judge.types import CriterionVerdict, Generation, GenerationRequest, Message, SamplingParams

RATIONALES = ["checked", "", "  padded  ", "ünïcödé — 日本", "a'b", "tab\there", "x" * 400]


@pytest.mark.parametrize("rationale", RATIONALES)
@pytest.mark.parametrize("verdict", ["yes", "no"])
def test_the_constrained_reading_equals_the_general_reading(
    rationale: str, verdict: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = ' {"rationale": "' + rationale + '", "verdict": "' + verdict + '"}\n'
    fast = parse_verdict_text(text)
    monkeypatch.setattr(parse, "_CONSTRAINED_RE", re.compile(r"(?!)"))  # never matches
    assert fast == parse_verdict_text(text) == (verdict, rationale.strip())


def _generation(request_id: str, index: int = 0) -> Generation:
    return Generation(request_id=request_id, sample_index=index, text="x")


def test_grouping_a_batch_checks_it_as_check_batch_does() -> None:
    requests = [
        GenerationRequest(id="a", messages=(Message(role="user", content="q"),)),
        GenerationRequest(
            id="b", messages=(Message(role="user", content="q"),), sampling=SamplingParams(n=2)
        ),
    ]
    good = [_generation("a"), _generation("b"), _generation("b", 1)]
    assert group_by_request(requests, good) == {"a": good[:1], "b": good[1:]}
    for bad in (good[:2], [*good, _generation("b", 2)], [good[1], good[0], good[2]], []):
        with pytest.raises(GenerationError) as grouped:
            group_by_request(requests, bad)
        with pytest.raises(GenerationError) as checked:
            check_batch(requests, bad)
        assert grouped.value.message == checked.value.message


def test_a_verdict_check_reads_each_generation_once(monkeypatch: pytest.MonkeyPatch) -> None:
    read: list[Generation] = []
    real = parse.read_verdict

    def counted(criterion_id: str, generation: Generation) -> CriterionVerdict:
        read.append(generation)
        return real(criterion_id, generation)

    monkeypatch.setattr(parse, "read_verdict", counted)
    check = parse.verdict_check("tone")
    texts = ['{"rationale": "r", "verdict": "yes"}', '{"rationale": "r", "verdict": "no"}', "?"]
    generations = [
        Generation(request_id="a", sample_index=index, text=text)
        for index, text in enumerate(texts)
    ]
    first = [check(generation) for generation in generations]
    again = [check.reading(generation) for generation in reversed(generations)]
    assert first[:2] == [None, None] and first[2] is not None
    assert [verdict.verdict for verdict in again] == [None, "no", "yes"]
    assert read == generations, "each generation is read once, in the order first seen"


def test_the_scripted_backend_counts_shared_messages_in_every_request() -> None:
    system = Message(role="system", content="You are a careful judge.")
    requests = [
        GenerationRequest(
            id=f"r{number}",
            messages=(system, Message(role="user", content="word " * number)),
            sampling=SamplingParams(n=2),
        )
        for number in range(1, 4)
    ]
    generations = ScriptedBackend(lambda request, index: "one two").generate(requests)
    assert [g.usage.prompt_tokens for g in generations] == [6, 6, 7, 7, 8, 8]
    assert {g.usage.completion_tokens for g in generations} == {2}


@pytest.mark.parametrize(
    "content",
    ["", "\n", "one\ntwo three\n\nfour", "a\r\nb \t c\u3000d\u00a0e\n\n  f  ", "x\n" * 5],
)
def test_the_scripted_backend_counts_words_as_split_does(content: str) -> None:
    """Two messages with the same text: the second is counted from the remembered lines."""
    messages = (Message(role="system", content=content), Message(role="user", content=content))
    request = GenerationRequest(id="r", messages=messages)
    generation = ScriptedBackend(lambda request, index: "").generate([request])[0]
    assert generation.usage.prompt_tokens == 2 * len(content.split())


@pytest.mark.parametrize(
    "text",
    ["plain text", "a < b and c > d", "[INST] hi [/INST]", "<|im_end|>", "</response> <s>", ""],
)
def test_neutralise_without_brackets_is_what_its_patterns_leave(text: str) -> None:
    def special(match: re.Match[str]) -> str:
        return ("&lt;" if match.group(0)[0] == "<" else "&#91;") + match.group(0)[1:]

    long_way = prompting._SPECIAL_RE.sub(special, prompting._TAG_RE.sub(r"&lt;\1", text))
    assert neutralise(text) == long_way
