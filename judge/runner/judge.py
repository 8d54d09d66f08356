"""The `Judge` facade: score samples or compare pairs in as few backend batches as possible."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from judge.backends import create_backend
from judge.backends.base import Backend, Capabilities, require_batch_invariance
from judge.errors import ConfigError
from judge.library import load_rubric
from judge.prompting import PromptContext, PromptLibrary, default_prompts
from judge.runner.calibrating import Calibrating, apply_calibrator
from judge.runner.deadline import with_deadline
from judge.runner.holistic import holistic_pair_flow, holistic_sample_flow
from judge.runner.naive import naive_pair_flows, naive_sample_flows
from judge.runner.pairwise import DEFAULT_METHOD, Method, PairPlan, pair_flows
from judge.runner.requests import (
    DEPTH_TEMPLATE,
    LIKERT_TEMPLATE,
    NAIVE_PAIRWISE_TEMPLATE,
    NAIVE_POINTWISE_TEMPLATE,
    PAIRWISE_TEMPLATE,
    POINTWISE_TEMPLATE,
    PRINCIPLES_TEMPLATE,
    ROUTE_TEMPLATE,
    SOLVE_TEMPLATE,
    SYSTEM_TEMPLATE,
    RequestBuilder,
)
from judge.runner.rounds import BatchStats, Flow, drive
from judge.runner.strategies import ScoringPlan, scoring_flows
from judge.settings import JudgeSettings
from judge.types import Criterion, Judgment, Pair, PairJudgment, Rubric, Sample, stable_hash

__all__ = ["BatchStats", "Calibrating", "Judge", "JudgingPlan"]

ANCHOR_TEMPLATE = "reference_anchor"
"""The template holding the text of the criterion that anchors samples with a reference."""
ANCHOR_ID = "agrees_with_reference"

logger = logging.getLogger(__name__)

Finish = Callable[[list[Any], BatchStats, int], tuple[list[Any], list[Any]]]


@dataclass(frozen=True)
class JudgingPlan:
    """A judge's flows for one call, before they run: driven alone or with other judges' plans.

    The first `count` flows are the judge's (one per sample or pair), the rest the naive
    baseline's; `finish` turns the flows' results into (judgments, baseline judgments).
    """

    flows: list[Flow[Any]]
    settings: JudgeSettings
    """The judge's settings (read, never copied: `retries` drives the flows)."""
    count: int
    _finish: Finish

    def finish(self, results: list[Any], stats: BatchStats) -> tuple[list[Any], list[Any]]:
        """The judge's judgments (calibrated where it has a calibrator) and the baseline's."""
        return self._finish(results, stats, self.count)


def _with_probs_source(judgment: Any, stats: BatchStats, capabilities: Capabilities) -> Any:
    """Record where the verdict probabilities came from and in which precision.

    `probs_source` is None without probabilities; the dtypes are recorded where the backend
    knows them (the Transformers backend does), so a coarse probability is never a surprise.
    """
    if judgment.error is not None:
        return judgment
    source = ", ".join(sorted(stats.probs_sources)) or None
    details = {**judgment.details, "probs_source": source}
    if capabilities.compute_dtype is not None:
        details["compute_dtype"] = capabilities.compute_dtype
    if source is not None and capabilities.probs_dtype is not None:
        details["probs_dtype"] = capabilities.probs_dtype
    return judgment.model_copy(update={"details": details})


