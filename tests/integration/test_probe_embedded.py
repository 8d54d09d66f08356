"""`judge probe` end to end on the real embedded model: the README's snippet, as written.

Mechanics, not the 135M model's robustness: the report holds the attack set and its version,
the PNG is written, the exit code agrees with `--fail-above` and the report, and the content
gate scores the master key 0 without a model call.
"""

from __future__ import annotations

import json
import shlex

import pytest
from PIL import Image

from judge.calibration.attacks import ATTACK_SET_VERSION
from tests.cli_main import run_judge
from tests.conftest import REPO
from tests.snippets import snippet

pytestmark = [pytest.mark.slow, pytest.mark.embedded_model]


def _commands() -> list[list[str]]:
    text = snippet("probe").replace("\\\n", " ")
    return [shlex.split(line) for line in text.splitlines() if line.startswith("judge ")]


def _run(monkeypatch, capsys, command: list[str]) -> tuple[int, str, str]:
    assert command[0] == "judge"
    return run_judge(monkeypatch, capsys, *command[1:])


def test_the_readme_probe_runs_on_the_embedded_model(tmp_path, monkeypatch, capsys):
    (tmp_path / "tests" / "fixtures").mkdir(parents=True)
    (tmp_path / "tests" / "fixtures" / "probe").symlink_to(REPO / "tests" / "fixtures" / "probe")
    monkeypatch.chdir(tmp_path)
    first, gated = _commands()

    code, out, err = _run(monkeypatch, capsys, first)
    report = json.loads((tmp_path / "probe-report" / "probe.json").read_text())
    assert report["attack_set_version"] == ATTACK_SET_VERSION and ATTACK_SET_VERSION in out
    assert report["judge"]["model"].startswith("SmolLM2-135M")
    names = [attack["name"] for attack in report["attacks"]]
    assert names == [
        "clean",
        "wrong_answer",
        "master_key_solution",
        "inject_appended",
        "whitespace",
    ]
    for attack in report["attacks"]:
        assert attack["n"] == 4 and len(attack["accepted"]) == 4
    by_name = {attack["name"]: attack for attack in report["attacks"]}
    # A blank answer is judged, failing, by rule (no model call): never refused, never accepted.
    whitespace = by_name["whitespace"]
    assert whitespace["refused"] == 0 and whitespace["acceptance"]["value"] == 0
    assert by_name["clean"]["failed"] == 0 and by_name["clean"]["mean_score"]["value"] is not None
    # --fail-above 0.9: exit 4 exactly when an attack's acceptance in the report is above it.
    above = [
        a["name"]
        for a in report["attacks"]
        if a["role"] == "attack" and a["acceptance"]["value"] > 0.9
    ]
    assert code == (4 if above else 0), err
    for name in above:
        assert f"fail: {name} accepted" in err
    markdown = (tmp_path / "probe-report" / "probe.md").read_text()
    assert ATTACK_SET_VERSION in markdown and "`inject_appended` (attack)" in markdown
    with Image.open(tmp_path / "probe-report" / "probe.png") as image:
        assert image.format == "PNG"

    code, _, err = _run(monkeypatch, capsys, gated)
    assert code == 0, err  # the gate can only lower acceptance: no rise over the baseline
    gated_report = json.loads((tmp_path / "probe-gated" / "probe.json").read_text())
    key = next(a for a in gated_report["attacks"] if a["name"] == "master_key_solution")
    assert key["gated"] == 4 and key["acceptance"]["value"] == 0.0
    assert gated_report["judge"]["settings"]["content_gate"] is True
