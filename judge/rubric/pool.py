"""The pool of responses RRD refines against: given (optionally with quality labels) or sampled."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from judge.errors import GenerationError, InputError
from judge.types import Generation, GenerationRequest, Message, SamplingParams

logger = logging.getLogger(__name__)

POOL_REQUEST_ID = "pool"


class PoolResponse(BaseModel):
    """One pool response; `quality` (higher is better) enables the misalignment filter."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str = Field(min_length=1)
    quality: float | None = None

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("response is empty")
        return value


def _key(text: str) -> str:
    return " ".join(text.split())


def normalise_pool(
    pool: Sequence[str | PoolResponse], *, min_distinct: int, source: str = "pool"
) -> tuple[PoolResponse, ...]:
    """Validate a given pool: drop exact duplicates (whitespace aside), require enough left."""
    if not pool:
        raise InputError(
            f"{source} is empty",
            hint="give at least two different responses, or no pool to sample one from the model",
        )
    distinct: dict[str, PoolResponse] = {}
    for index, item in enumerate(pool):
        try:
            response = item if isinstance(item, PoolResponse) else PoolResponse(text=item)
        except ValidationError:
            raise InputError(f"{source}[{index}]: response is empty") from None
        key = _key(response.text)
        if key in distinct:
            logger.info("%s[%d] duplicates an earlier response; dropped", source, index)
            continue
        distinct[key] = response
    if len(distinct) < min_distinct:
        raise InputError(
            f"{source} has {len(distinct)} distinct response(s) after removing duplicates; "
            f"refinement needs at least {min_distinct}",
            hint="a rubric cannot be refined against responses that are all the same: add "
            "different responses, or sample the pool from the model",
        )
    return tuple(distinct.values())


def read_pool_file(path: Path) -> list[PoolResponse]:
    """Read a JSONL pool: per line a JSON string or ``{"response"|"text": ..., "quality"?}``."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(f"pool file {path} not found") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"pool file {path}: not valid UTF-8 at byte {exc.start}") from None
    pool = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: not valid JSON ({exc.msg})") from None
        if isinstance(data, str):
            data = {"text": data}
        if not isinstance(data, dict):
            raise InputError(f"{where}: expected a string or an object with a 'response' field")
        text = data.get("response", data.get("text"))
        if not isinstance(text, str) or not text.strip():
            raise InputError(f"{where}: missing or empty 'response'")
        quality = data.get("quality")
        if quality is not None and (
            isinstance(quality, bool) or not isinstance(quality, int | float)
        ):
            raise InputError(f"{where}: 'quality' must be a number, got {quality!r}")
        pool.append(PoolResponse(text=text, quality=quality))
    return pool


def pool_request(
    conversation: Sequence[Message], size: int, temperature: float, max_tokens: int, seed: int
) -> GenerationRequest:
    """One request that samples `size` responses to the conversation."""
    return GenerationRequest(
        id=POOL_REQUEST_ID,
        messages=tuple(conversation),
        sampling=SamplingParams(
            max_new_tokens=max_tokens, temperature=temperature, seed=seed, n=size
        ),
    )


def pool_check(generation: Generation) -> str | None:
    """Why a sampled pool response is unusable (failed or empty), for the round's retries."""
    if generation.error is not None:
        return generation.error
    return None if generation.text.strip() else "the sampled response is empty"


def read_sampled_pool(
    generations: Sequence[Generation], *, min_distinct: int
) -> tuple[PoolResponse, ...]:
    """The distinct usable responses among sampled generations (cut ones count: they are real)."""
    texts = [g.text.strip() for g in generations if g.error is None and g.text.strip()]
    if not texts:
        errors = {g.error for g in generations if g.error is not None}
        raise GenerationError(
            "sampling the pool produced no usable response "
            f"({'; '.join(sorted(errors)) or 'all empty'})",
            hint="check the backend, or pass a pool of responses",
        )
    try:
        return normalise_pool(texts, min_distinct=min_distinct, source="the sampled pool")
    except InputError as exc:
        raise GenerationError(
            exc.message, hint="raise pool_temperature, or pass a pool of responses"
        ) from None
