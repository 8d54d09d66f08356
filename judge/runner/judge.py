"""The `Judge` facade: score samples against a rubric in as few backend batches as possible."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from judge.backends import create_backend
from judge.backends.base import Backend, group_by_request
from judge.prompting import PromptLibrary, default_prompts
from judge.rubric.library import load_rubric
from judge.runner.aggregate import aggregate
from judge.runner.parse import read_verdict
from judge.runner.plan import PlannedRequest, PointwisePlanner
from judge.types import CriterionVerdict, Judgment, Rubric, Sample, Usage, stable_hash

logger = logging.getLogger(__name__)


@dataclass
class BatchStats:
    """What the last call cost: backend batch calls, requests, retried requests."""

    backend_calls: int = 0
    requests: int = 0
    retried: int = 0
    usage: Usage = field(default_factory=Usage)


@dataclass(frozen=True)
class _Outcome:
    """A criterion verdict and the tokens it cost (retries included)."""

    verdict: CriterionVerdict
    usage: Usage


def _retryable(verdict: CriterionVerdict) -> bool:
    """Malformed or failed outputs are retried; a prompt over the context never fits on retry."""
    return verdict.error is not None and "context" not in verdict.error


class Judge:
    """Scores responses against a rubric with a model backend.

    Every criterion of every sample is one request; all requests of a call go to the backend
    in one batch, and malformed outputs are retried once more in one further batch before
    they are recorded as failures.
    """

    def __init__(
        self,
        backend: Backend | str = "transformers",
        rubric: Rubric | str = "helpfulness",
        *,
        prompts: PromptLibrary | None = None,
        max_rationale_chars: int = 200,
        temperature: float = 0.0,
        seed: int | None = 0,
        hard_rule_cap: bool = True,
        retries: int = 1,
        **backend_options: Any,
    ) -> None:
        self.backend: Backend = (
            create_backend(backend, **backend_options) if isinstance(backend, str) else backend
        )
        self.rubric = load_rubric(rubric) if isinstance(rubric, str) else rubric
        self.prompts = prompts or default_prompts()
        self.hard_rule_cap = hard_rule_cap
        self.retries = retries
        self.planner = PointwisePlanner(
            prompts=self.prompts,
            capabilities=self.backend.capabilities,
            max_rationale_chars=max_rationale_chars,
            temperature=temperature,
            seed=seed,
        )
        self.last_stats = BatchStats()

    @property
    def template_fingerprint(self) -> str:
        """Hash of the prompt templates this judge renders."""
        return self.prompts.fingerprint(*self.planner.template_names)

    @property
    def settings_fingerprint(self) -> str:
        """Hash of everything that changes a judgment: model, rubric, templates, sampling, rules."""
        return stable_hash(
            {
                "model": self.backend.model_id,
                "rubric": self.rubric.fingerprint,
                "templates": self.template_fingerprint,
                "max_rationale_chars": self.planner.max_rationale_chars,
                "temperature": self.planner.temperature,
                "seed": self.planner.seed,
                "hard_rule_cap": self.hard_rule_cap,
                "capabilities": self.backend.capabilities.model_dump(mode="json"),
            }
        )

    def score(self, samples: Sequence[Sample]) -> list[Judgment]:
        """Judge each sample on every criterion; one Judgment per sample, in order."""
        stats = BatchStats()
        planned = self.planner.plan(samples, self.rubric)
        outcomes = self._run(planned, stats)
        for _ in range(self.retries):
            failed = {
                item.request.id for item in planned if _retryable(outcomes[item.request.id].verdict)
            }
            if not failed:
                break
            stats.retried += len(failed)
            logger.info("retrying %d malformed or failed verdicts in one batch", len(failed))
            # Same grammar, but sampled with another seed: a greedy retry would repeat itself.
            retry_planner = dataclasses.replace(
                self.planner,
                temperature=max(self.planner.temperature, 0.5),
                seed=(self.planner.seed or 0) + 1,
            )
            retry_plan = retry_planner.plan(samples, self.rubric, only=failed)
            for request_id, retry in self._run(retry_plan, stats).items():
                outcomes[request_id] = _Outcome(
                    retry.verdict, outcomes[request_id].usage + retry.usage
                )
        self.last_stats = stats
        logger.info(
            "scored %d samples x %d criteria: %d requests in %d backend batch calls",
            len(samples),
            len(self.rubric.leaves()),
            stats.requests,
            stats.backend_calls,
        )
        by_sample: dict[int, list[PlannedRequest]] = {}
        for item in planned:
            by_sample.setdefault(item.sample_index, []).append(item)
        return [
            self._judgment(sample, by_sample.get(index, []), outcomes)
            for index, sample in enumerate(samples)
        ]

    def _run(self, planned: Sequence[PlannedRequest], stats: BatchStats) -> dict[str, _Outcome]:
        """Send one batch to the backend and read a verdict from each generation."""
        requests = [item.request for item in planned]
        generations = group_by_request(requests, self.backend.generate(requests))
        stats.backend_calls += 1
        stats.requests += len(requests)
        outcomes = {}
        for item in planned:
            generation = generations[item.request.id][0]
            stats.usage = stats.usage + generation.usage
            outcomes[item.request.id] = _Outcome(
                read_verdict(item.criterion.id, generation), generation.usage
            )
        return outcomes

    def _judgment(
        self, sample: Sample, mine: Sequence[PlannedRequest], outcomes: dict[str, _Outcome]
    ) -> Judgment:
        criteria = [item.criterion for item in mine]
        verdicts = [outcomes[item.request.id].verdict for item in mine]
        usage = Usage()
        for item in mine:
            usage = usage + outcomes[item.request.id].usage
        common: dict[str, Any] = {
            "sample_id": sample.id,
            "verdicts": tuple(verdicts),
            "model": self.backend.model_id,
            "rubric": self.rubric.name,
            "rubric_fingerprint": self.rubric.fingerprint,
            "template_fingerprint": self.template_fingerprint,
            "settings_fingerprint": self.settings_fingerprint,
            "usage": usage,
        }
        failures = [f"{v.criterion_id}: {v.error}" for v in verdicts if v.error is not None]
        if failures:
            return Judgment(error="; ".join(failures), **common)
        result = aggregate(criteria, verdicts, hard_rule_cap=self.hard_rule_cap)
        details: dict[str, Any] = {}
        if result.confidence is None:
            details["confidence"] = "unavailable: the backend gives no token probabilities"
        return Judgment(
            score=result.score,
            confidence=result.confidence,
            capped_by=result.capped_by,
            details=details,
            **common,
        )

    def close(self) -> None:
        """Release the backend."""
        self.backend.close()
