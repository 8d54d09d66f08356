"""`judge eval --relative-confidence` and best-of-N end to end on the embedded model (small).

Mechanics with real generations: the 135M model's verdicts are close to chance, so no figure is
asserted beyond what must hold (AUCs in [0, 1], every match judged in both orders, the report).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_main import run_judge

pytestmark = pytest.mark.slow

RUBRIC = """name: arithmetic
description: Is the arithmetic answer right?
task_type: objective
criteria:
  - id: answer_correct
    kind: hard_rule
    weight: 1
    text: The final answer of the response is mathematically correct.
"""

ROWS = [
    ("What is 2 + 2?", "2 + 2 = 4.", True, "4"),
    ("What is 2 + 2?", "2 + 2 = 5.", False, "5"),
    ("What is 3 * 3?", "3 * 3 = 9.", True, "9"),
    ("What is 3 * 3?", "3 * 3 = 6.", False, "6"),
    ("What is 10 - 7?", "10 - 7 = 3.", True, "3"),
    ("What is 10 - 7?", "10 - 7 = 3, so 3.", True, "3"),
]


def test_relative_confidence_and_best_of_n_on_the_embedded_model(
    tmp_path: Path, monkeypatch, capsys
):
    data = tmp_path / "groups.jsonl"
    data.write_text(
        "".join(
            json.dumps(
                {"id": f"r{i}", "prompt": p, "response": r, "label": y, "group": p, "answer": a}
            )
            + "\n"
            for i, (p, r, y, a) in enumerate(ROWS)
        )
    )
    rubric = tmp_path / "arithmetic.yaml"
    rubric.write_text(RUBRIC)
    out = tmp_path / "eval"
    args = ["eval", str(data), "--rubric", str(rubric), "--output", str(out), "--n-boot", "50"]
    code, _, err = run_judge(monkeypatch, capsys, *args, "--relative-confidence", "2")
    assert code == 0, err
    evaluation = json.loads((out / "evaluation.json").read_text())
    relative = evaluation["relative_confidence"]
    assert relative["n"] == 6 and relative["matches"] == 12
    assert relative["failed_matches"] < 12
    for name in ("direct", "elo", "bradley_terry"):
        assert 0.0 <= relative[name]["value"] <= 1.0
    assert len(relative["elo_scores"]) == len(relative["bt_scores"]) == 6
    selection = {s["selector"]: s for s in evaluation["best_of_n"]["selectors"]}
    assert evaluation["best_of_n"]["groups"] == 3 and evaluation["best_of_n"]["mixed_groups"] == 2
    assert selection["oracle"]["accuracy"]["value"] == 1.0
    assert selection["majority answer"]["accuracy"]["value"] == pytest.approx((0.5 + 0.5 + 1) / 3)
    assert selection["random"]["accuracy"]["value"] == pytest.approx((0.5 + 0.5 + 1) / 3)
    text = (out / "report.md").read_text()
    assert "## Relative confidence" in text and "## Best-of-N" in text
