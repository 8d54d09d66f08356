import threading

import pytest

from judge.errors import BackendUnavailableError, ConfigError
from judge.reward.microbatch import JudgeWorker


class Recorder:
    """A scorer that records its batches and can be held until released."""

    def __init__(self, hold: bool = False):
        self.batches: list[list[int]] = []
        self.deadlines: list[float | None] = []
        self.started = threading.Event()
        self.release = threading.Event()
        if not hold:
            self.release.set()

    def __call__(self, items, deadline):
        self.batches.append(list(items))
        self.deadlines.append(deadline)
        self.started.set()
        self.release.wait(10)
        return [item * 10 for item in items]


def test_jobs_queued_while_the_judge_is_busy_share_the_next_batch_in_order():
    scorer = Recorder(hold=True)
    worker = JudgeWorker(scorer, max_batch=100, max_wait_s=0.0)
    first = worker.submit([1])
    assert scorer.started.wait(5)
    later = [worker.submit([n, n + 1]) for n in (2, 4, 6)]
    scorer.release.set()
    assert first.result(5) == [10]
    assert [f.result(5) for f in later] == [[20, 30], [40, 50], [60, 70]]
    assert scorer.batches == [[1], [2, 3, 4, 5, 6, 7]]
    worker.close()


def test_max_batch_splits_and_an_oversized_job_still_runs_whole():
    scorer = Recorder(hold=True)
    worker = JudgeWorker(scorer, max_batch=3, max_wait_s=0.0)
    worker.submit([0])
    assert scorer.started.wait(5)
    futures = [worker.submit([1, 2]), worker.submit([3, 4]), worker.submit([5, 6, 7, 8])]
    scorer.release.set()
    assert [f.result(5) for f in futures] == [[10, 20], [30, 40], [50, 60, 70, 80]]
    assert scorer.batches[1:] == [[1, 2], [3, 4], [5, 6, 7, 8]]
    worker.close()


def test_a_cancelled_job_is_skipped_and_a_failure_reaches_every_caller():
    scorer = Recorder(hold=True)
    worker = JudgeWorker(scorer, max_wait_s=0.0)
    worker.submit([1])
    assert scorer.started.wait(5)
    cancelled, kept = worker.submit([2]), worker.submit([3])
    assert cancelled.cancel()
    scorer.release.set()
    assert kept.result(5) == [30]
    assert [2] not in scorer.batches and [2, 3] not in scorer.batches

    def explode(items, deadline):
        raise RuntimeError("backend down")

    failing = JudgeWorker(explode)
    with pytest.raises(RuntimeError, match="backend down"):
        failing.submit([1]).result(5)
    failing.close()
    worker.close()


def test_a_full_queue_and_a_closed_worker_refuse_jobs():
    scorer = Recorder(hold=True)
    worker = JudgeWorker(scorer, max_queue=2, max_wait_s=0.0)
    worker.submit([1])
    assert scorer.started.wait(5)
    worker.submit([2, 3])
    with pytest.raises(BackendUnavailableError, match="queue full") as info:
        worker.submit([4])
    assert info.value.retryable and worker.stats.refused == 1
    scorer.release.set()
    worker.close()
    with pytest.raises(BackendUnavailableError, match="closed"):
        worker.submit([5])
    with pytest.raises(ConfigError):
        JudgeWorker(scorer, max_batch=0)


def test_a_batch_runs_to_its_latest_deadline_and_an_expired_job_is_never_started():
    import time

    scorer = Recorder(hold=True)
    worker = JudgeWorker(scorer, max_wait_s=0.0)
    worker.submit([1], deadline=time.monotonic() + 60)
    assert scorer.started.wait(5)
    now = time.monotonic()
    expired = worker.submit([2], deadline=now + 0.05)
    early, late = worker.submit([3], deadline=now + 30), worker.submit([4], deadline=now + 40)
    time.sleep(0.1)
    scorer.release.set()
    with pytest.raises(TimeoutError):
        expired.result(5)
    assert early.result(5) == [30] and late.result(5) == [40]
    assert scorer.batches == [[1], [3, 4]], "the expired job was not judged"
    assert scorer.deadlines[1] == pytest.approx(now + 40), "the latest requester's deadline"
    worker.submit([5]).result(5)
    assert scorer.deadlines[2] is None, "a job without a deadline: none for its batch"
    scorer.release.clear()
    scorer.started.clear()
    worker.submit([6])
    assert scorer.started.wait(5)
    alone = worker.submit([7], deadline=time.monotonic() + 0.05)  # a batch of expired jobs only
    time.sleep(0.1)
    scorer.release.set()
    with pytest.raises(TimeoutError):
        alone.result(5)
    assert worker.submit([8]).result(5) == [80], "the worker thread lives on"
    worker.close()
