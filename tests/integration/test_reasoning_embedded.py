"""The reasoning setting end to end on the real embedded model (SmolLM2-135M on CPU).

`none` must be a real forward pass (its P(yes) equals the next-token distribution of the full
prompt computed without prefix sharing), `after` a real verdict-first generation, and both must
work from the CLI. The agreement of `none` with `before` on a labelled set is measured by
`judge eval --compare-reasoning` (README: "Reasoning modes").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from judge.library import load_rubric
from judge.prompting import default_prompts
from judge.runner.judge import Judge
from judge.runner.requests import RequestBuilder
from judge.settings import JudgeSettings
from judge.types import Sample
from tests.conftest import shared_data_dir

pytestmark = [pytest.mark.slow, pytest.mark.embedded_model]
REPO = Path(__file__).resolve().parents[2]
DATA = shared_data_dir()
SAMPLES = [
    Sample(id="right", prompt="What is 12 * 12?", response="144"),
    Sample(id="wrong", prompt="What is the capital of France?", response="Berlin."),
]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "judge", *args],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=REPO,
        env=dict(os.environ),
    )


def test_none_is_the_next_token_distribution_of_the_full_prompt(embedded_backend):
    import torch

    builder = RequestBuilder(
        default_prompts(), embedded_backend.capabilities, JudgeSettings(reasoning="none")
    )
    planned = builder.plan_verdicts(SAMPLES, load_rubric("helpfulness"))
    generations = embedded_backend.generate([item.request for item in planned])
    model, tokenizer = embedded_backend._model, embedded_backend._tokenizer
    yes, no = (tokenizer.encode(c, add_special_tokens=False)[0] for c in ("yes", "no"))
    for item, generation in zip(planned, generations, strict=True):
        assert generation.error is None and generation.text == ""
        assert generation.usage.completion_tokens == 0 and generation.probs_source == "logits"
        ids = embedded_backend._encode(item.request)
        assert tokenizer.decode(ids).endswith('assistant\n{"verdict": "')
        with torch.inference_mode():
            logits = model(input_ids=torch.tensor([ids])).logits[0, -1].float()
        expected = torch.softmax(logits[[yes, no]], dim=-1)[0].item()
        assert generation.choice_probs is not None
        assert generation.choice_probs["yes"] == pytest.approx(expected, abs=2e-3)
    # Rows of one sample shared their prefix: only the first computed it.
    assert sum(g.usage.cached_tokens for g in generations) > 0


@pytest.mark.parametrize("reasoning", ["none", "after"])
def test_cli_score_with_reasoning(reasoning):
    result = _cli(
        "score",
        "--rubric",
        "helpfulness",
        "--prompt",
        "What is 2+2?",
        "--response",
        "4",
        "--json",
        "--reasoning",
        reasoning,
        "--max-rationale-chars",
        "60",
    )
    assert result.returncode == 0, result.stderr
    judgment = json.loads(result.stdout)
    assert 0.0 <= judgment["score"] <= 1.0 and judgment["error"] is None
    verdicts = judgment["verdicts"]
    assert len(verdicts) == 5 and all(0.0 < v["p_yes"] < 1.0 for v in verdicts)
    # The verdict is the likelier choice at the first verdict token (greedy under the grammar).
    assert all(v["verdict"] == ("yes" if v["p_yes"] > 0.5 else "no") for v in verdicts)
    assert all(len(v["rationale"]) <= 60 for v in verdicts)
    if reasoning == "none":
        assert judgment["usage"]["completion_tokens"] == 0
        assert all(v["rationale"] == "" for v in verdicts)
    else:
        assert judgment["usage"]["completion_tokens"] >= 5 * 4  # {"verdict": "yes"} at least


@pytest.mark.skipif(DATA is None, reason="../shared/data (the released benchmarks) is not present")
def test_eval_reports_agreement_between_two_modes(tmp_path):
    assert DATA is not None
    out = tmp_path / "eval"
    result = _cli(
        "eval",
        str(DATA / "halueval_general" / "general_data.jsonl"),
        "--rubric",
        str(REPO / "tests" / "fixtures" / "rubrics" / "factual_accuracy.yaml"),
        "--limit",
        "4",
        "--reasoning",
        "none",
        "--compare-reasoning",
        "after",
        "--n-boot",
        "50",
        "--output",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    agreement = json.loads((out / "mode-agreement.json").read_text())
    assert agreement["modes"] == ["none", "after"] and agreement["failed"] == [0, 0]
    assert 1 <= agreement["n"] <= 4 and 0.0 <= agreement["sign_agreement"] <= 1.0
    assert "reasoning none vs after: sign agreement" in result.stdout


def test_scored_rows_beside_decoded_rows_read_the_same_distribution(embedded_backend):
    """A round with scored verdicts and a decoded principles list (one batch) changes no P(yes)."""
    alone = Judge(embedded_backend, "helpfulness", reasoning="none").score(SAMPLES[:1])[0]
    mixed = Judge(embedded_backend, "helpfulness", reasoning="none", principles=1)
    [judgment] = mixed.score(SAMPLES[:1])
    assert judgment.error is None and mixed.last_stats.backend_calls == 1
    assert len(judgment.verdicts) > len(alone.verdicts)  # the decoded principles joined
    for got, want in zip(judgment.verdicts, alone.verdicts, strict=False):
        assert got.p_yes == pytest.approx(want.p_yes, abs=1e-4)
