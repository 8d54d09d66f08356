"""`judge tune` on the command line, and its tuned.yaml read back by `judge --config`."""

from __future__ import annotations

import json

import pytest

from judge import backends
from judge.backends.scripted import ScriptedBackend
from tests.cli_main import run_judge
from tests.unit.calibration.test_tune import knowing, labelled


def knowing_backend(**options: object) -> ScriptedBackend:
    """`knowing()` by name; ``--model naive`` is the one whose naive question knows better."""
    if options.get("model") == "naive":
        return knowing(judge_knows="never", naive_knows=True)
    return knowing()


@pytest.fixture(autouse=True)
def _backend(monkeypatch):
    monkeypatch.setitem(backends._REGISTRY, "knowing", f"{__name__}:knowing_backend")


def test_tune_writes_a_config_that_judge_config_reads(tmp_path, monkeypatch, capsys):
    data = labelled(tmp_path / "data.jsonl")
    grid = tmp_path / "grid.yaml"
    grid.write_text("reasoning: [before, none]\n")
    out = tmp_path / "out"
    args = ["tune", str(data), "--grid", str(grid), "--backend", "knowing", "--output", str(out)]
    code, stdout, err = run_judge(monkeypatch, capsys, *args, "--n-boot", "200")
    assert code == 0, err
    assert "recommendation: c1" in stdout and "tuned.yaml" in stdout
    config = out / "tuned.yaml"
    # The config carries the backend and the chosen settings: `score` needs no other flag.
    code, stdout, err = run_judge(
        monkeypatch,
        capsys,
        *("--config", str(config), "score", "--prompt", "Question 1?"),
        *("--response", "answer 1 is right", "--json"),
    )
    assert code == 0, err
    judgment = json.loads(stdout.splitlines()[0])
    assert judgment["model"] == "scripted-knowing" and judgment["score"] > 0.5
    assert judgment["details"].get("probs_source") is not None
    assert "note:" not in err


def test_when_the_baseline_wins_the_config_says_so_on_every_use(tmp_path, monkeypatch, capsys):
    data = labelled(tmp_path / "data.jsonl")
    out = tmp_path / "out"
    args = ["tune", str(data), "--backend", "knowing", "--model", "naive", "--output", str(out)]
    code, stdout, err = run_judge(monkeypatch, capsys, *args, "--n-boot", "200")
    assert code == 0, err
    assert "recommendation: the naive baseline" in stdout
    code, stdout, err = run_judge(
        monkeypatch,
        capsys,
        *("--config", str(out / "tuned.yaml"), "score", "--prompt", "Q?", "--response", "A"),
    )
    assert code == 0, err
    assert "note: this config" in err and "no configuration beat the naive baseline" in err


def test_an_unknown_grid_key_exits_2_with_one_line(tmp_path, monkeypatch, capsys):
    data = labelled(tmp_path / "data.jsonl", n=4)
    grid = tmp_path / "grid.yaml"
    grid.write_text("reasonning: [none]\n")
    code, _, err = run_judge(
        monkeypatch, capsys, "tune", str(data), "--grid", str(grid), "--backend", "knowing"
    )
    assert code == 2
    assert err.count("\n") == 1 and "unknown key 'reasonning'" in err
