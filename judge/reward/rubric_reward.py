"""Rubric judgments as RL rewards: a TRL reward function, veRL `compute_score`, shaping, failures.

`RubricReward` scores a whole reward call (a TRL shard, a veRL batch) in one judge call, i.e. one
backend batch. A reward call never raises by default and never hangs past `timeout_s`: failed
items get the `on_error` value (None, TRL's "no reward", unless told otherwise), and each kind of
failure is logged once. The judge runs on one worker thread (`judge.reward.microbatch`), which also
coalesces concurrent single-sample calls (veRL's async reward loop, the HTTP server).
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

from judge.backends.base import Backend, ReportsHealth, ServingHealth
from judge.errors import ConfigError, GenerationError, InputError, JudgeError
from judge.library import load_rubric
from judge.reward.inputs import (
    Invalid,
    RewardItem,
    build_item,
    prompt_fields,
    read_completion,
    with_context,
)
from judge.reward.microbatch import JudgeWorker
from judge.reward.outcomes import JudgeResult, OnError, RewardBatch, RewardOutcome
from judge.runner.cache import CacheChoice, JudgmentCache, judge_samples, open_cache
from judge.runner.judge import Judge
from judge.runner.pairwise import DEFAULT_METHOD, Method
from judge.settings import JudgeSettings
from judge.types import ErrorKind, Pair, PairJudgment, Rubric, Sample, stable_hash

logger = logging.getLogger(__name__)


class RubricReward:
    """A rubric judge as a reward function for RL trainers.

    Args:
        rubric: A library rubric name, a rubric file path, or a `Rubric`.
        backend: A backend name (created with `backend_options`) or a `Backend` object. Pass a
            name to keep the reward picklable (TRL's async GRPO ships rewards to a subprocess).
        name: The reward's `__name__` (TRL logs ``rewards/<name>/mean``); ``judge_<rubric>``.
        settings: How the judge judges (`JudgeSettings`; default: its defaults).
        backend_options: Options of the backend factory (``{"model": ..., "base_url": ...}``)
            when `backend` is a name.
        on_error: Failed items get None (``"none"``), this number, or the call raises (``"raise"``).
        timeout_s: The longest a reward call waits for the judge; later items fail as ``timeout``.
        scale: Reward = scale * score + offset - hard_rule_penalty * (hard rules judged "no").
        offset: See `scale`.
        hard_rule_penalty: Subtracted once per hard-rule criterion judged "no".
        reference_column: The dataset column (TRL keyword) holding a reference answer.
        baseline_column: The dataset column holding a baseline response; when present the reward
            is pairwise: P(completion beats the baseline) from `Judge.compare`.
        compare_method: How pairs are compared (``rubric`` or ``direct``, see `Judge.compare`).
        max_batch: Most samples coalesced into one backend call by the worker.
        max_wait_s: How long a coalescing call waits for others (server, async veRL).
        max_queue: Most samples waiting for the judge before callers are refused.
        cache: The judgment cache (`judge.runner.cache`): True (default) the shared store in the
            user cache dir, a path another store, False or None none. Samples judged before by
            the same judge are not judged again (only where that gives the same answer).
        **setting_keywords: `JudgeSettings` fields (``strategy="depth"``, ``reasoning="none"``),
            applied on `settings` by `JudgeSettings.with_keywords`; any other name is refused.
    """

    def __init__(
        self,
        rubric: Rubric | str | Path = "helpfulness",
        backend: Backend | str = "transformers",
        *,
        name: str | None = None,
        settings: JudgeSettings | None = None,
        backend_options: Mapping[str, Any] | None = None,
        on_error: OnError = "none",
        timeout_s: float | None = 300.0,
        scale: float = 1.0,
        offset: float = 0.0,
        hard_rule_penalty: float = 0.0,
        reference_column: str | None = "reference",
        baseline_column: str | None = None,
        compare_method: Method = DEFAULT_METHOD,
        max_batch: int = 256,
        max_wait_s: float = 0.005,
        max_queue: int = 4096,
        cache: CacheChoice = True,
        **setting_keywords: Any,
    ) -> None:
        if not (on_error in ("none", "raise") or isinstance(on_error, int | float)):
            raise ConfigError(f"on_error {on_error!r}", hint="use 'none', 'raise' or a number")
        if isinstance(on_error, float) and math.isnan(on_error):
            raise ConfigError("on_error is NaN", hint="a NaN reward poisons the advantages")
        self.settings: JudgeSettings = JudgeSettings.with_keywords(settings, **setting_keywords)
        self.rubric = rubric if isinstance(rubric, Rubric) else load_rubric(rubric)
        self.backend = backend
        self.__name__ = name or f"judge_{self.rubric.name}"
        self.on_error: OnError = on_error
        self.timeout_s = timeout_s
        self.scale, self.offset, self.hard_rule_penalty = scale, offset, hard_rule_penalty
        self.reference_column = reference_column
        self.baseline_column = baseline_column
        self.compare_method: Method = compare_method
        self.max_batch, self.max_wait_s, self.max_queue = max_batch, max_wait_s, max_queue
        self.cache_choice = cache
        self.backend_options: dict[str, Any] = dict(backend_options or {})
        self._hard_rules = {c.id for c in self.rubric.leaves() if c.kind == "hard_rule"}
        self._setup()

    def _setup(self) -> None:
        self._lock = threading.Lock()
        self._judge: Judge | None = None
        self._worker: JudgeWorker[Sample | Pair, JudgeResult] | None = None
        self.failure_counts: Counter[str] = Counter()
        self._logged_kinds: set[str] = set()
        self.cache = open_cache(self.cache_choice)

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the configuration only; the judge and its thread are rebuilt on first use."""
        state = self.__dict__.copy()
        for key in ("_lock", "_judge", "_worker", "failure_counts", "_logged_kinds", "cache"):
            state.pop(key)
        if isinstance(self.cache_choice, JudgmentCache):  # a subprocess opens its own
            state["cache_choice"] = self.cache_choice.path
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._setup()

    def __repr__(self) -> str:
        return f"RubricReward(name={self.__name__!r}, rubric={self.rubric.name!r})"

    # -- the judge and its worker thread ------------------------------------------------------

    @property
    def judge(self) -> Judge:
        """The judge, created on first use (in the caller's thread, outside any timeout)."""
        with self._lock:
            if self._judge is None:
                self._judge = Judge(
                    self.backend,
                    self.rubric,
                    settings=self.settings,
                    backend_options=self.backend_options,
                )
            return self._judge

    def serving_health(self) -> ServingHealth | None:
        """The servers behind the backend now, if it can tell (it probes them: a few HTTP calls).

        None for a backend that sends to no server, and before a backend named by a string is
        built (this never loads a model).
        """
        with self._lock:
            backend: object = self._judge.backend if self._judge is not None else self.backend
        return backend.serving_health() if isinstance(backend, ReportsHealth) else None

    @property
    def settings_fingerprint(self) -> str:
        """The judge's settings fingerprint (of `compare` when pairwise) plus the shaping."""
        shaping: list[object] = [self.scale, self.offset, self.hard_rule_penalty]
        shaping += [self.baseline_column, self.compare_method]
        judge = self.judge
        settings = judge.settings_fingerprint
        if self.baseline_column is not None:
            settings = judge.compare_fingerprints(self.compare_method)["settings_fingerprint"]
        return stable_hash([settings, shaping])

    def worker(self) -> JudgeWorker[Sample | Pair, JudgeResult]:
        """The one thread that calls the judge (created on first use)."""
        with self._lock:
            if self._worker is None:
                self._worker = JudgeWorker(
                    self._score_on_worker,
                    max_batch=self.max_batch,
                    max_wait_s=self.max_wait_s,
                    max_queue=self.max_queue,
                    name=f"reward-{self.__name__}",
                )
            return self._worker

    def _score_on_worker(
        self, items: Sequence[Sample | Pair], deadline: float | None
    ) -> list[JudgeResult]:
        judge = self.judge
        results: list[JudgeResult | None] = [None] * len(items)
        samples = [(i, item) for i, item in enumerate(items) if isinstance(item, Sample)]
        pairs = [(i, item) for i, item in enumerate(items) if isinstance(item, Pair)]
        if samples:
            judged = judge_samples(judge, [s for _, s in samples], self.cache, deadline=deadline)
            for (i, _), judgment in zip(samples, judged, strict=True):
                results[i] = judgment
        if pairs:
            compared = judge.compare(
                [p for _, p in pairs], method=self.compare_method, deadline=deadline
            )
            for (i, _), pair_judgment in zip(pairs, compared, strict=True):
                results[i] = pair_judgment
        assert all(result is not None for result in results)
        return results  # type: ignore[return-value]

    def close(self) -> None:
        """Stop the worker thread and release the backend."""
        with self._lock:
            worker, judge, self._worker, self._judge = self._worker, self._judge, None, None
        if worker is not None:
            worker.close()
        if judge is not None:
            judge.close()

    # -- scoring ------------------------------------------------------------------------------

    def score_items(self, items: Sequence[RewardItem], *, coalesce: bool = False) -> RewardBatch:
        """Score prepared items (Samples, Pairs, or Invalid inputs) in one judge call."""
        valid = [item for item in items if not isinstance(item, Invalid)]
        if not valid:
            return self._finish(items, [])
        _ = self.judge  # first use builds the judge (loads a model): outside the timeout
        future = self._submit(valid, coalesce=coalesce, refuse_when_full=False)
        try:
            results: list[JudgeResult] | BaseException = future.result(timeout=self.timeout_s)
        except FutureTimeout:
            future.cancel()
            results = TimeoutError(f"no judgment within {self.timeout_s} s")
        except Exception as exc:  # a failure is a value: the policy decides
            results = exc
        return self._finish(items, results)

    async def ascore_items(
        self, items: Sequence[RewardItem], *, coalesce: bool = True, refuse_when_full: bool = False
    ) -> RewardBatch:
        """Async `score_items`: concurrent calls are coalesced into shared backend batches.

        With `refuse_when_full`, a full queue raises `BackendUnavailableError` (the server
        answers 503) instead of failing the items.
        """
        valid = [item for item in items if not isinstance(item, Invalid)]
        if not valid:
            return self._finish(items, [])
        loop = asyncio.get_running_loop()
        if self._judge is None:  # first use builds the judge (loads a model): not on the loop
            await loop.run_in_executor(None, lambda: self.judge)
        future = self._submit(valid, coalesce=coalesce, refuse_when_full=refuse_when_full)
        try:
            results: list[JudgeResult] | BaseException = await asyncio.wait_for(
                asyncio.wrap_future(future), self.timeout_s
            )
        except TimeoutError:
            results = TimeoutError(f"no judgment within {self.timeout_s} s")
        except Exception as exc:
            results = exc
        return self._finish(items, results)

    def _submit(
        self, valid: list[Sample | Pair], *, coalesce: bool, refuse_when_full: bool
    ) -> Future[list[JudgeResult]]:
        """Queue the items with the call's deadline: past it the backend stops their work."""
        deadline = None if self.timeout_s is None else time.monotonic() + self.timeout_s
        try:
            return self.worker().submit(valid, coalesce=coalesce, deadline=deadline)
        except JudgeError as exc:
            if refuse_when_full:
                raise
            failed: Future[list[JudgeResult]] = Future()
            failed.set_exception(exc)
            return failed

    def _finish(
        self, items: Sequence[RewardItem], results: list[JudgeResult] | BaseException
    ) -> RewardBatch:
        outcomes: list[RewardOutcome] = []
        judged = iter(results) if isinstance(results, list) else None
        for item in items:
            if isinstance(item, Invalid):
                outcomes.append(self._failed(ErrorKind.INVALID_INPUT.value, item.reason))
            elif judged is None:
                assert isinstance(results, BaseException)
                kind = ErrorKind.TIMEOUT.value if isinstance(results, TimeoutError) else "backend"
                if isinstance(results, ConfigError):
                    raise results
                outcomes.append(self._failed(kind, f"{type(results).__name__}: {results}"))
            else:
                outcomes.append(self._shape(next(judged)))
        batch = RewardBatch(tuple(outcomes))
        if self.on_error == "raise" and (failed := [o for o in outcomes if o.error is not None]):
            first = failed[0]
            error_type = (
                InputError if first.error_kind == ErrorKind.INVALID_INPUT else GenerationError
            )
            raise error_type(
                f"reward {self.__name__}: {len(failed)} of {len(outcomes)} items failed; "
                f"first ({first.error_kind}): {first.error}",
                hint="on_error='none' gives failed items no reward instead of stopping",
            )
        return batch

    def _shape(self, result: JudgeResult) -> RewardOutcome:
        if isinstance(result, PairJudgment):
            score = result.p_a
            failed_rules: tuple[str, ...] = ()
        else:
            score = result.score
            failed_rules = tuple(
                v.criterion_id
                for v in result.verdicts
                if v.criterion_id in self._hard_rules and v.verdict == "no"
            )
        if result.error is not None or score is None:
            error = result.error or "the judge gave no score"
            kind = result.error_kind or ErrorKind.GENERATION
            outcome = self._failed(f"judge_{kind.value}", error)
            return RewardOutcome(outcome.reward, None, error, outcome.error_kind, result)
        reward = self.scale * score + self.offset - self.hard_rule_penalty * len(failed_rules)
        return RewardOutcome(reward, score, judgment=result, failed_hard_rules=failed_rules)

    def _failed(self, kind: str, message: str) -> RewardOutcome:
        with self._lock:
            self.failure_counts[kind] += 1
            first = kind not in self._logged_kinds
            self._logged_kinds.add(kind)
        if first:
            logger.warning(
                "reward %s: an item failed (%s: %s); later %s failures are counted, not logged",
                self.__name__,
                kind,
                message[:300],
                kind,
            )
        value = None if isinstance(self.on_error, str) else float(self.on_error)
        return RewardOutcome(value, None, message, kind)

    # -- TRL ----------------------------------------------------------------------------------

    def trl_items(
        self, prompts: Sequence[Any], completions: Sequence[Any], columns: Mapping[str, Any]
    ) -> list[RewardItem]:
        """Turn TRL's prompts, completions (strings or message lists) and columns into items."""
        if len(prompts) != len(completions):
            raise InputError(f"{len(prompts)} prompts but {len(completions)} completions")
        references = columns.get(self.reference_column) if self.reference_column else None
        baselines = columns.get(self.baseline_column) if self.baseline_column else None
        items: list[RewardItem] = []
        for index, (prompt, completion) in enumerate(zip(prompts, completions, strict=True)):
            try:
                context, response = read_completion(completion)
                fields = with_context(prompt_fields(prompt), context)
            except InputError as exc:
                items.append(Invalid(f"item {index}: {exc.message}"))
                continue
            reference = references[index] if references is not None else None
            baseline = baselines[index] if baselines is not None else None
            items.append(build_item(str(index), fields, response, reference, baseline))
        return items

    def __call__(
        self,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        completion_ids: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> list[float | None]:
        """TRL's reward-function convention: one reward (or None) per completion."""
        batch = self.score_items(self.trl_items(prompts, completions, kwargs))
        self.log_to_trl(batch, kwargs)
        return batch.rewards

    def log_to_trl(self, batch: RewardBatch, kwargs: Mapping[str, Any]) -> None:
        """Log per-criterion mean P(yes) and the failure rate through TRL's callbacks, if given."""
        log_metric = kwargs.get("log_metric")
        if callable(log_metric) and batch.outcomes:
            for criterion, mean in batch.criterion_means().items():
                log_metric(f"{self.__name__}/p_yes/{criterion}", mean)
            failed = sum(o.error is not None for o in batch.outcomes)
            log_metric(f"{self.__name__}/failed", failed / len(batch.outcomes))
        log_extra = kwargs.get("log_extra")
        if callable(log_extra):
            log_extra(f"{self.__name__}/error", [o.error for o in batch.outcomes])

    def as_async(self) -> AsyncRubricReward:
        """This reward with an ``async __call__``, which TRL runs concurrently with others."""
        return AsyncRubricReward(self)


class AsyncRubricReward:
    """The async form of a `RubricReward` (TRL awaits ``async __call__`` reward functions)."""

    def __init__(self, reward: RubricReward) -> None:
        self.reward = reward
        self.__name__ = reward.__name__

    async def __call__(
        self,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        completion_ids: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> list[float | None]:
        """TRL's convention, awaited: one reward (or None) per completion."""
        items = self.reward.trl_items(prompts, completions, kwargs)
        batch = await self.reward.ascore_items(items, coalesce=False)
        self.reward.log_to_trl(batch, kwargs)
        return batch.rewards


__all__ = ["AsyncRubricReward", "OnError", "RewardBatch", "RewardOutcome", "RubricReward"]
