"""The options of rubric generation and RRD refinement, each documented where it is declared.

Both models are frozen and reject unknown fields; their JSON dump is part of the refinement
cache key, so changing any option never reads back a rubric made under other options.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from judge.errors import ConfigError


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GenerateSettings(_Settings):
    """Options of `generate_rubric` and `generate_contrastive_rubric`."""

    min_criteria: int = Field(default=1, ge=1, description="Fewest criteria the model may propose.")
    max_criteria: int = Field(
        default=6, ge=1, le=20, description="Most criteria the model may propose."
    )
    min_criterion_chars: int = Field(
        default=12, ge=1, description="Shorter proposals are dropped as not being criteria."
    )
    max_criterion_chars: int = Field(
        default=160, ge=20, le=1000, description="Longest criterion text (longer is not atomic)."
    )
    copy_words: int = Field(
        default=8,
        ge=2,
        description="A criterion sharing a run of this many words with a response or the "
        "reference (and not with the prompt) copies it and is dropped.",
    )
    temperature: float = Field(
        default=0.0, ge=0.0, description="Sampling temperature of a proposal."
    )
    seed: int | None = Field(default=0, description="Sampling seed (fixed seed: same rubric).")
    retries: int = Field(
        default=1,
        ge=0,
        description="Unusable outputs (failed, cut or unreadable) are asked again this many "
        "times, each time in one further batch (the runner's model loop).",
    )
    samples: int = Field(
        default=3,
        ge=1,
        le=16,
        description="Generation: proposals sampled in one backend call; criteria that several "
        "propose count as agreement, and the best by prompt specificity are kept.",
    )
    sample_temperature: float = Field(
        default=0.7, ge=0.0, description="Generation: temperature when samples > 1."
    )
    template_similarity: float = Field(
        default=0.7,
        ge=0.0,
        le=1.0,
        description="A proposal whose wording is at least this similar to an example text of "
        "the prompt template (and whose key terms the request does not state) was copied from "
        "the template and is dropped.",
    )
    duplicate_similarity: float = Field(
        default=0.85,
        ge=0.0,
        le=1.0,
        description="Proposals whose wording is at least this similar are one criterion.",
    )
    meaning_check: bool = Field(
        default=False,
        description="Ask the model whether kept criteria that read somewhat alike (wording "
        "similarity at least meaning_prefilter) check the same thing, in one more backend "
        "call (each pair both ways); a later-ranked one it rates at least meaning_overlap "
        "both ways is dropped for the next candidate. Wording alone misses meaning "
        "duplicates ('must start with the given sentence' / 'must begin with the sentence').",
    )
    meaning_prefilter: float = Field(
        default=0.2,
        ge=0.0,
        le=1.0,
        description="Wording similarity at or above which two candidates get the meaning check.",
    )
    meaning_overlap: float = Field(
        default=0.7,
        ge=0.0,
        le=1.0,
        description="Model-rated overlap at or above which two candidates are one check.",
    )
    min_pool_spread: float = Field(
        default=0.05,
        ge=0.0,
        le=0.5,
        description="Generation with a pool: candidates whose P(yes) standard deviation over the "
        "pool is below this separate no responses and rank after those that do.",
    )
    min_margin: float = Field(
        default=0.05,
        ge=0.0,
        le=1.0,
        description="Contrastive only: a criterion, and the rubric on every induced pair, must "
        "score the better response at least this much higher in P(yes) to count as consistent "
        "with the labels; smaller gaps are the judge's noise, not a preference.",
    )
    candidates: int = Field(
        default=1,
        ge=1,
        le=16,
        description="Contrastive only: proposals sampled in one call; the most label-consistent "
        "one is kept.",
    )
    candidate_temperature: float = Field(
        default=0.7, ge=0.0, description="Contrastive only: temperature when candidates > 1."
    )
    min_pairwise_accuracy: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="Contrastive only: a rubric is kept if its weighted P(yes) margin orders at "
        "least this fraction of the induced pairs correctly (and the source pair too).",
    )
    max_response_chars: int = Field(
        default=2000, ge=100, description="Contrastive only: each response shown is cut to this."
    )
    max_rationale_chars: int = Field(
        default=200, ge=0, description="Rationale length of the verdicts used for validation."
    )

    @model_validator(mode="after")
    def _ordered(self) -> GenerateSettings:
        if self.min_criteria > self.max_criteria:
            raise ValueError(f"min_criteria {self.min_criteria} > max_criteria {self.max_criteria}")
        if self.min_criterion_chars >= self.max_criterion_chars:
            raise ValueError("min_criterion_chars must be below max_criterion_chars")
        return self


class RefineSettings(_Settings):
    """Options of RRD refinement (`refine`): the pool, the decompose-filter loop, the weights."""

    # The pool.
    pool_size: int = Field(
        default=8, ge=2, le=64, description="Responses sampled when no pool is given."
    )
    pool_temperature: float = Field(
        default=0.7, ge=0.0, description="Temperature of pool sampling."
    )
    pool_max_tokens: int = Field(
        default=256, ge=1, description="Longest sampled pool response, in tokens."
    )
    min_distinct_responses: int = Field(
        default=2,
        ge=2,
        description="Fewer distinct pool responses (after removing duplicates) is an error.",
    )
    seed: int = Field(default=0, description="Seed of pool sampling and of every model call.")
    # Decomposition.
    pass_threshold: float = Field(
        default=0.5,
        gt=0.0,
        le=1.0,
        description="P(yes) at or above which a response satisfies a criterion.",
    )
    coarse_threshold: int = Field(
        default=2,
        ge=0,
        description="A criterion satisfied by more than this many pool responses is too coarse and "
        "is decomposed.",
    )
    children: int = Field(
        default=2, ge=2, le=6, description="Children a coarse criterion is split into."
    )
    max_depth: int = Field(
        default=3,
        ge=0,
        description="Decomposition levels below an input criterion; deeper ones stay leaves.",
    )
    max_rejections: int = Field(
        default=15,
        ge=1,
        description="The loop stops after a round in which this many rejections are reached.",
    )
    retries: int = Field(
        default=1,
        ge=0,
        description="Unusable outputs (failed, cut or unreadable) of a round are asked again this "
        "many times, each time in one further batch (the runner's model loop).",
    )
    max_examples: int = Field(
        default=4, ge=1, description="Satisfying responses shown to a decomposition, at most."
    )
    max_example_chars: int = Field(
        default=600, ge=50, description="Each response shown to a decomposition is cut to this."
    )
    max_criterion_chars: int = Field(
        default=160, ge=20, le=1000, description="Longest child criterion text."
    )
    min_criterion_chars: int = Field(
        default=12, ge=1, description="Shorter child texts are dropped."
    )
    copy_words: int = Field(
        default=8,
        ge=2,
        description="A child sharing this many consecutive words with a response is dropped.",
    )
    # Filters.
    drop_zero_pass: bool = Field(
        default=True,
        description="Drop a criterion that no pool response satisfies (no signal on the pool).",
    )
    keep_zero_pass_hard_rules: bool = Field(
        default=True,
        description="Exempt hard rules from the zero-pass filter: an explicit requirement of the "
        "request that no pool response meets says the pool is weak, not that the rule is useless.",
    )
    misalignment_tolerance: float = Field(
        default=0.0,
        ge=0.0,
        lt=1.0,
        description="With quality labels: a criterion is misaligned when more than this "
        "fraction of "
        "the labelled pairs it separates has the weaker response passing and the stronger failing "
        "(0: any such pair).",
    )
    overlap_prefilter: float = Field(
        default=0.3,
        ge=0.0,
        le=1.0,
        description="Content-word Jaccard similarity at or above which two criteria get an "
        "LLM overlap check.",
    )
    duplicate_similarity: float = Field(
        default=0.85,
        ge=0.0,
        le=1.0,
        description="Content-word Jaccard at or above which a criterion is redundant without "
        "an LLM check.",
    )
    overlap_reject: float = Field(
        default=0.7,
        ge=0.0,
        le=1.0,
        description="LLM-rated overlap at or above which a criterion is redundant.",
    )
    max_overlap_checks: int = Field(
        default=3,
        ge=0,
        description="LLM overlap checks per candidate (the most similar criteria first).",
    )
    polarity_similarity: float = Field(
        default=0.6,
        ge=0.0,
        le=1.0,
        description="Jaccard (negations ignored) at or above which two criteria of opposite "
        "negation "
        "conflict without an LLM check.",
    )
    # Verdicts.
    max_rationale_chars: int = Field(
        default=200, ge=0, description="Rationale length of each verdict."
    )
    # Weights.
    weighting: Literal["whitened", "uniform", "keep"] = Field(
        default="whitened",
        description="whitened: w ~ Sigma^-1/2 * 1 (RRD); uniform: equal; keep: the input weights.",
    )
    min_pool_for_weights: int = Field(
        default=4, ge=2, description="Smaller pools get uniform weights (no usable covariance)."
    )
    min_criterion_std: float = Field(
        default=0.05,
        ge=0.0,
        le=0.5,
        description="Criteria whose P(yes) standard deviation over the pool is below this carry "
        "weight 0 under whitening: they order no pair of pool responses, and whitening would "
        "otherwise give their tiny variance the largest weight.",
    )
    ridge: float = Field(default=1e-3, ge=0.0, description="Added to the covariance diagonal.")
    eigenvalue_floor: float = Field(
        default=0.05,
        gt=0.0,
        le=1.0,
        description="Covariance eigenvalues below this fraction of the largest are raised to it.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> RefineSettings:
        if self.min_criterion_chars >= self.max_criterion_chars:
            raise ValueError("min_criterion_chars must be below max_criterion_chars")
        if self.overlap_prefilter > self.duplicate_similarity:
            raise ValueError("overlap_prefilter must not exceed duplicate_similarity")
        return self


def load_refine_settings(path: Path | None, **overrides: Any) -> RefineSettings:
    """RefineSettings from a YAML/JSON file of fields (or defaults), then non-None `overrides`."""
    data: dict[str, Any] = {}
    if path is not None:
        import yaml

        try:
            text = path.read_text(encoding="utf-8")
            loaded = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except FileNotFoundError:
            raise ConfigError(f"settings file {path} not found") from None
        except (yaml.YAMLError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"settings file {path}: not valid YAML/JSON: {exc}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"settings file {path}: expected a mapping of option: value")
        data.update(loaded)
    data.update({key: value for key, value in overrides.items() if value is not None})
    try:
        return RefineSettings.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '(top level)'}: "
            + ("unknown option" if error["type"] == "extra_forbidden" else error["msg"])
            for error in exc.errors()
        )
        raise ConfigError(
            f"refine settings{f' ({path})' if path else ''}: {problems}",
            hint="see RefineSettings in judge/rubric/settings.py for the options",
        ) from None
