"""The shared flags, declared once: the backend flags and one flag per `JudgeSettings` field.

`judging_command` gives a command the backend flags (``--backend --model --base-url --dtype``)
and one flag per `JudgeSettings` field (name, type, default and help all read from the field),
and hands the command one `JudgingFlags` as its ``flags`` parameter. `model_command` gives a
command that loads a model without judging through `Judge` (``judge rubric generate/refine``)
the backend flags alone. A new `JudgeSettings` field is a new flag of every judging command,
with nothing to add here.

Precedence: a flag given on the command line wins over `--config` (`settings:` and
`backend_options:`), which wins over the `JudgeSettings` defaults. A flag counts as given only
when it was typed, so the defaults shown by ``--help`` never override a config file.
"""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

import typer
from rich.markup import escape

from judge.commands.options import cli_state
from judge.settings import JudgeSettings

HTTP_BACKENDS = ("openai", "sglang-server")
DTYPE_BACKENDS = ("transformers",)
BACKEND_PANEL = "Backend"
JUDGING_PANEL = "Judging (JudgeSettings; --config settings: sets them too)"
BASE_URL_DEFAULTS = "sglang-server http://127.0.0.1:30000, openai https://api.openai.com/v1"
"""The HTTP backends' own default URLs, for --help (a test holds them equal to the backends')."""

Command = TypeVar("Command", bound=Callable[..., Any])


@dataclass(frozen=True)
class JudgingFlags:
    """What the shared flags of one command line say: the backend and the judge settings."""

    backend: str
    backend_options: dict[str, Any]
    """Keyword options of the backend: `--config` ``backend_options``, ``-B``, then the flags."""
    settings: JudgeSettings
    """`--config` ``settings`` with the flags that were given applied on them."""


def _none_or(kind: type) -> Callable[[str], Any]:
    """A parser of a flag whose value may also be ``none`` (the field's None)."""

    def parse(text: str) -> Any:
        if text.strip().lower() == "none":
            return None
        try:
            return kind(text)
        except ValueError:
            wanted = {"int": "an integer", "float": "a number"}.get(kind.__name__, "a value")
            raise typer.BadParameter(f"{text!r}: give {wanted} or none") from None

    return parse


def _flag_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def _help(settings: type[JudgeSettings], name: str) -> str:
    """The field's whole docstring on one line, escaped so Rich prints its brackets."""
    description = settings.model_fields[name].description or name
    return escape(" ".join(description.split()))


def setting_parameter(
    name: str, settings: type[JudgeSettings] = JudgeSettings
) -> inspect.Parameter:
    """The CLI parameter of one settings field: its type, its default and its help.

    Raises TypeError for a field type the CLI cannot read from a flag, so a new field of such a
    type fails the test suite instead of silently missing from the command line.
    """
    field = settings.model_fields[name]
    annotation, default = field.annotation, field.default
    option: dict[str, Any] = {"help": _help(settings, name), "rich_help_panel": JUDGING_PANEL}
    decls: tuple[str, ...] = (_flag_name(name),)
    members = [arg for arg in get_args(annotation) if arg is not type(None)]
    optional = get_origin(annotation) in (Union, types.UnionType) and len(members) == 1
    if annotation is bool:
        decls = (f"{_flag_name(name)}/--no-{name.replace('_', '-')}",)
        kind: Any = bool
    elif get_origin(annotation) is Literal:
        # Read as text and checked by JudgeSettings: a wrong value is its one-line ConfigError.
        kind = str
        option["metavar"] = "|".join(str(choice) for choice in get_args(annotation))
    elif annotation in (int, float, str):
        kind = annotation
    elif optional and members[0] in (int, float, str):
        kind = annotation
        option.update(parser=_none_or(members[0]), metavar=f"{members[0].__name__.upper()}|none")
        default = "none" if default is None else str(default)
    else:
        raise TypeError(f"{settings.__name__}.{name}: no CLI flag for a field of type {annotation}")
    return inspect.Parameter(
        name,
        inspect.Parameter.KEYWORD_ONLY,
        default=default,
        annotation=Annotated[kind, typer.Option(*decls, **option)],
    )


def setting_parameters(settings: type[JudgeSettings] = JudgeSettings) -> list[inspect.Parameter]:
    """One parameter per settings field, in the fields' order."""
    return [setting_parameter(name, settings) for name in settings.model_fields]


