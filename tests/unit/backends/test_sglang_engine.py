"""The in-process engine backend: its missing-sglang path for real, its batching on a double.

sglang is not installed on CPU machines, so the constructor's refusal is tested as it is. The
batching logic runs against FakeEngine, a wire-format double of ``Engine.async_generate``
(tests/unit/sglang_double.py); the real engine is exercised by tests/gpu/test_sglang_gpu.py.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import Any

import pytest

from judge.backends import create_backend
from judge.backends.base import check_batch
from judge.backends.sglang.engine import SGLangEngineBackend, engine_unavailable_reason
from judge.errors import BackendUnavailableError, ConfigError
from judge.types import ChoiceProbe, Constraint, GenerationRequest, Message, SamplingParams
from tests.doubles.sglang import MARKER, FakeEngine, SGLangDouble, make_tokenizer

PROBE = ChoiceProbe(marker=MARKER, choices=("yes", "no"))
REGEX = Constraint(kind="regex", value=r'\{"rationale": "[^"\\\n]{0,50}", "verdict": "(yes|no)"\}')
SYSTEM = Message(role="system", content="You judge one criterion at a time. " * 6)


def requests(samples: int = 2, criteria: int = 3, **sampling: Any) -> list[GenerationRequest]:
    return [
        GenerationRequest(
            id=f"s{s}/c{c}",
            messages=(SYSTEM, Message(role="user", content=f"Response {s}. Criterion {c}?")),
            sampling=SamplingParams(max_new_tokens=64, **sampling),
            constraint=REGEX,
            probe=PROBE,
            prefix_group=f"s{s}",
        )
        for s in range(samples)
        for c in range(criteria)
    ]


@pytest.fixture
def engine() -> Iterator[FakeEngine]:
    fake = FakeEngine(SGLangDouble(make_tokenizer()))
    yield fake
    fake.loop.close()


@pytest.mark.skipif(importlib.util.find_spec("sglang") is not None, reason="sglang is installed")
def test_missing_sglang_is_a_clear_unavailable_error() -> None:
    with pytest.raises(BackendUnavailableError) as caught:
        create_backend("sglang", model="Qwen/Qwen2.5-0.5B-Instruct")
    assert "sglang is not installed" in str(caught.value)
    assert "pip install 'rubric-judge[sglang]'" in str(caught.value)
    reason = engine_unavailable_reason()
    assert reason is not None and "sglang is not installed" in reason


def test_a_model_is_required() -> None:
    with pytest.raises(ConfigError, match="needs a model"):
        SGLangEngineBackend()


def test_one_warm_call_then_one_batch_call(engine: FakeEngine) -> None:
    batch = requests()
    backend = SGLangEngineBackend(engine=engine, min_warm_tokens=8)
    generations = backend.generate(batch)
    check_batch(batch, generations)
    warm, main = engine.double.calls
    assert warm["sampling_params"] == {"max_new_tokens": 0} and len(warm["input_ids"]) == 2
    assert len(main["input_ids"]) == 6 and "text" not in main
    assert main["input_ids"][0][: len(warm["input_ids"][0])] == warm["input_ids"][0]
    assert all(g.choice_probs == pytest.approx({"yes": 0.8, "no": 0.2}) for g in generations)
    assert {g.probs_source for g in generations} == {"sglang:token_ids_logprob+grammar"}
    assert all(g.usage.cached_tokens > 0 for g in generations)
    assert backend.model_id == "test-org/test-model"
    assert backend.capabilities.max_context_tokens == 4096


def test_data_parallel_groups_stay_on_one_rank() -> None:
    engine = FakeEngine(SGLangDouble(make_tokenizer()), dp_size=2)
    backend = SGLangEngineBackend(engine=engine, min_warm_tokens=8)
    batch = requests(samples=6, criteria=2)
    try:
        generations = backend.generate(batch)
    finally:
        engine.loop.close()
    check_batch(batch, generations)
    ranks = [call["routed_dp_rank"] for call in engine.double.calls]
    assert set(ranks) == {0, 1}
    rank_of: dict[str, set[int]] = {}  # sample -> ranks its warm-up and requests went to
    for call in engine.double.calls:
        for ids in call["input_ids"]:
            sample = engine.double.tokenizer.decode(ids).split("Response ")[1][:1]
            rank_of.setdefault(sample, set()).add(call["routed_dp_rank"])
    assert len(rank_of) == 6 and all(len(ranks) == 1 for ranks in rank_of.values())


def test_a_bad_row_is_bisected_out(engine: FakeEngine) -> None:
    batch = requests(samples=1, criteria=4)
    batch[1] = batch[1].model_copy(update={"constraint": Constraint(kind="regex", value="BAD(")})
    generations = SGLangEngineBackend(engine=engine).generate(batch)
    assert [g.error is None for g in generations] == [True, False, True, True]
    assert "ValueError" in (generations[1].error or "")


def test_n_samples_and_mixed_n(engine: FakeEngine) -> None:
    batch = requests(samples=1, criteria=2, n=3, temperature=0.8) + requests(samples=1, criteria=1)
    batch[-1] = batch[-1].model_copy(update={"id": "single"})
    generations = SGLangEngineBackend(engine=engine).generate(batch)
    check_batch(batch, generations)
    sizes = sorted(
        {p["n"] for p in call["sampling_params"]}.pop()
        for call in engine.double.calls
        if isinstance(call["sampling_params"], list)
    )
    assert sizes == [1, 3]


def test_sync_generate_refuses_a_running_loop_and_async_works(engine: FakeEngine) -> None:
    backend = SGLangEngineBackend(engine=engine)

    async def inside() -> None:
        with pytest.raises(ConfigError, match="agenerate"):
            backend.generate(requests(samples=1, criteria=1))
        generations = await backend.agenerate(requests(samples=1, criteria=2))
        assert len(generations) == 2 and all(g.error is None for g in generations)

    engine.loop.run_until_complete(inside())


def test_close_leaves_an_injected_engine_running(engine: FakeEngine) -> None:
    with SGLangEngineBackend(engine=engine):
        pass
    assert not engine.shut_down
