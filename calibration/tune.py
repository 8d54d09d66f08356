"""`run_tune`: the whole of `judge tune`, from a labelled set and a grid to a `--config` file.

Every configuration of the grid (`calibration.tune_grid`) judges the same items with the naive
baseline beside it, all in shared batches: each chunk of items is one `drive_plans` over one
backend, so a round of every configuration is one `Backend.generate` call and a request that
several configurations ask (the same verdict under two score rules, the same baseline) runs
once. Each configuration's judgments are appended to its own journal in ``OUTPUT/configs/``
after every chunk: a journal is named by what its judgments depend on (backend and its
options, templates, settings, rubric, method) and keys each line by its item's id and content,
so a rerun after a kill judges only what is missing, a finished run judges nothing, and a
larger `--limit` judges only the new items. Then each configuration is evaluated as `judge eval`
would (`evaluate_judged`), the choice is made by `calibration.tune_report.choose`, and
``tune.json``, ``report.md`` and ``tuned.yaml`` are written.

    from judge.calibration.tune import run_tune
    run = run_tune(Path("data.jsonl"), grid=Path("grid.yaml"), limit=50)
    print(run.summary.recommendation, run.config)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from judge.backends.base import Backend
from judge.batch.files import Journal
from judge.batch.lock import OutputLock
from judge.calibration.drift import QUALITY_MEASURES, metric_interval
from judge.calibration.jsonl import EvalSet, load_eval_set
from judge.calibration.judged import evaluate_judged
from judge.calibration.tune_grid import TuneConfig, default_grid, expand, read_grid
from judge.calibration.tune_report import (
    ConfigResult,
    SharedCost,
    TuneCost,
    TuneSummary,
    choose,
    write_outputs,
)
from judge.errors import ConfigError, InputError
from judge.prompting import default_prompts
from judge.runner.rounds import BatchStats
from judge.runner.shared import BASELINE_SUFFIX, SharedBatches, drive_plans
from judge.settings import DEFAULTS, JudgeSettings
from judge.types import Judgment, Pair, PairJudgment, Sample, stable_hash

TuneProgress = Callable[[int, int], None]
"""Called with (items done, items in all) after each chunk."""

Grid = Path | Sequence[Mapping[str, Sequence[Any]]] | None


@dataclass(frozen=True)
class TuneRun:
    """What `run_tune` found and where it wrote it."""

    summary: TuneSummary
    report: Path
    config: Path
    """``tuned.yaml``: the chosen configuration as a `judge --config` file."""


def _measure(metric: str) -> str:
    for measure in QUALITY_MEASURES:
        if metric.lower() == measure.lower():
            return measure
    raise ConfigError(f"--metric {metric!r}", hint=f"one of {', '.join(QUALITY_MEASURES)}")


def _items(eval_set: EvalSet) -> list[Sample] | list[Pair]:
    if eval_set.kind == "pointwise":
        return [
            Sample(id=s.id, prompt=s.prompt, response=s.response, reference=s.reference)
            for s in eval_set.samples
        ]
    return [
        Pair(
            id=p.id,
            prompt=p.prompt,
            response_a=p.response_a,
            response_b=p.response_b,
            reference=p.reference,
        )
        for p in eval_set.pairs
    ]


def _templates_fingerprint() -> str:
    prompts = default_prompts()
    return prompts.fingerprint(*sorted(p.stem for p in prompts.directory.glob("*.j2")))


@dataclass
class _Journals:
    """Each configuration's journal: one line per judged item (its key, both judgments)."""

    folder: Path
    keys: dict[str, str]

    def journal(self, config: TuneConfig) -> Journal:
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


