"""How `judge tune` judges: every configuration's missing items in shared batches, journalled.

Each configuration has a journal in ``OUTPUT/configs/`` (`TuneJournals`), named by what its
judgments depend on (`TuneConfig.key`), one line per judged item keyed by the item's id and
content (`item_key`). `judge_missing` judges, chunk by chunk, the items each journal lacks: the
plans of every configuration that lacks some item of the chunk go through one `drive_plans`
over one `SharedBatches` backend, and each configuration's lines are appended after the chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from judge.backends.base import Backend
from judge.batch.files import Journal
from judge.calibration.tune_grid import TuneConfig
from judge.calibration.tune_report import SharedCost
from judge.prompting import default_prompts
from judge.runner.judge import Judge
from judge.runner.rounds import BatchStats
from judge.runner.shared import BASELINE_SUFFIX, SharedBatches, drive_plans
from judge.types import Pair, Sample, stable_hash

TuneProgress = Callable[[int, int], None]
"""Called with (items done, items in all) after each chunk."""


def templates_fingerprint() -> str:
    """Hash of every shipped prompt template: a changed template is another journal."""
    prompts = default_prompts()
    return prompts.fingerprint(*sorted(p.stem for p in prompts.directory.glob("*.j2")))


@dataclass
class TuneJournals:
    """Each configuration's journal: one line per judged item (its key, both judgments)."""

    folder: Path
    keys: dict[str, str]

    def journal(self, config: TuneConfig) -> Journal:
        """The configuration's journal file (it may not exist yet)."""
        return Journal(self.folder / f"{self.keys[config.name]}.jsonl")

    def judged(self, config: TuneConfig) -> dict[str, dict[str, Any]]:
        """Its records by item key: the first record of each item counts."""
        found: dict[str, dict[str, Any]] = {}
        for record in self.journal(config).load():
            found.setdefault(str(record.get("item")), record)
        return found


def item_key(item: Sample | Pair) -> str:
    """What an item's judgment depends on: its id and content (for pairs, their placement)."""
    return stable_hash(item.model_dump(mode="json"))


def judge_missing(
    configs: Sequence[TuneConfig],
    items: Sequence[Sample] | Sequence[Pair],
    keys: Sequence[str],
    journals: TuneJournals,
    backend: Backend | str,
    options: Mapping[str, Any],
    batch_size: int,
    progress: TuneProgress | None,
) -> SharedCost:
    """Judge, chunk by chunk, the items each configuration's journal lacks, in shared batches."""
    missing: dict[str, set[int]] = {}
    for config in configs:
        done = journals.judged(config)
        missing[config.name] = {row for row, key in enumerate(keys) if key not in done}
    if not any(missing.values()):
        if progress:
            progress(len(items), len(items))
        return SharedCost(backend_calls=0, requests_asked=0, requests_sent=0, seconds=0.0)
    from judge.backends import create_backend

    owned = isinstance(backend, str)
    inner: Backend = create_backend(backend, **options) if isinstance(backend, str) else backend
    shared = SharedBatches(inner)
    stats = BatchStats()
    try:
        judges = {
            c.name: Judge(backend=shared, rubric=c.rubric, settings=c.settings)
            for c in configs
            if missing[c.name]
        }
        for start in range(0, len(items), batch_size):
            rows = range(start, min(len(items), start + batch_size))
            # Each configuration judges the items of the chunk its journal lacks, all together.
            wanted = {c.name: [row for row in rows if row in missing[c.name]] for c in configs}
            todo = [c for c in configs if wanted[c.name]]
            if todo:
                before = dict(shared.seconds_by_owner)
                plans = []
                for config in todo:
                    chunk: Any = [items[row] for row in wanted[config.name]]
                    judge = judges[config.name]
                    if config.pair_method is None:  # pointwise data
                        plans.append(judge.plan_score(chunk, naive=True))
                    else:
                        method = config.pair_method
                        plans.append(judge.plan_compare(chunk, method=method, naive=True))
                outcomes = drive_plans(shared, plans, [c.name for c in todo], stats)
                spent = {
                    owner: total - before.get(owner, 0.0)
                    for owner, total in shared.seconds_by_owner.items()
                }
                for config, (judged, asked) in zip(todo, outcomes, strict=True):
                    chosen = wanted[config.name]
                    seconds = spent.get(config.name, 0.0) / len(chosen)
                    naive_seconds = spent.get(config.name + BASELINE_SUFFIX, 0.0) / len(chosen)
                    journals.journal(config).append(
                        [
                            {
                                "row": row,
                                "id": items[row].id,
                                "item": keys[row],
                                "judgment": judgment.model_dump(mode="json"),
                                "naive": baseline.model_dump(mode="json"),
                                "seconds": seconds,
                                "naive_seconds": naive_seconds,
                            }
                            for row, judgment, baseline in zip(chosen, judged, asked, strict=True)
                        ]
                    )
            if progress:
                progress(rows[-1] + 1, len(items))
    finally:
        if owned:
            inner.close()
    return SharedCost(
        backend_calls=shared.calls,
        requests_asked=shared.asked,
        requests_sent=shared.sent,
        seconds=shared.seconds,
    )
