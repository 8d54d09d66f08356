"""`drive_plans` and `SharedBatches`: several judges in one batch per round, requests run once."""

from __future__ import annotations

from judge.backends.scripted import ScriptedBackend, ScriptedReply
from judge.runner.judge import Judge
from judge.runner.rounds import BatchStats
from judge.runner.shared import SharedBatches, drive_plans
from judge.types import GenerationRequest, Message, Sample, SamplingParams
from tests.doubles.scripted import verdict_reply

SAMPLES = [Sample(id=f"s{i}", prompt=f"Question {i}?", response=f"Answer {i}.") for i in range(3)]


def backend() -> ScriptedBackend:
    return ScriptedBackend(lambda request, _: verdict_reply(0.7), model_id="scripted")


def test_two_judges_share_one_call_and_get_what_each_gets_alone():
    inner = backend()
    shared = SharedBatches(inner)
    judges = [
        Judge(backend=shared, settings=None, score_rule=rule, reasoning="none")
        for rule in ("mean", "cap")
    ]
    plans = [judge.plan_score(SAMPLES, naive=True) for judge in judges]
    outcomes = drive_plans(shared, plans, ["c0", "c1"], BatchStats())
    assert inner.calls == 1
    # Both judges ask the same requests (the rule only aggregates): each ran once.
    assert shared.asked == 2 * shared.sent == 2 * len(inner.batches[0])
    assert all("|" in request.id for request in inner.batches[0])
    for judge, (judged, asked) in zip(judges, outcomes, strict=True):
        alone_judged, alone_asked = Judge(
            backend=backend(), settings=judge.settings
        ).score_with_naive(SAMPLES)
        assert [j.score for j in judged] == [j.score for j in alone_judged]
        assert [j.usage for j in judged] == [j.usage for j in alone_judged]
        assert [j.score for j in asked] == [j.score for j in alone_asked]
        assert [v.criterion_id for v in judged[0].verdicts] == [
            v.criterion_id for v in alone_judged[0].verdicts
        ]


def _request(request_id: str, temperature: float, seed: int | None) -> GenerationRequest:
    return GenerationRequest(
        id=request_id,
        messages=(Message(role="user", content="same"),),
        sampling=SamplingParams(temperature=temperature, seed=seed),
    )


def test_only_requests_that_answer_the_same_are_merged():
    replies = iter(range(100))

    def reply(request: GenerationRequest, _: int) -> ScriptedReply:
        return ScriptedReply(text=str(next(replies)))

    inner = ScriptedBackend(reply)
    shared = SharedBatches(inner)
    seeded = shared.generate([_request("c0|a", 0.7, 1), _request("c1|a", 0.7, 1)])
    drawn = shared.generate([_request("c0|b", 0.7, None), _request("c1|b", 0.7, None)])
    assert [g.request_id for g in seeded] == ["c0|a", "c1|a"]
    assert seeded[0].text == seeded[1].text  # one draw, given to both
    assert drawn[0].text != drawn[1].text  # unseeded sampling: two draws
    assert (shared.asked, shared.sent, shared.calls) == (4, 3, 2)
    assert set(shared.seconds_by_owner) == {"c0", "c1"}
