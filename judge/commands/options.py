"""Options shared by the commands, and the state the root callback hands them in ``ctx.obj``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from judge.settings import DEFAULTS, JudgeSettings

if TYPE_CHECKING:
    from judge.runner.cache import JudgmentCache

HTTP_BACKENDS = ("openai", "sglang-server")


@dataclass
class CliState:
    """Global options of one CLI run (set by the root callback, read by the commands)."""

    debug: bool = False
    backend_options: dict[str, Any] = field(default_factory=dict)
    settings: JudgeSettings = DEFAULTS
    """The judge settings of `--config` (`settings:`); a command's flags are applied on them."""


BackendOpt = Annotated[
    str, typer.Option(help="Backend: transformers, sglang, sglang-server, openai.")
]
ModelOpt = Annotated[
    str | None,
    typer.Option(help="Model: a local HF folder or .gguf file (default: embedded SmolLM2-135M)."),
]
RubricOpt = Annotated[str, typer.Option(help="Library rubric name or a YAML file.")]
BaseUrlOpt = Annotated[str | None, typer.Option(help="Server URL for the HTTP backends.")]
CacheOpt = Annotated[
    Path | None,
    typer.Option(
        "--cache",
        help="Judgment cache file (SQLite) [default: judgments.sqlite in the user cache dir, "
        "or $JUDGE_JUDGMENT_CACHE].",
    ),
]
NoCacheOpt = Annotated[
    bool, typer.Option("--no-cache", help="Judge every sample again; never touch the cache.")
]


def cli_state(ctx: typer.Context) -> CliState:
    """The run's state; a fresh default one when a command runs without the root callback."""
    return ctx.ensure_object(CliState)


def backend_options(
    ctx: typer.Context, backend: str, model: str | None, base_url: str | None
) -> dict[str, Any]:
    """The keyword options a backend factory takes from the CLI flags and `--config`."""
    options: dict[str, Any] = dict(cli_state(ctx).backend_options)
    if model is not None:
        options["model"] = model
    if base_url is not None:
        if backend not in HTTP_BACKENDS:
            raise typer.BadParameter(
                f"--base-url applies to the HTTP backends ({', '.join(HTTP_BACKENDS)}), "
                f"not to {backend!r}"
            )
        options["base_url"] = base_url
    return options


def setting_help(name: str) -> str:
    """Help of a flag that sets a `JudgeSettings` field: its documentation and its default."""
    return f"{JudgeSettings.field_help(name)} [default: {getattr(DEFAULTS, name)}]"


ReasoningOpt = Annotated[
    str | None,
    typer.Option(help=setting_help("reasoning") + " (before, after or none)", show_default=False),
]


def judge_settings(ctx: typer.Context, **flags: Any) -> JudgeSettings:
    """The run's judge settings with the flags that were given (None: not given) applied."""
    given = {name: value for name, value in flags.items() if value is not None}
    return cli_state(ctx).settings.updated(**given)


def judgment_cache(cache: Path | None, no_cache: bool) -> JudgmentCache | None:
    """The judgment cache of a command: on by default, `--cache FILE`, or `--no-cache`."""
    from judge.runner.cache import open_cache

    if no_cache and cache is not None:
        raise typer.BadParameter("give --cache FILE or --no-cache, not both")
    if cache is not None and cache.is_dir():
        raise typer.BadParameter(f"--cache {cache} is a folder; give a file path")
    return open_cache(False if no_cache else (cache or True))


# The judging flags that `judge score`, `judge compare` and `judge eval` share.
StrategyOpt = Annotated[str | None, typer.Option(help=setting_help("strategy"))]
SamplesOpt = Annotated[int | None, typer.Option("--samples", help=setting_help("samples"))]
RationaleOpt = Annotated[int | None, typer.Option(help=setting_help("max_rationale_chars"))]
LikertOpt = Annotated[int | None, typer.Option(help=setting_help("likert"))]
SolutionTokensOpt = Annotated[int | None, typer.Option(help=setting_help("max_solution_tokens"))]
CompareMethodOpt = Annotated[
    str,
    typer.Option(
        "--method",
        help="Pairs: rubric (each response judged on every criterion; order-free, direct on a "
        "tie) or direct (which is better, asked in both orders); the default of Judge.compare.",
    ),
]
ContentGateOpt = Annotated[
    bool | None, typer.Option("--content-gate/--no-content-gate", help=setting_help("content_gate"))
]
ReferenceDepthOpt = Annotated[
    bool | None,
    typer.Option("--reference-depth/--no-reference-depth", help=setting_help("reference_depth")),
]
AbstainBandOpt = Annotated[float | None, typer.Option(help=setting_help("abstain_band"))]
CalibratorOpt = Annotated[
    Path | None,
    typer.Option(help="Apply a calibrator JSON (from `judge calibrate fit`) to the scores."),
]
ForceCalibratorOpt = Annotated[
    bool, typer.Option(help="Apply the calibrator even if fitted for another configuration.")
]
