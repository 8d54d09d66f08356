import json

import pytest

from judge import _cli as cli
from judge import backends
from tests.doubles.scripted import RECORDED_OPTIONS


@pytest.fixture(autouse=True)
def _registered(monkeypatch):
    monkeypatch.setitem(backends._REGISTRY, "recording", "tests.doubles.scripted:recording")


def run_main(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.argv", ["judge", *args])
    with pytest.raises(SystemExit) as info:
        cli.main()
    out, err = capsys.readouterr()
    return info.value.code, out, err


def test_config_file_sets_defaults_and_backend_options(tmp_path, monkeypatch, capsys):
    config = tmp_path / "judge.yaml"
    config.write_text(
        "defaults:\n  backend: recording\nsettings:\n  max_rationale_chars: 50\n"
        "backend_options:\n  max_concurrency: 16\n  flavor: vllm\n"
    )
    code, out, _ = run_main(
        monkeypatch,
        capsys,
        "--config",
        str(config),
        "-B",
        "max_concurrency=4",
        "score",
        "--prompt",
        "Q?",
        "--response",
        "A.",
        "--json",
    )
    assert code == 0, out
    assert RECORDED_OPTIONS == {"max_concurrency": 4, "flavor": "vllm"}, "flags win over the file"
    assert json.loads(out)["model"] == "scripted-yes"


def test_command_line_flags_win_over_config_defaults(tmp_path, monkeypatch, capsys):
    config = tmp_path / "judge.yaml"
    config.write_text("defaults:\n  backend: nope\n")
    code, _, err = run_main(
        monkeypatch,
        capsys,
        "--config",
        str(config),
        "score",
        "--backend",
        "recording",
        "--prompt",
        "Q?",
        "--response",
        "A.",
        "--json",
    )
    assert code == 0, err


@pytest.mark.parametrize(
    "text, message",
    [("defalts:\n  backend: x\n", "defalts"), ("defaults: [1, 2\n", "not valid YAML")],
)
def test_bad_config_is_a_one_line_error(tmp_path, monkeypatch, capsys, text, message):
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    code, _, err = run_main(monkeypatch, capsys, "--config", str(config), "rubric", "list")
    assert code == 2 and message in err and str(config) in err
    assert len(err.strip().splitlines()) == 1


def test_backend_option_needs_key_and_value(monkeypatch, capsys):
    code, _, err = run_main(monkeypatch, capsys, "-B", "novalue", "rubric", "list")
    assert code == 2 and "expected KEY=VALUE" in err


def _fingerprint(**settings) -> str:
    from judge import Judge
    from judge.settings import JudgeSettings
    from tests.doubles.scripted import always_yes

    judge = Judge(always_yes(), "helpfulness", settings=JudgeSettings(**settings))
    return judge.settings_fingerprint


def test_config_settings_reach_the_judge_and_flags_apply_on_them(tmp_path, monkeypatch, capsys):
    config = tmp_path / "judge.yaml"
    config.write_text("settings:\n  max_rationale_chars: 50\n  retries: 3\n")
    score = ["score", "--backend", "recording", "--prompt", "Q?", "--response", "A.", "--json"]
    code, out, err = run_main(monkeypatch, capsys, "--config", str(config), *score)
    assert code == 0, err
    assert json.loads(out)["settings_fingerprint"] == _fingerprint(
        max_rationale_chars=50, retries=3
    )
    flagged = [*score, "--max-rationale-chars", "80"]
    code, out, err = run_main(monkeypatch, capsys, "--config", str(config), *flagged)
    assert code == 0, err
    assert json.loads(out)["settings_fingerprint"] == _fingerprint(
        max_rationale_chars=80, retries=3
    )


def test_a_bad_setting_in_the_config_names_the_file(tmp_path, monkeypatch, capsys):
    config = tmp_path / "judge.yaml"
    config.write_text("settings:\n  samples: 0\n")
    code, _, err = run_main(monkeypatch, capsys, "--config", str(config), "rubric", "list")
    assert code == 2 and f"config {config}: settings: samples 0 < 1" in err
    assert len(err.strip().splitlines()) == 1


def test_the_docs_config_example_is_valid(tmp_path):
    from judge.commands.config import load_cli_config
    from tests.snippets import snippet

    config = tmp_path / "judge.yaml"
    config.write_text(snippet("config"), encoding="utf-8")
    loaded = load_cli_config(config)
    assert loaded.settings.strategy == "auto" and loaded.settings.retries == 2
    assert loaded.backend_options["max_concurrency"] == 16
