"""RRD refinement: the recursive decompose-filter loop over a pool of responses, then weights.

Shen et al. (2026), "Rethinking Rubric Generation for Improving LLM Judge and Reward Modeling
for Open-ended Tasks". Every criterion is judged on every pool response. One that more than
`coarse_threshold` responses satisfy cannot tell them apart, so the model splits it into finer
children (seeing the prompt, the responses that satisfied it and the accepted criteria); the
children are judged and filtered in turn, down to `max_depth`. Filters drop criteria that no
response satisfies (zero-pass), that prefer weaker labelled responses (misaligned), that repeat
an accepted criterion (redundant: lexical prefilter, then an LLM overlap check) or contradict
one (polarity). The loop ends when nothing is pending or `max_rejections` is reached; the
surviving leaves get whitened-uniform weights (see `weights.py`).

Each round is ONE backend call holding all of that round's verdicts, overlap checks and
decompositions; a refinement costs as many backend calls as rounds (logged, and in the stats).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from judge.backends.base import Backend
from judge.errors import RubricError
from judge.prompting import PromptLibrary, default_prompts
from judge.rubric.cache import RubricCache
from judge.rubric.decompose import DECOMPOSE_TEMPLATE, RULES_TEMPLATE
from judge.rubric.generate import SYSTEM_TEMPLATE as RUBRIC_SYSTEM_TEMPLATE
from judge.rubric.generate import as_conversation
from judge.rubric.overlap import OVERLAP_TEMPLATE
from judge.rubric.pool import (
    PoolResponse,
    normalise_pool,
    pool_check,
    pool_request,
    read_sampled_pool,
)
from judge.rubric.rrd_loop import Refinement, RefineStats, send
from judge.rubric.settings import RefineSettings
from judge.runner.requests import POINTWISE_TEMPLATE, SYSTEM_TEMPLATE
from judge.runner.rounds import Task
from judge.types import Message, Rubric, stable_hash

logger = logging.getLogger(__name__)

__all__ = ["RefineResult", "RefineStats", "cache_key", "refine"]

TEMPLATES = (
    SYSTEM_TEMPLATE,
    POINTWISE_TEMPLATE,
    RUBRIC_SYSTEM_TEMPLATE,
    DECOMPOSE_TEMPLATE,
    RULES_TEMPLATE,
    OVERLAP_TEMPLATE,
)


@dataclass(frozen=True)
class RefineResult:
    """The refined rubric, its stats, and where it is cached (None when caching is off)."""

    rubric: Rubric
    stats: RefineStats
    cache_path: Path | None = None


def cache_key(
    backend: Backend,
    rubric: Rubric,
    conversation: Sequence[Message],
    pool: Sequence[PoolResponse] | None,
    reference: str | None,
    settings: RefineSettings,
    prompts: PromptLibrary,
) -> str:
    """Fingerprint of all that shapes a refinement (prompt, rubric, pool, settings, model)."""
    return stable_hash(
        {
            "conversation": [[m.role, m.content] for m in conversation],
            "reference": reference,
            "rubric": rubric.fingerprint,
            "pool": None if pool is None else [p.model_dump(mode="json") for p in pool],
            "settings": settings.model_dump(mode="json"),
            "model": backend.model_id,
            "capabilities": backend.capabilities.model_dump(mode="json"),
            "templates": prompts.fingerprint(*TEMPLATES),
        }
    )


def refine(
    rubric: Rubric,
    prompt: str | Sequence[Message],
    pool: Sequence[str | PoolResponse] | None,
    backend: Backend,
    *,
    reference: str | None = None,
    settings: RefineSettings | None = None,
    prompts: PromptLibrary | None = None,
    cache: RubricCache | bool = True,
) -> RefineResult:
    """Refine `rubric` for `prompt` against `pool` (sampled from `backend` when None).

    `cache`: True uses the default on-disk cache, False none, or pass a `RubricCache`.
    The input rubric's leaves are refined; its tree above them is not kept.

    Raises:
        InputError: the pool is empty or has fewer than `min_distinct_responses` distinct responses.
        RubricError: criterion ids repeat, or every criterion was dropped.
        GenerationError: pool sampling or a whole round of verdicts failed.
    """
    settings = settings or RefineSettings()
    prompts = prompts or default_prompts()
    conversation = as_conversation(prompt)
    ids = [criterion.id for criterion in rubric.all_criteria()]
    duplicates = sorted({cid for cid in ids if ids.count(cid) > 1})
    if duplicates:
        raise RubricError(f"rubric {rubric.name!r}: criterion ids repeat: {', '.join(duplicates)}")
    given = (
        None if pool is None else normalise_pool(pool, min_distinct=settings.min_distinct_responses)
    )
    store = RubricCache.default() if cache is True else cache or None
    key = cache_key(backend, rubric, conversation, given, reference, settings, prompts)
    if store is not None and (hit := store.get(key)) is not None:
        cached_rubric, recorded = hit
        logger.info(
            "refined rubric %r read from cache %s (0 backend calls)",
            cached_rubric.name,
            store.path(key),
        )
        stats = RefineStats(
            cached=True,
            pool_responses=int(recorded.get("pool_responses", 0)),
            pool_sampled=bool(recorded.get("pool_sampled", False)),
            stop_reason=str(recorded.get("stop_reason", "")),
        )
        return RefineResult(rubric=cached_rubric, stats=stats, cache_path=store.path(key))
    stats = RefineStats()
    if given is None:
        request = pool_request(
            conversation,
            settings.pool_size,
            settings.pool_temperature,
            settings.pool_max_tokens,
            settings.seed,
        )
        logger.info(
            "RRD round 1: sampling a pool of %d responses in one backend call", settings.pool_size
        )
        pool_task = Task(request, pool_check, role="pool")
        sampled = send(backend, [pool_task], stats, retries=settings.retries)[request.id]
        given = read_sampled_pool(sampled, min_distinct=settings.min_distinct_responses)
        stats.pool_sampled = True
    stats.pool_responses = len(given)
    refinement = Refinement(
        backend,
        rubric,
        conversation,
        given,
        reference=reference,
        settings=settings,
        prompts=prompts,
        stats=stats,
    )
    refined = refinement.run()
    logger.info(
        "refined rubric %r: %d judged criteria, %d dropped; %d rounds = %d backend calls (%s)",
        refined.name,
        len(refined.leaves()),
        len(refinement.dropped),
        len(stats.rounds),
        stats.backend_calls,
        stats.stop_reason,
    )
    path = None
    if store is not None:
        recorded_stats: dict[str, Any] = asdict(stats)
        recorded_stats["usage"] = stats.usage.model_dump()
        recorded_stats["probs_sources"] = sorted(stats.probs_sources)
        path = store.put(key, refined, recorded_stats)
    return RefineResult(rubric=refined, stats=stats, cache_path=path)