def run_tune(
    data: Path,
    *,
    grid: Grid = None,
    rubric: str = "helpfulness",
    backend: Backend | str = "transformers",
    backend_options: Mapping[str, Any] | None = None,
    settings: JudgeSettings = DEFAULTS,
    output: Path = Path("tune-report"),
    limit: int | None = None,
    batch_size: int = 16,
    pair_method: str | None = None,
    metric: str = "accuracy",
    tolerance: float = 0.0,
    n_boot: int = 1000,
    seed: int = 0,
    gold_threshold: float | None = None,
    force: bool = False,
    progress: TuneProgress | None = None,
) -> TuneRun:
    """Evaluate every configuration of `grid` on `data` against the naive baseline; choose one.

    `grid` is a grid file, a list of mappings (key -> values), or None for `default_grid`;
    `settings` (the flags and `--config`) are the base every configuration changes, and
    `rubric` / `pair_method` the defaults of those keys. `backend` is a backend name (created
    with `backend_options`, only if something is left to judge, and closed at the end) or a
    `Backend` the caller owns. `force` discards the journals of an earlier run in `output`.
    """
    from judge.runner.judge import Judge

    # Every check that needs no model comes first: a mistake costs seconds, not a model load.
    measure = _measure(metric)
    if batch_size < 1:
        raise ConfigError(f"--batch-size {batch_size} < 1", hint="items per backend batch: 1+")
    if n_boot < 0:
        raise ConfigError(f"--n-boot {n_boot} < 0")
    if not 0.0 <= tolerance < 1.0:
        raise ConfigError(f"--tolerance {tolerance} is not in [0, 1)")
    if pair_method not in (None, "rubric", "direct"):
        raise ConfigError(f"--pair-method {pair_method!r}", hint="rubric or direct")
    eval_set = load_eval_set(data, seed=seed, gold_threshold=gold_threshold).head(limit)
    if not len(eval_set):
        raise InputError(f"{data}: no items to tune on")
    items = _items(eval_set)
    has_references = any(item.reference is not None for item in items)
    if grid is None:
        parts = default_grid(eval_set.kind, has_references)
        where = "default grid"
    elif isinstance(grid, Path):
        parts, where = read_grid(grid), f"grid {grid}"
    else:
        parts, where = [{k: list(v) for k, v in part.items()} for part in grid], "grid"
    configs = expand(
        parts,
        base=settings,
        rubric=rubric,
        kind=eval_set.kind,
        pair_method=pair_method,  # type: ignore[arg-type]
        where=where,
    )
    options = dict(backend_options or {})
    common = {
        "backend": backend if isinstance(backend, str) else backend.model_id,
        "options": stable_hash({k: str(v) for k, v in options.items()}),
        "templates": _templates_fingerprint(),
    }
    output.mkdir(parents=True, exist_ok=True)
    with OutputLock(output):
        folder = output / "configs"
        folder.mkdir(exist_ok=True)
        journals = _Journals(folder, {c.name: c.key(common) for c in configs})
        if force:
            for config in configs:
                journals.journal(config).remove()
        keys = [item_key(item) for item in items]
        done_before = {c.name: set(journals.judged(c)) >= set(keys) for c in configs}
        shared = _judge_missing(
            Judge, configs, items, keys, eval_set.kind, journals, backend, options, batch_size,
            progress,
        )  # fmt: skip
        results, model = [], ""
        for config in configs:
            found = journals.judged(config)
            records = [found[key] for key in keys]
            judgments = [record["judgment"] for record in records]
            baseline = [record["naive"] for record in records]
            model_type = Judgment if eval_set.kind == "pointwise" else PairJudgment
            judged = [model_type.model_validate(j) for j in judgments]
            asked = [model_type.model_validate(j) for j in baseline]
            model = model or judged[0].model
            evaluation = evaluate_judged(
                eval_set,
                judged,
                asked,  # type: ignore[arg-type]
                judge_name=model,
                tolerance=tolerance,
                n_boot=n_boot,
                seed=seed,
            )
            seconds = sum(float(record["seconds"]) for record in records)
            naive_seconds = sum(float(record["naive_seconds"]) for record in records)
            results.append(
                _result(
                    config,
                    evaluation,
                    measure,
                    tolerance=tolerance,
                    n_boot=n_boot,
                    seed=seed,
                    seconds=(seconds, naive_seconds),
                    resumed=done_before[config.name],
                )
            )
        recommendation, best, reason = choose(results, measure, tolerance)
        summary = TuneSummary(
            data=str(data),
            kind=eval_set.kind,
            n=len(items),
            model=model,
            metric=measure,
            tolerance=tolerance,
            n_boot=n_boot,
            seed=seed,
            configs=tuple(results),
            recommendation=recommendation,
            best=best,
            reason=reason,
            shared=shared,
        )
        chosen = next(c for c in configs if c.name == best)
        defaults: dict[str, Any] = {"rubric": _rubric_default(chosen.rubric_source)}
        if isinstance(backend, str):
            defaults["backend"] = backend
        if chosen.pair_method is not None:
            defaults["pair_method"] = chosen.pair_method
        report, config_file = write_outputs(
            summary,
            output,
            settings=chosen.settings.model_dump(mode="json"),
            defaults=defaults,
            backend_options=options,
        )
    return TuneRun(summary, report, config_file)


def _rubric_default(source: str) -> str:
    """A rubric file as an absolute path (the config may be used from another folder)."""
    path = Path(source)
    return str(path.resolve()) if path.suffix in (".yaml", ".yml", ".json") else source


def _judge_missing(
    judge_class: Any,
    configs: Sequence[TuneConfig],
    items: Sequence[Sample] | Sequence[Pair],
    keys: Sequence[str],
    kind: str,
    journals: _Journals,
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
            c.name: judge_class(backend=shared, rubric=c.rubric, settings=c.settings)
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
                    plans.append(
                        judge.plan_score(chunk, naive=True)
                        if kind == "pointwise"
                        else judge.plan_compare(chunk, method=config.pair_method, naive=True)
                    )
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


def _result(
    config: TuneConfig,
    evaluation: Any,
    measure: str,
    *,
    tolerance: float,
    n_boot: int,
    seed: int,
    seconds: tuple[float, float],
    resumed: bool,
) -> ConfigResult:
    """One configuration's row: its measure, the paired difference with the baseline, its cost."""
    naive = evaluation.naive
    check = None if naive is None else next(
        (c for c in naive.checks if c.measure == measure), None
    )  # fmt: skip
    difference = None if check is None else check.difference
    beats = difference is not None and difference.low is not None and difference.low > tolerance
    no_verdict = evaluation.failed if evaluation.kind == "pointwise" else evaluation.no_verdict
    judge_cost, naive_cost = naive.judge_cost, naive.naive_cost
    return ConfigResult(
        name=config.name,
        label=config.label,
        settings=config.settings.model_dump(mode="json"),
        rubric=config.rubric.name,
        pair_method=config.pair_method,
        n=evaluation.n,
        no_verdict=no_verdict,
        quality=metric_interval(evaluation, measure, n_boot=n_boot, seed=seed),
        naive_quality=None if check is None else check.naive,
        difference=difference,
        beats_naive=beats,
        cost=TuneCost(
            prompt_tokens=judge_cost.prompt_tokens,
            completion_tokens=judge_cost.completion_tokens,
            seconds=seconds[0],
        ),
        naive_cost=TuneCost(
            prompt_tokens=naive_cost.prompt_tokens,
            completion_tokens=naive_cost.completion_tokens,
            seconds=seconds[1],
        ),
        resumed=resumed,
    )
