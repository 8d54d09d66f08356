"""Verdict probabilities are float32 even when the model computes in bfloat16.

A bfloat16 output head rounds each logit to 8 significant bits: log-odds between "yes" and
"no" then land on a coarse grid (multiples of 1/8 for logits of magnitude 16-32) and distinct
inputs share one P(yes). These tests run the real embedded model in bfloat16 and check that the
probabilities are as fine as float32 makes them.
"""

from __future__ import annotations

import math

import pytest

from judge.library import load_rubric
from judge.prompting import default_prompts
from judge.runner.judge import Judge
from judge.runner.requests import RequestBuilder
from judge.settings import JudgeSettings
from judge.types import Sample

pytestmark = [pytest.mark.slow, pytest.mark.embedded_model]

SAMPLES = [
    Sample(id="math", prompt="What is 12 * 12?", response="144"),
    Sample(id="math-wrong", prompt="What is 12 * 12?", response="124"),
    Sample(id="capital", prompt="What is the capital of France?", response="Paris."),
    Sample(id="capital-wrong", prompt="What is the capital of France?", response="Berlin."),
    Sample(id="rain", prompt="Write a two-line poem about rain.", response="Rain falls.\nIt ends."),
    Sample(id="hello", prompt="Say hello.", response="Hello there!"),
]


@pytest.fixture(scope="module")
def bf16_backend():
    from judge.backends.transformers import TransformersBackend

    backend = TransformersBackend(dtype="bfloat16")
    yield backend
    backend.close()


def test_bfloat16_compute_gives_float32_probabilities(bf16_backend):
    import torch

    head = bf16_backend._model.get_output_embeddings()
    assert head.weight.dtype == torch.float32
    # the rest of the model really computes in bfloat16 (the input embedding is no longer tied)
    assert bf16_backend._model.get_input_embeddings().weight.dtype == torch.bfloat16
    capabilities = bf16_backend.capabilities
    assert (capabilities.compute_dtype, capabilities.probs_dtype) == ("bfloat16", "float32")

    planner = RequestBuilder(default_prompts(), capabilities, JudgeSettings(max_rationale_chars=40))
    rubric = load_rubric("helpfulness")
    first = rubric.criteria[0].id
    planned = [
        item for item in planner.plan_verdicts(SAMPLES, rubric) if item.criterion.id == first
    ]
    assert len(planned) == len(SAMPLES)
    generations = bf16_backend.generate([item.request for item in planned])
    p_yes = []
    for generation in generations:
        assert generation.error is None, generation.error
        assert generation.choice_probs is not None
        p_yes.append(generation.choice_probs["yes"])
    # distinct inputs, distinct probabilities
    assert len(set(p_yes)) == len(SAMPLES), p_yes
    # and not on bfloat16's grid: some log-odds is not a multiple of 1/8 (nor of 1/64)
    log_odds = [math.log(p / (1 - p)) for p in p_yes]
    assert any(abs(x * 64 - round(x * 64)) > 1e-3 for x in log_odds), log_odds


def test_judgment_records_compute_and_probability_dtypes(bf16_backend):
    judge = Judge(backend=bf16_backend, rubric="helpfulness", max_rationale_chars=40)
    [judgment] = judge.score([SAMPLES[0]])
    assert judgment.error is None
    assert judgment.details["compute_dtype"] == "bfloat16"
    assert judgment.details["probs_dtype"] == "float32"
    assert judgment.details["probs_source"] == "logits"
