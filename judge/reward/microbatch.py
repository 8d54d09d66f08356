"""One judge thread per reward: serialises backend calls and coalesces concurrent small jobs.

Backends are not thread-safe and run best on large batches, while RL callers (OpenRLHF's remote
reward model, veRL's async reward loop) send one sample per request. A `JudgeWorker` owns one
thread: jobs queue up (bounded, so an overloaded server says so instead of growing without
limit), and jobs that arrive within `max_wait_s` of each other go to the backend as one batch.
Callers wait on a `Future` with their own timeout, so no caller hangs on a stuck backend. A job
may carry a deadline (``time.monotonic()`` seconds): a job whose deadline passed while it was
queued is not started, and a batch is scored with the latest deadline of its jobs, so the
backend stops the batch once every caller in it has given up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from judge.errors import BackendUnavailableError, ConfigError

logger = logging.getLogger(__name__)

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")


@dataclass
class _Job(Generic[ItemT, ResultT]):
    items: list[ItemT]
    future: Future[list[ResultT]]
    coalesce: bool
    deadline: float | None = None
    enqueued: float = field(default_factory=time.monotonic)


@dataclass
class WorkerStats:
    """Counters of a worker: jobs taken, backend batches run, items scored, jobs refused."""

    jobs: int = 0
    batches: int = 0
    items: int = 0
    refused: int = 0
    largest_batch: int = 0


class JudgeWorker(Generic[ItemT, ResultT]):
    """Runs `score(items, deadline) -> results` on one thread; coalesces jobs close together.

    Args:
        score: Scores a list of items, one result per item, in order (one backend batch), and
            may stop after `deadline` (``time.monotonic()`` seconds; None: no deadline).
        max_batch: Most items merged into one call (a larger single job still runs whole).
        max_wait_s: How long the first coalescing job of a batch waits for company.
        max_queue: Most items waiting; `submit` refuses more (back-pressure).
    """

    def __init__(
        self,
        score: Callable[[Sequence[ItemT], float | None], list[ResultT]],
        *,
        max_batch: int = 256,
        max_wait_s: float = 0.005,
        max_queue: int = 1024,
        name: str = "judge-worker",
    ) -> None:
        if max_batch < 1 or max_queue < 1 or max_wait_s < 0:
            raise ConfigError(
                f"max_batch {max_batch}, max_queue {max_queue}, max_wait_s {max_wait_s}: "
                "batch and queue sizes must be >= 1 and the wait >= 0"
            )
        self._score = score
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.max_queue = max_queue
        self._name = name
        self._queue: deque[_Job[ItemT, ResultT]] = deque()
        self._queued_items = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.stats = WorkerStats()

    @property
    def queued_items(self) -> int:
        """Items waiting for the judge thread (not counting the batch it is running)."""
        with self._cond:
            return self._queued_items

    def submit(
        self, items: Sequence[ItemT], *, coalesce: bool = True, deadline: float | None = None
    ) -> Future[list[ResultT]]:
        """Queue a job; its future resolves to one result per item, in order.

        Past `deadline` (``time.monotonic()`` seconds) nobody waits for the job: it is not
        started (its future fails with `TimeoutError`) or, running, may be stopped.

        Raises:
            BackendUnavailableError: the queue is full (retryable) or the worker is closed.
        """
        job: _Job[ItemT, ResultT] = _Job(list(items), Future(), coalesce, deadline)
        with self._cond:
            if self._closed:
                raise BackendUnavailableError(f"{self._name} is closed")
            # An over-long job is admitted into an empty queue, or it could never run.
            if self._queued_items and self._queued_items + len(job.items) > self.max_queue:
                self.stats.refused += 1
                raise BackendUnavailableError(
                    f"{self._name}: queue full ({self._queued_items} items waiting, "
                    f"limit {self.max_queue})",
                    hint="retry shortly, or raise the queue limit / add judge capacity",
                    retryable=True,
                )
            self._queue.append(job)
            self._queued_items += len(job.items)
            self.stats.jobs += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify_all()
        return job.future

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop taking jobs; the thread finishes what is queued and exits."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout_s)

    def _take(self) -> list[_Job[ItemT, ResultT]] | None:
        """Wait for work; return the jobs of the next batch (None when closed and drained)."""
        with self._cond:
            while not self._queue:
                if self._closed:
                    return None
                self._cond.wait()
            batch = [self._queue.popleft()]
            size = len(batch[0].items)
            deadline = batch[0].enqueued + self.max_wait_s
            while size < self.max_batch:
                if self._queue:
                    if size + len(self._queue[0].items) > self.max_batch:
                        break
                    job = self._queue.popleft()
                    batch.append(job)
                    size += len(job.items)
                    continue
                remaining = deadline - time.monotonic()
                if not all(job.coalesce for job in batch) or remaining <= 0 or self._closed:
                    break
                self._cond.wait(remaining)
            self._queued_items -= size
            return batch

    def _loop(self) -> None:
        while (batch := self._take()) is not None:
            # A caller that timed out cancelled its future: skip its items.
            live = [job for job in batch if job.future.set_running_or_notify_cancel()]
            now = time.monotonic()
            for job in live:
                if job.deadline is not None and job.deadline <= now:
                    job.future.set_exception(TimeoutError("the deadline passed while queued"))
            live = [job for job in live if job.deadline is None or job.deadline > now]
            items = [item for job in live for item in job.items]
            if not items:
                for job in live:
                    job.future.set_result([])
                continue
            deadlines = [job.deadline for job in live]
            deadline = None if None in deadlines else max(d for d in deadlines if d is not None)
            self.stats.batches += 1
            self.stats.items += len(items)
            self.stats.largest_batch = max(self.stats.largest_batch, len(items))
            try:
                results = self._score(items, deadline)
                if len(results) != len(items):
                    raise RuntimeError(
                        f"scorer returned {len(results)} results for {len(items)} items"
                    )
            except Exception as exc:  # delivered to every waiting caller, never lost in the thread
                logger.debug("judge batch of %d items failed: %r", len(items), exc)
                for job in live:
                    job.future.set_exception(exc)
                continue
            start = 0
            for job in live:
                job.future.set_result(results[start : start + len(job.items)])
                start += len(job.items)
