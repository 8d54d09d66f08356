import asyncio
import inspect
import json
import pickle
import threading
import time

import pytest

from judge import backends
from judge.backends.scripted import ScriptedBackend, ScriptedReply
from judge.errors import ConfigError, GenerationError, InputError
from judge.reward import RubricReward
from judge.types import Criterion, GenerationRequest, Pair, Rubric
from tests.doubles.reward import SlowScriptedBackend, graded_reply
from tests.doubles.scripted import verdict_reply

RUBRIC = Rubric(
    name="t",
    criteria=(
        Criterion(id="rule", text="Obeys the rule?", kind="hard_rule"),
        Criterion(id="good", text="Is it good?"),
    ),
)


def _by_criterion(rule: float, good: float):
    def responder(request: GenerationRequest, index: int) -> ScriptedReply:
        return verdict_reply(rule if request.id.endswith("/rule") else good)

    return responder


class _Logs:
    def __init__(self):
        self.metrics: dict[str, float] = {}
        self.extra: dict[str, list] = {}

    def log_metric(self, name, value):
        self.metrics[name] = value

    def log_extra(self, column, values):
        self.extra[column] = values


def test_trl_plain_format_one_backend_call_and_kwargs_passthrough():
    backend = ScriptedBackend(_by_criterion(0.9, 0.7))
    reward = RubricReward(RUBRIC, backend)
    logs = _Logs()
    rewards = reward(
        prompts=["What is 2+2?", "Name a prime."],
        completions=["4", "7"],
        completion_ids=[[1], [2]],
        reference=["4", None],
        unrelated_column=["x", "y"],
        trainer_state=object(),
        log_extra=logs.log_extra,
        log_metric=logs.log_metric,
    )
    assert rewards == pytest.approx([0.8, 0.8])  # mean of 0.9 and 0.7, under the 0.9 cap
    assert backend.calls == 1 and len(backend.batches[0]) == 4
    # The reference column reaches the judge's prompt; an unknown column is ignored.
    assert "<reference>\n4\n</reference>" in backend.batches[0][0].messages[1].content
    assert "<reference>" not in backend.batches[0][2].messages[1].content
    assert "unrelated" not in backend.batches[0][0].messages[1].content
    assert logs.metrics == {
        "judge_t/p_yes/rule": pytest.approx(0.9),
        "judge_t/p_yes/good": pytest.approx(0.7),
        "judge_t/failed": 0.0,
    }
    assert logs.extra == {"judge_t/error": [None, None]}


def test_trl_conversational_format():
    backend = ScriptedBackend(_by_criterion(0.6, 0.6))
    reward = RubricReward(RUBRIC, backend)
    prompts = [
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Say hi."}]},
        ]
    ]
    completions = [[{"role": "assistant", "content": "Hi!"}]]
    assert reward(prompts, completions) == pytest.approx([0.6])
    user = backend.batches[0][0].messages[1].content
    assert "Be brief." in user and "Say hi." in user and "Hi!" in user


def test_failed_items_get_none_without_sinking_the_batch(caplog):
    def responder(request: GenerationRequest, index: int):
        if "broken" in request.messages[1].content:
            return ScriptedReply(text="no json here")
        return verdict_reply(0.8)

    backend = ScriptedBackend(responder)
    reward = RubricReward(RUBRIC, backend)
    prompts = ["Q1", "Q2", "Q3", "Q4", "Q5"]
    completions = ["fine", "", "   ", "broken", [{"role": "tool", "content": "x"}]]
    with caplog.at_level("WARNING"):
        rewards = reward(prompts, completions)
    assert rewards[0] == pytest.approx(0.8) and rewards[1:] == [None, None, None, None]
    # Empty completions never reach the backend; the malformed output is retried once.
    assert sum(len(batch) for batch in backend.batches[:1]) == 4
    assert reward.failure_counts == {"invalid_input": 3, "judge_unparseable": 1}
    warnings = [r.message for r in caplog.records if "reward judge_t" in r.message]
    assert len(warnings) == 2, "each failure kind is logged once"


def test_on_error_number_and_raise():
    backend = ScriptedBackend(_by_criterion(0.8, 0.8))
    assert RubricReward(RUBRIC, backend, on_error=-1.0)(["Q", "Q"], ["A", ""]) == [
        pytest.approx(0.8),
        -1.0,
    ]
    with pytest.raises(InputError, match="1 of 2 items failed"):
        RubricReward(RUBRIC, backend, on_error="raise")(["Q", "Q"], ["A", ""])
    with pytest.raises(ConfigError):
        RubricReward(RUBRIC, backend, on_error="zero")  # type: ignore[arg-type]


