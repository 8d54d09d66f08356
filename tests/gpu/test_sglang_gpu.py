"""End to end on a real SGLang: the in-process engine, then a launched server. Needs a CUDA GPU.

Skipped (with the reason) where CUDA or sglang is missing; never faked. The model is
``$JUDGE_GPU_MODEL`` (default Qwen/Qwen2.5-0.5B-Instruct: a local path or a Hugging Face id the
machine can load). Run with ``benchmarks/gpu_smoke.sh``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from judge.backends.base import check_batch
from judge.backends.sglang.engine import SGLangEngineBackend, engine_unavailable_reason
from judge.errors import BackendUnavailableError
from judge.types import (
    ChoiceProbe,
    Constraint,
    Criterion,
    GenerationRequest,
    Message,
    Rubric,
    Sample,
    SamplingParams,
)

_REASON = engine_unavailable_reason()
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(_REASON is not None, reason=f"needs a CUDA GPU and sglang: {_REASON}"),
]

MODEL = os.environ.get("JUDGE_GPU_MODEL", "Qwen/Qwen2.5-0.5B-Instruct")
MEMORY = float(os.environ.get("JUDGE_GPU_MEM_FRACTION", "0.35"))
MARKER = '"verdict": "'
PROBE = ChoiceProbe(marker=MARKER, choices=("yes", "no"))
REGEX = Constraint(kind="regex", value=r'\{"rationale": "[^"\\\n]{0,120}", "verdict": "(yes|no)"\}')
RUBRIC = Rubric(
    name="capital",
    criteria=(
        Criterion(id="correct", text="The response names the correct capital city."),
        Criterion(id="concise", text="The response is at most one sentence."),
        Criterion(id="polite", text="The response is polite."),
    ),
)
SAMPLES = [
    Sample(id="right", prompt="What is the capital of France?", response="Paris."),
    Sample(id="wrong", prompt="What is the capital of France?", response="Berlin, obviously."),
]


def _verdict_request(rid: str, question: str, group: str) -> GenerationRequest:
    return GenerationRequest(
        id=rid,
        messages=(
            Message(role="system", content="Answer with a JSON verdict on the statement."),
            Message(role="user", content=question),
        ),
        sampling=SamplingParams(max_new_tokens=200),
        constraint=REGEX,
        probe=PROBE,
        prefix_group=group,
    )


def _check_scoring(backend: object) -> None:
    from judge.runner.judge import Judge

    judgments = Judge(backend, RUBRIC).score(SAMPLES)  # type: ignore[arg-type]
    assert [j.error for j in judgments] == [None, None]
    right, wrong = judgments
    assert right.score is not None and wrong.score is not None
    assert all(v.p_yes is not None for j in judgments for v in j.verdicts)
    correct = {
        j.sample_id: next(v for v in j.verdicts if v.criterion_id == "correct") for j in judgments
    }
    assert correct["right"].p_yes > correct["wrong"].p_yes  # type: ignore[operator]
    # The criteria of a sample share their prefix: the radix cache must have served some of it.
    assert right.usage.cached_tokens > 0


@pytest.fixture(scope="module")
def engine_backend() -> Iterator[SGLangEngineBackend]:
    backend = SGLangEngineBackend(MODEL, mem_fraction_static=MEMORY, seed=0)
    yield backend
    backend.close()


def test_engine_scores_end_to_end(engine_backend: SGLangEngineBackend) -> None:
    _check_scoring(engine_backend)


def test_engine_reads_choice_probabilities(engine_backend: SGLangEngineBackend) -> None:
    requests = [
        _verdict_request("true", "Statement: Paris is the capital of France.", "g"),
        _verdict_request("false", "Statement: Berlin is the capital of France.", "g"),
    ]
    generations = engine_backend.generate(requests)
    check_batch(requests, generations)
    for generation in generations:
        assert generation.error is None, generation.error
        assert generation.choice_probs is not None
        assert sum(generation.choice_probs.values()) == pytest.approx(1.0)
        assert generation.probs_source is not None and generation.probs_source.endswith("+grammar")
    assert generations[0].choice_probs["yes"] > generations[1].choice_probs["yes"]  # type: ignore[index]


def test_engine_isolates_a_bad_grammar_and_an_overlong_prompt(
    engine_backend: SGLangEngineBackend,
) -> None:
    good = _verdict_request("good", "Statement: 2 + 2 = 4.", "g")
    bad = good.model_copy(
        update={"id": "bad", "constraint": Constraint(kind="regex", value="(unclosed")}
    )
    context = engine_backend.capabilities.max_context_tokens or 32768
    long = good.model_copy(
        update={"id": "long", "messages": (Message(role="user", content="word " * context),)}
    )
    generations = engine_backend.generate(
        [good, bad, long, good.model_copy(update={"id": "good2"})]
    )
    assert [g.error is None for g in generations] == [True, False, False, True]
    assert "context length" in (generations[2].error or "")


def test_engine_self_consistency(engine_backend: SGLangEngineBackend) -> None:
    request = _verdict_request("n", "Statement: the sky is green.", "g").model_copy(
        update={"sampling": SamplingParams(max_new_tokens=200, n=4, temperature=0.9, seed=1)}
    )
    generations = engine_backend.generate([request])
    assert [g.sample_index for g in generations] == [0, 1, 2, 3]
    assert all(g.error is None for g in generations)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server_url(engine_backend: SGLangEngineBackend) -> Iterator[str]:
    engine_backend.close()  # free the GPU memory the engine held
    port = _free_port()
    launcher = (
        ["sglang", "serve"]
        if shutil.which("sglang")
        else [sys.executable, "-m", "sglang.launch_server"]
    )
    command = [
        *launcher,
        "--model-path", MODEL,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--mem-fraction-static", str(MEMORY),
        "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(command, start_new_session=True)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def test_server_scores_end_to_end(server_url: str) -> None:
    from judge.backends.sglang.server import SGLangServerBackend

    with SGLangServerBackend(server_url, model=MODEL, wait_for_server=600.0) as backend:
        _check_scoring(backend)


def test_server_refuses_another_model(server_url: str) -> None:
    from judge.backends.sglang.server import SGLangServerBackend

    with pytest.raises(BackendUnavailableError, match="not 'some-org/another-model'"):
        SGLangServerBackend(server_url, model="some-org/another-model", wait_for_server=600.0)


def test_server_start_up_reads_dp_size_and_input_limit(server_url: str) -> None:
    """The real /server_info: dp_size above the server's is refused; max_req_input_len is read."""
    from judge.backends.sglang.server import SGLangServerBackend
    from judge.errors import ConfigError

    with pytest.raises(ConfigError, match="routed_dp_rank out of range"):
        SGLangServerBackend(server_url, model=MODEL, dp_size=64, wait_for_server=600.0)
    with SGLangServerBackend(server_url, model=MODEL, wait_for_server=600.0) as backend:
        limit = backend._max_input_tokens
        assert limit is not None and limit < backend.capabilities.max_context_tokens  # type: ignore[operator]
        long = _verdict_request("long", "word " * (limit + 10), "long")
        [generation] = backend.generate([long])
    assert generation.error_kind == "context_overflow"
