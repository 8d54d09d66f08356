"""`judge eval` end to end with the embedded model on a small slice of a real labelled set.

Mechanics only: the 135M model's accuracy is not the point. Checks that the report, its plots and
the records are written and that the records feed `judge calibrate fit` and `judge bias length`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from tests.cli_main import run_judge
from tests.conftest import shared_data_dir

pytestmark = pytest.mark.slow

DATA = shared_data_dir()

# The direct comparison runs both orders: 3 pairs are 6 requests on the CPU model.


def run_main(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    return run_judge(monkeypatch, capsys, *args)


@pytest.mark.skipif(DATA is None, reason="../shared/data (the released benchmarks) is not present")
def test_judge_eval_on_llmbar_natural_slice(tmp_path: Path, monkeypatch, capsys):
    out_dir = tmp_path / "eval"
    assert DATA is not None
    code, out, err = run_main(
        monkeypatch,
        capsys,
        "eval",
        str(DATA / "llmbar" / "Natural"),
        "--limit",
        "3",
        "--pair-method",
        "direct",
        "--output",
        str(out_dir),
        "--n-boot",
        "100",
    )
    assert code == 0, err
    assert "Natural: n=3" in out
    text = (out_dir / "report.md").read_text()
    assert "## Can I trust this judge?" in text and "## Length bias" in text
    for name in (
        "reliability.png",
        "risk_coverage.png",
        "confidence_histogram.png",
        "score_by_length.png",
    ):
        with Image.open(out_dir / name) as image:
            assert image.format == "PNG"
    evaluation = json.loads((out_dir / "evaluation.json").read_text())
    assert evaluation["judge"].startswith("SmolLM2-135M")
    assert evaluation["fingerprint"]["template_fingerprint"]  # direct compare: no rubric
    records = [json.loads(line) for line in (out_dir / "records.jsonl").read_text().splitlines()]
    dataset = json.loads((DATA / "llmbar" / "Natural" / "dataset.json").read_text())[:3]
    assert [r["len_a"] for r in records] == [len(item["output_1"]) for item in dataset]
    assert [r["label"] for r in records] == ["a" if item["label"] == 1 else "b" for item in dataset]
    # Both orders were run and read from token probabilities.
    assert all(0.0 <= r["p_a_ab"] <= 1.0 and 0.0 <= r["p_a_ba"] <= 1.0 for r in records)
    assert "P(first-shown response wins)" in text
