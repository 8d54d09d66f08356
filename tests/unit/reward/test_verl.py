import asyncio
import inspect

import pytest

from judge import backends
from judge.errors import ConfigError
from judge.reward import verl

OPTIONS = {"rubric": "helpfulness", "backend": "scripted-graded"}
KEYS = {
    "score",
    "judge_score",
    "judge_failed",
    *(
        f"p_yes/{c}"
        for c in ("addresses_request", "correct_content", "complete", "actionable", "concise")
    ),
}


@pytest.fixture(autouse=True)
def _registered(monkeypatch):
    monkeypatch.setitem(backends._REGISTRY, "scripted-graded", "tests.doubles.reward:graded")
    yield
    verl.REWARDS.clear()


def _backend_calls() -> int:
    return sum(reward.judge.backend.calls for reward in verl.REWARDS._rewards.values())


def test_compute_score_reads_the_prompt_from_extra_info_and_returns_details():
    result = verl.compute_score("gsm8k", "4", "4", {"question": "What is 2+2?"}, **OPTIONS)
    assert set(result) == KEYS
    assert 0.05 <= result["score"] <= 0.95 and result["judge_failed"] == 0.0
    assert result["score"] == result["judge_score"]
    [reward] = verl.REWARDS._rewards.values()
    user = reward.judge.backend.batches[0][0].messages[1].content
    assert "What is 2+2?" in user and "<reference>\n4\n</reference>" in user


def test_compute_score_builds_one_reward_per_configuration():
    verl.compute_score("d", "4", "4", {"prompt": "Q"}, **OPTIONS)
    verl.compute_score("d", "5", "4", {"prompt": "Q"}, **OPTIONS)
    verl.compute_score("d", "5", "4", {"prompt": "Q"}, **OPTIONS, scale=2.0)
    assert len(verl.REWARDS._rewards) == 2


def test_failures_score_the_on_error_value_with_the_same_keys():
    result = verl.compute_score("d", "4", "4", None, **OPTIONS)
    assert set(result) == KEYS
    assert result["score"] == 0.0 and result["judge_failed"] == 1.0
    # None, not NaN or 0.0: veRL leaves None out of its metric means
    assert result["judge_score"] is None and result["p_yes/complete"] is None
    assert (
        verl.compute_score("d", "", "4", {"prompt": "Q"}, **OPTIONS, on_error=-1.0)["score"] == -1.0
    )
    with pytest.raises(ConfigError, match="veRL needs a number"):
        verl.compute_score("d", "4", "4", {"prompt": "Q"}, **OPTIONS, on_error="none")


def test_return_dict_false_gives_a_float_and_unknown_verl_kwargs_are_ignored():
    value = verl.compute_score(
        "d",
        "4",
        "4",
        {"prompt": "Q"},
        **OPTIONS,
        return_dict=False,
        reward_router_address=None,
        reward_model_tokenizer=None,
    )
    assert isinstance(value, float)


def test_batch_form_is_one_backend_call_and_matches_the_single_form():
    solutions = ["4", "5", "", "four"]
    extras = [{"prompt": "What is 2+2?"}] * 4
    results = verl.compute_score_batch(["d"] * 4, solutions, ["4"] * 4, extras, **OPTIONS)
    assert _backend_calls() == 1
    assert [r["judge_failed"] for r in results] == [0.0, 0.0, 1.0, 0.0]
    single = verl.compute_score("d", "5", "4", {"prompt": "What is 2+2?"}, **OPTIONS)
    assert single == results[1]


def test_async_form_is_a_coroutine_function_and_coalesces_concurrent_calls():
    assert inspect.iscoroutinefunction(verl.compute_score_async)

    async def many():
        return await asyncio.gather(
            *(
                verl.compute_score_async(
                    "d", f"answer {i}", "4", {"prompt": "Q"}, **OPTIONS, max_wait_s=0.05
                )
                for i in range(16)
            )
        )

    results = asyncio.run(many())
    assert all(r["judge_failed"] == 0.0 for r in results)
    assert _backend_calls() < 16


def test_reasoning_none_reaches_the_judge_through_reward_kwargs():
    result = verl.compute_score(
        "d", "4", "4", {"prompt": "What is 2+2?"}, **OPTIONS, reasoning="none"
    )
    assert set(result) == KEYS and result["judge_failed"] == 0.0
    [reward] = verl.REWARDS._rewards.values()
    assert reward.settings.reasoning == "none"
    assert all(r.score_after == '{"verdict": "' for r in reward.judge.backend.batches[0])
