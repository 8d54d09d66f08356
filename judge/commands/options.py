"""Options shared by the commands, and the state the root callback hands them in ``ctx.obj``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

import typer

from judge.settings import DEFAULTS, JudgeSettings

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
