"""The `Judge` facade: score samples or compare pairs in as few backend batches as possible."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from judge.backends import create_backend
from judge.backends.base import Backend
from judge.errors import ConfigError
from judge.library import load_rubric
from judge.prompting import PromptLibrary, default_prompts
from judge.runner.likert import check_scale
from judge.runner.pairwise import TIE_MARGIN, Method, PairPlan, compare_pairs
from judge.runner.plan import PointwisePlanner
from judge.runner.requests import (
    DEFAULT_SAMPLE_TEMPERATURE,
    DEPTH_TEMPLATE,
    LIKERT_TEMPLATE,
    PAIRWISE_TEMPLATE,
    POINTWISE_TEMPLATE,
    PRINCIPLES_TEMPLATE,
    ROUTE_TEMPLATE,
    SOLVE_TEMPLATE,
    SYSTEM_TEMPLATE,
    RequestBuilder,
)
from judge.runner.rounds import BatchStats
from judge.runner.strategies import (
    MAX_DEPTH_CRITERIA,
    STRATEGIES,
    ScoringPlan,
    Strategy,
    score_samples,
)
from judge.types import Judgment, Pair, PairJudgment, Rubric, Sample, stable_hash

__all__ = ["BatchStats", "Calibrating", "Judge"]

logger = logging.getLogger(__name__)


class Calibrating(Protocol):
    """What `Judge` needs of a calibrator (`calibration.Calibrator` is one)."""

    def calibrate_judgment(self, judgment: Judgment, *, force: bool = False) -> Judgment:
        """Return the judgment with a calibrated score; refuse another configuration."""
        ...

    def calibrate_pair(self, judgment: PairJudgment, *, force: bool = False) -> PairJudgment:
        """Return the pair judgment with a calibrated P(a); refuse another configuration."""
        ...


def _with_probs_source(judgment: Any, stats: BatchStats) -> Any:
    """Record where the verdict probabilities were read from (None: no probabilities)."""
    if judgment.error is not None:
        return judgment
    source = ", ".join(sorted(stats.probs_sources)) or None
    return judgment.model_copy(update={"details": {**judgment.details, "probs_source": source}})


class Judge:
    """Scores responses against a rubric, or compares two, with a model backend.

    `strategy` picks how the judge reasons (see `judge.runner.strategies`): ``breadth`` (every
    criterion, one batch), ``depth`` (solve, then verify the critical criteria: two batches) or
    ``auto`` (route each sample: one more batch). `samples` > 1 draws that many judgments per
    request in the same batch (self-consistency). `principles` > 0 adds that many sampled
    principle lists to breadth; `likert` adds a 1-N rating. Malformed outputs are retried
    `retries` times, each time in one further batch, before they are recorded as failures.
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
        strategy: Strategy = "breadth",
        samples: int = 1,
        sample_temperature: float = DEFAULT_SAMPLE_TEMPERATURE,
        principles: int = 0,
        likert: int | None = None,
        depth_criteria: int = MAX_DEPTH_CRITERIA,
        max_solution_tokens: int = 384,
        tie_margin: float = TIE_MARGIN,
        calibrator: Calibrating | None = None,
        force_calibrator: bool = False,
        **backend_options: Any,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ConfigError(
                f"unknown strategy {strategy!r}", hint=f"choose one of {', '.join(STRATEGIES)}"
            )
        for name, value, low in (
            ("samples", samples, 1),
            ("principles", principles, 0),
            ("retries", retries, 0),
        ):
            if value < low:
                raise ConfigError(f"{name} {value} < {low}")
        if not 1 <= depth_criteria <= MAX_DEPTH_CRITERIA:
            raise ConfigError(f"depth_criteria {depth_criteria} is outside 1..{MAX_DEPTH_CRITERIA}")
        if not 0.0 <= tie_margin < 0.5:
            raise ConfigError(f"tie_margin {tie_margin} is outside [0, 0.5)")
        if samples > 1 and temperature == 0 and sample_temperature <= 0:
            raise ConfigError("samples > 1 needs a temperature > 0: greedy draws are all the same")
        self.backend: Backend = (
            create_backend(backend, **backend_options) if isinstance(backend, str) else backend
        )
        self.rubric = load_rubric(rubric) if isinstance(rubric, str) else rubric
        self.prompts = prompts or default_prompts()
        self.hard_rule_cap = hard_rule_cap
        self.retries = retries
        self.strategy: Strategy = strategy
        self.principles = principles
        self.likert = None if likert is None else check_scale(likert)
        self.depth_criteria = depth_criteria
        self.tie_margin = tie_margin
        self.builder = RequestBuilder(
            prompts=self.prompts,
            capabilities=self.backend.capabilities,
            max_rationale_chars=max_rationale_chars,
            temperature=temperature,
            seed=seed,
            samples=samples,
            sample_temperature=sample_temperature,
            max_solution_tokens=max_solution_tokens,
        )
        self.calibrator = calibrator
        self.force_calibrator = force_calibrator
        self.last_stats = BatchStats()

    @property
    def planner(self) -> PointwisePlanner:
        """The breadth planner of this judge's settings (the foundation's interface)."""
        return PointwisePlanner(
            prompts=self.prompts,
            capabilities=self.backend.capabilities,
            max_rationale_chars=self.builder.max_rationale_chars,
            temperature=self.builder.temperature,
            seed=self.builder.seed,
        )

    @property
    def samples(self) -> int:
        """Judgments drawn per judged request (1: no self-consistency)."""
        return self.builder.samples

    def _score_templates(self) -> tuple[str, ...]:
        names = {SYSTEM_TEMPLATE}
        if self.strategy in ("breadth", "auto"):
            names.add(POINTWISE_TEMPLATE)
            if self.principles:
                names.add(PRINCIPLES_TEMPLATE)
        if self.strategy in ("depth", "auto"):
            names.update((DEPTH_TEMPLATE, SOLVE_TEMPLATE))
        if self.strategy == "auto":
            names.add(ROUTE_TEMPLATE)
        if self.likert is not None:
            names.add(LIKERT_TEMPLATE)
        return tuple(sorted(names))

    def _compare_templates(self, method: Method) -> tuple[str, ...]:
        if method == "rubric":
            return (PAIRWISE_TEMPLATE, POINTWISE_TEMPLATE, SYSTEM_TEMPLATE)
        return (PAIRWISE_TEMPLATE,)

    @property
    def template_fingerprint(self) -> str:
        """Hash of the prompt templates `score` renders under this judge's strategy."""
        return self.prompts.fingerprint(*self._score_templates())

    def _decoding(self) -> dict[str, Any]:
        """The model and decoding settings every kind of judgment depends on."""
        builder = self.builder
        return {
            "model": self.backend.model_id,
            "capabilities": self.backend.capabilities.model_dump(mode="json"),
            "max_rationale_chars": builder.max_rationale_chars,
            "temperature": builder.temperature,
            "seed": builder.seed,
            "samples": builder.samples,
            "sample_temperature": builder.judged_temperature,
        }

    @property
    def settings_fingerprint(self) -> str:
        """Hash of everything that changes a judgment: model, rubric, templates, sampling, rules."""
        return stable_hash(
            {
                **self._decoding(),
                "rubric": self.rubric.fingerprint,
                "templates": self.template_fingerprint,
                "hard_rule_cap": self.hard_rule_cap,
                "strategy": self.strategy,
                "principles": self.principles,
                "likert": self.likert,
                "depth_criteria": self.depth_criteria,
                "max_solution_tokens": self.builder.max_solution_tokens,
            }
        )

    def compare_fingerprints(self, method: Method = "rubric") -> dict[str, str]:
        """The rubric, template and settings fingerprints of `compare` with `method`.

        Direct comparison does not read the rubric, so its fingerprints do not depend on it.
        """
        templates = self.prompts.fingerprint(*self._compare_templates(method))
        settings: dict[str, Any] = {
            **self._decoding(),
            "method": method,
            "templates": templates,
            "tie_margin": self.tie_margin,
        }
        rubric = ""
        if method == "rubric":
            rubric = self.rubric.fingerprint
            settings["rubric"] = rubric
        return {
            "rubric_fingerprint": rubric,
            "template_fingerprint": templates,
            "settings_fingerprint": stable_hash(settings),
        }

    def score(self, samples: Sequence[Sample]) -> list[Judgment]:
        """Judge each sample under this judge's strategy; one Judgment per sample, in order."""
        stats = BatchStats()
        plan = ScoringPlan(
            builder=self.builder,
            rubric=self.rubric,
            hard_rule_cap=self.hard_rule_cap,
            principles=self.principles,
            likert=self.likert,
            depth_criteria=self.depth_criteria,
            record={
                "model": self.backend.model_id,
                "rubric": self.rubric.name,
                "rubric_fingerprint": self.rubric.fingerprint,
                "template_fingerprint": self.template_fingerprint,
                "settings_fingerprint": self.settings_fingerprint,
            },
        )
        try:
            judgments = score_samples(
                self.backend, plan, samples, self.strategy, stats, retries=self.retries
            )
        finally:
            self.last_stats = stats
        judgments = [_with_probs_source(judgment, stats) for judgment in judgments]
        if self.calibrator is not None:
            judgments = [
                self.calibrator.calibrate_judgment(judgment, force=self.force_calibrator)
                for judgment in judgments
            ]
        return judgments

    def compare(self, pairs: Sequence[Pair], *, method: Method = "rubric") -> list[PairJudgment]:
        """Judge which response of each pair is better; one PairJudgment per pair, in order.

        ``rubric`` judges both responses pointwise on every criterion and compares the weighted
        P(yes) margin, falling back to a direct comparison (with the rubric's criteria in the
        prompt) when the margin is a tie; ``direct`` asks which is better, without the rubric.
        Direct comparisons always run both orders in one batch. Identical responses are a tie
        without a model call; an empty response raises InputError naming the pair and field.
        """
        if method not in ("rubric", "direct"):
            raise ConfigError(f"unknown compare method {method!r}", hint="rubric or direct")
        stats = BatchStats()
        plan = PairPlan(
            builder=self.builder,
            rubric=self.rubric,
            method=method,
            tie_margin=self.tie_margin,
            record={"model": self.backend.model_id, **self.compare_fingerprints(method)},
        )
        try:
            judgments = compare_pairs(self.backend, plan, pairs, stats, retries=self.retries)
        finally:
            self.last_stats = stats
        logger.info(
            "compared %d pairs (%s): %d requests in %d backend batch calls (%s)",
            len(pairs),
            method,
            stats.requests,
            stats.backend_calls,
            ", ".join(stats.rounds) or "no rounds",
        )
        judgments = [_with_probs_source(judgment, stats) for judgment in judgments]
        if self.calibrator is not None:
            judgments = [
                self.calibrator.calibrate_pair(judgment, force=self.force_calibrator)
                for judgment in judgments
            ]
        return judgments

    def close(self) -> None:
        """Release the backend."""
        self.backend.close()
