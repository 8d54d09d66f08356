"""The shared flags: declared once from `JudgeSettings`, on every judging command, with defaults."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer
from pydantic import Field
from typer.main import get_command
from typer.testing import CliRunner

from judge import _cli as cli
from judge.backends.openai.options import OpenAIOptions
from judge.backends.sglang.server import DEFAULT_URL
from judge.commands import flags as shared
from judge.commands.flags import JudgingFlags, judging_command, setting_parameters
from judge.commands.options import CliState
from judge.settings import DEFAULTS, JudgeSettings
from tests.cli_main import run_judge

JUDGING = ["score", "compare", "batch", "serve", "eval", "probe", "tune"]
MODEL = ["rubric generate", "rubric refine"]
"""Commands that call a backend without a `Judge`: the backend flags only."""
BACKEND_DEFAULTS = {
    "--backend": "transformers",
    "--model": "(embedded SmolLM2-135M-Instruct)",
    "--base-url": f"({shared.BASE_URL_DEFAULTS})",
    "--dtype": "auto",
}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _shown_default(name: str) -> str:
    value = getattr(DEFAULTS, name)
    if isinstance(value, bool):
        return _flag(name)[2:] if value else "no-" + _flag(name)[2:]
    return "none" if value is None else str(value)


def expected_defaults() -> dict[str, str]:
    """Every shared flag of a judging command and the default its help must show."""
    settings = {_flag(name): _shown_default(name) for name in JudgeSettings.model_fields}
    return {**BACKEND_DEFAULTS, **settings}


def help_rows(text: str) -> dict[str, str]:
    """The rows of a Rich help page: option -> its whole row (wrapped lines joined)."""
    rows: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        cell = line.strip().strip("│").strip()
        match = re.match(r"(--[a-z][a-z0-9-]*)", cell)
        if match:
            current = match.group(1)
            rows[current] = cell
        elif current is not None and cell and not cell.startswith(("╭", "╰")):
            rows[current] += " " + cell
    return {option: " ".join(row.split()) for option, row in rows.items()}


def _help(monkeypatch, capsys, command: str) -> str:
    monkeypatch.setenv("COLUMNS", "200")
    code, out, err = run_judge(monkeypatch, capsys, *command.split(), "--help")
    assert code == 0, err
    return out


@pytest.mark.parametrize("command", JUDGING)
def test_every_judging_command_shows_every_shared_flag_with_its_default(
    command, monkeypatch, capsys
):
    rows = help_rows(_help(monkeypatch, capsys, command))
    for option, default in expected_defaults().items():
        assert option in rows, f"judge {command} --help lacks {option}"
        assert f"[default: {default}]" in rows[option], (command, option, rows[option])


@pytest.mark.parametrize("command", MODEL)
def test_model_commands_show_the_backend_flags_with_their_defaults(command, monkeypatch, capsys):
    rows = help_rows(_help(monkeypatch, capsys, command))
    for option, default in BACKEND_DEFAULTS.items():
        assert f"[default: {default}]" in rows[option], (command, option)
    assert "--strategy" not in rows, "no judge settings where no Judge judges"


def test_help_text_keeps_its_brackets_and_the_cache_default(monkeypatch, capsys):
    rows = help_rows(_help(monkeypatch, capsys, "score"))
    assert "[default: (judgments.sqlite in the user cache dir" in rows["--cache"]
    assert "[default: 16]" in rows["--batch-size"]


def _commands() -> dict[str, Any]:
    root = get_command(cli.app)
    found = {}

    def walk(command: Any, path: list[str]) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])
        if not hasattr(command, "commands"):
            found[" ".join(path)] = command

    walk(root, [])
    return found


def _options(command: Any) -> set[str]:
    return {
        opt
        for p in command.params
        if p.param_type_name == "option"
        for opt in p.opts
        if "--" in opt
    }


def test_the_judging_flags_are_exactly_the_settings_fields_plus_the_backend_flags():
    commands = _commands()
    settings_flags = {_flag(name) for name in JudgeSettings.model_fields}
    backend_flags = set(BACKEND_DEFAULTS)
    for name in JUDGING:
        shared_params = [
            p
            for p in commands[name].params
            if p.name in JudgeSettings.model_fields or p.name in shared.BACKEND_FLAGS
        ]
        assert {p.name for p in shared_params} == set(JudgeSettings.model_fields) | set(
            shared.BACKEND_FLAGS
        ), name
        assert settings_flags | backend_flags <= _options(commands[name]), name
    for name in MODEL:
        assert backend_flags <= _options(commands[name])
        assert not settings_flags & _options(commands[name]), name


def test_one_name_per_concept_across_all_commands():
    commands = _commands()
    every = set().union(*(_options(command) for command in commands.values()))
    for old in ("--out", "--chunk-size", "--compare-method", "--rows", "--draws"):
        assert old not in every, old
    assert "--method" not in every - _options(commands["calibrate fit"]), "pairs: --pair-method"
    pair_defaults = {
        p.default
        for command in commands.values()
        for p in command.params
        if p.name == "pair_method"
    }
    assert pair_defaults == {"rubric"}
    force_helps = {
        p.help for command in commands.values() for p in command.params if "--force" in p.opts
    }
    assert len(force_helps) == 1 and "Start the output over" in force_helps.pop()


def test_a_new_settings_field_becomes_a_flag_and_an_unreadable_type_is_refused():
    class Extended(JudgeSettings):
        judge_votes: int = 3
        """Votes per verdict [a made-up knob]."""
        strictness: float | None = None
        """How strict (None: lenient)."""

    parameters = {p.name: p for p in setting_parameters(Extended)}
    assert set(parameters) == set(Extended.model_fields)
    votes = parameters["judge_votes"]
    assert votes.default == 3
    option = votes.annotation.__metadata__[0]
    assert "--judge-votes" in (option.default, *(option.param_decls or ()))
    assert option.help == r"Votes per verdict \[a made-up knob]."  # escaped for Rich
    assert parameters["strictness"].default == "none"

    class Unreadable(JudgeSettings):
        tags: list[str] = Field(default_factory=list)
        """Free tags."""

    with pytest.raises(TypeError, match="tags"):
        setting_parameters(Unreadable)


def _toy(recorded: list[JudgingFlags]) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    @judging_command
    def run(ctx: typer.Context, flags: JudgingFlags, label: str = "x") -> None:
        recorded.append(flags)

    return app


def _invoke(state: CliState, *args: str) -> tuple[Any, list[JudgingFlags]]:
    recorded: list[JudgingFlags] = []
    result = CliRunner().invoke(_toy(recorded), list(args), obj=state)
    return result, recorded


def test_flags_given_win_over_the_config_and_defaults_never_do():
    config = CliState(
        settings=JudgeSettings(max_rationale_chars=50, retries=3),
        backend_options={"max_concurrency": 4, "dtype": "float32"},
    )
    result, [flags] = _invoke(config, "--max-rationale-chars", "70", "--seed", "none")
    assert result.exit_code == 0, result.output
    assert flags.settings.max_rationale_chars == 70, "the flag wins over the config"
    assert flags.settings.retries == 3, "a flag not given keeps the config's value"
    assert flags.settings.seed is None and flags.settings.strategy == "breadth"
    assert flags.backend == "transformers"
    assert flags.backend_options == {"max_concurrency": 4, "dtype": "float32"}, (
        "--dtype's shown default does not override the config"
    )
    result, [flags] = _invoke(config, "--dtype", "bfloat16", "--likert", "5", "--score-rule", "cap")
    assert flags.backend_options["dtype"] == "bfloat16"
    assert flags.settings.likert == 5 and flags.settings.score_rule == "cap"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--backend", "openai", "--dtype", "float32"], "--dtype applies to the transformers"),
        (["--base-url", "http://x"], "--base-url applies to the HTTP backends"),
        (["--likert", "five"], "'five': give an integer or none"),
    ],
)
def test_a_flag_that_does_not_apply_is_refused(args, message):
    result, recorded = _invoke(CliState(), *args)
    assert result.exit_code == 2 and not recorded
    assert message in " ".join(result.output.split())


def test_a_bad_settings_value_is_one_line_before_any_model(monkeypatch, capsys):
    code, _, err = run_judge(
        monkeypatch, capsys, "score", "--backend", "never-loads", "--strategy", "deep",
        "--prompt", "Q", "--response", "A",
    )  # fmt: skip
    assert code == 2 and "unknown strategy 'deep'" in err and len(err.strip().splitlines()) == 1


def test_config_defaults_may_not_hold_judge_settings(tmp_path, monkeypatch, capsys):
    config = tmp_path / "judge.yaml"
    config.write_text("defaults:\n  strategy: depth\n")
    code, _, err = run_judge(monkeypatch, capsys, "--config", str(config), "rubric", "list")
    assert code == 2 and "defaults: strategy are judge settings" in err


def test_the_base_url_defaults_in_help_are_the_backends_own():
    assert f"sglang-server {DEFAULT_URL}" in shared.BASE_URL_DEFAULTS
    assert f"openai {OpenAIOptions.model_fields['base_url'].default}" in shared.BASE_URL_DEFAULTS


def test_the_flags_page_lists_every_shared_flag():
    from tests.conftest import REPO

    page = (REPO / "docs" / "cli-flags.md").read_text(encoding="utf-8")
    for flag in expected_defaults():
        assert f"| `{flag}`" in page, f"docs/cli-flags.md does not list {flag}"
