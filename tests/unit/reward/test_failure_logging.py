"""Failed items never enter logged means as 0.0 or NaN: TRL, OpenRLHF and veRL count them apart."""

import math

import pytest

from judge.backends.scripted import ScriptedBackend
from judge.reward import RubricReward
from judge.reward.serve import OpenRLHFRequest, openrlhf_items, openrlhf_response
from judge.reward.verl import verl_items, verl_result
from tests.unit.reward.test_reward import RUBRIC, _by_criterion, _Logs

CHATML = "<|im_start|>user\nQ{i}?<|im_end|>\n<|im_start|>assistant\n"


def _reward() -> RubricReward:
    return RubricReward(RUBRIC, ScriptedBackend(_by_criterion(0.9, 0.7)), on_error=0.0)


def test_trl_metrics_average_the_judged_items_and_count_the_failures():
    logs = _Logs()
    rewards = _reward()(
        prompts=["Q1?", "Q2?", "Q3?"],
        completions=["a", "", "c"],  # the empty completion cannot be judged
        log_metric=logs.log_metric,
        log_extra=logs.log_extra,
    )
    assert rewards[1] == 0.0 and rewards[0] == rewards[2] == pytest.approx(0.8)
    assert logs.metrics == {
        "judge_t/p_yes/rule": pytest.approx(0.9),  # not (0.9 + 0 + 0.9) / 3
        "judge_t/p_yes/good": pytest.approx(0.7),
        "judge_t/failed": pytest.approx(1 / 3),
    }


def test_trl_logs_no_criterion_mean_when_every_item_failed():
    logs = _Logs()
    _reward()(prompts=["Q?"], completions=[""], log_metric=logs.log_metric)
    assert logs.metrics == {"judge_t/failed": 1.0}


def test_openrlhf_extra_logs_give_the_judged_mean_under_openrlhfs_plain_average():
    reward = _reward()
    queries = [CHATML.format(i=i) + text for i, text in enumerate(["a", "", "c", "d"])]
    request = OpenRLHFRequest(query=queries, prompts=[CHATML.format(i=i) for i in range(4)])
    body = openrlhf_response(reward, reward.score_items(openrlhf_items(request, ())))
    logs = body["extra_logs"]
    assert all(not math.isnan(v) for column in logs.values() for v in column)

    def mean(column: str) -> float:  # what OpenRLHF logs: a sample-weighted mean
        return sum(logs[column]) / len(logs[column])

    assert mean("judge_failed") == pytest.approx(0.25)
    assert mean("p_yes_x_judged/rule") / mean("judge_judged") == pytest.approx(0.9)
    assert mean("p_yes_x_judged/good") / mean("judge_judged") == pytest.approx(0.7)
    assert mean("judge_score_x_judged") / mean("judge_judged") == pytest.approx(0.8)
    assert body["rewards"][1] == 0.0 and logs["judge_failed"][1] == 1.0


def test_verl_details_of_a_failed_item_are_none_which_verl_leaves_out_of_means():
    reward = _reward()
    items = verl_items(["a", ""], ["ref", "ref"], [{"prompt": "Q?"}, {"prompt": "Q?"}])
    judged, failed = (verl_result(reward, o, True) for o in reward.score_items(items).outcomes)
    assert failed["score"] == 0.0 and failed["judge_failed"] == 1.0
    assert failed["judge_score"] is None and failed["p_yes/rule"] is None
    assert judged["judge_score"] == pytest.approx(0.8) and judged["p_yes/rule"] == 0.9
    assert set(judged) == set(failed)
