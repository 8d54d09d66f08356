"""Failures carry an ErrorKind from where they are born; decisions read it, never the message."""

import pytest
from pydantic import ValidationError

from judge import Judge, RubricReward
from judge.backends.scripted import ScriptedBackend, ScriptedReply
from judge.batch import BatchProgress, BatchScorer
from judge.runner.parse import read_verdict
from judge.types import (
    Criterion,
    CriterionVerdict,
    ErrorKind,
    Generation,
    Judgment,
    Rubric,
    Sample,
)
from tests.doubles.scripted import verdict_reply

RUBRIC = Rubric(name="r", criteria=(Criterion(id="clear", text="The response is clear."),))


def test_a_failure_without_a_kind_is_a_generation_failure_and_a_kind_needs_a_failure():
    assert Generation(request_id="x", error="boom").error_kind == ErrorKind.GENERATION
    assert CriterionVerdict(criterion_id="c", verdict="yes").error_kind is None
    with pytest.raises(ValidationError, match="error_kind is set without an error"):
        Judgment(sample_id="s", score=0.5, error_kind=ErrorKind.TRUNCATED)
    failed = Judgment(sample_id="s", error="cut", error_kind=ErrorKind.TRUNCATED)
    assert Judgment.model_validate_json(failed.model_dump_json()) == failed


@pytest.mark.parametrize(
    "generation, kind",
    [
        (Generation(request_id="x", text='{"verdict": "ye', finish_reason="length"), "truncated"),
        (Generation(request_id="x", text="I think it is fine."), "unparseable"),
        (Generation(request_id="x", error="503", error_kind="timeout"), "timeout"),
        (Generation(request_id="x", error="CUDA error"), "generation"),
    ],
)
def test_verdicts_are_born_with_their_kind(generation, kind):
    verdict = read_verdict("clear", generation)
    assert verdict.error is not None and verdict.error_kind == ErrorKind(kind)


def _judge(responder):
    backend = ScriptedBackend(responder)
    return backend, Judge(backend=backend, rubric=RUBRIC)


def test_retries_read_the_kind_not_the_message():
    # The message mentions the context, but the output is merely unreadable: it is retried.
    backend, judge = _judge(
        lambda request, index: ScriptedReply(text="the context is unclear to me")
    )
    [judgment] = judge.score([_sample()])
    assert backend.calls == 2 and judgment.error_kind == ErrorKind.UNPARSEABLE
    # A context overflow is never retried, whatever its message says.
    backend, judge = _judge(
        lambda request, index: ScriptedReply(
            text="", error="too long", error_kind=ErrorKind.CONTEXT_OVERFLOW
        )
    )
    [judgment] = judge.score([_sample()])
    assert backend.calls == 1 and judgment.error_kind == ErrorKind.CONTEXT_OVERFLOW


def _sample():
    return Sample(id="s", prompt="Q?", response="A.")


def test_batch_records_and_summaries_count_failures_by_kind():
    def responder(request, index):
        if "truncate me" in request.messages[-1].content:
            return ScriptedReply(text='{"rationale": "', finish_reason="length")
        return verdict_reply(0.8)

    _, judge = _judge(responder)
    scorer = BatchScorer(judge=judge)
    # Row 3 has no prompt: a bad row (a blank *response* is judged, failing, by rule).
    batch = {"_row": [1, 2, 3], "prompt": ["Q?", "Q?", ""], "response": ["A.", "truncate me", "A."]}
    columns = scorer(batch)
    records = [
        dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)
    ]
    assert [r["error_kind"] for r in records] == [None, "truncated", "invalid_input"]
    assert records[2]["input_error_kind"] == "invalid"
    progress = BatchProgress()
    progress.add(records)
    assert progress.failures == {"judge: truncated": 1, "bad row: invalid": 1}


def test_reward_failure_counts_use_the_kind():
    def responder(request, index):
        return ScriptedReply(text='{"rationale": "', finish_reason="length")

    reward = RubricReward(RUBRIC, ScriptedBackend(responder), on_error=0.0)
    assert reward(prompts=["Q?"], completions=["A."]) == [0.0]
    assert reward.failure_counts == {"judge_truncated": 1}
