"""How a batch job reads, batches and stops (used by the job and by its checks before loading)."""

from __future__ import annotations

from dataclasses import dataclass, field

from judge.batch.rows import MAX_CHARS, FieldMap
from judge.runner.pairwise import DEFAULT_METHOD, Method


@dataclass(frozen=True)
class BatchOptions:
    """How a job reads, batches and stops."""

    fields: FieldMap = field(default_factory=FieldMap)
    batch_size: int = 32
    shard: tuple[int, int] = (0, 1)
    max_failures: int | None = None
    max_chars: int = MAX_CHARS
    force: bool = False
    repair: bool = False
    keep_inputs: bool = True
    compare_method: Method = DEFAULT_METHOD
    input_format: str | None = None
    output_format: str | None = None
    prefetch: int = 2
