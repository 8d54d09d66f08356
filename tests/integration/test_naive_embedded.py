"""The naive baseline on the embedded model: same batch as the judge, intervals computed.

Mechanics only: the 135M model judges at chance, so the test checks the structure of the
comparison (every metric, with its paired interval), that the baseline's requests went in the
judge's own backend batch, and the report, not who wins.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from judge.calibration.jsonl import EvalSet
from judge.calibration.records import LabelledPair, LabelledSample
from judge.calibration.report import write_report
from judge.calibration.run import run_eval
from judge.runner.judge import Judge
from judge.types import Generation, GenerationRequest

pytestmark = pytest.mark.slow


class Recording:
    """The embedded backend, recording the request ids of every batch it is sent."""

    def __init__(self, backend) -> None:
        self._backend = backend
        self.batches: list[list[str]] = []

    @property
    def model_id(self) -> str:
        return self._backend.model_id

    @property
    def capabilities(self):
        return self._backend.capabilities

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        self.batches.append([request.id for request in requests])
        return self._backend.generate(requests)

    def close(self) -> None:
        """The session's backend stays open for the other tests."""


SAMPLES = EvalSet(
    name="arithmetic",
    kind="pointwise",
    samples=tuple(
        LabelledSample(
            id=f"q{i}",
            prompt=f"What is {i} + {i}?",
            response=f"The answer is {2 * i + (0 if i % 2 else 1)}.",
            label=i % 2 == 1,
            reference=str(2 * i),
        )
        for i in range(1, 7)
    ),
)

PAIRS = EvalSet(
    name="pairs",
    kind="pairwise",
    pairs=tuple(
        LabelledPair(
            id=f"p{i}",
            prompt=f"What is {i} + {i}?",
            response_a=f"{2 * i}" if i % 2 else f"{2 * i + 1}",
            response_b=f"{2 * i + 1}" if i % 2 else f"{2 * i}",
            label="a" if i % 2 else "b",
        )
        for i in range(1, 5)
    ),
)


def test_pointwise_baseline_shares_the_judges_batch(embedded_backend, tmp_path: Path):
    backend = Recording(embedded_backend)
    judge = Judge(backend=backend, rubric="honesty", reasoning="none", reference_anchor=True)
    evaluation = run_eval(judge, SAMPLES, chunk_size=6, n_boot=200, naive=True)
    assert len(backend.batches) == 1, "the judge and the baseline: one backend call"
    batch = backend.batches[0]
    assert sorted(i for i in batch if "#naive" in i) == [f"s{k}/#naive" for k in range(6)]
    assert sum(i.endswith("/agrees_with_reference") for i in batch) == 6
    naive = evaluation.naive
    assert naive is not None and naive.naive_failed == 0
    checks = {check.measure: check for check in naive.checks}
    assert set(checks) == {"accuracy", "AUROC", "ECE"}
    for check in checks.values():
        interval = check.difference
        assert interval.value == pytest.approx(check.judge - check.naive)
        assert interval.low is not None and interval.high is not None and interval.n_valid > 0
    # The baseline read P(yes) from token probabilities: not only 0 or 1.
    assert all(0.0 < record.p < 1.0 for record in naive.naive_records)
    assert naive.naive_cost.prompt_tokens > 0
    assert naive.judge_cost.prompt_tokens > naive.naive_cost.prompt_tokens
    report = write_report(evaluation, tmp_path / "report")
    assert "## Against the naive baseline" in report.read_text()
    saved = json.loads((tmp_path / "report" / "evaluation.json").read_text())
    assert len(saved["naive"]["naive_records"]) == 6


def test_pairwise_baseline_asks_both_orders_in_the_judges_batch(embedded_backend):
    backend = Recording(embedded_backend)
    judge = Judge(backend=backend, rubric="helpfulness", reasoning="none")
    evaluation = run_eval(judge, PAIRS, pair_method="direct", chunk_size=4, n_boot=200, naive=True)
    assert len(backend.batches) == 1
    ids = set(backend.batches[0])
    assert {f"p{k}/#naive-{o}" for k in range(4) for o in ("ab", "ba")} <= ids
    assert {f"p{k}/{o}" for k in range(4) for o in ("ab", "ba")} <= ids
    assert evaluation.naive is not None
    measures = {check.measure for check in evaluation.naive.checks}
    assert {"accuracy", "position consistency"} <= measures
    consistency = next(c for c in evaluation.naive.checks if c.measure == "position consistency")
    assert consistency.difference.low is not None and consistency.difference.high is not None
