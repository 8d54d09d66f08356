"""Every payload our SGLang backends build, checked by SGLang's OWN request classes.

The payloads come from the real backends (engine and HTTP server) judging with every strategy
against the wire double; each is then handed to the pinned sglang release's
``GenerateReqInput`` (constructed as the engine does, parsed as FastAPI does, normalised as the
tokenizer manager does), its strict ``/generate`` contract, ``SamplingParams`` checks and the
keyword lists of ``Engine.generate`` / ``async_generate``. When SGLang renames or drops a field,
this fails here before a user's GPU run does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pydantic
import pytest

from judge.backends.sglang import wire
from judge.backends.sglang.engine import SGLangEngineBackend
from judge.backends.sglang.server import SGLangServerBackend
from judge.runner.judge import Judge
from judge.types import Criterion, Pair, Rubric, Sample
from tests.conformance.conftest import SGLANG_RELEASE, SGLangClasses
from tests.doubles.sglang import FakeEngine, FakeSGLangServer, SGLangDouble, make_tokenizer

pytestmark = pytest.mark.sglang_conformance

RUBRIC = Rubric(
    name="capital",
    criteria=(
        Criterion(id="correct", text="The answer names the right city."),
        Criterion(id="short", text="The answer is one sentence."),
    ),
)
SAMPLES = [
    Sample(id="a", prompt="Capital of France?", response="Paris."),
    Sample(id="b", prompt="Capital of France?", response="Lyon, I believe."),
]
PAIRS = [Pair(id="p", prompt="Capital of France?", response_a="Paris.", response_b="Lyon.")]
VOCAB_SIZE = 50_000

#: strategy name -> how a user runs it (Judge options, and what it judges).
STRATEGIES: dict[str, tuple[dict[str, Any], str]] = {
    "breadth": ({"strategy": "breadth"}, "score"),
    "depth": ({"strategy": "depth"}, "score"),
    "auto": ({"strategy": "auto"}, "score"),
    "pairwise-rubric": ({}, "compare-rubric"),
    "pairwise-direct": ({}, "compare-direct"),
    "self-consistency": ({"samples": 3, "seed": 7}, "score"),
    "likert": ({"likert": 5}, "score"),
    "reasoning-after": ({"reasoning": "after"}, "score"),
    "reasoning-none": ({"reasoning": "none", "likert": 5}, "score"),
    "reasoning-none-depth": ({"reasoning": "none", "strategy": "depth"}, "score"),
    "reasoning-none-pairwise": ({"reasoning": "none"}, "compare-direct"),
}


class RecordingEngine(FakeEngine):
    """The engine double, keeping every keyword set exactly as our backend passed it."""

    def __init__(self, double: SGLangDouble) -> None:
        super().__init__(double)
        self.keyword_sets: list[dict[str, Any]] = []

    async def async_generate(self, **kwargs: Any) -> Any:  # type: ignore[override]
        self.keyword_sets.append(dict(kwargs))
        return await super().async_generate(**kwargs)


def verdicts(prompt: str) -> tuple[str, dict[str, float]]:
    """Answers of the right kind for each prompt: a winner, a Likert digit, or yes/no."""
    if "Which response is better?" in prompt:
        return "A is right", {"A": 0.7, "B": 0.3}
    if "one digit from 1 to" in prompt:
        return "mostly right", {"1": 0.05, "2": 0.05, "3": 0.1, "4": 0.6, "5": 0.2}
    return "looks fine", {"yes": 0.8, "no": 0.2}


def run_strategy(make_backend: Callable[[SGLangDouble], Any], name: str) -> None:
    options, how = STRATEGIES[name]
    double = SGLangDouble(make_tokenizer(), verdicts=verdicts)
    with make_backend(double) as backend:
        judge = Judge(backend, RUBRIC, **options)
        if how == "score":
            results: list[Any] = judge.score(SAMPLES)
        else:
            results = judge.compare(PAIRS, method=how.removeprefix("compare-"))  # type: ignore[arg-type]
    assert [r.error for r in results] == [None] * len(results), name


def server_payloads(name: str) -> list[dict[str, Any]]:
    with FakeSGLangServer(SGLangDouble(make_tokenizer())) as server:

        def make(double: SGLangDouble) -> SGLangServerBackend:
            server.double = double
            return SGLangServerBackend(
                server.url, model="test-org/test-model", tokenizer_object=double.tokenizer
            )

        run_strategy(make, name)
        return list(server.double.calls)


def engine_keyword_sets(name: str) -> list[dict[str, Any]]:
    engines: list[RecordingEngine] = []

    def make(double: SGLangDouble) -> SGLangEngineBackend:
        engines.append(RecordingEngine(double))
        return SGLangEngineBackend(engine=engines[-1])

    try:
        run_strategy(make, name)
    finally:
        for engine in engines:
            engine.loop.close()
    return engines[0].keyword_sets


def check_generate_body(sglang: SGLangClasses, body: dict[str, Any]) -> None:
    """Accepted by the /generate route of the pinned release, as its server would accept it."""
    contract = sglang.contract_error(body)
    assert contract is None, f"SGLang {sglang.version} /generate contract: {contract}"
    parsed = pydantic.TypeAdapter(sglang.generate_req_input).validate_python(body)
    built = sglang.generate_req_input(**body)  # unknown field names are a TypeError here
    for request in (parsed, built):
        request.normalize_batch_and_arguments()
    params = built.sampling_params
    for one in params if isinstance(params, list) else [params]:
        sampling = sglang.sampling_params(**one)
        sampling.verify(VOCAB_SIZE)
        sampling.normalize(None)


@pytest.fixture(scope="module")
def sglang(sglang_classes: SGLangClasses) -> Iterator[SGLangClasses]:
    assert sglang_classes.version == SGLANG_RELEASE, (
        f"the conformance fixtures are for sglang {SGLANG_RELEASE}, "
        f"{sglang_classes.version} is installed: rerun .ci/install-sglang-conformance.sh"
    )
    yield sglang_classes


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_server_payloads_pass_sglang_own_checks(sglang: SGLangClasses, strategy: str) -> None:
    bodies = server_payloads(strategy)
    assert bodies, strategy
    assert any(body.get("return_logprob") for body in bodies), "no verdict request was checked"
    for body in bodies:
        check_generate_body(sglang, body)


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_engine_keywords_pass_sglang_own_checks(sglang: SGLangClasses, strategy: str) -> None:
    keyword_sets = engine_keyword_sets(strategy)
    assert keyword_sets, strategy
    for keywords in keyword_sets:
        for method, accepted in (
            ("generate", sglang.engine_generate_params),
            ("async_generate", sglang.engine_async_generate_params),
        ):
            unknown = set(keywords) - accepted
            assert not unknown, f"Engine.{method} of sglang {sglang.version} has no {unknown}"
        # Engine.generate builds GenerateReqInput(text=prompt, ...) from the same keywords.
        body = {("text" if key == "prompt" else key): value for key, value in keywords.items()}
        check_generate_body(sglang, body)


def test_warm_up_and_data_parallel_payloads_pass(sglang: SGLangClasses) -> None:
    check_generate_body(sglang, wire.warm_payload(["shared prefix"], routed_dp_rank=1))
    check_generate_body(sglang, wire.warm_payload([[1, 2, 3]], input_field="input_ids"))


def test_a_renamed_field_is_refused(sglang: SGLangClasses) -> None:
    """The check itself can fail: SGLang refuses a misspelt sampling field and a top-level one."""
    body = server_payloads("breadth")[-1]
    renamed = [{**params, "max_tokens": 8} for params in body["sampling_params"]]
    misspelt = {**body, "sampling_params": renamed}
    with pytest.raises(AssertionError, match="unknown field `max_tokens`"):
        check_generate_body(sglang, misspelt)
    with pytest.raises(TypeError, match="top_logprobs"):
        check_generate_body(sglang, {**body, "top_logprobs": 5})


def test_deterministic_inference_is_sglang_own_server_argument(sglang: SGLangClasses) -> None:
    """The engine keyword we pass is a ServerArgs field, and /server_info carries it flat."""
    from sglang.srt.server_args import ServerArgs

    for enabled in (True, False):
        args = ServerArgs(model_path="test-org/test-model", **{wire.DETERMINISTIC_ARG: enabled})
        assert getattr(args, wire.DETERMINISTIC_ARG) is enabled
        # what the server's /server_info starts from (build_server_info: resolved_dict())
        assert args.resolved_dict()[wire.DETERMINISTIC_ARG] is enabled
    with pytest.raises(TypeError):
        ServerArgs(model_path="test-org/test-model", enable_deterministic_inferenc=True)


def test_the_engine_backend_asks_for_and_reports_deterministic_inference() -> None:
    """deterministic_inference=True reaches sglang.Engine; the engine's server_args say it back."""
    seen: dict[str, Any] = {}

    class Engine(FakeEngine):
        def __init__(self, **arguments: Any) -> None:
            seen.update(arguments)
            super().__init__(SGLangDouble(make_tokenizer()))
            self.server_args.enable_deterministic_inference = arguments.get(
                wire.DETERMINISTIC_ARG, False
            )

    import sglang

    original = sglang.Engine
    sglang.Engine = Engine
    try:
        backend = SGLangEngineBackend(
            "test-org/test-model", deterministic_inference=True, engine_args={"device": "cpu"}
        )
        plain = SGLangEngineBackend("test-org/test-model", engine_args={"device": "cpu"})
    finally:
        sglang.Engine = original
    assert seen[wire.DETERMINISTIC_ARG] is True
    assert backend.capabilities.batch_invariant is True
    assert plain.capabilities.batch_invariant is False
    Judge(backend, RUBRIC, batch_invariant=True)
    for each in (backend, plain):
        each.close()
        each.engine.loop.close()