class Judge:
    """Scores responses against a rubric, or compares two, with a model backend.

    Its `settings` (a `JudgeSettings`) say how it judges: `strategy` ``breadth`` (every
    criterion, one batch), ``depth`` (solve, then verify the critical criteria: two batches) or
    ``auto`` (route each sample: one more batch); `samples` > 1 draws that many judgments per
    request in the same batch (self-consistency); `principles`, `likert`, `retries` and the
    decoding settings are documented on `JudgeSettings`. Settings may also be given as
    keywords (``Judge(strategy="depth")`` equals ``Judge(settings=JudgeSettings(strategy=
    "depth"))``), applied on top of `settings`; any other keyword is refused. A backend named by
    a string is created with `backend_options` (``{"model": ..., "base_url": ...}``).
    """

    def __init__(
        self,
        backend: Backend | str = "transformers",
        rubric: Rubric | str = "helpfulness",
        *,
        settings: JudgeSettings | None = None,
        backend_options: Mapping[str, Any] | None = None,
        prompts: PromptLibrary | None = None,
        calibrator: Calibrating | None = None,
        force_calibrator: bool = False,
        **setting_keywords: Any,
    ) -> None:
        self.settings: JudgeSettings = JudgeSettings.with_keywords(settings, **setting_keywords)
        if backend_options and not isinstance(backend, str):
            raise ConfigError(
                f"backend_options {sorted(backend_options)} given with a built backend",
                hint="pass the options to the backend when you build it, or name the backend",
            )
        if self.settings.score_rule == "fitted" and calibrator is None:
            raise ConfigError(
                "score_rule 'fitted' needs the fitted criteria weights as the calibrator",
                hint="fit them with `judge calibrate fit-criteria` and pass --calibrator, "
                "or use score_rule mean or cap",
            )
        if self.settings.abstain_band > 0 and calibrator is None:
            raise ConfigError(
                f"abstain_band {self.settings.abstain_band} needs a calibrator",
                hint="fit one with `judge calibrate fit` and pass --calibrator, or drop the band",
            )
        self.backend: Backend = (
            create_backend(backend, **(backend_options or {}))
            if isinstance(backend, str)
            else backend
        )
        if self.settings.batch_invariant:
            require_batch_invariance(self.backend)
        self.rubric = load_rubric(rubric) if isinstance(rubric, str) else rubric
        self.prompts = prompts or default_prompts()
        self.builder = RequestBuilder(self.prompts, self.backend.capabilities, self.settings)
        self._anchor: Criterion | None = None
        if self.settings.reference_anchor:
            text = self.prompts.render(ANCHOR_TEMPLATE, PromptContext()).strip()
            self._anchor = Criterion(id=ANCHOR_ID, kind="hard_rule", text=text)
        self.calibrator = calibrator
        self.force_calibrator = force_calibrator
        self.last_stats = BatchStats()

    def _score_templates(self) -> tuple[str, ...]:
        names = {SYSTEM_TEMPLATE}
        if self.settings.reference_anchor:
            names.add(ANCHOR_TEMPLATE)
        if self.settings.strategy in ("breadth", "auto"):
            names.add(POINTWISE_TEMPLATE)
            if self.settings.principles:
                names.add(PRINCIPLES_TEMPLATE)
        if self.settings.strategy in ("depth", "auto"):
            names.update((DEPTH_TEMPLATE, SOLVE_TEMPLATE))
        if self.settings.strategy == "auto":
            names.add(ROUTE_TEMPLATE)
        if self.settings.likert is not None:
            names.add(LIKERT_TEMPLATE)
        if self.settings.holistic_weight > 0:
            names.add(NAIVE_POINTWISE_TEMPLATE)
        return tuple(sorted(names))

    def _compare_templates(self, method: Method) -> tuple[str, ...]:
        names: tuple[str, ...] = (PAIRWISE_TEMPLATE,)
        if method == "rubric":
            names = (PAIRWISE_TEMPLATE, POINTWISE_TEMPLATE, SYSTEM_TEMPLATE)
        if self.settings.holistic_weight > 0:
            names += (NAIVE_PAIRWISE_TEMPLATE,)
        return names

    @property
    def template_fingerprint(self) -> str:
        """Hash of the prompt templates `score` renders under this judge's strategy."""
        return self.prompts.fingerprint(*self._score_templates())

    def _decoding(self) -> dict[str, Any]:
        """The model and settings every kind of judgment depends on."""
        capabilities = self.backend.capabilities
        # `cacheable` changes no judgment; an unset revision is left out so that fingerprints
        # stay what they were before the field existed.
        left_out = {"cacheable"} | (
            {"model_revision"} if not capabilities.model_revision else set()
        )
        return {
            "model": self.backend.model_id,
            "capabilities": capabilities.model_dump(mode="json", exclude=left_out),
            "settings": self.settings.fingerprint,
        }

    @property
    def settings_fingerprint(self) -> str:
        """Hash of everything that changes a judgment: model, rubric, templates and settings.

        The settings enter as the hash of the whole `JudgeSettings`, so no setting can escape it.
        """
        return self._score_fingerprints()["settings_fingerprint"]

    def _score_fingerprints(self) -> dict[str, str]:
        """The rubric, template and settings fingerprints of `score`, each computed once."""
        rubric, templates = self.rubric.fingerprint, self.template_fingerprint
        settings = stable_hash({**self._decoding(), "rubric": rubric, "templates": templates})
        return {
            "rubric_fingerprint": rubric,
            "template_fingerprint": templates,
            "settings_fingerprint": settings,
        }

    def compare_fingerprints(self, method: Method = DEFAULT_METHOD) -> dict[str, str]:
        """The rubric, template and settings fingerprints of `compare` with `method`.

        Direct comparison does not read the rubric, so its fingerprints do not depend on it.
        """
        templates = self.prompts.fingerprint(*self._compare_templates(method))
        settings: dict[str, Any] = {
            **self._decoding(),
            "method": method,
            "templates": templates,
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

    def naive_fingerprints(self, mode: str) -> dict[str, str]:
        """The template and settings fingerprints of the naive baseline in `mode` (point/pairwise).

        The baseline reads no rubric; it depends on the model, the decoding settings and its
        one template.
        """
        template = NAIVE_POINTWISE_TEMPLATE if mode == "pointwise" else NAIVE_PAIRWISE_TEMPLATE
        templates = self.prompts.fingerprint(template)
        return {
            "rubric_fingerprint": "",
            "template_fingerprint": templates,
            "settings_fingerprint": stable_hash(
                {**self._decoding(), "naive": mode, "templates": templates}
            ),
        }

    def _plain_record(self, mode: str) -> dict[str, str]:
        """What the plain question's judgments carry (the baseline's and the holistic one's)."""
        return {"model": self.backend.model_id, **self.naive_fingerprints(mode)}

    def score(self, samples: Sequence[Sample], *, deadline: float | None = None) -> list[Judgment]:
        """Judge each sample under this judge's strategy; one Judgment per sample, in order.

        Past `deadline` (``time.monotonic()`` seconds) the backend stops, and the samples it
        had not judged fail with kind ``timeout``.
        """
        return self._score(samples, deadline=deadline, naive=False)[0]

    def score_with_naive(
        self, samples: Sequence[Sample], *, deadline: float | None = None
    ) -> tuple[list[Judgment], list[Judgment]]:
        """`score`, and the naive baseline's judgment of each sample, in the same batches.

        The baseline (`judge.runner.naive`) asks the model one yes/no question per sample; its
        requests join the judge's first round, so the pair costs the judge's backend calls.
        The baseline is never calibrated.
        """
        return self._score(samples, deadline=deadline, naive=True)

    def plan_score(self, samples: Sequence[Sample], *, naive: bool = False) -> JudgingPlan:
        """The flows of `score` (and of the naive baseline), to be driven with other plans.

        `drive_plans` runs several judges' plans over one backend in shared batches; `finish`
        turns a plan's results into this judge's judgments and the baseline's.
        """
        plan = ScoringPlan(
            builder=self.builder,
            rubric=self.rubric,
            anchor=self._anchor,
            record={
                "model": self.backend.model_id,
                "rubric": self.rubric.name,
                **self._score_fingerprints(),
            },
        )
        flows: list[Flow[Any]] = list(scoring_flows(plan, samples, self.settings.strategy))
        plain = self._plain_record("pointwise") if naive or self.settings.holistic_weight else {}
        if self.settings.holistic_weight > 0:
            flows = [
                holistic_sample_flow(flow, self.builder, plain, index, sample)
                for index, (flow, sample) in enumerate(zip(flows, samples, strict=True))
            ]
        if naive:
            flows += naive_sample_flows(self.builder, plain, samples)
        return JudgingPlan(flows, self.settings, len(samples), self._finish_scores)

    def _finish_scores(
        self, results: list[Any], stats: BatchStats, count: int
    ) -> tuple[list[Any], list[Any]]:
        capabilities = self.backend.capabilities
        results = [_with_probs_source(judgment, stats, capabilities) for judgment in results]
        judgments = apply_calibrator(
            self.calibrator,
            results[:count],
            force=self.force_calibrator,
            abstain_band=self.settings.abstain_band,
        )
        return judgments, results[count:]

    def _score(
        self, samples: Sequence[Sample], *, deadline: float | None, naive: bool
    ) -> tuple[list[Judgment], list[Judgment]]:
        stats = BatchStats()
        plan = self.plan_score(samples, naive=naive)
        try:
            results = drive(
                with_deadline(self.backend, deadline),
                plan.flows,
                stats,
                retries=plan.settings.retries,
            )
        finally:
            self.last_stats = stats
        logger.info(
            "scored %d samples with strategy %s%s: %d requests in %d backend batch calls (%s)",
            len(samples),
            self.settings.strategy,
            " and the naive baseline" if naive else "",
            stats.requests,
            stats.backend_calls,
            ", ".join(stats.rounds) or "no rounds",
        )
        return plan.finish(results, stats)

    def compare(
        self,
        pairs: Sequence[Pair],
        *,
        method: Method = DEFAULT_METHOD,
        deadline: float | None = None,
    ) -> list[PairJudgment]:
        """Judge which response of each pair is better; one PairJudgment per pair, in order.

        ``rubric`` judges both responses pointwise on every criterion and compares the weighted
        P(yes) margin, falling back to a direct comparison (with the rubric's criteria in the
        prompt) when the margin is a tie; ``direct`` asks which is better, without the rubric.
        Direct comparisons always run both orders in one batch. ``rubric`` is the default
        everywhere (`judge.runner.pairwise.DEFAULT_METHOD` says why). Identical responses are a
        tie and a blank response loses to a non-blank one, both without a model call.
        `deadline` works as in `score`.
        """
        return self._compare(pairs, method=method, deadline=deadline, naive=False)[0]

    def compare_with_naive(
        self,
        pairs: Sequence[Pair],
        *,
        method: Method = DEFAULT_METHOD,
        deadline: float | None = None,
    ) -> tuple[list[PairJudgment], list[PairJudgment]]:
        """`compare`, and the naive baseline's A/B answer (both orders) per pair, same batches."""
        return self._compare(pairs, method=method, deadline=deadline, naive=True)

    def plan_compare(
        self, pairs: Sequence[Pair], *, method: Method = DEFAULT_METHOD, naive: bool = False
    ) -> JudgingPlan:
        """The flows of `compare` (and of the naive baseline), to be driven with other plans."""
        if method not in ("rubric", "direct"):
            raise ConfigError(f"unknown compare method {method!r}", hint="rubric or direct")
        plan = PairPlan(
            builder=self.builder,
            rubric=self.rubric,
            method=method,
            record={"model": self.backend.model_id, **self.compare_fingerprints(method)},
        )
        flows: list[Flow[Any]] = list(pair_flows(plan, pairs))
        plain = self._plain_record("pairwise") if naive or self.settings.holistic_weight else {}
        if self.settings.holistic_weight > 0:
            flows = [
                holistic_pair_flow(flow, self.builder, plain, index, pair)
                for index, (flow, pair) in enumerate(zip(flows, pairs, strict=True))
            ]
        if naive:
            flows += naive_pair_flows(self.builder, plain, pairs, self.settings.tie_margin)
        return JudgingPlan(flows, self.settings, len(pairs), self._finish_comparisons)

    def _finish_comparisons(
        self, results: list[Any], stats: BatchStats, count: int
    ) -> tuple[list[Any], list[Any]]:
        capabilities = self.backend.capabilities
        results = [_with_probs_source(judgment, stats, capabilities) for judgment in results]
        judgments = apply_calibrator(self.calibrator, results[:count], force=self.force_calibrator)
        return judgments, results[count:]

    def _compare(
        self,
        pairs: Sequence[Pair],
        *,
        method: Method,
        deadline: float | None,
        naive: bool,
    ) -> tuple[list[PairJudgment], list[PairJudgment]]:
        stats = BatchStats()
        plan = self.plan_compare(pairs, method=method, naive=naive)
        try:
            results = drive(
                with_deadline(self.backend, deadline),
                plan.flows,
                stats,
                retries=plan.settings.retries,
            )
        finally:
            self.last_stats = stats
        logger.info(
            "compared %d pairs (%s%s): %d requests in %d backend batch calls (%s)",
            len(pairs),
            method,
            ", and the naive baseline" if naive else "",
            stats.requests,
            stats.backend_calls,
            ", ".join(stats.rounds) or "no rounds",
        )
        return plan.finish(results, stats)

    def close(self) -> None:
        """Release the backend."""
        self.backend.close()
