"""The holistic question (`holistic_weight`): the plain question blended into the judgment."""

from __future__ import annotations

import json
import re

import pytest

from judge.backends.scripted import ScriptedBackend, ScriptedReply
from judge.errors import ConfigError
from judge.runner.judge import Judge
from judge.settings import JudgeSettings
from judge.types import GenerationRequest, Pair, Sample
from tests.doubles.scripted import verdict_reply

_RESPONSE = re.compile(r"<response>\n(.*?)\n</response>", re.DOTALL)
_FIRST = re.compile(r"<response_a>\n(.*?)\n</response_a>", re.DOTALL)

SAMPLES = [
    Sample(id="good", prompt="What is 2 + 2?", response="4, because 2 + 2 = 4."),
    Sample(id="bad", prompt="What is 2 + 2?", response="5."),
]
PAIR = Pair(id="p", prompt="What is 2 + 2?", response_a="4, because 2 + 2 = 4.", response_b="5.")


def order_reply(p_first: float) -> ScriptedReply:
    text = json.dumps({"rationale": "compared", "winner": "A" if p_first >= 0.5 else "B"})
    return ScriptedReply(text=text, choice_probs={"A": p_first, "B": 1.0 - p_first})


def backend(plain: dict[str, float], criteria: dict[str, float], *, fail_plain: bool = False):
    """Criteria say criteria[response]; the plain question says plain[response] (or fails)."""

    def reply(request: GenerationRequest, _: int) -> ScriptedReply | str:
        content = request.messages[-1].content
        if "#holistic" in request.id or "#naive" in request.id:
            if fail_plain and "#holistic" in request.id:
                return "no JSON here"
            first = _FIRST.search(content)
            if first is not None:  # the A/B question: P(first) from the first response
                return order_reply(plain[first.group(1)])
            return verdict_reply(plain[_RESPONSE.search(content).group(1)])
        first = _FIRST.search(content)
        if first is not None:  # the rubric method's direct fallback on a tied margin
            return order_reply(0.8 if first.group(1) == GOOD else 0.2)
        return verdict_reply(criteria[_RESPONSE.search(content).group(1)])

    return ScriptedBackend(reply)


GOOD, BAD = SAMPLES[0].response, SAMPLES[1].response


def test_the_score_blends_the_rubric_and_the_plain_question_in_the_same_batch():
    scripted = backend({GOOD: 0.9, BAD: 0.2}, {GOOD: 0.6, BAD: 0.5})
    plain_judge = Judge(backend=backend({}, {GOOD: 0.6, BAD: 0.5}), rubric="helpfulness")
    rubric_only = plain_judge.score(SAMPLES)
    judge = Judge(backend=scripted, rubric="helpfulness", holistic_weight=0.5)
    good, bad = judge.score(SAMPLES)
    assert scripted.calls == 1, "the plain question rides in the judge's batch"
    criteria = len(judge.rubric.leaves())
    assert len(scripted.batches[0]) == 2 * (criteria + 1)
    assert good.score == pytest.approx(0.5 * rubric_only[0].score + 0.5 * 0.9)
    assert bad.score == pytest.approx(0.5 * rubric_only[1].score + 0.5 * 0.2)
    assert good.details["holistic"] == {
        "plain": pytest.approx(0.9),
        "weight": 0.5,
        "before": pytest.approx(rubric_only[0].score),
    }
    assert good.verdicts[-1].criterion_id == "holistic" and len(good.verdicts) == criteria + 1
    assert good.usage.prompt_tokens > rubric_only[0].usage.prompt_tokens
    # A different weight is a different judgment: the fingerprint keys caches apart.
    assert good.settings_fingerprint != rubric_only[0].settings_fingerprint


def test_weight_zero_asks_nothing_more_and_weight_one_is_the_plain_question():
    scripted = backend({GOOD: 0.9, BAD: 0.2}, {GOOD: 0.6, BAD: 0.5})
    Judge(backend=scripted, rubric="helpfulness").score(SAMPLES)
    assert not any("#holistic" in r.id for r in scripted.batches[0])
    good, bad = Judge(backend=scripted, rubric="helpfulness", holistic_weight=1.0).score(SAMPLES)
    assert (good.score, bad.score) == (pytest.approx(0.9), pytest.approx(0.2))


def test_a_failed_plain_question_fails_the_judgment_with_its_kind():
    scripted = backend({GOOD: 0.9, BAD: 0.2}, {GOOD: 0.6, BAD: 0.5}, fail_plain=True)
    judge = Judge(backend=scripted, rubric="helpfulness", holistic_weight=0.5, retries=0)
    for judgment in judge.score(SAMPLES):
        assert judgment.score is None
        assert judgment.error is not None and judgment.error.startswith("holistic question:")
        assert judgment.error_kind is not None


def test_judgments_by_rule_ask_nothing_and_stay_as_they_are():
    scripted = backend({}, {})
    blank = Sample(id="blank", prompt="Q?", response="   ")
    [judgment] = Judge(backend=scripted, rubric="helpfulness", holistic_weight=0.5).score([blank])
    assert scripted.calls == 0 and judgment.score == 0.0 and "holistic" not in judgment.details


def test_pairs_blend_p_a_and_decide_the_winner_from_it():
    # The rubric prefers B a little; the plain question prefers A strongly, in both orders.
    scripted = backend({GOOD: 0.9, BAD: 0.1}, {GOOD: 0.5, BAD: 0.6})
    rubric_only = Judge(backend=backend({}, {GOOD: 0.5, BAD: 0.6}), rubric="helpfulness")
    [before] = rubric_only.compare([PAIR], method="rubric")
    assert before.winner == "b"
    judge = Judge(backend=scripted, rubric="helpfulness", holistic_weight=0.5)
    [after], [baseline] = judge.compare_with_naive([PAIR], method="rubric")
    naive_ids = sum("#naive" in r.id for r in scripted.batches[0])
    holistic_ids = sum("#holistic" in r.id for r in scripted.batches[0])
    assert scripted.calls == 1 and naive_ids == 2 and holistic_ids == 2
    assert after.p_a == pytest.approx(0.5 * before.p_a + 0.5 * 0.9)
    assert after.winner == "a" and after.details["holistic"]["plain"] == pytest.approx(0.9)
    assert baseline.p_a == pytest.approx(0.9)


def test_holistic_weight_is_checked():
    with pytest.raises(ConfigError, match=r"holistic_weight 1.5 is outside \[0, 1\]"):
        JudgeSettings(holistic_weight=1.5)


def test_a_pair_whose_rubric_margin_ties_goes_on_to_its_direct_round_beside_the_plain_question():
    # Equal criteria: the margin ties, so the rubric method asks the direct comparison in a
    # second round; the plain question, one round long, is done after the first.
    scripted = backend({GOOD: 0.7, BAD: 0.3}, {GOOD: 0.5, BAD: 0.5})
    judge = Judge(backend=scripted, rubric="helpfulness", holistic_weight=0.5)
    [judgment] = judge.compare([PAIR], method="rubric")
    assert scripted.calls == 2
    first, second = scripted.batches
    assert sum("#holistic" in r.id for r in first) == 2
    assert not any("#holistic" in r.id for r in second) and len(second) == 2
    assert judgment.p_a == pytest.approx(0.5 * 0.8 + 0.5 * 0.7)
    assert judgment.winner == "a"