def backend_parameters() -> list[inspect.Parameter]:
    """``--backend --model --base-url --dtype``: which model judges, and where."""
    from judge.backends import available_backends

    panel: dict[str, Any] = {"rich_help_panel": BACKEND_PANEL}
    declared: list[tuple[str, Any, Any]] = [
        (
            "backend",
            Annotated[
                str, typer.Option(help=f"One of {', '.join(available_backends())}.", **panel)
            ],
            "transformers",
        ),
        (
            "model",
            Annotated[
                str | None,
                typer.Option(
                    help="A local Hugging Face folder or .gguf file (transformers), a model id "
                    "(sglang, the HTTP backends).",
                    show_default="embedded SmolLM2-135M-Instruct",
                    **panel,
                ),
            ],
            None,
        ),
        (
            "base_url",
            Annotated[
                str | None,
                typer.Option(
                    help=f"Server URL of the HTTP backends ({', '.join(HTTP_BACKENDS)}).",
                    show_default=BASE_URL_DEFAULTS,
                    **panel,
                ),
            ],
            None,
        ),
        (
            "dtype",
            Annotated[
                str,
                typer.Option(
                    help="Compute dtype of the transformers backend: auto (float32 on every CPU: "
                    "the same verdicts whatever the batch), float32, bfloat16 or float16.",
                    **panel,
                ),
            ],
            "auto",
        ),
    ]
    return [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=kind)
        for name, kind, default in declared
    ]


BACKEND_FLAGS = ("backend", "model", "base_url", "dtype")
SETTING_FLAGS = tuple(JudgeSettings.model_fields)


def _typed(ctx: typer.Context, name: str) -> bool:
    """Whether the user gave this parameter (command line, environment or `defaults:`)."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name != "DEFAULT"


def _backend_options(ctx: typer.Context, values: dict[str, Any]) -> dict[str, Any]:
    backend = values["backend"]
    options: dict[str, Any] = dict(cli_state(ctx).backend_options)
    if values["model"] is not None:
        options["model"] = values["model"]
    if values["base_url"] is not None:
        if backend not in HTTP_BACKENDS:
            raise typer.BadParameter(
                f"--base-url applies to the HTTP backends ({', '.join(HTTP_BACKENDS)}), "
                f"not to {backend!r}"
            )
        options["base_url"] = values["base_url"]
    if _typed(ctx, "dtype"):
        if backend not in DTYPE_BACKENDS:
            raise typer.BadParameter(
                f"--dtype applies to the {', '.join(DTYPE_BACKENDS)} backend, not to {backend!r}",
                param_hint="--dtype",
            )
        options["dtype"] = values["dtype"]
    return options


def _with_flags(command: Command, names: tuple[str, ...], settings: bool) -> Command:
    signature = inspect.signature(command, eval_str=True)
    own = [p for p in signature.parameters.values() if p.name != "flags"]
    if "ctx" not in signature.parameters or "flags" not in signature.parameters:
        raise TypeError(f"{command.__name__}: a flagged command takes ctx and flags")
    shared = backend_parameters() + (setting_parameters() if settings else [])
    clash = {p.name for p in own} & set(names)
    if clash:
        raise TypeError(f"{command.__name__}: its own options {sorted(clash)} are shared flags")

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        ctx: typer.Context = kwargs["ctx"]
        values = {name: kwargs.pop(name) for name in names}
        state = cli_state(ctx)
        given = {name: values[name] for name in SETTING_FLAGS if settings and _typed(ctx, name)}
        kwargs["flags"] = JudgingFlags(
            backend=values["backend"],
            backend_options=_backend_options(ctx, values),
            settings=state.settings.updated(**given),
        )
        return command(*args, **kwargs)

    run.__signature__ = signature.replace(parameters=own + shared)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in own + shared}
    return run  # type: ignore[return-value]


def judging_command(command: Command) -> Command:
    """Add the backend flags and one flag per `JudgeSettings` field; pass `flags: JudgingFlags`."""
    return _with_flags(command, BACKEND_FLAGS + SETTING_FLAGS, settings=True)


def model_command(command: Command) -> Command:
    """Add the backend flags alone (a command that calls a backend, not a `Judge`)."""
    return _with_flags(command, BACKEND_FLAGS, settings=False)
