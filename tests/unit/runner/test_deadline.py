"""A judge call's deadline reaches every request of its backend batches, and stops later rounds."""

import time

from judge.runner.deadline import DeadlineBackend, with_deadline
from judge.runner.judge import Judge
from judge.types import ErrorKind, GenerationRequest, Message, Sample
from tests.unit.reward.test_reward import RUBRIC

SAMPLES = [Sample(id=str(i), prompt=f"Q{i}?", response=f"A{i}") for i in range(2)]


def test_every_request_carries_the_call_deadline(scripted):
    backend = scripted(0.8)
    deadline = time.monotonic() + 60
    judged = Judge(backend, RUBRIC).score(SAMPLES, deadline=deadline)
    assert all(j.error is None for j in judged)
    sent = [request for batch in backend.batches for request in batch]
    assert sent and all(request.deadline == deadline for request in sent)
    Judge(backend, RUBRIC).score(SAMPLES)
    assert all(request.deadline is None for request in backend.batches[-1])


def test_past_the_deadline_nothing_is_sent_and_every_judgment_is_a_timeout(scripted):
    backend = scripted(0.8)
    judged = Judge(backend, RUBRIC).score(SAMPLES, deadline=time.monotonic() - 0.01)
    assert backend.calls == 0
    assert all(j.score is None and j.error is not None for j in judged)
    kinds = {v.error_kind for j in judged for v in j.verdicts}
    assert kinds == {ErrorKind.TIMEOUT}, kinds


def test_a_request_keeps_an_earlier_deadline_of_its_own(scripted):
    backend = scripted(0.8)
    own = time.monotonic() + 5
    request = GenerationRequest(id="r", messages=(Message(role="user", content="hi"),))
    wrapped = DeadlineBackend(backend, own + 50)
    wrapped.generate(
        [request.model_copy(update={"deadline": own}), request.model_copy(update={"id": "s"})]
    )
    assert [r.deadline for r in backend.batches[0]] == [own, own + 50]
    assert with_deadline(backend, None) is backend
    assert wrapped.model_id == backend.model_id and wrapped.capabilities == backend.capabilities
