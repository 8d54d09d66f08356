"""Resumable batch scoring (`judge batch`): the job, file formats, row validation, scoring.

``run_batch(source, output, rubric=..., options=BatchOptions(...))`` is the whole of
`judge batch` in one call; `BatchJob` is the local job alone; `BatchScorer` is the per-batch
function alone, shaped for Ray Data's ``map_batches``; the Ray Data engine
(``judge batch --engine ray``, `score_dataset`, `read_source`) is in `judge.batch.ray_engine`
and imports ray only when used.
"""

from judge.batch.job import BatchJob, BatchOptions, BatchProgress, parse_shard
from judge.batch.rows import FieldMap
from judge.batch.run import BatchRun, run_batch
from judge.batch.scoring import BatchScorer, record_columns, record_schema

__all__ = [
    "BatchJob",
    "BatchOptions",
    "BatchProgress",
    "BatchRun",
    "BatchScorer",
    "FieldMap",
    "parse_shard",
    "record_columns",
    "record_schema",
    "run_batch",
]
