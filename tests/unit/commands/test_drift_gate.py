"""`judge eval --baseline`: a degraded judge configuration fails the drift gate, the same passes.

The judge is scripted (a unit test of the gate's logic): its `--model` option is the
configuration. ``good`` prefers the longer answer, which the data's gold always is; ``degraded``
reverses that on about two pairs in three (chosen by a hash of the request, so reproducibly).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from judge import backends
from judge.backends.scripted import ScriptedBackend
from judge.calibration.drift import EXIT_REGRESSION
from judge.types import GenerationRequest
from tests.doubles.scripted import verdict_reply
from tests.unit.commands.test_calibration_cli import labelled_pairs, run_main

_RESPONSE = re.compile(r"<response>\n(.*?)\n</response>", re.DOTALL)
_PROMPT = re.compile(r"Question (\d+)\?")


def configurable(**options: object) -> ScriptedBackend:
    """P(yes) grows with length; the ``degraded`` model flips it on 2 questions in 3."""
    model = str(options.get("model") or "good")

    def reply(request: GenerationRequest, _: int):
        text = request.messages[-1].content
        match = _RESPONSE.search(text)
        length = len(match.group(1)) if match else 0
        p_yes = length / (length + 40)
        question = _PROMPT.search(text)
        key = hashlib.sha256((question.group(1) if question else "").encode()).digest()[0]
        if model == "degraded" and key % 3 != 0:
            p_yes = 1.0 - p_yes
        return verdict_reply(p_yes)

    return ScriptedBackend(reply, model_id=f"drift-{model}")


@pytest.fixture(autouse=True)
def _backend(monkeypatch):
    monkeypatch.setitem(backends._REGISTRY, "drift", f"{__name__}:configurable")


def _eval(monkeypatch, capsys, data: Path, out: Path, *extra: str) -> tuple[int, str, str]:
    args = ["eval", str(data), "--backend", "drift", "--output", str(out), "--n-boot", "200"]
    return run_main(monkeypatch, capsys, *args, *extra)


def test_the_same_configuration_passes_and_a_degraded_one_fails(tmp_path, monkeypatch, capsys):
    data = labelled_pairs(tmp_path / "pairs.jsonl", n=40)
    code, _, err = _eval(monkeypatch, capsys, data, tmp_path / "base", "--model", "good")
    assert code == 0, err
    baseline = tmp_path / "base" / "evaluation.json"

    code, out, err = _eval(
        monkeypatch, capsys, data, tmp_path / "same", "--model", "good", "--baseline", str(baseline)
    )
    assert code == 0, err
    assert "drift gate: no significant regression" in out and "REGRESSED" not in out
    drift = json.loads((tmp_path / "same" / "drift.json").read_text())
    assert [c["measure"] for c in drift["checks"]] == ["accuracy", "ECE"]
    assert all(c["paired"] and c["change"]["value"] == 0.0 for c in drift["checks"])

    code, out, err = _eval(
        monkeypatch, capsys, data, tmp_path / "worse", "--model", "degraded", "--baseline",
        str(baseline),
    )  # fmt: skip
    assert code == EXIT_REGRESSION == 4, err
    assert "accuracy (higher is better): 1.000 ->" in out and "REGRESSED" in out
    assert "drift gate: a significant regression" in err
    drift = json.loads((tmp_path / "worse" / "drift.json").read_text())
    accuracy = drift["checks"][0]
    assert accuracy["regressed"] and accuracy["change"]["high"] < 0


def test_a_baseline_of_another_kind_is_refused_before_the_model_loads(
    tmp_path, monkeypatch, capsys
):
    points = tmp_path / "points.jsonl"
    points.write_text(json.dumps({"prompt": "Q?", "response": "A", "label": True}) + "\n")
    data = labelled_pairs(tmp_path / "pairs.jsonl", n=6)
    assert _eval(monkeypatch, capsys, points, tmp_path / "p")[0] == 0
    code, _, err = _eval(
        monkeypatch, capsys, data, tmp_path / "x", "--baseline", str(tmp_path / "p")
    )
    assert code == 2 and "is a pointwise evaluation" in err and "pairwise data" in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = _eval(monkeypatch, capsys, data, tmp_path / "x", "--baseline", str(data))
    assert code == 2 and "not an evaluation.json" in err
    code, _, err = _eval(monkeypatch, capsys, data, tmp_path / "x", "--pair-method", "vote")
    assert code == 2 and "--pair-method 'vote'" in err