def test_backend_exception_is_a_failure_value():
    class Exploding(ScriptedBackend):
        def generate(self, requests):
            raise GenerationError("server down")

    reward = RubricReward(RUBRIC, Exploding(graded_reply))
    assert reward(["Q", "Q"], ["A", "B"]) == [None, None]
    assert reward.failure_counts == {"backend": 2}


def test_a_reward_call_never_hangs_past_its_timeout():
    release = threading.Event()

    class Stuck(ScriptedBackend):
        def generate(self, requests):
            release.wait(5)
            return super().generate(requests)

    reward = RubricReward(RUBRIC, Stuck(graded_reply), timeout_s=0.2)
    start = time.monotonic()
    assert reward(["Q"], ["A"]) == [None]
    assert time.monotonic() - start < 1.0
    assert reward.failure_counts == {"timeout": 1}
    release.set()
    reward.close()


def test_shaping_scale_offset_and_hard_rule_penalty():
    backend = ScriptedBackend(_by_criterion(0.2, 0.9))  # the hard rule is judged "no"
    reward = RubricReward(
        RUBRIC, backend, scale=2.0, offset=-1.0, hard_rule_penalty=0.5, score_rule="cap"
    )
    [value] = reward(["Q"], ["A"])
    # score_rule cap: the score is capped at the hard rule's P(yes) = 0.2: 2 * 0.2 - 1 - 0.5
    assert value == pytest.approx(-1.1)
    [outcome] = reward.score_items(reward.trl_items(["Q"], ["A"], {})).outcomes
    assert outcome.failed_hard_rules == ("rule",) and outcome.score == pytest.approx(0.2)


def test_async_form_is_what_trl_awaits():
    backend = ScriptedBackend(_by_criterion(0.7, 0.7))
    reward = RubricReward(RUBRIC, backend, name="helpful")
    async_reward = reward.as_async()
    assert async_reward.__name__ == "helpful"
    assert inspect.iscoroutinefunction(async_reward.__call__)
    assert not inspect.iscoroutinefunction(reward.__call__)

    async def run():
        return await asyncio.gather(async_reward(["Q"], ["A"]), async_reward(["Q2"], ["B"]))

    assert asyncio.run(run()) == [[pytest.approx(0.7)], [pytest.approx(0.7)]]


def test_reward_pickles_by_configuration(monkeypatch):
    monkeypatch.setitem(backends._REGISTRY, "scripted-graded", "tests.doubles.reward:graded")
    reward = RubricReward(RUBRIC, "scripted-graded", scale=3.0)
    first = reward(["Q"], ["A"])
    clone = pickle.loads(pickle.dumps(reward))
    assert clone.scale == 3.0 and clone.__name__ == reward.__name__
    assert clone(["Q"], ["A"]) == first


def test_mismatched_lengths_are_a_caller_error():
    with pytest.raises(InputError, match="2 prompts but 1 completions"):
        RubricReward(RUBRIC, ScriptedBackend(graded_reply))(["a", "b"], ["c"])


def test_judge_call_is_serialised_on_one_thread():
    threads = set()

    def responder(request, index):
        threads.add(threading.current_thread().name)
        return json.dumps({"rationale": "r", "verdict": "yes"})

    reward = RubricReward(RUBRIC, ScriptedBackend(responder))
    reward(["Q"], ["A"])
    asyncio.run(reward.as_async()(["Q"], ["A"]))
    assert threads == {"reward-judge_t"}


def test_pairwise_against_a_baseline_column_uses_compare():
    backend = SlowScriptedBackend(0)
    reward = RubricReward(RUBRIC, backend, baseline_column="baseline")
    rewards = reward(
        ["Q", "Q", "Q"], ["a better answer", "same", "x"], baseline=["worse", "same", ""]
    )
    assert backend.calls == 1
    [expected] = reward.judge.compare(
        [Pair(id="0", prompt="Q", response_a="a better answer", response_b="worse")]
    )
    assert rewards[0] == pytest.approx(expected.p_a) and rewards[0] != 0.5
    assert rewards[1] == 0.5  # identical responses tie
    assert rewards[2] is None and reward.failure_counts == {"invalid_input": 1}


def test_strategy_is_passed_to_the_judge_and_checked_up_front():
    reward = RubricReward(RUBRIC, SlowScriptedBackend(0), strategy="depth")
    [value] = reward(["What is 2+2?"], ["4"])
    assert value is not None and reward.judge.settings.strategy == "depth"
    with pytest.raises(ConfigError, match="unknown strategy 'deep'"):
        RubricReward(RUBRIC, SlowScriptedBackend(0), strategy="deep")
