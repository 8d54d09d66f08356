"""The reasoning setting: request shapes, grammars and readings per mode (scripted backend)."""

from __future__ import annotations

import json
import re

import pytest

from judge.backends.base import Capabilities
from judge.backends.scripted import ScriptedBackend, ScriptedReply
from judge.errors import ConfigError
from judge.prompting import default_prompts
from judge.runner.formats import (
    VERDICT_MARKER,
    likert_format,
    pair_format,
    verdict_format,
    verdict_regex,
    verdict_schema,
)
from judge.runner.judge import Judge
from judge.runner.parse import read_verdict
from judge.runner.requests import RequestBuilder
from judge.settings import JudgeSettings
from judge.types import Criterion, ErrorKind, Generation, Pair, Rubric, Sample
from tests.doubles.scripted import verdict_reply

CAPS = Capabilities(structured_output=True, choice_probabilities=True, score_without_decoding=True)
RUBRIC = Rubric(
    name="r",
    criteria=(
        Criterion(id="right", text="The answer is right.", kind="hard_rule"),
        Criterion(id="clear", text="The answer is clear."),
    ),
)
SAMPLE = Sample(id="s", prompt="What is 2 + 2?", response="4")


def builder(reasoning: str, capabilities: Capabilities = CAPS) -> RequestBuilder:
    return RequestBuilder(default_prompts(), capabilities, JudgeSettings(reasoning=reasoning))  # type: ignore[arg-type]


def verdict(reasoning: str):
    return builder(reasoning).verdict(0, SAMPLE, RUBRIC, RUBRIC.criteria[0])


def test_before_is_todays_request_exactly():
    request = verdict("before")
    assert request.constraint is not None
    assert request.constraint.value == verdict_regex(200)
    assert request.score_after is None and request.sampling.max_new_tokens == 232
    assert request.messages[-1].content.endswith(
        'Reply with JSON only: {"rationale": "<at most 200 characters, no double quotes>", '
        '"verdict": "yes" or "no"}'
    )
    assert verdict_format(200, "before").schema() == verdict_schema(200)


def test_after_puts_the_verdict_first_and_the_rationale_optional():
    request = verdict("after")
    assert request.score_after is None and request.probe is not None
    assert request.probe.marker == VERDICT_MARKER
    assert request.messages[-1].content.endswith(
        'Reply with JSON only: {"verdict": "yes" or "no", '
        '"rationale": "<at most 200 characters, no double quotes>"}'
    )
    regex = request.constraint.value  # type: ignore[union-attr]
    assert re.fullmatch(regex, '{"verdict": "yes"}')
    assert re.fullmatch(regex, '{"verdict": "no", "rationale": "2 + 2 is 4"}')
    assert not re.fullmatch(regex, '{"rationale": "x", "verdict": "no"}')
    assert not re.fullmatch(regex, '{"verdict": "no", "rationale": "' + "x" * 201 + '"}')
    schema = json.loads(verdict_format(200, "after").schema())
    assert list(schema["properties"]) == ["verdict", "rationale"]
    assert schema["required"] == ["verdict"]


def test_none_is_a_scored_request_ending_at_the_marker():
    request = verdict("none")
    assert request.score_after == "{" + VERDICT_MARKER
    assert request.constraint is None and request.sampling.max_new_tokens == 1
    assert request.probe is not None and request.probe.choices == ("yes", "no")
    # The question comes before the criterion: the prompt ends with the criterion line, so what
    # differs between a sample's criteria is that line alone.
    prompt = request.messages[-1].content
    question = 'Reply with JSON only: {"verdict": "yes" or "no"}\n\nCriterion ('
    assert question in prompt
    assert prompt.endswith("Criterion (explicit requirement of the request): The answer is right.")
    before = verdict("before")
    assert request.messages[0] == before.messages[0]
    assert request.prefix_group == before.prefix_group
    # Everything before the question is the text `before` shows.
    head = prompt.split("\n\nDoes the response satisfy the criterion below?")[0]
    assert before.messages[-1].content.startswith(head + "\n\nCriterion (")


def test_every_judged_answer_follows_the_mode():
    for reasoning in ("after", "none"):
        b = builder(reasoning)
        pair = Pair(id="p", prompt="q", response_a="a", response_b="b")
        depth = b.depth_verdict(0, SAMPLE, RUBRIC, RUBRIC.criteria[0], "4", "reference")
        shapes = {
            "depth": (depth, verdict_format(200, reasoning)),  # type: ignore[arg-type]
            "pairwise": (b.pairwise(0, pair, "ab", None), pair_format(200, reasoning)),  # type: ignore[arg-type]
            "likert": (b.likert(0, SAMPLE, RUBRIC, 5), likert_format(5, 200, reasoning)),  # type: ignore[arg-type]
        }
        for name, (request, output) in shapes.items():
            if reasoning == "none":
                assert request.score_after == output.score_prefix, name
                assert request.constraint is None, name
            else:
                assert request.constraint is not None, name
                assert request.constraint.value == output.regex(), name
                assert output.regex().startswith(r"\{" + output.marker), name
    # Solving and routing always decode.
    assert builder("none").solve(0, SAMPLE).score_after is None
    assert builder("none").route(0, SAMPLE).score_after is None


