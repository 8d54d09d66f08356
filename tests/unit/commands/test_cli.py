import json

import pytest
from typer.testing import CliRunner

from judge import _cli as cli
from judge import backends


@pytest.fixture(autouse=True)
def _scripted_backend(monkeypatch):
    monkeypatch.setitem(backends._REGISTRY, "scripted-yes", "tests.doubles.scripted:always_yes")


def run(*args: str):
    return CliRunner().invoke(cli.app, list(args))


def run_main(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.argv", ["judge", *args])
    with pytest.raises(SystemExit) as info:
        cli.main()
    out, err = capsys.readouterr()
    return info.value.code, out, err


def test_score_json_prints_one_judgment(monkeypatch, capsys):
    code, out, _ = run_main(
        monkeypatch,
        capsys,
        "score",
        "--backend",
        "scripted-yes",
        "--prompt",
        "What is 2+2?",
        "--response",
        "4",
        "--json",
    )
    assert code == 0
    [line] = out.strip().splitlines()
    judgment = json.loads(line)
    assert judgment["score"] == pytest.approx(0.8)
    assert len(judgment["verdicts"]) == 5 and all(
        v["p_yes"] == pytest.approx(0.8) for v in judgment["verdicts"]
    )
    assert judgment["rubric_fingerprint"] and judgment["model"] == "scripted-yes"


def test_score_table_by_default():
    result = run("score", "--backend", "scripted-yes", "--prompt", "Q?", "--response", "A.")
    assert result.exit_code == 0
    assert "addresses_request" in result.output and "score 0.800" in result.output


def test_score_file_reports_bad_lines_and_scores_the_rest(tmp_path, monkeypatch, capsys):
    data = tmp_path / "in.jsonl"
    data.write_bytes(
        b'{"id": "ok1", "prompt": "Q?", "response": "A."}\n'
        b'{"id": "broken", "prompt": "Q?"\n'
        b'{"id": "nofield", "prompt": "Q?"}\n'
        b'{"id": "bytes", "prompt": "Q?", "response": "\xff"}\n'
        b'{"id": "empty", "prompt": "Q?", "response": ""}\n'
        b"\n"
        b'{"id": "ok2", "messages": [{"role": "user", "content": "Hi"}], "response": "Hello."}\n'
    )
    out_file = tmp_path / "out.jsonl"
    code, _, err = run_main(
        monkeypatch,
        capsys,
        "score",
        "--backend",
        "scripted-yes",
        "--input",
        str(data),
        "--output",
        str(out_file),
    )
    assert code == 1, "bad rows make the exit code non-zero"
    assert f"{data}:2: not valid JSON" in err
    assert f"{data}:3: missing field 'response'" in err
    assert f"{data}:4: invalid UTF-8" in err
    assert "3 judged, 3 failed (invalid_input 3)" in err, "the summary counts failures by kind"
    assert "Traceback" not in err
    written = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert [j["sample_id"] for j in written] == ["ok1", "empty", "ok2"]
    # A blank response is judged by rule: it fails every criterion, without a model call.
    assert written[1]["score"] == 0.0 and written[1]["strategy"] == "empty"
    assert written[1]["error"] is None and written[1]["usage"]["prompt_tokens"] == 0


@pytest.mark.parametrize(
    "args, message, code",
    [
        (
            ["score", "--rubric", "nope", "--prompt", "Q", "--response", "A"],
            "unknown rubric 'nope'",
            2,
        ),
        (["score", "--prompt", "Q", "--response", "bad \udcff"], "not valid UTF-8", 2),
        (
            ["score", "--backend", "nope", "--prompt", "Q", "--response", "A"],
            "unknown backend 'nope'",
            2,
        ),
        (["score", "--input", "/nonexistent.jsonl"], "cannot read /nonexistent.jsonl", 2),
    ],
)
def test_user_errors_are_one_line_without_traceback(monkeypatch, capsys, args, message, code):
    exit_code, _, err = run_main(monkeypatch, capsys, *args)
    assert exit_code == code
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_missing_response_is_a_usage_error():
    result = run("score", "--prompt", "Q")
    assert result.exit_code == 2 and "--response" in result.output


def test_rubric_commands():
    listed = run("rubric", "list")
    assert listed.exit_code == 0 and "summarization_faithfuln" in listed.output
    shown = run("rubric", "show", "helpfulness")
    assert (
        shown.exit_code == 0
        and "[hard_rule]" in shown.output
        and "addresses_request" in shown.output
    )
    as_yaml = run("rubric", "show", "helpfulness", "--yaml")
    assert as_yaml.output.startswith("name: helpfulness")


def test_rubric_check_names_file_and_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ncriteria:\n  - id: a\n    text: ok?\n    weight: -2\n")
    result = run("rubric", "check", str(bad), "rubrics/helpfulness.yaml")
    assert result.exit_code == 2
    assert str(bad) in result.output and "criteria[0].weight" in result.output
    assert "ok rubrics/helpfulness.yaml" in result.output


def test_help_shows_an_example_per_command():
    result = run("--help")
    assert result.exit_code == 0
    assert "Example: judge score" in result.output
    rubric_help = run("rubric", "--help")
    for command in ("list", "show", "check"):
        assert f"judge rubric {command}" in rubric_help.output
