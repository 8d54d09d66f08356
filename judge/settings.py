"""`JudgeSettings`: every setting that changes a judgment, documented and defaulted here once.

`Judge`, `RubricReward`, `RequestBuilder`, the CLI (`--config` YAML and the flags), the batch, eval
and probe jobs all take one `JudgeSettings` (``settings=``); `Judge` and `RubricReward` also take
settings as keywords, turned into one `JudgeSettings` by `JudgeSettings.with_keywords`. Its
`fingerprint` hashes the whole object, so a new setting can never escape the fingerprint that keys
caches, checkpoints and calibrators.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from judge.errors import ConfigError, describe_validation_error
from judge.types import stable_hash

Strategy = Literal["breadth", "depth", "auto"]
STRATEGIES: tuple[Strategy, ...] = ("breadth", "depth", "auto")
Reasoning = Literal["before", "after", "none"]
ScoreRule = Literal["cap", "mean", "fitted"]
SCORE_RULES: tuple[ScoreRule, ...] = ("cap", "mean", "fitted")
REASONINGS: tuple[Reasoning, ...] = ("before", "after", "none")
MAX_DEPTH_CRITERIA = 3
"""Depth verifies at most this many critical criteria (one solve, then a few checks)."""
MAX_LIKERT_SCALE = 9
"""Likert scores are one digit each, so that every score is one distinct token."""


class JudgeSettings(BaseModel):
    """How a judge judges: reasoning strategy, decoding, sampling, rules and retries."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    strategy: Strategy = "breadth"
    """breadth (every criterion, one batch: subjective tasks), depth (solve, then verify the
    critical criteria: objective tasks) or auto (route each sample: one more batch)."""
    max_rationale_chars: int = 200
    """Longest rationale per criterion (or per pairwise answer), in characters."""
    reasoning: Reasoning = "before"
    """before (a rationale, then the verdict), after (the verdict, then an optional rationale) or
    none (no decoding: P(yes) read from the next token at the verdict marker, one forward pass)."""
    temperature: float = 0.0
    """Decoding temperature of judged requests (0: greedy)."""
    seed: int | None = 0
    """Sampling seed passed to the backend (None: the backend's own)."""
    score_rule: ScoreRule = "mean"
    """How criterion verdicts become a score: mean (the weighted mean of P(yes)), cap (the mean
    capped at every hard rule's P(yes): one poorly judged hard rule binds every score) or
    fitted (a logistic fit over the criteria's log-odds, fitted from labels by `judge calibrate
    fit-criteria` and given as the calibrator; the raw score is the mean)."""
    reference_anchor: bool = False
    """Pointwise: a sample with a reference is also judged on `agrees_with_reference`
    (its text: prompts/reference_anchor.j2), which anchors the score: the score is on the side of
    1/2 that agreement chose, and the other criteria move it by at most half its distance
    from 1/2 (`judge.runner.aggregate.anchored`)."""
    holistic_weight: float = 0.0
    """Weight of the plain question in the judgment (0: the rubric alone). The judge also asks
    the question the naive baseline asks (pointwise: is the response a correct answer, with the
    reference when there is one; pairwise: which is better, in both orders), in the same batch,
    and the score is (1 - w) * rubric score + w * its P(yes) (pairs: P(A)). Judgments by rule
    (blank or gated responses, identical pairs) are left as they are (`judge.runner.holistic`)."""
    retries: int = 1
    """Malformed outputs are retried this many times, each time in one further batch."""
    samples: int = 1
    """Self-consistency: judgments drawn per judged request, in the same batch."""
    sample_temperature: float = 0.7
    """Temperature of the draws when `samples` > 1 and `temperature` is 0."""
    principles: int = 0
    """Breadth: sampled principle lists added to the rubric's criteria (0: none)."""
    likert: int | None = None
    """Also rate 1..N (G-Eval expected value), N in 2..9; None: no Likert rating."""
    depth_criteria: int = MAX_DEPTH_CRITERIA
    """Depth: how many critical criteria are verified, 1..3."""
    max_solution_tokens: int = 384
    """Depth: longest solution the judge writes before verifying."""
    tie_margin: float = 0.0
    """Pairwise: |P(A better) - 0.5| below this is a tie (the rubric method then compares
    directly); 0: only an exact 1/2 is a tie. P(A) is always reported, so a threshold can be
    set from data."""
    content_gate: bool = False
    """Score 0 by rule, without a model call, a response with no content beyond boilerplate
    (whitespace, punctuation, delimiter or chat tokens, openers like "Solution" or "Thought
    process:"); the judgment's details name the rule (`judge/runner/gate.py`)."""
    reference_depth: bool = False
    """Judge every sample that has a reference by depth against that reference (verify, no
    solve step), whatever the strategy: a wrong answer must match the reference to pass."""
    batch_invariant: bool = False
    """Refuse a backend that does not declare batch-invariant verdicts (a sample's P(yes) the
    same whatever batch it lands in): the local backend in float32 does, SGLang in its
    deterministic inference mode does, an OpenAI-compatible server cannot say."""
    abstain_band: float = 0.0
    """With a calibrator: a calibrated score within this distance of 0.5 is no verdict (an
    `abstained` failure) instead of a coin flip; 0: never abstain."""

    @model_validator(mode="before")
    @classmethod
    def _known_strategy(cls, data: Any) -> Any:
        strategy = data.get("strategy") if isinstance(data, dict) else None
        if strategy is not None and strategy not in STRATEGIES:
            raise ConfigError(
                f"unknown strategy {strategy!r}", hint=f"choose one of {', '.join(STRATEGIES)}"
            )
        if isinstance(data, dict) and "hard_rule_cap" in data:
            # The boolean this setting replaced: true is the cap rule, false the plain mean.
            data = dict(data)
            cap = data.pop("hard_rule_cap")
            data.setdefault("score_rule", "cap" if cap else "mean")
        rule = data.get("score_rule") if isinstance(data, dict) else None
        if rule is not None and rule not in SCORE_RULES:
            raise ConfigError(
                f"unknown score_rule {rule!r}", hint=f"choose one of {', '.join(SCORE_RULES)}"
            )
        reasoning = data.get("reasoning") if isinstance(data, dict) else None
        if reasoning is not None and reasoning not in REASONINGS:
            raise ConfigError(
                f"unknown reasoning {reasoning!r}", hint=f"choose one of {', '.join(REASONINGS)}"
            )
        return data

    @model_validator(mode="after")
    def _consistent(self) -> JudgeSettings:
        for name, value, low in (
            ("samples", self.samples, 1),
            ("principles", self.principles, 0),
            ("retries", self.retries, 0),
            ("max_rationale_chars", self.max_rationale_chars, 1),
            ("max_solution_tokens", self.max_solution_tokens, 1),
        ):
            if value < low:
                raise ConfigError(f"{name} {value} < {low}")
        if self.likert is not None and not 2 <= self.likert <= MAX_LIKERT_SCALE:
            raise ConfigError(
                f"likert scale {self.likert} is outside 2..{MAX_LIKERT_SCALE}",
                hint="each score must be one digit so that its token probability can be read",
            )
        if not 1 <= self.depth_criteria <= MAX_DEPTH_CRITERIA:
            raise ConfigError(
                f"depth_criteria {self.depth_criteria} is outside 1..{MAX_DEPTH_CRITERIA}"
            )
        if not 0.0 <= self.tie_margin < 0.5:
            raise ConfigError(f"tie_margin {self.tie_margin} is outside [0, 0.5)")
        if not 0.0 <= self.holistic_weight <= 1.0:
            raise ConfigError(f"holistic_weight {self.holistic_weight} is outside [0, 1]")
        if not 0.0 <= self.abstain_band < 0.5:
            raise ConfigError(f"abstain_band {self.abstain_band} is outside [0, 0.5)")
        if self.samples > 1 and self.temperature == 0 and self.sample_temperature <= 0:
            raise ConfigError("samples > 1 needs a temperature > 0: greedy draws are all the same")
        if self.samples > 1 and self.reasoning == "none":
            raise ConfigError(
                f"samples {self.samples} > 1 with reasoning 'none': nothing is drawn",
                hint="reasoning 'none' reads one distribution; use samples 1, or reasoning after",
            )
        return self

    @classmethod
    def of(cls, **values: Any) -> JudgeSettings:
        """Validated settings from keyword values; a bad value is a one-line `ConfigError`."""
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise ConfigError(
                f"judge settings: {describe_validation_error(exc)}",
                hint=f"settings: {', '.join(cls.model_fields)}",
            ) from None

    @classmethod
    def with_keywords(
        cls, settings: JudgeSettings | None = None, /, **keywords: Any
    ) -> JudgeSettings:
        """`settings` (default: the defaults) with setting `keywords` applied, validated once.

        The one place where keyword settings (``Judge(strategy="depth")``,
        ``RubricReward(reasoning="none")``) become a `JudgeSettings`: a name that is not a
        setting is refused with the list of settings, never passed on to something else.
        """
        unknown = sorted(set(keywords) - set(cls.model_fields))
        if unknown:
            raise ConfigError(
                f"unknown judge setting {unknown[0]!r}"
                + (f" (and {', '.join(map(repr, unknown[1:]))})" if unknown[1:] else ""),
                hint=f"settings: {', '.join(cls.model_fields)}; options of the backend "
                "(model, base_url, ...) go in backend_options={...}",
            )
        return (settings if settings is not None else cls()).updated(**keywords)

    def updated(self, **changes: Any) -> JudgeSettings:
        """A validated copy with `changes` applied (the same class, so subclasses keep theirs)."""
        if not changes:
            return self
        return type(self).of(**{**self.model_dump(), **changes})

    @property
    def fingerprint(self) -> str:
        """Hash of every setting: a new field changes it without being listed anywhere."""
        return stable_hash(self.model_dump(mode="json"))

    @classmethod
    def field_help(cls, name: str) -> str:
        """The first sentence of a field's docstring, for CLI help."""
        description = cls.model_fields[name].description or name
        return " ".join(description.split()).split(". ")[0].rstrip(".") + "."


DEFAULTS = JudgeSettings()
"""The default settings; other modules take their defaults from here, never restate them."""
