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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from judge.backends.base import Backend
from judge.batch.lock import OutputLock
from judge.calibration.bootstrap import Interval
from judge.calibration.drift import QUALITY_MEASURES, metric_interval
from judge.calibration.jsonl import EvalSet, load_eval_set
from judge.calibration.judged import evaluate_judged
from judge.calibration.tune_grid import TuneConfig, default_grid, expand, read_grid
from judge.calibration.tune_judging import (
    TuneJournals,
    TuneProgress,
    item_key,
    judge_missing,
    templates_fingerprint,
)
from judge.calibration.tune_report import (
    ConfigResult,
    TuneCost,
    TuneSummary,
    choose,
    write_outputs,
)
from judge.errors import ConfigError, InputError
from judge.settings import DEFAULTS, JudgeSettings
from judge.types import Judgment, PairJudgment, Usage, stable_hash

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
    items = eval_set.judged_items()
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
        "templates": templates_fingerprint(),
    }
    output.mkdir(parents=True, exist_ok=True)
    with OutputLock(output):
        folder = output / "configs"
        folder.mkdir(exist_ok=True)
        journals = TuneJournals(folder, {c.name: c.key(common) for c in configs})
        if force:
            for config in configs:
                journals.journal(config).remove()
        keys = [item_key(item) for item in items]
        done_before = {c.name: set(journals.judged(c)) >= set(keys) for c in configs}
        shared = judge_missing(
            configs, items, keys, journals, backend, options, batch_size, progress
        )
        model = str(journals.judged(configs[0])[keys[0]]["judgment"].get("model", ""))
        results = [
            _evaluated(
                config,
                [journals.judged(config)[key] for key in keys],
                eval_set,
                model,
                measure,
                tolerance=tolerance,
                n_boot=n_boot,
                seed=seed,
                resumed=done_before[config.name],
            )
            for config in configs
        ]
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


def _evaluated(
    config: TuneConfig,
    records: Sequence[Mapping[str, Any]],
    eval_set: EvalSet,
    model: str,
    measure: str,
    *,
    tolerance: float,
    n_boot: int,
    seed: int,
    resumed: bool,
) -> ConfigResult:
    """One configuration's row from its journal records (one per item, in order)."""
    kind = Judgment if eval_set.kind == "pointwise" else PairJudgment
    judged = [kind.model_validate(record["judgment"]) for record in records]
    asked = [kind.model_validate(record["naive"]) for record in records]
    seconds = sum(float(record["seconds"]) for record in records)
    naive_seconds = sum(float(record["naive_seconds"]) for record in records)
    common: dict[str, Any] = {
        "name": config.name,
        "label": config.label,
        "settings": config.settings.model_dump(mode="json"),
        "rubric": config.rubric.name,
        "pair_method": config.pair_method,
        "n": len(judged),
        "cost": _cost(judged, seconds),
        "naive_cost": _cost(asked, naive_seconds),
        "resumed": resumed,
    }
    if all(judgment.error is not None for judgment in judged):
        # Nothing to evaluate: the row says so, and the choice passes it over.
        return ConfigResult(
            **common,
            no_verdict=len(judged),
            quality=Interval(value=None, note="no verdict on any item"),
            naive_quality=None,
            difference=None,
            beats_naive=False,
        )
    evaluation: Any = evaluate_judged(
        eval_set,
        judged,
        asked,  # type: ignore[arg-type]
        judge_name=model,
        tolerance=tolerance,
        n_boot=n_boot,
        seed=seed,
    )
    naive = evaluation.naive
    check = next((c for c in naive.checks if c.measure == measure), None)
    difference = None if check is None else check.difference
    beats = difference is not None and difference.low is not None and difference.low > tolerance
    no_verdict = evaluation.failed if evaluation.kind == "pointwise" else evaluation.no_verdict
    return ConfigResult(
        **common,
        no_verdict=no_verdict,
        quality=metric_interval(evaluation, measure, n_boot=n_boot, seed=seed),
        naive_quality=None if check is None else check.naive,
        difference=difference,
        beats_naive=beats,
    )


def _cost(judgments: Sequence[Judgment | PairJudgment], seconds: float) -> TuneCost:
    usage = Usage.total(judgment.usage for judgment in judgments)
    return TuneCost(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        seconds=seconds,
    )
