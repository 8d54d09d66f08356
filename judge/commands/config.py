"""The CLI's configuration file and `--backend-option` flags: the same options as the Python API."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from judge.errors import ConfigError, JudgeError
from judge.library import yaml_problem
from judge.settings import DEFAULTS, JudgeSettings


class TunedNote(BaseModel):
    """What `judge tune` found, kept in the config it wrote (`tuned:`); it changes no judgment.

    With recommendation ``naive`` no configuration beat the naive baseline beyond its interval:
    the settings are the closest judge, and every command run with the file says so.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    recommendation: Literal["judge", "naive"]
    config: str
    metric: str
    value: float | None = None
    naive: float | None = None
    difference_low: float | None = None
    difference_high: float | None = None
    data: str
    items: int
    report: str

    def warning(self) -> str | None:
        """The line to show when the file recommends the naive baseline over its settings."""
        if self.recommendation != "naive":
            return None
        return (
            f"this config ({self.config}) was tuned on {self.data} ({self.items} items), where no "
            f"configuration beat the naive baseline ({self.metric}: judge {_num(self.value)}, "
            f"naive {_num(self.naive)}); see {self.report}"
        )


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


class CliConfig(BaseModel):
    """A `--config` YAML file.

    `settings` are the judge's settings (`JudgeSettings` fields, e.g. ``strategy``,
    ``max_rationale_chars``, ``retries``) for every command that judges; the flags given on the
    command line are applied on them. `defaults` are defaults of the other options for every
    command that has the option, e.g. ``backend``, ``model``, ``base_url``, ``batch_size``
    (flags on the command line still win; judge settings are refused here: they go under
    `settings`); `backend_options` are keyword options of the backend's constructor. `tuned` is
    what `judge tune` found when it wrote the file (`TunedNote`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    settings: JudgeSettings = DEFAULTS
    defaults: dict[str, Any] = {}
    backend_options: dict[str, Any] = {}
    tuned: TunedNote | None = None


def load_cli_config(path: Path) -> CliConfig:
    """Read and validate a config file; errors name the file and the field."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"config {path}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config {path}: not valid YAML: {yaml_problem(exc)}") from None
    try:
        loaded = CliConfig.model_validate(data)
    except JudgeError as exc:  # a settings value the settings' own checks refuse
        raise ConfigError(f"config {path}: settings: {exc.message}", hint=exc.hint) from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
            for e in exc.errors()
        )
        raise ConfigError(
            f"config {path}: {problems}",
            hint="top-level keys: settings, defaults, backend_options, tuned",
        ) from None
    misplaced = sorted(set(loaded.defaults) & set(JudgeSettings.model_fields))
    if misplaced:
        raise ConfigError(
            f"config {path}: defaults: {', '.join(misplaced)} are judge settings",
            hint="put them under `settings:`, which every judging command reads",
        )
    return loaded


def parse_backend_options(pairs: list[str]) -> dict[str, Any]:
    """Parse ``KEY=VALUE`` flags; values are read as YAML scalars (16 -> int, true -> bool)."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--backend-option {pair!r}: expected KEY=VALUE")
        options[key.strip()] = yaml.safe_load(value) if value else ""
    return options


def defaults_for(command: Any, defaults: dict[str, Any]) -> dict[str, Any]:
    """A click `default_map`: each command and sub-command gets the defaults it has options for.

    `command` is the CLI's click command (typer vendors its own click, hence duck typing).
    """
    names = {param.name for param in command.params}
    mapping: dict[str, Any] = {key: value for key, value in defaults.items() if key in names}
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            nested = defaults_for(sub, defaults)
            if nested:
                mapping[name] = nested
    return mapping
