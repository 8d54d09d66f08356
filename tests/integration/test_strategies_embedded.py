"""Strategies and pairwise judging end to end on the embedded model: mechanics, not judging quality.

The CLI runs in-process on the session's shared model (loaded once), with tiny inputs and short
outputs so the whole file stays well under a minute and a half on two busy cores.
"""

from __future__ import annotations

import json

import pytest

from judge import _cli as cli
from judge.types import Judgment, PairJudgment

pytestmark = pytest.mark.slow

RUBRIC = """\
name: mini
task_type: auto
criteria:
  - id: correct
    kind: hard_rule
    text: The answer is correct.
  - id: clear
    text: The answer is clear.
"""
SHORT = ["--max-rationale-chars", "16", "--json"]
SCORE = ["score", "--rubric", "MINI", "--prompt", "3+4?", "--response", "7", *SHORT]
SOLVE = ["--max-solution-tokens", "16"]


class _Shared:
    """The session's embedded backend, which the CLI's `close()` must not release."""

    def __init__(self, backend):
        self._backend = backend
        self.model_id = backend.model_id
        self.capabilities = backend.capabilities

    def generate(self, requests):
        return self._backend.generate(requests)

    def close(self):
        return None


@pytest.fixture
def run(embedded_backend, monkeypatch, capsys, tmp_path):
    shared = _Shared(embedded_backend)
    monkeypatch.setattr("judge.runner.judge.create_backend", lambda name, **_: shared)
    rubric = tmp_path / "mini.yaml"
    rubric.write_text(RUBRIC)

    def invoke(*args: str) -> str:
        args = tuple(str(rubric) if arg == "MINI" else arg for arg in args)
        monkeypatch.setattr("sys.argv", ["judge", *args])
        with pytest.raises(SystemExit) as info:
            cli.main()
        out, err = capsys.readouterr()
        assert info.value.code == 0, err
        return out

    return invoke


def test_compare_runs_both_orders_and_swap_averages(run):
    # Direct on purpose (the default is rubric): the question asked in both orders.
    args = ("--prompt", "What is 3+4?", "--a", "7", "--b", "8", "--pair-method", "direct")
    out = run("compare", *args, *SHORT)
    result = PairJudgment.model_validate_json(out)
    assert result.error is None and result.strategy == "direct"
    assert 0.0 <= result.p_a_ab <= 1.0 and 0.0 <= result.p_a_ba <= 1.0
    assert result.p_a == pytest.approx((result.p_a_ab + result.p_a_ba) / 2)
    assert isinstance(result.consistent, bool) and result.winner in ("a", "b", "tie")
    assert result.winner_ab in ("a", "b") and result.usage.cached_tokens > 0


def test_score_breadth_and_depth(run):
    breadth = Judgment.model_validate_json(run(*SCORE))
    assert breadth.error is None and breadth.strategy == "breadth"
    assert [v.criterion_id for v in breadth.verdicts] == ["correct", "clear"]
    assert all(v.p_yes is not None for v in breadth.verdicts)
    depth = Judgment.model_validate_json(run(*SCORE, "--strategy", "depth", *SOLVE))
    assert depth.error is None and depth.strategy == "depth", depth.error
    assert depth.details["solution_source"] == "model" and depth.details["solution"].strip()
    assert depth.details["critical_criteria"] == ["correct", "clear"]
    assert 0.0 <= depth.score <= 1.0 and depth.usage.prompt_tokens > breadth.usage.prompt_tokens


def test_score_auto_records_the_route_and_its_probability(run):
    judgment = json.loads(run(*SCORE, "--strategy", "auto", *SOLVE))
    assert judgment["error"] is None
    route = judgment["route"]
    assert route["route"] in ("objective", "subjective") and route["source"] == "model"
    probabilities = route["probabilities"]
    assert sum(probabilities.values()) == pytest.approx(1.0)
    assert route["p_route"] == pytest.approx(probabilities[route["route"]])
    expected = {"objective": "depth", "subjective": "breadth"}[route["route"]]
    assert judgment["strategy"] == expected