def test_none_needs_a_backend_that_scores_without_decoding():
    with pytest.raises(ConfigError, match="cannot score without decoding"):
        builder("none", Capabilities(structured_output=True, choice_probabilities=True))
    builder("after", Capabilities())  # after works anywhere, constrained or not


def test_a_scored_generation_reads_as_its_likeliest_choice():
    scored = Generation(request_id="s0/right", choice_probs={"yes": 0.3, "no": 0.7})
    reading = read_verdict("right", scored)
    assert (reading.verdict, reading.p_yes, reading.error) == ("no", pytest.approx(0.3), None)
    missing = read_verdict("right", Generation(request_id="s0/right"))
    assert missing.error is not None and missing.error_kind == ErrorKind.UNPARSEABLE


def test_judge_with_reasoning_none_scores_from_probabilities_in_one_batch():
    p_yes = {"right": 0.9, "clear": 0.2}
    backend = ScriptedBackend(lambda request, _: verdict_reply(p_yes[request.id.split("/")[1]]))
    judge = Judge(backend, RUBRIC, reasoning="none", score_rule="mean")
    [judgment] = judge.score([SAMPLE])
    assert judgment.error is None and backend.calls == 1
    assert [v.p_yes for v in judgment.verdicts] == [pytest.approx(0.9), pytest.approx(0.2)]
    assert [v.verdict for v in judgment.verdicts] == ["yes", "no"]
    assert all(v.rationale == "" for v in judgment.verdicts)
    assert all(r.score_after for r in backend.batches[0])
    assert judgment.score == pytest.approx(0.55)
    before = Judge(backend, RUBRIC, score_rule="mean")
    assert before.settings_fingerprint != judge.settings_fingerprint


def test_reasoning_none_without_probabilities_fails_as_a_value():
    backend = ScriptedBackend(lambda request, _: ScriptedReply(text="ignored"))
    [judgment] = Judge(backend, RUBRIC, reasoning="none", retries=0).score([SAMPLE])
    assert judgment.score is None and judgment.error_kind == ErrorKind.UNPARSEABLE


def test_pairwise_none_reads_p_a_in_both_orders():
    def responder(request, _):
        first = re.search(r"<response_a>\n(.*?)\n</response_a>", request.messages[-1].content)
        p_first = 0.8 if first and first.group(1) == "Paris." else 0.3
        return ScriptedReply(text="", choice_probs={"A": p_first, "B": 1 - p_first})

    backend = ScriptedBackend(responder)
    pair = Pair(id="q", prompt="Capital of France?", response_a="Paris.", response_b="Lyon.")
    [result] = Judge(backend, RUBRIC, reasoning="none").compare([pair], method="direct")
    assert result.error is None and result.winner == "a"
    assert result.p_a_ab == pytest.approx(0.8) and result.p_a_ba == pytest.approx(0.7)
    assert all(r.score_after == '{"winner": "' for r in backend.batches[0])


def test_likert_none_is_an_expected_value_of_the_score_tokens():
    def responder(request, _):
        if request.id.endswith("#likert"):
            return ScriptedReply(text="", choice_probs={"1": 0.0, "2": 0.5, "3": 0.5})
        return verdict_reply(0.9)

    [judgment] = Judge(ScriptedBackend(responder), RUBRIC, reasoning="none", likert=3).score(
        [SAMPLE]
    )
    assert judgment.likert is not None and judgment.likert.expected == pytest.approx(2.5)


def test_depth_none_scores_the_verdict_after_the_solution():
    def responder(request, _):
        if request.id.endswith("#solve"):
            return ScriptedReply(text="2 + 2 = 4")
        return verdict_reply(0.75)

    backend = ScriptedBackend(responder)
    [judgment] = Judge(backend, RUBRIC, strategy="depth", reasoning="none").score([SAMPLE])
    assert judgment.error is None and backend.calls == 2
    verdicts = [r for r in backend.batches[1]]
    assert verdicts and all(r.score_after == "{" + VERDICT_MARKER for r in verdicts)
    assert "2 + 2 = 4" in verdicts[0].messages[-1].content
    assert all(v.p_yes == pytest.approx(0.75) for v in judgment.verdicts)
