"""Full collections are deferred during a batch and the thresholds restored exactly after it."""

from __future__ import annotations

import gc
import threading

from judge.runner.collections import FULL_COLLECTION_THRESHOLD, FullCollections


def test_deferral_nests_and_restores_the_thresholds() -> None:
    before = gc.get_threshold()
    deferral = FullCollections()
    try:
        gc.set_threshold(700, 10, 10)
        with deferral.deferred():
            assert gc.get_threshold() == (700, 10, FULL_COLLECTION_THRESHOLD)
            with deferral.deferred():
                assert gc.get_threshold()[2] == FULL_COLLECTION_THRESHOLD
            assert gc.get_threshold()[2] == FULL_COLLECTION_THRESHOLD  # the outer batch runs on
        assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.set_threshold(*before)


def test_overlapping_batches_in_two_threads_restore_once_both_end() -> None:
    before = gc.get_threshold()
    deferral = FullCollections()
    inside, release = threading.Event(), threading.Event()

    def other_batch() -> None:
        with deferral.deferred():
            inside.set()
            release.wait(5)

    try:
        gc.set_threshold(700, 10, 10)
        worker = threading.Thread(target=other_batch)
        with deferral.deferred():
            worker.start()
            inside.wait(5)
        assert gc.get_threshold()[2] == FULL_COLLECTION_THRESHOLD  # the worker's batch runs on
        release.set()
        worker.join(5)
        assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.set_threshold(*before)


def test_a_turned_off_collector_stays_off_and_an_error_restores() -> None:
    before = gc.get_threshold()
    deferral = FullCollections()
    try:
        gc.set_threshold(0, 10, 10)
        with deferral.deferred():
            assert gc.get_threshold() == (0, 10, 10)
        gc.set_threshold(700, 10, 10)
        try:
            with deferral.deferred():
                raise RuntimeError("backend failed")
        except RuntimeError:
            pass
        assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.set_threshold(*before)
