import threading

import pytest

from judge.errors import BackendUnavailableError, ConfigError
from judge.reward.microbatch import JudgeWorker


class Recorder:
    """A scorer that records its batches and can be held until released."""

    def __init__(self, hold: bool = False):
        self.batches: list[list[int]] = []
        self.started = threading.Event()
        self.release = threading.Event()
        if not hold:
            self.release.set()

    def __call__(self, items):
        self.batches.append(list(items))
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

    def explode(items):
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
