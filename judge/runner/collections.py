"""Defer the garbage collector's full collections while the runner builds a batch's objects.

A batch of 10,000 judgments keeps every request, generation and verdict alive until it ends, so
each full (generation-2) collection re-scans all of them and finds nothing to free: with the
default thresholds this was ~35% of the framework's CPU time (benchmarks/framework_ceiling.py).
Young collections still run, so short-lived cycles are freed as usual. The thresholds are
process-wide, so nested and concurrent batches share one counted deferral, restored exactly
when the last of them ends.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

FULL_COLLECTION_THRESHOLD = 1000
"""Generation-1 collections between full collections while deferred (CPython's default: 10)."""


class FullCollections:
    """A counted deferral of full collections (one instance: the thresholds are global)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._saved: tuple[int, int, int] | None = None

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Raise the generation-2 threshold for the block; restore it after the last block."""
        with self._lock:
            if self._depth == 0:
                self._saved = gc.get_threshold()
                young, middle, old = self._saved
                if young > 0:  # a threshold of 0 means the collector was turned off: leave it
                    gc.set_threshold(young, middle, max(old, FULL_COLLECTION_THRESHOLD))
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0 and self._saved is not None:
                    gc.set_threshold(*self._saved)
                    self._saved = None


FULL_COLLECTIONS = FullCollections()
