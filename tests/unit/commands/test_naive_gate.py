"""`judge eval`: the naive baseline is on by default, `--gate judge>=naive` fails a worse judge."""

from __future__ import annotations

import json
import re

import pytest

from judge import backends
from judge.backends.scripted import ScriptedBackend, ScriptedReply
from judge.calibration.drift import EXIT_REGRESSION
from judge.types import GenerationRequest
from tests.doubles.scripted import verdict_reply
from tests.unit.commands.test_calibration_cli import labelled_pairs, run_main

_RESPONSE = re.compile(r"<response>\n(.*?)\n</response>", re.DOTALL)
_FIRST = re.compile(r"<response_a>\n(.*?)\n</response_a>", re.DOTALL)
_SECOND = re.compile(r"<response_b>\n(.*?)\n</response_b>", re.DOTALL)


def naive_knows(**options: object) -> ScriptedBackend:
    """The naive A/B question picks the longer answer; the rubric verdicts (``--model worse``)
    say the same P(yes) whatever the response, or (``--model good``) grow with its length."""
    model = str(options.get("model") or "good")

    def reply(request: GenerationRequest, _: int) -> ScriptedReply:
        text = request.messages[-1].content
        if "#naive" in request.id:
            first, second = _FIRST.search(text), _SECOND.search(text)
            assert first and second
            p_first = 0.9 if len(first.group(1)) > len(second.group(1)) else 0.1
            winner = "A" if p_first > 0.5 else "B"
            return ScriptedReply(
                text=json.dumps({"rationale": "r", "winner": winner}),
                choice_probs={"A": p_first, "B": 1 - p_first},
            )
        match = _RESPONSE.search(text)
        length = len(match.group(1)) if match else 0
        return verdict_reply(0.6 if model == "worse" else length / (length + 40))

    return ScriptedBackend(reply, model_id=f"naive-{model}")


@pytest.fixture(autouse=True)
def _backend(monkeypatch):
    monkeypatch.setitem(backends._REGISTRY, "naive-knows", f"{__name__}:naive_knows")


def _eval(monkeypatch, capsys, tmp_path, *extra: str) -> tuple[int, str, str]:
    data = labelled_pairs(tmp_path / "pairs.jsonl", n=30)
    args = ["eval", str(data), "--backend", "naive-knows", "--output", str(tmp_path / "out")]
    return run_main(monkeypatch, capsys, *args, "--n-boot", "200", *extra)


def test_the_baseline_is_reported_by_default_and_the_gate_passes_a_judge_as_good(
    tmp_path, monkeypatch, capsys
):
    code, out, err = _eval(monkeypatch, capsys, tmp_path, "--gate", "judge>=naive")
    assert code == 0, err
    assert "against the naive baseline" in out and "gate judge>=naive: passed" in out
    saved = json.loads((tmp_path / "out" / "evaluation.json").read_text())
    checks = {c["measure"]: c for c in saved["naive"]["checks"]}
    assert checks["accuracy"]["judge"] == 1.0 and checks["accuracy"]["naive"] == 1.0
    assert "## Against the naive baseline" in (tmp_path / "out" / "report.md").read_text()


def test_the_gate_fails_a_judge_worse_than_the_baseline(tmp_path, monkeypatch, capsys):
    code, out, err = _eval(
        monkeypatch, capsys, tmp_path, "--model", "worse", "--gate", "judge>=naive"
    )
    assert code == EXIT_REGRESSION, err
    assert "JUDGE WORSE" in out and "gate judge>=naive" in err


def test_no_naive_turns_it_off_and_refuses_the_gate(tmp_path, monkeypatch, capsys):
    code, _, err = _eval(monkeypatch, capsys, tmp_path, "--no-naive")
    assert code == 0, err
    assert json.loads((tmp_path / "out" / "evaluation.json").read_text())["naive"] is None
    code, _, err = _eval(monkeypatch, capsys, tmp_path, "--no-naive", "--gate", "judge>=naive")
    assert code == 2 and "needs the naive baseline" in err
    code, _, err = _eval(monkeypatch, capsys, tmp_path, "--gate", "judge>=random")
    assert code == 2 and "not a known gate" in err
