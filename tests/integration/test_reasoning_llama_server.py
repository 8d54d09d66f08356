"""reasoning none on llama-cpp-python's server: a /completions prompt rendered with the served
model's tokenizer, max_tokens=1, P(yes) from the top logprobs (marker `llama_server`).

The same GGUF judged by the Transformers backend gives the reference: the two P(yes) differ
only by llama.cpp's quantized kernels.
"""

from __future__ import annotations

import pytest

from judge.backends.openai import OpenAIBackend
from judge.library import load_rubric
from judge.prompting import default_prompts
from judge.runner.judge import Judge
from judge.runner.requests import RequestBuilder
from judge.settings import JudgeSettings
from judge.types import Sample
from tests.integration.llama_server import LlamaServer, gguf_path, llama_server

__all__ = ["llama_server"]  # the fixture, imported to be found by pytest

pytestmark = pytest.mark.slow
SAMPLES = [
    Sample(id="right", prompt="What is 12 * 12?", response="144"),
    Sample(id="wrong", prompt="What is the capital of France?", response="Berlin."),
]


def test_scored_requests_match_the_transformers_backend(
    llama_server: LlamaServer, embedded_backend
) -> None:
    with OpenAIBackend(
        base_url=llama_server.base_url, tokenizer=str(gguf_path()), max_concurrency=4
    ) as backend:
        assert backend.flavor == "llama.cpp" and backend.capabilities.score_without_decoding
        builder = RequestBuilder(
            default_prompts(), backend.capabilities, JudgeSettings(reasoning="none")
        )
        requests = [p.request for p in builder.plan_verdicts(SAMPLES, load_rubric("helpfulness"))]
        served = backend.generate(requests)
        [judgment] = Judge(backend, "helpfulness", reasoning="none").score(SAMPLES[:1])
    local = embedded_backend.generate(requests)
    for remote, reference in zip(served, local, strict=True):
        assert remote.error is None and remote.text == ""
        assert remote.probs_source == "top_logprobs" and remote.choice_probs is not None
        assert reference.choice_probs is not None
        assert remote.choice_probs["yes"] == pytest.approx(reference.choice_probs["yes"], abs=0.05)
    assert judgment.error is None and all(v.p_yes is not None for v in judgment.verdicts)
