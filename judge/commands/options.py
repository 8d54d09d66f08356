"""Options shared by several commands, each declared once, and the state the root callback sets.

The judging flags (backend and `JudgeSettings`) are derived in `judge.commands.flags`; the
options here are the other ones that more than one command takes. One name per concept: a
command writes to `--output`, reads at most `--limit` items, sends `--batch-size` items per
backend call, compares pairs by `--pair-method`, and `--force` always means "start the output
over" (a calibrator of another judge is `--force-calibrator`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from judge.errors import ConfigError
from judge.runner.pairwise import DEFAULT_METHOD
from judge.settings import DEFAULTS, JudgeSettings

if TYPE_CHECKING:
    from judge.runner.cache import JudgmentCache


@dataclass
class CliState:
    """Global options of one CLI run (set by the root callback, read by the commands)."""

    debug: bool = False
    backend_options: dict[str, Any] = field(default_factory=dict)
    settings: JudgeSettings = DEFAULTS
    """The judge settings of `--config` (`settings:`); a command's flags are applied on them."""


def cli_state(ctx: typer.Context) -> CliState:
    """The run's state; a fresh default one when a command runs without the root callback."""
    return ctx.ensure_object(CliState)


RubricOpt = Annotated[str, typer.Option(help="Library rubric name or a YAML file.")]
CacheOpt = Annotated[
    Path | None,
    typer.Option(
        "--cache",
        help="Judgment cache file (SQLite).",
        show_default="judgments.sqlite in the user cache dir, or $JUDGE_JUDGMENT_CACHE",
    ),
]
NoCacheOpt = Annotated[
    bool, typer.Option("--no-cache", help="Judge every sample again; never touch the cache.")
]
PairMethod = Literal["rubric", "direct"]
PAIR_METHODS: tuple[PairMethod, ...] = ("rubric", "direct")
PairMethodOpt = Annotated[
    str,
    typer.Option(
        "--pair-method",
        metavar="rubric|direct",
        help="How a pair is compared: rubric (each response judged on every criterion; "
        "order-free, compared directly on a tie) or direct (which is better, asked in both "
        "orders: shows position bias).",
    ),
]
DEFAULT_PAIR_METHOD: PairMethod = DEFAULT_METHOD
BatchSizeOpt = Annotated[int, typer.Option("--batch-size", help="Items per backend batch.")]
LimitOpt = Annotated[int | None, typer.Option("--limit", help="Judge only the first N items.")]
ForceOpt = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Start the output over: discard what an earlier run with other settings wrote there.",
    ),
]
CalibratorOpt = Annotated[
    Path | None,
    typer.Option(help="Apply a calibrator JSON (from `judge calibrate fit`) to the scores."),
]
ForceCalibratorOpt = Annotated[
    bool,
    typer.Option(
        "--force-calibrator",
        help="Apply the calibrator even if it was fitted for another judge (model, rubric, "
        "templates or settings).",
    ),
]
LabelsOpt = Annotated[
    Path | None,
    typer.Option(
        "--labels",
        help="A labels file written by `judge view` (<run>.labels.jsonl): the person's labels "
        "are the gold.",
    ),
]
NBootOpt = Annotated[int, typer.Option("--n-boot", help="Bootstrap resamples for 95% intervals.")]
NaiveOpt = Annotated[
    bool,
    typer.Option(
        "--naive/--no-naive",
        help="Also ask the same model the plainest question (yes/no, or A/B in both orders) "
        "in the same batches and report judge - naive with 95% intervals.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the results as JSON lines.")]


def judgment_cache(cache: Path | None, no_cache: bool) -> JudgmentCache | None:
    """The judgment cache of a command: on by default, `--cache FILE`, or `--no-cache`."""
    from judge.runner.cache import open_cache

    check_cache_flags(cache, no_cache)
    return open_cache(False if no_cache else (cache or True))


def check_cache_flags(cache: Path | None, no_cache: bool) -> None:
    """Refuse `--cache FILE` with `--no-cache`, and a folder as the cache file."""
    if no_cache and cache is not None:
        raise typer.BadParameter("give --cache FILE or --no-cache, not both")
    if cache is not None and cache.is_dir():
        raise typer.BadParameter(f"--cache {cache} is a folder; give a file path")


def checked_pair_method(value: str) -> PairMethod:
    """The `--pair-method` value, refused (one line, before any model loads) if unknown."""
    for method in PAIR_METHODS:
        if value == method:
            return method
    raise ConfigError(f"--pair-method {value!r}", hint="rubric or direct")


def check_batch_size(batch_size: int) -> None:
    """Refuse a batch size below 1 (before any model loads)."""
    if batch_size < 1:
        raise ConfigError(f"--batch-size {batch_size} < 1", hint="items per backend batch: 1+")
